"""A portal's Idempotency-Key: the first response, replayed on a retry."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from common import clock
from common.errors import Conflict, InvalidInput, Unprocessable
from services.intake.models import IdempotencyKey, Tenant

IDEMPOTENCY_TTL = timedelta(hours=24)


def run_idempotent(session, tenant: Tenant, key: str, endpoint: str, body: Any, action) -> tuple[int, Any]:
    """Run `action` once per (tenant, Idempotency-Key); a retry gets the first response.

    `action` returns (status, JSON body). If it raises, the transaction (and the
    key) roll back, so a retry really runs again. A key reused for another
    request is refused rather than silently answered with the wrong response.
    """
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise InvalidInput("Idempotency-Key 应为 1–200 个可打印字符（建议用 UUID）。", code="invalid_idempotency_key",
                           field="Idempotency-Key", expected="1–200 printable characters", found=key[:50])
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    row = session.get(IdempotencyKey, (tenant.id, key))
    if row is not None:
        if row.endpoint != endpoint or row.fingerprint != fingerprint:
            raise Unprocessable(
                f"Idempotency-Key“{key}”已用于另一个请求（{row.endpoint}）。每个新请求请使用新的 Idempotency-Key；"
                f"重试时请原样发送同一请求。", code="idempotency_key_reused", field="Idempotency-Key",
                expected=row.endpoint, found=endpoint)
        return row.status, row.response
    row = IdempotencyKey(tenant_id=tenant.id, key=key, endpoint=endpoint, fingerprint=fingerprint, status=0,
                         response={}, created_at=clock.now())
    session.add(row)
    try:
        session.flush()  # a concurrent request with the same key waits here, then conflicts
    except IntegrityError:
        raise Conflict("使用同一 Idempotency-Key 的请求正在处理。请稍后原样重试以取得结果。",
                       code="idempotency_in_progress", field="Idempotency-Key", found=key) from None
    status, response = action()
    row.status, row.response = status, response
    return status, response


def forget_idempotency_keys(session, now: datetime) -> int:
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - IDEMPOTENCY_TTL))
    return result.rowcount or 0
