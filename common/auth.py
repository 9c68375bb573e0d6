"""API keys: how they are hashed and read from a request, the same in every service.

Intake issues keys and owns them; other services that face callers (notify's
feeds and webhook subscriptions) keep a copy of the hashes from intake's
`api_key_issued` / `api_key_revoked` events and authenticate with it.
Keys are 32 random bytes, so a fast hash is enough: nothing to brute-force.
"""
from __future__ import annotations

import hashlib

from common.errors import Unauthorized


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


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
