"""Secrets intake must read back (a provider's client secret, a person's TOTP secret), sealed at rest.

AES-GCM with a key derived from WEB_SECRET for this purpose alone: a copy of the database without the
service's configuration opens nothing, and a sealed value cannot be altered unnoticed. A password is never
sealed: it is hashed (passwords.py), because nobody needs it back.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def _key(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, f"intake/sealed/{purpose}".encode(), hashlib.sha256).digest()


def seal(secret: bytes, plain: str, purpose: str = "sso-client-secret") -> str:
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(_key(secret, purpose)).encrypt(nonce, plain.encode(), None)).decode()


def unseal(secret: bytes, sealed: str, purpose: str = "sso-client-secret") -> str:
    raw = base64.b64decode(sealed)
    return AESGCM(_key(secret, purpose)).decrypt(raw[:12], raw[12:], None).decode()
