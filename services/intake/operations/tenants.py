"""Tenants (universities and the ministry), their API keys, and who is calling."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from common import clock
from common.auth import bearer_key, hash_key, invalid_key
from common.errors import Conflict, Forbidden, InvalidInput
from common.events import TENANT
from common.text import LineProblem, single_line_problem
from services.intake.models import ApiKey, Tenant

MINISTRY = "ministry"


def create_tenant(session, slug: str, name: str, kind: str = "university", contact_email: str | None = None,
                  outbox=None) -> Tenant:
    if not re.fullmatch(TENANT["pattern"], slug):
        # no dot: a university's campaign ids are qualified as "<slug>.<id>" (see campaign_ref)
        raise InvalidInput(f"租户标识“{slug}”无效：应由小写字母、数字和连字符组成，2–63 个字符，如 seu。请改正。",
                           code="invalid_tenant_slug", field="slug", expected=TENANT["pattern"], found=slug)
    line = single_line_problem(name, "租户名称")
    if line is not None or not name.strip():
        raise InvalidInput(line.message if line else "租户名称不能为空。请填写高校（或教育部）的全称。",
                           code=line.code if line else "invalid_tenant_name", field="name",
                           expected=LineProblem.expected, found=line.found if line else name)
    if session.get(Tenant, slug) is not None:
        raise Conflict(f"租户 {slug} 已存在。", code="tenant_exists", found=slug)
    tenant = Tenant(id=slug, name=name, kind=kind, receipt_seq=0, contact_email=contact_email)
    session.add(tenant)
    session.flush()  # keys refer to it; no ORM relationship orders the inserts
    if outbox is not None:
        outbox.add(session, "tenant_registered", slug, {"name": name, "kind": kind, "contact_email": contact_email})
    return tenant


def issue_key(session, outbox, tenant_id: str, label: str = "") -> str:
    """Create an API key; the plain key is returned once and never stored."""
    key = "sk_" + secrets.token_urlsafe(32)
    tenant = session.get(Tenant, tenant_id)
    session.add(ApiKey(tenant_id=tenant_id, key_hash=hash_key(key), prefix=key[:10], label=label))
    outbox.add(session, "api_key_issued", tenant_id, {"key_hash": hash_key(key), "tenant_kind": tenant.kind,
                                                           "tenant_name": tenant.name})
    return key


def revoke_keys(session, outbox, prefix: str) -> int:
    keys = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))).all()
    for k in keys:
        k.revoked_at = clock.now()
        outbox.add(session, "api_key_revoked", k.tenant_id, {"key_hash": k.key_hash})
    return len(keys)


@dataclass(frozen=True)
class Caller:
    """Who is acting, as the audit log records it. For now a tenant's API key, which acts as the tenant's
    owner (单位管理员); a person signed in with their account comes with the rest of issue #15."""

    tenant: Tenant
    actor: str  # "key:sk_seu_ab12 (portal)"
    who: str  # how a person reads it in a mail: the inviting person's name, or their role
    address: str | None = None  # the client's address (common.http.client_address)


def _key_row(session, headers) -> ApiKey:
    key = bearer_key(headers)
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is None or row.revoked_at is not None:
        raise invalid_key(key)
    return row


def authenticate(session, headers) -> Tenant:
    return session.get(Tenant, _key_row(session, headers).tenant_id)


def key_caller(session, headers, address: str | None = None) -> Caller:
    """The caller of a request made with an API key: its tenant's owner, named by the key's prefix and label."""
    row = _key_row(session, headers)
    actor = f"key:{row.prefix}" + (f" ({row.label})" if row.label else "")
    return Caller(tenant=session.get(Tenant, row.tenant_id), actor=actor[:200], who="单位管理员", address=address)


def require_university(tenant: Tenant) -> None:
    if tenant.kind != "university":
        raise Forbidden("此操作由高校进行，教育部账户不能代为操作。", code="university_only",
                        expected="university", found=tenant.kind)
