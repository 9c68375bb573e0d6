"""Password hashes: Argon2id (argon2-cffi), the PHC string format, parameters stored with each hash.

Hashing is CPU work by design (tens of milliseconds, 64 MiB): the service calls these through
`eventlet.tpool.execute`, never on the event loop, where it would stall every request and the
AMQP heartbeat.
"""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventlet import tpool
from eventlet.semaphore import Semaphore

# argon2-cffi's defaults are RFC 9106's second recommended profile: Argon2id, t=3, m=64 MiB, p=4.
_HASHER = PasswordHasher()
# 64 MiB per hash: tpool's 20 threads at once would take 1.3 GB. Two at a time bound it to 128 MiB;
# the rest wait their turn on the event loop (green), a few tens of milliseconds each.
_AT_ONCE = Semaphore(2)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_off_loop(password: str) -> str:
    """`hash_password` in a tpool thread, at most two at a time (for the service's green threads)."""
    with _AT_ONCE:
        return tpool.execute(hash_password, password)


# A hash of no one's password: checking an unknown address costs what checking a known one does, so the
# time of the answer does not tell a stranger which addresses have accounts.
_NOBODY = _HASHER.hash("no account has this password")


def verify_off_loop(password_hash: str | None, password: str) -> bool:
    """`verify_password` in a tpool thread, two at a time; with no hash, the same work and False."""
    with _AT_ONCE:
        ok = tpool.execute(verify_password, password_hash or _NOBODY, password)
    return ok and password_hash is not None
