"""A tenant's single sign-on (统一身份认证) as intake keeps it: its settings, and the account a provider's person is.

The protocol is services/intake/sso.py (OpenID Connect over Authlib, no framework); this module stores one
provider per tenant (the client secret sealed, services/intake/sealing.py: a copy of the database
alone opens no provider), and turns a verified identity into an account of that tenant:

- found among the people whose home is the tenant (a person of another tenant is not the tenant's to sign
  in), by e-mail or by staff number (工号), as the tenant chose (`match_by`);
- created, active and without a password, when the tenant's rules give the person at least one grant
  (nobody gets an account that opens nothing); matching by staff number, with that staff number and the
  e-mail of the claims (an account needs an address: links and notices go there);
- given the grants the rules name that they do not hold yet (never removed here: a rule that stops
  matching is the owner's to act on, in the audit log's light).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict

from sqlalchemy import func, select

from common import clock, destinations
from common.db import serialize_on
from common.errors import DomainError, NotFound, Unprocessable
from common.locale import beijing_iso
from common.outbound import Outbound
from services.intake import sso
from services.intake.domain import people
from services.intake.domain.lifecycles import ACCOUNT, AccountState
from services.intake.domain.people import GrantRequest, OrgFact, Problem
from services.intake.models import Account, AccountGrant, Org, SsoProvider, Tenant
from services.intake.operations.audit import record, record_by
from services.intake.operations.tenants import Caller
from services.intake.sealing import seal, unseal

# --------------------------------------------------------------------------- settings


def _rules(raw: list) -> tuple[sso.GrantRule, ...]:
    return tuple(sso.GrantRule(claim=r.get("claim", ""), value=r.get("value", ""), role=r.get("role", ""),
                               department=r.get("department"), org_id=r.get("org_id")) for r in raw or [])


def settings_of(row: SsoProvider, secret: bytes) -> sso.OidcSettings:
    s = row.settings
    return sso.OidcSettings(issuer=s["issuer"], client_id=s["client_id"], client_secret=unseal(secret, row.client_secret),
                            email_claim=s.get("email_claim", "email"), staff_no_claim=s.get("staff_no_claim"),
                            match_by=s.get("match_by", "email"), scopes=tuple(s.get("scopes", sso.OidcSettings.scopes)),
                            grant_rules=_rules(s.get("grant_rules")))


def sso_json(row: SsoProvider | None) -> dict:
    if row is None:
        return {"configured": False}
    return {"configured": True, **row.settings, "client_secret_set": True, "updated_by": row.updated_by,
            "updated_at": beijing_iso(row.updated_at)}


def get_sso(session, caller: Caller) -> dict:
    return sso_json(session.get(SsoProvider, caller.tenant.id))


def _invalid(problems: list[Problem]) -> Unprocessable:
    return Unprocessable(f"统一身份认证配置未保存：有 {len(problems)} 处问题。" + "；".join(p.message for p in problems),
                         code="sso_settings_invalid", details=[p.as_detail() for p in problems])


def configure_sso(session, caller: Caller, body: dict, secret: bytes, outbound: Outbound) -> dict:
    """Save the tenant's provider (all or nothing); the secret may be left out to keep the stored one.
    The issuer must be an address the platform calls (`outbound`: public, or on SSO_ALLOW_HOSTS)."""
    row = session.get(SsoProvider, caller.tenant.id, with_for_update=True)
    client_secret = body.get("client_secret") or (unseal(secret, row.client_secret) if row else "")
    settings = sso.OidcSettings(
        issuer=body.get("issuer", ""), client_id=body.get("client_id", ""), client_secret=client_secret,
        email_claim=body.get("email_claim", "email"), staff_no_claim=body.get("staff_no_claim"),
        match_by=body.get("match_by", "email"), scopes=tuple(body.get("scopes", sso.OidcSettings.scopes)),
        grant_rules=_rules(body.get("grant_rules")))
    orgs = {o.id: OrgFact(o.id, o.name, o.level) for o in session.scalars(select(Org).where(Org.tenant_id == caller.tenant.id))}
    problems = sso.settings_problems(settings, tenant_kind=caller.tenant.kind, tenant_name=caller.tenant.name, orgs=orgs)
    if not any(p.field == "issuer" for p in problems):
        try:
            outbound.check(settings.issuer)  # refused now, not at the first person's sign-in
        except destinations.Refused as exc:
            problems.append(Problem(exc.code, "issuer", exc.expected, exc.found, exc.message))
    if problems:
        raise _invalid(problems)
    stored = {k: v for k, v in asdict(settings).items() if k != "client_secret"}
    stored["scopes"], stored["grant_rules"] = list(settings.scopes), [asdict(r) for r in settings.grant_rules]
    if row is None:
        row = SsoProvider(tenant_id=caller.tenant.id)
        session.add(row)
    row.settings, row.client_secret = stored, seal(secret, client_secret)
    row.updated_by, row.updated_at = caller.actor, clock.now()
    record_by(session, caller, "sso.configured", "sso", caller.tenant.id,
              {"issuer": settings.issuer, "client_id": settings.client_id, "rules": len(settings.grant_rules),
               "secret_changed": bool(body.get("client_secret"))})
    session.flush()
    sso.forget_providers()  # a changed issuer's metadata must not be served from this process's cache
    return sso_json(row)


def remove_sso(session, caller: Caller) -> dict:
    row = session.get(SsoProvider, caller.tenant.id, with_for_update=True)
    if row is not None:
        session.delete(row)
        record_by(session, caller, "sso.removed", "sso", caller.tenant.id, {"issuer": row.settings.get("issuer")})
    return {"configured": False}


def providers(session) -> list[dict]:
    """The tenants whose people may sign in through their own provider (for the sign-in page)."""
    rows = session.execute(select(Tenant.id, Tenant.name).join(SsoProvider, SsoProvider.tenant_id == Tenant.id)
                           .order_by(Tenant.name)).all()
    return [{"tenant": t, "name": n} for t, n in rows]


def provider_settings(session, tenant_id: str, secret: bytes) -> tuple[Tenant, sso.OidcSettings]:
    row = session.get(SsoProvider, tenant_id)
    if row is None:
        raise NotFound(f"单位“{tenant_id[:64]}”没有配置统一身份认证。请用邮箱和密码登录，或联系本单位的单位管理员。",
                       code="sso_not_configured", found=tenant_id[:64])
    return session.get(Tenant, tenant_id), settings_of(row, secret)


# --------------------------------------------------------------------------- a provider's person, as an account


def _refused(message: str, code: str, **kw) -> DomainError:
    return DomainError(message, code=code, status=403, **kw)


def email_proven(settings: sso.OidcSettings, claims: Mapping) -> bool:
    """Whether the claims' e-mail may go on a new account: not when the provider says it did not verify it (the
    rule claims_to_identity applies when accounts are found by e-mail). An unverified address on an account
    would let whoever typed it there receive that address's invitations and grants from other tenants."""
    return not (settings.email_claim == "email" and claims.get("email_verified") is False)


