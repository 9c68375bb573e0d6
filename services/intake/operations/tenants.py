"""Tenants (universities and the ministry), their API keys, and who is calling."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from common import clock
from common.auth import bearer_key, hash_key, invalid_key
from common.campaign.audience import CATEGORIES
from common.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from common.events import TENANT
from common.locale import CATEGORY_LABELS, beijing_minute
from common.text import LineProblem, single_line_problem
from services.intake.domain import keys
from services.intake.models import Account, ApiKey, Org, Tenant

MINISTRY = "ministry"


def create_tenant(session, slug: str, name: str, kind: str = "university", contact_email: str | None = None,
                  outbox=None, category: str | None = None) -> Tenant:
    if not re.fullmatch(TENANT["pattern"], slug):
        # no dot: a university's campaign ids are qualified as "<slug>.<id>" (see campaign_ref)
        raise InvalidInput(f"租户标识“{slug}”无效：应由小写字母、数字和连字符组成，2–63 个字符，如 seu。请改正。",
                           code="invalid_tenant_slug", field="slug", expected=TENANT["pattern"], found=slug)
    line = single_line_problem(name, "租户名称")
    if line is not None or not name.strip():
        raise InvalidInput(line.message if line else "租户名称不能为空。请填写高校（或教育部）的全称。",
                           code=line.code if line else "invalid_tenant_name", field="name",
                           expected=LineProblem.expected, found=line.found if line else name)
    _require_category(kind, category)
    if session.get(Tenant, slug) is not None:
        raise Conflict(f"租户 {slug} 已存在。", code="tenant_exists", found=slug)
    tenant = Tenant(id=slug, name=name, kind=kind, receipt_seq=0, contact_email=contact_email, category=category)
    session.add(tenant)
    session.flush()  # keys refer to it; no ORM relationship orders the inserts
    if outbox is not None:
        _announce_tenant(session, outbox, tenant)
    return tenant


def _announce_tenant(session, outbox, tenant: Tenant) -> None:
    outbox.add(session, "tenant_registered", tenant.id, {"name": tenant.name, "kind": tenant.kind,
                                                         "contact_email": tenant.contact_email,
                                                         "category": tenant.category})


def _require_category(kind: str, category: str | None) -> None:
    if category is None:
        return
    if kind != "university":
        raise InvalidInput("只有高校有类别（直属高校、部省合建高校、地方高校）；教育部不设类别。", code="invalid_category",
                           field="category", expected=None, found=category)
    if category not in CATEGORIES:
        allowed = "、".join(f"{key}（{label}）" for key, label in CATEGORY_LABELS.items())
        raise InvalidInput(f"高校类别“{category}”无效，应为 {allowed} 之一。请改正。", code="invalid_category",
                           field="category", expected=list(CATEGORIES), found=category)


def set_category(session, outbox, slug: str, category: str | None) -> Tenant:
    """Set (or, with None, clear) a registered university's category; `tenant_registered` goes out again, whole, so
    notify's copy (whom the ministry's announcement reaches, who is counted) follows. The audience is asked anew on
    every request: a university that leaves a campaign's audience stops seeing it at once (its works stay)."""
    tenant = session.get(Tenant, slug)
    if tenant is None:
        raise NotFound(f"没有租户 {slug}。", code="tenant_not_found", found=slug)
    _require_category(tenant.kind, category)
    if tenant.category != category:
        tenant.category = category
        _announce_tenant(session, outbox, tenant)
    return tenant


def issue_key(session, outbox, tenant_id: str, label: str = "", scopes: list[str] | None = None,
              days: int | None = None, account_id: str | None = None, rotated_from: str | None = None,
              reach: keys.Reach = keys.WHOLE_TENANT) -> str:
    """Create an API key; the plain key is returned once and never stored.

    `scopes` None and `days` None: the operator's key of old (every scope, no expiry; `admin issue-key`).
    """
    key = "sk_" + secrets.token_urlsafe(32)
    tenant = session.get(Tenant, tenant_id)
    expires = clock.now() + timedelta(days=days) if days is not None else None
    session.add(ApiKey(tenant_id=tenant_id, key_hash=hash_key(key), prefix=key[:10], label=label, scopes=scopes,
                       account_id=account_id, expires_at=expires, rotated_from=rotated_from, created_at=clock.now(),
                       reach=reach.to_stored()))
    data = {"key_hash": hash_key(key), "tenant_kind": tenant.kind, "tenant_name": tenant.name}
    if scopes is not None:
        data["scopes"] = sorted(scopes)
    if reach.limited:
        data["reach"] = reach.to_stored()  # notify refuses such a key: what it serves is counted per university
    outbox.add(session, "api_key_issued", tenant_id, data)
    return key


def _revoke(session, outbox, key: ApiKey) -> None:
    key.revoked_at = clock.now()
    outbox.add(session, "api_key_revoked", key.tenant_id, {"key_hash": key.key_hash})


def revoke_keys(session, outbox, prefix: str) -> int:
    keys = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))).all()
    for k in keys:
        _revoke(session, outbox, k)
    return len(keys)


