"""A person's web sessions: intake's own, and (through `account_sessions_ended`) those review and notify opened;
and what a session may do through the API (the hosted submission pages: `person_caller`).

Ended in the same transaction as the change that ends them (signing out, a grant removed, the account
disabled, a new password): the event leaves through the outbox with it, and each service ends the
sessions it opened from intake's tickets (common.handoff) when it arrives.
"""
from __future__ import annotations

from sqlalchemy import delete, select

from common.errors import Forbidden, InvalidInput, Unauthorized
from services.intake.domain import keys
from services.intake.domain.lifecycles import AccountState
from services.intake.domain.people import Role, department_covers
from services.intake.models import Account, AccountGrant, Org, Tenant, WebSession
from services.intake.operations.campaigns import definition_of, visible_campaigns
from services.intake.operations.tenants import Caller


def principal_of(account_id: str) -> str:
    """The principal of a person's session on intake's pages."""
    return f"account:{account_id}"


def end_sessions(session, outbox, account_id: str, reason: str, tenant: str, intake_session: str | None = None) -> None:
    """End the person's sessions here (one, on signing out, or all) and tell review and notify to end theirs."""
    where = WebSession.principal == principal_of(account_id)
    if intake_session:
        where &= WebSession.id_hash == intake_session
    session.execute(delete(WebSession).where(where))
    outbox.add(session, "account_sessions_ended", tenant, {"account_id": account_id, "reason": reason,
                                                           "intake_session": intake_session})


# --------------------------------------------------------------------------- a person's session calling the API


TENANT_HEADER = "X-Siyige-Tenant"  # which of their tenants a person signed in acts for, when they hold roles in several


def person_caller(session, account_id: str, headers, address: str | None = None, needs: str = keys.ANY) -> Caller:
    """The caller of a request made with a person's signed-in session (the hosted submission pages): the person,
    in the tenant where their grants give them API access (`keys.person_access`), with that access's scopes and
    reach. Grants are read on every request, so a role taken away is gone at the next click."""
    account = session.get(Account, account_id)
    if account is None or account.state != AccountState.ACTIVE:
        raise Unauthorized("登录已失效（账号已停用）。请重新登录。", code="not_signed_in", expected="已启用的账号",
                           found=account.state if account else "无")
    rows = session.execute(select(AccountGrant.tenant_id, AccountGrant.role, AccountGrant.department,
                                  AccountGrant.org_id, Org.level).outerjoin(Org, Org.id == AccountGrant.org_id)
                           .where(AccountGrant.account_id == account_id)).all()
    by_tenant: dict[str, list] = {}
    for tenant_id, *grant in rows:
        by_tenant.setdefault(tenant_id, []).append(tuple(grant))
    usable = {t: access for t, grants in sorted(by_tenant.items())
              if (access := keys.person_access(grants, _department_tracks(session, t, grants)))}
    asked = (headers.get(TENANT_HEADER) or "").strip()
    if not usable or (asked and asked not in usable):
        raise Forbidden("您的账号在此单位没有报送作品的角色（单位管理员、部门管理员或组织管理员）。"
                        "如需报送，请联系本单位管理员授予角色。", code="no_submitting_role",
                        expected="单位管理员、部门管理员或组织管理员", found=asked[:64] or "无")
    if not asked and len(usable) > 1:
        raise InvalidInput(f"您在多个单位有角色：{'、'.join(usable)}。请在请求头 {TENANT_HEADER} 中写明本次代表哪个单位。",
                           code="tenant_required", field=TENANT_HEADER, expected=sorted(usable), found=None)
    tenant_id = asked or next(iter(usable))
    access = usable[tenant_id]
    if not keys.allows(sorted(access.scopes), needs):
        raise Forbidden(f"您的角色不能进行此操作：需要权限“{keys.Scope(needs).label}”。请联系本单位管理员。",
                        code="role_scope", expected=str(needs), found=sorted(access.scopes))
    return Caller(tenant=session.get(Tenant, tenant_id), actor=f"account:{account.id} ({account.name}) web"[:200],
                  who=account.name, address=address, reach=access.reach)


def _department_tracks(session, tenant_id: str, grants: list[tuple]) -> dict[str, frozenset[str]]:
    """For each department the person administers in the tenant, the track keys its campaigns route there."""
    departments = {department for role, department, *_ in grants if role == Role.DEPARTMENT_ADMIN and department}
    if not departments:
        return {}
    tracks = [(key, track.department) for campaign in visible_campaigns(session, session.get(Tenant, tenant_id))
              for key, track in definition_of(campaign).tracks.items()]
    return {d: frozenset(key for key, routed in tracks if department_covers(d, key, routed)) for d in departments}
