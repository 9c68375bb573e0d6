"""A tenant's API keys as its managers see them: list, issue with scopes and a lifetime, rotate with overlap, revoke;
and a person's own keys (an owner acting over the API as themselves, the only keys that may hold `admin`; a college's
org admin, whose key submits for and publishes to their org's subtree and reaches nothing else).

The plain key is shown once, in the answer that issues it; only its SHA-256 is kept. Issuing and revoking
reach review and notify as `api_key_issued` / `api_key_revoked` through the outbox, in the same transaction,
with the audit row (a key limited to some orgs or tracks is not announced: tenants.issue_key says why).
The rules (scopes, lifetimes, overlaps, a portal key's reach) are in domain/keys.py.
"""
from __future__ import annotations

from sqlalchemy import select

from common import clock
from common.errors import NotFound, Unprocessable
from common.locale import beijing_iso as _when
from services.intake.domain import keys
from services.intake.domain.lifecycles import AccountState
from services.intake.domain.people import Role
from services.intake.models import Account, AccountGrant, ApiKey, Campaign, Org, Tenant
from services.intake.operations.audit import record, record_by
from services.intake.operations.campaigns import definition_of
from services.intake.operations.tenants import MINISTRY, Caller, _revoke, expire_keys, issue_key  # noqa: F401  (expire_keys: the timer's)


def key_json(row: ApiKey) -> dict:
    now = clock.now()
    state = ("revoked" if row.revoked_at else "expired" if row.expires_at and row.expires_at <= now else "active")
    return {"id": row.id, "prefix": row.prefix, "label": row.label, "scopes": sorted(keys.scopes_of(row.scopes)),
            "legacy": row.scopes is None, "account_id": row.account_id, "state": state,
            "created_at": _when(row.created_at), "expires_at": _when(row.expires_at),
            "last_used_at": _when(row.last_used_at), "last_used_from": row.last_used_from,
            "revoked_at": _when(row.revoked_at), "rotated_from": row.rotated_from, "reach": row.reach}


def list_keys(session, caller: Caller) -> dict:
    rows = session.scalars(select(ApiKey).where(ApiKey.tenant_id == caller.tenant.id)
                           .order_by(ApiKey.created_at.desc(), ApiKey.id)).all()
    return {"items": [key_json(r) for r in rows]}


def _own_key(session, caller: Caller, key_id: str) -> ApiKey:
    row = session.get(ApiKey, key_id, with_for_update=True)
    if row is None or row.tenant_id != caller.tenant.id:
        raise NotFound(f"本单位没有编号为 {key_id[:40]} 的密钥。请用 GET /api/v1/keys 查看本单位的密钥。",
                       code="key_not_found", found=key_id[:40])
    return row


def _invalid(problems) -> Unprocessable:
    return Unprocessable("密钥未签发：" + "；".join(p.message for p in problems), code="key_invalid",
                         details=[p.as_detail() for p in problems])


def _known_orgs(session, tenant_id: str) -> dict[str, str]:
    return dict(session.execute(select(Org.id, Org.name).where(Org.tenant_id == tenant_id)).all())


def _known_tracks(session, tenant: Tenant) -> dict[str, str]:
    """The tracks of every campaign the tenant sees (its own, the ministry's): a reach may name any of them."""
    rows = session.scalars(select(Campaign).where(Campaign.owner_id.in_([tenant.id, MINISTRY]))).all()
    return {key: track.label for c in rows for key, track in definition_of(c).tracks.items()}


def create_key(session, outbox, caller: Caller, body: dict) -> dict:
    """An integration key (a portal's, a dashboard's) of the caller's tenant: 201 with the key, shown once.

    A portal's key may be limited to some orgs (with their subtrees) and/or tracks (`org_ids`, `tracks`)."""
    label, scopes = body.get("label"), body.get("scopes")
    days = body.get("expires_in_days", keys.DEFAULT_KEY_DAYS)
    org_ids, tracks = body.get("org_ids"), body.get("tracks")
    problems = keys.new_key_problems(label, scopes, days, for_person=False)
    if org_ids is not None or tracks is not None:
        problems += keys.reach_problems(org_ids, tracks, scopes, False, _known_orgs(session, caller.tenant.id),
                                        _known_tracks(session, caller.tenant))
    if problems:
        raise _invalid(problems)
    reach = keys.Reach(frozenset(org_ids) if org_ids is not None else None,
                       frozenset(tracks) if tracks is not None else None)
    key = issue_key(session, outbox, caller.tenant.id, label.strip(), sorted(set(scopes)), days, reach=reach)
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == key[:10], ApiKey.tenant_id == caller.tenant.id)
                         .order_by(ApiKey.created_at.desc()))
    record_by(session, caller, "key.issued", "api_key", row.id, {"prefix": row.prefix, "label": row.label,
                                                                "scopes": row.scopes, "days": days,
                                                                "reach": row.reach})
    return {**key_json(row), "key": key}


def rotate_key(session, outbox, caller: Caller, key_id: str, body: dict) -> dict:
    """A successor with the same label, scopes, reach and lifetime; the old key lives on for the overlap, then
    expires."""
    old = _own_key(session, caller, key_id)
    hours = body.get("overlap_hours", keys.DEFAULT_OVERLAP_HOURS)
    problem = keys.overlap_problem(hours)
    if problem is not None:
        raise _invalid([problem])
    if old.revoked_at is not None:
        raise Unprocessable(f"密钥 {old.prefix}… 已停用，不能轮换。请签发新密钥（POST /api/v1/keys）。",
                            code="key_revoked", found=old.prefix)
    days = keys.DEFAULT_KEY_DAYS
    key = issue_key(session, outbox, caller.tenant.id, old.label, old.scopes, days, account_id=old.account_id,
                    rotated_from=old.id, reach=keys.Reach.stored(old.reach))
    until = clock.now() + keys.overlap(hours)
    old.expires_at = min(old.expires_at, until) if old.expires_at else until
    if hours == 0:
        _revoke(session, outbox, old)
    new = session.scalar(select(ApiKey).where(ApiKey.rotated_from == old.id).order_by(ApiKey.created_at.desc()))
    record_by(session, caller, "key.rotated", "api_key", old.id, {"prefix": old.prefix, "successor": new.prefix,
                                                                 "old_expires_at": _when(old.expires_at),
                                                                 "reach": new.reach})
    return {**key_json(new), "key": key, "previous": key_json(old)}