def expire_keys(session, outbox) -> int:
    """Revoke the keys whose time is up (a rotated key's overlap, a year's life): review and notify drop them too."""
    due = session.scalars(select(ApiKey).where(ApiKey.revoked_at.is_(None), ApiKey.expires_at.is_not(None),
                                               ApiKey.expires_at <= clock.now()).with_for_update()).all()
    for k in due:
        _revoke(session, outbox, k)
    return len(due)


@dataclass(frozen=True)
class Caller:
    """Who is acting, as the audit log records it. For now a tenant's API key, which acts as the tenant's
    owner (单位管理员); a person signed in with their account comes with the rest of issue #15."""

    tenant: Tenant
    actor: str  # "key:sk_seu_ab12 (portal)"
    who: str  # how a person reads it in a mail: the inviting person's name, or their role
    address: str | None = None  # the client's address (common.http.client_address)
    reach: keys.Reach = keys.WHOLE_TENANT  # a portal key limited to some orgs or tracks: the rest reads as missing


_TOUCH_EVERY = timedelta(minutes=1)  # a key's last use is written at most once a minute: not a write per call


def _key_row(session, headers, needs: str = keys.ANY, address: str | None = None) -> ApiKey:
    """The key of the request, valid now and holding the scope `needs`: else 401 (unknown, revoked, expired)
    or 403 (a scope it lacks). Its last use (time, address) is kept."""
    key = bearer_key(headers)
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    now = clock.now()
    if row is None or row.revoked_at is not None:
        raise invalid_key(key)
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized(f"密钥 {row.prefix}… 已于 {beijing_minute(row.expires_at)} 过期。请使用轮换后的新密钥，"
                           "或请单位管理员签发新密钥（POST /api/v1/keys）。", code="key_expired",
                           expected="未过期的密钥", found=row.prefix)
    if not keys.allows(row.scopes, needs):
        raise Forbidden(keys.scope_refusal(needs, row.scopes), code="key_scope", expected=str(needs),
                        found=sorted(keys.scopes_of(row.scopes)))
    if row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY or row.last_used_from != address:
        row.last_used_at, row.last_used_from = now, address
    return row


def authenticate(session, headers, needs: str = keys.ANY, address: str | None = None) -> Tenant:
    return session.get(Tenant, _key_row(session, headers, needs, address).tenant_id)


def key_caller(session, headers, address: str | None = None, needs: str = keys.ANY) -> Caller:
    """The caller of a request made with an API key: its tenant's owner, named by the key's prefix and label."""
    row = _key_row(session, headers, needs, address)
    actor, who = key_actor(session, row)
    return Caller(tenant=session.get(Tenant, row.tenant_id), actor=actor, who=who, address=address,
                  reach=keys.Reach.stored(row.reach))


def key_actor(session, row: ApiKey) -> tuple[str, str]:
    """How the audit log names a key, and how a mail names who acts: a person's own key names the person first."""
    actor = f"key:{row.prefix}" + (f" ({row.label})" if row.label else "")
    if row.account_id:
        person = session.get(Account, row.account_id)
        return f"account:{person.id} ({person.name}) {actor}"[:200], person.name
    return actor[:200], "单位管理员"


# --------------------------------------------------------------------------- a key's reach, in one place


def _parent_of(session, tenant_id: str) -> dict[str, str | None]:
    return dict(session.execute(select(Org.id, Org.parent_id).where(Org.tenant_id == tenant_id)).all())


def within_reach(session, who: Caller, org_column, track_column=None) -> list:
    """The conditions that keep a query within the caller's reach (domain/keys.Reach): the orgs its key names and
    everything under them, the tracks it names; none for the whole tenant. Every lookup and list of works, files,
    orgs and extensions a key can make applies these, so what lies outside reads as missing (404, left out of lists),
    exactly as another university's objects do. The tenant's own condition stays with each query."""
    reach, conditions = who.reach, []
    orgs = reach.orgs_within(_parent_of(session, who.tenant.id)) if reach.org_ids is not None else None
    if orgs is not None:
        conditions.append(org_column.in_(sorted(orgs)))
    if reach.tracks is not None and track_column is not None:
        conditions.append(track_column.in_(sorted(reach.tracks)))
    return conditions


def require_reach(session, who: Caller, org: Org, track) -> None:
    """A new work (of `org`, in the campaign's `track`) must lie within the caller's reach: else 403 key_reach,
    naming the reach. The org and the track were found in the tenant first: a missing one answers as before."""
    reach = who.reach
    if not reach.limited:
        return
    parent_of = _parent_of(session, who.tenant.id)
    if reach.covers(org.id, track.key, parent_of):
        return
    names = dict(session.execute(select(Org.id, Org.name).where(Org.id.in_(sorted(reach.org_ids or ())))).all())
    raise Forbidden(keys.reach_refusal(reach, org.name, track.label, names, {track.key: track.label}),
                    code="key_reach", field="track" if reach.covers_org(org.id, parent_of) else "org_id",
                    expected=reach.to_stored(), found={"org_id": org.id, "track": track.key})


def require_university(tenant: Tenant) -> None:
    if tenant.kind != "university":
        raise Forbidden("此操作由高校进行，教育部账户不能代为操作。", code="university_only",
                        expected="university", found=tenant.kind)
