"""The audit log: who did what, to which object, when (Beijing time) and from which address.

Every change to people and their grants writes one row here in the same transaction as the change,
so the change and its record commit together or not at all. Rows are only ever added: this module
has no function that changes or removes one, no route does, and the database refuses both
(migration 0007's triggers).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from common import clock
from common.errors import InvalidInput
from common.locale import in_beijing
from services.intake.models import AuditEntry, Tenant
from services.intake.operations.pages import paged
from services.intake.operations.tenants import Caller

# Stable codes, with what they mean to a person reading the log.
ACTIONS = {
    "account.invited": "邀请人员",
    "account.disabled": "停用账号",
    "account.enabled": "启用账号",
    "grant.added": "授予角色",
    "grant.removed": "移除角色",
    "invitation.accepted": "接受邀请并设置密码",
    "accounts.imported": "导入人员名单",
    "account.signed_in": "登录",
    "account.signed_out": "退出登录",
    "account.second_factor_enrolled": "启用第二重验证",
    "account.password_reset": "通过邮件重设密码",
}


def record(session, tenant_id: str, actor: str, action: str, object_type: str, object_id: str | None,
           detail: Any = None, address: str | None = None) -> None:
    """Add one row; the caller's transaction commits it with the change it records."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: add it to ACTIONS (and to the API document's enum)")
    session.add(AuditEntry(tenant_id=tenant_id, at=clock.now(), actor=actor, action=action, object_type=object_type,
                           object_id=object_id, detail=detail, address=address))


def record_by(session, caller: Caller, action: str, object_type: str, object_id: str | None,
              detail: Any = None) -> None:
    record(session, caller.tenant.id, caller.actor, action, object_type, object_id, detail, caller.address)


def audit_json(entry: AuditEntry) -> dict:
    return {"id": entry.id, "at": in_beijing(entry.at).isoformat(), "actor": entry.actor, "action": entry.action,
            "action_label": ACTIONS.get(entry.action, entry.action), "object_type": entry.object_type,
            "object_id": entry.object_id, "detail": entry.detail, "address": entry.address}


def _moment(name: str, raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidInput(f"参数 {name} 应为带时区的时间，如 2020-07-01T00:00:00+08:00（北京时间），实际为“{raw[:60]}”。",
                           code="invalid_query", field=name, expected="ISO 8601 date-time with offset", found=raw[:60])
    return moment


def list_audit(session, tenant: Tenant, action: str | None, since: str | None, until: str | None,
               page: int, per_page: int) -> dict:
    """The tenant's own rows, newest first; `since` inclusive, `until` exclusive."""
    start, end = _moment("since", since), _moment("until", until)
    query = select(AuditEntry).where(AuditEntry.tenant_id == tenant.id)
    if action:
        query = query.where(AuditEntry.action == action)
    if start is not None:
        query = query.where(AuditEntry.at >= start)
    if end is not None:
        query = query.where(AuditEntry.at < end)
    return paged(session, query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()), page, per_page, audit_json)