def revoke_key(session, outbox, caller: Caller, key_id: str) -> dict:
    row = _own_key(session, caller, key_id)
    if row.revoked_at is None:
        _revoke(session, outbox, row)
        record_by(session, caller, "key.revoked", "api_key", row.id, {"prefix": row.prefix, "label": row.label})
    return key_json(row)


# --------------------------------------------------------------------------- a person's own keys


def _owner_of(session, account_id: str, tenant_id: str) -> bool:
    return session.scalar(select(AccountGrant.id).where(AccountGrant.account_id == account_id,
                                                        AccountGrant.tenant_id == tenant_id,
                                                        AccountGrant.role == Role.OWNER.value)) is not None


def personal_keys(session, account_id: str) -> list[dict]:
    rows = session.scalars(select(ApiKey).where(ApiKey.account_id == account_id)
                           .order_by(ApiKey.created_at.desc(), ApiKey.id)).all()
    names = dict(session.execute(select(Tenant.id, Tenant.name).where(Tenant.id.in_({r.tenant_id for r in rows}))).all())
    return [{**key_json(r), "tenant": r.tenant_id, "tenant_name": names.get(r.tenant_id, r.tenant_id)} for r in rows]


def administered_orgs(session, account_id: str, tenant_id: str) -> list[str]:
    """The level-2 orgs the person administers in the tenant (org_admin grants): what their own key reaches. A branch's
    admin has none: a branch publishes nothing to anyone below it."""
    return list(session.scalars(
        select(AccountGrant.org_id).join(Org, Org.id == AccountGrant.org_id)
        .where(AccountGrant.account_id == account_id, AccountGrant.tenant_id == tenant_id,
               AccountGrant.role == Role.ORG_ADMIN.value, Org.level == "level2").order_by(AccountGrant.org_id)))


def create_personal_key(session, outbox, account_id: str, tenant_id: str, body: dict, address: str | None) -> dict:
    """A key of the person's own, for a tenant they own (单位管理员: it may hold `admin`) or a college they administer
    (组织管理员 of a level-2 org: `submit` and `publish`, reaching that org's subtree); the log names them.

    It is revoked when they lose that role or their account (revoke_keys_of)."""
    account = session.get(Account, account_id)
    active = account is not None and account.state == AccountState.ACTIVE
    owner = active and _owner_of(session, account_id, tenant_id)
    colleges = administered_orgs(session, account_id, tenant_id) if active and not owner else []
    if not owner and not colleges:
        raise NotFound("只有单位管理员和二级党组织的组织管理员可以为本人签发密钥，且只能用于自己管理的单位或组织。",
                       code="tenant_not_found", found=tenant_id[:64])
    days = body.get("expires_in_days", keys.DEFAULT_KEY_DAYS)
    problems = keys.new_key_problems(body.get("label"), body.get("scopes"), days, for_person=True, org_admin=not owner)
    problems += keys.reach_problems(body.get("org_ids"), body.get("tracks"), body.get("scopes"), True, {}, {})
    if problems:
        raise _invalid(problems)
    reach = keys.WHOLE_TENANT if owner else keys.Reach(org_ids=frozenset(colleges))
    key = issue_key(session, outbox, tenant_id, body["label"].strip(), sorted(set(body["scopes"])), days,
                    account_id=account_id, reach=reach)
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == key[:10], ApiKey.account_id == account_id)
                         .order_by(ApiKey.created_at.desc()))
    record(session, tenant_id, f"account:{account.id} ({account.name})"[:200], "key.issued", "api_key", row.id,
           {"prefix": row.prefix, "label": row.label, "scopes": row.scopes, "days": days, "own": True}, address)
    return {**key_json(row), "key": key}


def revoke_personal_key(session, outbox, account_id: str, key_id: str, address: str | None) -> dict:
    row = session.get(ApiKey, key_id, with_for_update=True)
    if row is None or row.account_id != account_id:
        raise NotFound("没有这个密钥（或不是您本人的）。", code="key_not_found", found=key_id[:40])
    if row.revoked_at is None:
        _revoke(session, outbox, row)
        account = session.get(Account, account_id)
        record(session, row.tenant_id, f"account:{account.id} ({account.name})"[:200], "key.revoked", "api_key",
               row.id, {"prefix": row.prefix, "label": row.label, "own": True}, address)
    return key_json(row)


def revoke_keys_of(session, outbox, account_id: str, tenant_id: str | None = None, org_id: str | None = None) -> int:
    """Revoke the person's own keys (of one tenant, or all): they lost the role or the account they acted by.
    `org_id`: only the keys reaching that org (they lost its org_admin grant; an owner's keys stay)."""
    where = [ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None)]
    if tenant_id is not None:
        where.append(ApiKey.tenant_id == tenant_id)
    rows = session.scalars(select(ApiKey).where(*where)).all()
    if org_id is not None:
        rows = [r for r in rows if org_id in (keys.Reach.stored(r.reach).org_ids or ())]
    for row in rows:
        _revoke(session, outbox, row)
    return len(rows)