def _lock_by_email(session, email: str) -> Account | None:
    return session.scalar(select(Account).where(Account.email == email).with_for_update())


def _found_by_email(session, tenant: Tenant, identity: sso.Identity) -> Account | None:
    account = _lock_by_email(session, identity.value)
    if account is not None and account.home_tenant_id != tenant.id:
        raise _refused(f"{identity.value} 的账号属于其他单位，不能通过{tenant.name}的统一身份认证登录。"
                       "请用邮箱和密码（或邮件登录链接）登录。", "sso_other_tenant", found=identity.value)
    return account


def _found_by_staff_no(session, tenant: Tenant, staff_no: str) -> Account | None:
    # The staff number is the identity: the account found by it is signed in even when its e-mail differs from the
    # claims' (people change addresses; the staff records, which the provider reads, are what the tenant trusts when
    # it matches by staff number), and the claims' e-mail is never used to find anyone else.
    serialize_on(session, "staff_no", tenant.id, staff_no)  # two first sign-ins at once: one account
    return session.scalar(select(Account).where(Account.home_tenant_id == tenant.id, Account.staff_no == staff_no)
                          .with_for_update())


def _no_account(tenant: Tenant, identity: sso.Identity) -> DomainError:
    who = f"工号 {identity.value}" if identity.by == "staff_no" else identity.value
    return _refused(f"{who} 在本平台还没有账号，{tenant.name}的授权规则也没有给您任何角色。"
                    "请联系本单位的单位管理员邀请您。", "sso_no_account", found=identity.value)


