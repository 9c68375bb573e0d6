"""Password hashes: Argon2id (argon2-cffi), the PHC string format, parameters stored with each hash.

Hashing is CPU work by design (tens of milliseconds, 64 MiB): the service calls these through
`eventlet.tpool.execute`, never on the event loop, where it would stall every request and the
AMQP heartbeat.
"""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults are RFC 9106's second recommended profile: Argon2id, t=3, m=64 MiB, p=4.
_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
