"""API keys: how they are hashed and read from a request, the same in every service.

Intake issues keys and owns them; other services that face callers (notify's
feeds and webhook subscriptions) keep a copy of the hashes from intake's
`api_key_issued` / `api_key_revoked` events and authenticate with it.
Keys are 32 random bytes, so a fast hash is enough: nothing to brute-force.
"""
from __future__ import annotations

import hashlib
import hmac

from common.errors import Unauthorized

KEY_PREFIX_CHARS = 10  # what intake keeps of a key in the clear (`revoke-key PREFIX`), and what limits count


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def same_secret(sent: str | bytes | None, expected: str | bytes) -> bool:
    """Constant-time comparison of a secret a client sent (a CSRF token, a signature) with ours.

    Every comparison of client input with a secret goes through here. `hmac.compare_digest`
    raises TypeError on a str that is not ASCII (a 500 for `csrf_token=令牌`); compared as
    UTF-8 bytes, anything a client sends is simply not equal.
    """
    if sent is None:
        return False

    def as_bytes(value: str | bytes) -> bytes:
        return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")

    return hmac.compare_digest(as_bytes(sent), as_bytes(expected))


def key_subject(key: str) -> str:
    """What the per-key sign-in limit counts: the key's prefix (a wrong key still has one)."""
    return "key:" + key[:KEY_PREFIX_CHARS]


def bearer_key(headers) -> str:
    """The key of a request (`Authorization: Bearer` or `X-API-Key`), or a 401."""
    auth = headers.get("Authorization", "")
    key = auth[7:].strip() if auth.lower().startswith("bearer ") else headers.get("X-API-Key", "").strip()
    if not key:
        raise Unauthorized(
            "缺少 API 密钥。请在请求头中加入 Authorization: Bearer <密钥>（密钥由平台管理员发放）。",
            code="missing_api_key", expected="Authorization: Bearer <key>", found="无",
        )
    return key


def invalid_key(key: str) -> Unauthorized:
    return Unauthorized("API 密钥无效或已停用。请检查密钥是否完整，或向平台管理员申请新密钥。",
                        code="invalid_api_key", found=key[:10] + "…")