def _staff_no_creation_refusal(session, tenant: Tenant, settings: sso.OidcSettings, identity: sso.Identity,
                               staff_no: str, email_ok: bool) -> DomainError | None:
    """Why no account can be made for a staff number nobody of the tenant has yet (None: one can)."""
    if (problem := people.staff_no_problem(staff_no)) is not None:
        return DomainError(f"身份提供方发来的工号不能登记为本平台的工号：{problem.message}"
                           "请联系本单位的单位管理员邀请您并登记正确的工号，或请信息化部门核对身份提供方中的工号。",
                           code="sso_staff_no_invalid", status=422, expected=problem.expected, found=staff_no)
    if identity.email is None:
        return sso.SsoNoEmail(
            f"按工号 {staff_no} 在{tenant.name}没有找到账号；为您创建账号还需要邮箱（邀请、登录链接和通知都发到邮箱），"
            f"但身份提供方没有发来有效的邮箱（声明 {settings.email_claim}）。请联系本单位的单位管理员邀请您并登记工号 "
            f"{staff_no}，或请信息化部门让身份提供方发出邮箱（范围 scope 中需有 email）。",
            expected=f"声明 {settings.email_claim}：电子邮箱", found=None)
    if not email_ok:
        return sso.SsoEmailUnverified(
            f"按工号 {staff_no} 在{tenant.name}没有找到账号；身份提供方表示邮箱 {identity.email} 尚未经过验证，"
            "不能用它创建账号。请先在身份提供方处验证邮箱，或联系本单位的单位管理员邀请您并登记工号。",
            expected="email_verified 为 true", found=False)
    serialize_on(session, "account", identity.email)  # as an invitation of the address does: one account per address
    holder = _lock_by_email(session, identity.email)
    if holder is None:
        return None
    if holder.home_tenant_id != tenant.id:
        return _refused(f"邮箱 {identity.email} 的账号属于其他单位，不能通过{tenant.name}的统一身份认证登录，"
                        "也不能再用它创建账号。请用邮箱和密码（或邮件登录链接）登录。", "sso_other_tenant",
                        found=identity.email)
    # the address has an account here that carries another staff number, or none: which person the provider means
    # is the owner's to say, not a guess of ours
    return _refused(f"邮箱 {identity.email} 在{tenant.name}已有账号，但该账号没有登记工号 {staff_no}。"
                    f"请联系本单位的单位管理员在该账号上登记工号 {staff_no}（人员名单的“工号”列，或 "
                    "PATCH /api/v1/accounts/{id}），然后再登录。", "sso_staff_no_unregistered", found=staff_no)


def _created(session, tenant: Tenant, identity: sso.Identity, email: str, staff_no: str | None, actor: str,
             address: str | None) -> Account:
    name = (identity.name or email.partition("@")[0]).strip()[:people.MAX_NAME_LENGTH]
    account = Account(home_tenant_id=tenant.id, name=name, email=email, staff_no=staff_no, created_at=clock.now())
    ACCOUNT.move(account, AccountState.INVITED)
    session.add(account)
    session.flush()
    detail = {"email": account.email, "subject": identity.subject}
    if staff_no is not None:
        detail["staff_no"] = staff_no
    record(session, tenant.id, actor, "account.created_by_sso", "account", account.id, detail, address)
    return account


def account_for(session, tenant: Tenant, settings: sso.OidcSettings, identity: sso.Identity,
                granted: list[GrantRequest], address: str | None, *, email_ok: bool = True) -> Account:
    """The tenant's account of the person the provider vouched for: found, or created; with the rules' grants.

    `email_ok`: whether the claims' e-mail may go on a new account (`email_proven`); only matching by staff number
    uses it, as matching by e-mail refuses an unverified address before this."""
    actor = f"sso:{settings.issuer}"[:200]
    if identity.by == "staff_no":
        staff_no = people.normalise_staff_no(identity.value) or identity.value
        account = _found_by_staff_no(session, tenant, staff_no)
    else:
        staff_no, account = None, _found_by_email(session, tenant, identity)
    if account is not None and account.state == AccountState.DISABLED:
        raise _refused("您的账号已停用，不能登录。如有疑问，请联系本单位的单位管理员。", "account_disabled")
    if account is None:
        if not granted:
            raise _no_account(tenant, identity)
        if staff_no is not None:
            refusal = _staff_no_creation_refusal(session, tenant, settings, identity, staff_no, email_ok)
            if refusal is not None:
                raise refusal
        account = _created(session, tenant, identity, identity.email if staff_no else identity.value, staff_no, actor,
                           address)
    if account.state == AccountState.INVITED:  # the provider proved who they are: no password needed to begin
        ACCOUNT.move(account, AccountState.ACTIVE, at=clock.now())
    for want in granted:
        held = session.scalar(select(AccountGrant).where(
            AccountGrant.account_id == account.id, AccountGrant.tenant_id == tenant.id, AccountGrant.role == want.role,
            func.coalesce(AccountGrant.department, "") == (want.department or ""),
            func.coalesce(AccountGrant.org_id, "") == (want.org_id or "")))
        if held is None:
            grant = AccountGrant(account_id=account.id, tenant_id=tenant.id, role=want.role, department=want.department,
                                 org_id=want.org_id, granted_by=actor, granted_at=clock.now())
            session.add(grant)
            session.flush()
            record(session, tenant.id, actor, "grant.added", "account", account.id,
                   {"grant_id": grant.id, "role": want.role, "department": want.department, "org_id": want.org_id,
                    "by_rule": True}, address)
    return account
