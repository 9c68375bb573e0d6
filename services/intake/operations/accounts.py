"""People: invite (one at a time or from a list), their grants and staff numbers, disabling and enabling, accepting
an invitation.

One account per e-mail across the platform. A tenant sees the accounts whose home it is and those it
has granted a role; of their grants, only its own. It changes only its own grants; disabling and
enabling an account is its home tenant's. Every change writes its audit row (operations/audit.py) in
the same transaction, and an invitation's e-mail leaves through the outbox (`account_invited`).
The rules (which grants are possible, the password policy, why a link cannot be used) are in
domain/people.py. A staff number (工号) is the home tenant's record: unique among its people, set and changed by
it alone, and shown to it alone.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import and_, or_, select

from common import clock
from common.db import contains_text, serialize_on
from common.errors import Conflict, DomainError, Forbidden, NotFound, Unprocessable
from common.locale import beijing_iso as _when
from services.intake.domain import people
from services.intake.domain.account_table import ERROR_CODE as IMPORT_ERROR, parse_account_table
from services.intake.domain.lifecycles import ACCOUNT, AccountState
from services.intake.domain.people import GrantRequest, OrgFact, Problem
from services.intake.models import Account, AccountGrant, Invitation, Org, Tenant
from services.intake.operations.audit import record, record_by
from services.intake.operations.keys import revoke_keys_of
from services.intake.operations.pages import paged
from services.intake.operations.sessions import end_sessions
from services.intake.operations.tenants import Caller

INVITATION_TTL = timedelta(days=7)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


# --------------------------------------------------------------------------- reading


def _org_names(session, org_ids) -> dict[str, str]:
    ids = {i for i in org_ids if i}
    return dict(session.execute(select(Org.id, Org.name).where(Org.id.in_(ids))).all()) if ids else {}


def grant_json(grant: AccountGrant, org_names: dict[str, str]) -> dict:
    org_name = org_names.get(grant.org_id) if grant.org_id else None
    return {"id": grant.id, "role": grant.role, "department": grant.department, "org_id": grant.org_id,
            "org_name": org_name, "label": people.grant_label(grant.role, grant.department, org_name),
            "granted_by": grant.granted_by, "granted_at": _when(grant.granted_at)}


def _grants_in(session, tenant: Tenant, account_ids) -> dict[str, list[AccountGrant]]:
    ids = list(account_ids)
    found: dict[str, list[AccountGrant]] = {i: [] for i in ids}
    if ids:
        rows = session.scalars(select(AccountGrant).where(AccountGrant.tenant_id == tenant.id,
                                                          AccountGrant.account_id.in_(ids))
                               .order_by(AccountGrant.granted_at, AccountGrant.id))
        for g in rows:
            found[g.account_id].append(g)
    return found


def _accounts_json(session, tenant: Tenant, accounts: list[Account]) -> list[dict]:
    grants = _grants_in(session, tenant, [a.id for a in accounts])
    names = _org_names(session, [g.org_id for gs in grants.values() for g in gs])
    # the staff number is the home tenant's record of its own staff: a tenant that only gave a role sees none
    return [{"id": a.id, "name": a.name, "email": a.email, "state": a.state,
             "state_label": AccountState.label_of(a.state), "home_tenant": a.home_tenant_id,
             "staff_no": a.staff_no if a.home_tenant_id == tenant.id else None,
             "created_at": _when(a.created_at), "activated_at": _when(a.activated_at),
             "grants": [grant_json(g, names) for g in grants[a.id]]} for a in accounts]


def account_json(session, tenant: Tenant, account: Account) -> dict:
    """The account as `tenant` sees it: its own grants only (another tenant's are not its business)."""
    return _accounts_json(session, tenant, [account])[0]


def _visible(tenant: Tenant):
    granted = select(AccountGrant.account_id).where(AccountGrant.tenant_id == tenant.id)
    return or_(Account.home_tenant_id == tenant.id, Account.id.in_(granted))


def get_account(session, tenant: Tenant, account_id: str) -> Account:
    """An account `tenant` may see (its home, or one it granted a role); any other answers as a missing one."""
    account = session.scalar(select(Account).where(Account.id == account_id, _visible(tenant)))
    if account is None:
        raise NotFound(f"找不到人员账号 {account_id}。请用 GET /api/v1/accounts 查看本单位的人员。",
                       code="account_not_found", found=account_id)
    return account


def list_accounts(session, tenant: Tenant, filters: dict, page: int, per_page: int) -> dict:
    query = select(Account).where(_visible(tenant))
    if filters.get("state"):
        query = query.where(Account.state == AccountState(filters["state"]))
    if filters.get("role"):
        query = query.where(Account.id.in_(select(AccountGrant.account_id).where(
            AccountGrant.tenant_id == tenant.id, AccountGrant.role == filters["role"])))
    if filters.get("q"):
        q = filters["q"]
        query = query.where(or_(contains_text(Account.name, q), contains_text(Account.email, q),
                                and_(Account.home_tenant_id == tenant.id, contains_text(Account.staff_no, q))))
    result = paged(session, query.order_by(Account.created_at.desc(), Account.id), page, per_page, lambda a: a)
    result["items"] = _accounts_json(session, tenant, result["items"])
    return result


# --------------------------------------------------------------------------- grants


def _org_fact(session, tenant: Tenant, org_id: str | None) -> OrgFact | None:
    org = session.get(Org, org_id) if org_id else None
    if org is None or org.tenant_id != tenant.id:
        return None
    return OrgFact(org.id, org.name, org.level)


def grant_requests(raw: list[dict]) -> list[GrantRequest]:
    """The body's grants, each once (a repeated one is the same request)."""
    out: list[GrantRequest] = []
    for g in raw:
        request = GrantRequest(g["role"], g.get("department") or None, g.get("org_id") or None)
        if request not in out:
            out.append(request)
    return out


def _grant_problems(session, tenant: Tenant, requests: list[GrantRequest], prefix: str) -> list[Problem]:
    problems = []
    for i, request in enumerate(requests):
        where = f"{prefix}[{i}]" if prefix == "grants" else prefix
        problems += people.grant_problems(request, tenant.kind, tenant.name, _org_fact(session, tenant, request.org_id),
                                          field=where)
    return problems


def _held(session, account: Account, tenant: Tenant, request: GrantRequest) -> AccountGrant | None:
    return session.scalar(select(AccountGrant).where(
        AccountGrant.account_id == account.id, AccountGrant.tenant_id == tenant.id, AccountGrant.role == request.role,
        AccountGrant.department.is_(None) if request.department is None else AccountGrant.department == request.department,
        AccountGrant.org_id.is_(None) if request.org_id is None else AccountGrant.org_id == request.org_id))


def _grant(session, caller: Caller, account: Account, request: GrantRequest) -> AccountGrant:
    grant = AccountGrant(account_id=account.id, tenant_id=caller.tenant.id, role=request.role,
                         department=request.department, org_id=request.org_id, granted_by=caller.actor,
                         granted_at=clock.now())
    session.add(grant)
    session.flush()
    org_name = _org_names(session, [request.org_id]).get(request.org_id) if request.org_id else None
    record_by(session, caller, "grant.added", "account", account.id, {
        "grant_id": grant.id, "role": request.role, "department": request.department, "org_id": request.org_id,
        "label": people.grant_label(request.role, request.department, org_name)})
    return grant


def _invalid(message: str, problems: list[Problem], code: str) -> Unprocessable:
    first = problems[0]
    summary = first.message if len(problems) == 1 else f"共 {len(problems)} 处问题，第一处：{first.message}"
    return Unprocessable(f"{message}{summary}", code=code, field=first.field, expected=first.expected,
                         found=first.found, details=[p.as_detail() for p in problems])


def add_grant(session, caller: Caller, account: Account, body: dict) -> dict:
    request = grant_requests([body])[0]
    problems = _grant_problems(session, caller.tenant, [request], "grant")
    if problems:
        raise _invalid("角色未授予：", problems, "grant_invalid")
    session.refresh(account, with_for_update=True)  # one grant change per account at a time
    held = _held(session, account, caller.tenant, request)
    if held is not None:
        raise Conflict(f"{account.name}已有此角色：{grant_json(held, _org_names(session, [held.org_id]))['label']}。"
                       "无需重复授予。", code="grant_exists", found=held.id)
    _grant(session, caller, account, request)
    return account_json(session, caller.tenant, account)


def _keep_an_owner(session, tenant: Tenant, account: Account, doing: str) -> None:
    """A tenant whose people include an active owner keeps one: the last cannot lose the role or the account.

    Serialised per tenant, so two owners removing each other at once cannot both succeed.
    """
    serialize_on(session, "owners", tenant.id)
    owners = set(session.scalars(select(AccountGrant.account_id).join(Account, Account.id == AccountGrant.account_id)
                                 .where(AccountGrant.tenant_id == tenant.id, AccountGrant.role == people.Role.OWNER.value,
                                        Account.state == AccountState.ACTIVE)))
    if owners == {account.id}:
        raise Conflict(f"{account.name}是{tenant.name}唯一的单位管理员，不能{doing}：否则没有人能管理本单位的人员、密钥和"
                       "统一身份认证。请先授予另一位同事单位管理员角色（POST /api/v1/accounts/{id}/grants），再操作。",
                       code="last_owner", found=account.id)


def remove_grant(session, outbox, caller: Caller, account: Account, grant_id: str) -> dict:
    """Remove one of the caller's tenant's grants; the person's sessions everywhere end (they held the old grants)."""
    grant = session.get(AccountGrant, grant_id)
    if grant is None or grant.account_id != account.id or grant.tenant_id != caller.tenant.id:
        raise NotFound(f"{account.name}没有本单位授予的角色 {grant_id}。请用 GET /api/v1/accounts/{account.id} 查看其角色。",
                       code="grant_not_found", found=grant_id)
    if grant.role == people.Role.OWNER.value:
        _keep_an_owner(session, caller.tenant, account, "移除其单位管理员角色")
    label = grant_json(grant, _org_names(session, [grant.org_id]))["label"]
    record_by(session, caller, "grant.removed", "account", account.id, {
        "grant_id": grant.id, "role": grant.role, "department": grant.department, "org_id": grant.org_id,
        "label": label})
    session.delete(grant)
    session.flush()
    end_sessions(session, outbox, account.id, "grant_removed", caller.tenant.id)
    if grant.role == people.Role.OWNER.value:  # their own keys acted as the tenant's owner
        revoke_keys_of(session, outbox, account.id, caller.tenant.id)
    elif grant.role == people.Role.ORG_ADMIN.value and grant.org_id:  # their own keys acted for that college
        revoke_keys_of(session, outbox, account.id, caller.tenant.id, org_id=grant.org_id)
    return account_json(session, caller.tenant, account)


# --------------------------------------------------------------------------- staff numbers (工号)


def _staff_no_holder(session, tenant: Tenant, staff_no: str) -> Account | None:
    return session.scalar(select(Account).where(Account.home_tenant_id == tenant.id, Account.staff_no == staff_no))


def _taken(holder: Account, staff_no: str) -> Conflict:
    # The holder's home is the caller's tenant (staff numbers are unique per home tenant, and only the home tenant
    # sets one), so the caller may see them: naming them tells the owner whose record to correct.
    return Conflict(f"工号“{staff_no}”已登记给{holder.name}（{holder.email}）。一个工号在本单位只属于一人：请核对工号；"
                    f"如是{holder.name}的工号登记错了，请先改正其工号（PATCH /api/v1/accounts/{holder.id}）。",
                    code="staff_no_taken", field="staff_no", expected="本单位未登记过的工号", found=staff_no,
                    details=[{"account_id": holder.id, "name": holder.name, "email": holder.email}])


def _set_staff_no(session, caller: Caller, account: Account, staff_no: str | None) -> None:
    """Give the caller's own person `staff_no` (None: clear it), unless another of its people holds it; audited."""
    if staff_no == account.staff_no:
        return
    if staff_no is not None:
        serialize_on(session, "staff_no", caller.tenant.id, staff_no)  # two people given one number at once: one
        holder = _staff_no_holder(session, caller.tenant, staff_no)
        if holder is not None and holder.id != account.id:
            raise _taken(holder, staff_no)
    record_by(session, caller, "account.staff_no_changed", "account", account.id,
              {"staff_no": staff_no, "previous_staff_no": account.staff_no})
    account.staff_no = staff_no
    session.flush()


def update_account(session, caller: Caller, account: Account, body: dict) -> dict:
    """PATCH an account of the caller's home: its staff number (null or blank clears it)."""
    _require_home(caller, account, "登记或修改工号")
    if (problem := people.staff_no_problem(body["staff_no"])) is not None:
        raise _invalid("工号未修改：", [problem], "account_invalid")
    session.refresh(account, with_for_update=True)
    _set_staff_no(session, caller, account, people.normalise_staff_no(body["staff_no"]))
    return account_json(session, caller.tenant, account)


def staff_no_of(session, account_id: str) -> str | None:
    """The person's own staff number, for their home page."""
    return session.scalar(select(Account.staff_no).where(Account.id == account_id))


# --------------------------------------------------------------------------- disabling and enabling


def _require_home(caller: Caller, account: Account, doing: str) -> None:
    if account.home_tenant_id != caller.tenant.id:
        raise Forbidden(f"{account.name}的账号属于其他单位，只能由该单位的管理员{doing}。"
                        "您可以移除本单位授予他的角色（DELETE /api/v1/accounts/{id}/grants/{grant_id}）。",
                        code="not_home_tenant", expected=caller.tenant.id, found=account.home_tenant_id)


def disable_account(session, outbox, caller: Caller, account: Account) -> dict:
    """Disable an account of the caller's tenant: it cannot sign in, and its sessions everywhere end now."""
    _require_home(caller, account, "停用")
    session.refresh(account, with_for_update=True)
    if account.state != AccountState.DISABLED:
        _keep_an_owner(session, caller.tenant, account, "停用")
        left = ACCOUNT.move(account, AccountState.DISABLED)
        record_by(session, caller, "account.disabled", "account", account.id, {"from": left})
        end_sessions(session, outbox, account.id, "disabled", caller.tenant.id)
        revoke_keys_of(session, outbox, account.id)
    return account_json(session, caller.tenant, account)


def enable_account(session, caller: Caller, account: Account) -> dict:
    _require_home(caller, account, "启用")
    session.refresh(account, with_for_update=True)
    if account.state == AccountState.DISABLED:
        # a person who never set a password is invited again: their link (if still valid) works once more
        ACCOUNT.move(account, AccountState.ACTIVE if account.password_hash else AccountState.INVITED)
        record_by(session, caller, "account.enabled", "account", account.id, {"to": account.state})
    return account_json(session, caller.tenant, account)


def reset_second_factor(session, outbox, caller: Caller, account: Account) -> dict:
    """A person lost their phone: their home tenant clears the authenticator; they enrol a new one at their next
    sign-in (owners and department admins must), and their sessions everywhere end now."""
    _require_home(caller, account, "重置第二重验证")
    session.refresh(account, with_for_update=True)
    if account.totp_secret is not None:
        account.totp_secret = account.totp_enabled_at = account.totp_last_step = None
        record_by(session, caller, "account.second_factor_reset", "account", account.id, None)
        end_sessions(session, outbox, account.id, "second_factor_changed", caller.tenant.id)
    return account_json(session, caller.tenant, account)


# --------------------------------------------------------------------------- inviting


@dataclass
class Invited:
    account: Account
    created: bool
    added: list[AccountGrant] = field(default_factory=list)
    link_expires_at: object = None  # when an invitation was sent


def _send_invitation(session, outbox, caller: Caller, account: Account, public_url: str):
    """A new single-use link (the older unused ones are void) and its e-mail, through the outbox."""
    now = clock.now()
    for older in session.scalars(select(Invitation).where(Invitation.account_id == account.id,
                                                          Invitation.used_at.is_(None), Invitation.voided_at.is_(None))):
        older.voided_at = now
    token = secrets.token_urlsafe(32)
    expires = now + INVITATION_TTL
    session.add(Invitation(token_hash=token_hash(token), account_id=account.id, tenant_id=caller.tenant.id,
                           created_at=now, expires_at=expires))
    grants = _grants_in(session, caller.tenant, [account.id])[account.id]
    names = _org_names(session, [g.org_id for g in grants])
    outbox.add(session, "account_invited", caller.tenant.id, {
        "account_id": account.id, "name": account.name, "email": account.email, "tenant_name": caller.tenant.name,
        "invited_by": caller.who, "roles": [grant_json(g, names)["label"] for g in grants],
        "accept_url": f"{public_url.rstrip('/')}/invitations/{token}", "link_expires_at": expires.isoformat()})
    return expires


def _disabled_refusal(account: Account) -> str:
    return (f"{account.email} 的账号（{account.name}）已停用，不能再邀请或授予角色。"
            "如需恢复，请其所属单位的管理员先启用（POST /api/v1/accounts/{id}/enable）。")


def _staff_no_refusal(caller: Caller, account: Account, staff_no: str) -> tuple[str, str, str] | None:
    """Why an invitation may not give an existing account `staff_no`: (code, expected, message), or None."""
    if account.home_tenant_id != caller.tenant.id:
        return ("not_home_tenant", "不填工号", f"{account.email} 的账号属于其他单位，工号由该单位登记。"
                "邀请该单位的人员时请不填工号（其他单位的工号本单位既看不到也不能修改）。")
    if account.staff_no is not None and account.staff_no != staff_no:
        return ("staff_no_differs", account.staff_no, f"{account.name}（{account.email}）已登记工号“{account.staff_no}”，"
                f"本次填写的是“{staff_no}”。如要更改，请用 PATCH /api/v1/accounts/{account.id}；否则请改正或不填工号。")
    return None


def _invite_person(session, outbox, caller: Caller, name: str, email: str, requests: list[GrantRequest],
                   public_url: str, staff_no: str | None = None) -> Invited:
    serialize_on(session, "account", email)  # two invitations of one new address at once: one account
    account = session.scalar(select(Account).where(Account.email == email))
    created = account is None
    if created:
        account = Account(home_tenant_id=caller.tenant.id, name=name.strip(), email=email, created_at=clock.now())
        ACCOUNT.move(account, AccountState.INVITED)
        session.add(account)
        session.flush()
    else:
        session.refresh(account, with_for_update=True)  # its grants change one request at a time (as add_grant's)
        if account.state == AccountState.DISABLED:
            raise Conflict(_disabled_refusal(account), code="account_disabled", found=account.email)
    if staff_no is not None:
        if (refusal := _staff_no_refusal(caller, account, staff_no)) is not None:
            code, expected, message = refusal
            refused = Forbidden if code == "not_home_tenant" else Conflict  # as disabling another's account is
            raise refused(message, code=code, field="staff_no", expected=expected, found=staff_no)
        _set_staff_no(session, caller, account, staff_no)
    invited = Invited(account, created)
    invited.added = [_grant(session, caller, account, r) for r in requests if _held(session, account, caller.tenant, r) is None]
    record_by(session, caller, "account.invited", "account", account.id, {
        "email": account.email, "created": created, "grants_added": [g.id for g in invited.added]})
    if account.password_hash is None:
        invited.link_expires_at = _send_invitation(session, outbox, caller, account, public_url)
    return invited


def invite(session, outbox, caller: Caller, body: dict, public_url: str) -> tuple[int, dict]:
    """Invite one person into the caller's tenant with grants there: 201 for a new account, 200 for an existing one
    (its name is kept; it gets the grants it does not hold yet, and, while it has no password, a fresh link)."""
    problems = [p for p in (people.name_problem(body["name"]), people.email_problem(body["email"]),
                            people.staff_no_problem(body.get("staff_no"))) if p]
    requests = grant_requests(body["grants"])
    problems += _grant_problems(session, caller.tenant, requests, "grants")
    if problems:
        raise _invalid("邀请未发出：", problems, "invitation_invalid")
    invited = _invite_person(session, outbox, caller, body["name"], people.normalise_email(body["email"]), requests,
                             public_url, people.normalise_staff_no(body.get("staff_no")))
    answer = account_json(session, caller.tenant, invited.account)
    answer["invitation_sent"] = invited.link_expires_at is not None
    answer["link_expires_at"] = _when(invited.link_expires_at)
    return (201 if invited.created else 200), answer


def _import_detail(row: int, column: str, code: str, expected, found, message: str) -> dict:
    return {"row": row, "column": column, "code": code, "expected": expected, "found": found,
            "message": f"第 {row} 行「{column}」：{message}"}


def _staff_no_row(rows: list) -> tuple[int, str] | None:
    """The person's staff number in the list and the first row giving it (the parser made their rows agree)."""
    return next(((r.row, r.staff_no) for r in rows if r.staff_no is not None), None)


def _import_problems(session, caller: Caller, persons: dict[str, list]) -> list[dict]:
    """What the database says against the list: disabled accounts, and staff numbers that another of the tenant's
    people holds, that an existing account of the tenant has another of, or that another tenant's person was given."""
    existing = {a.email: a for a in session.scalars(select(Account).where(Account.email.in_(list(persons))))}
    numbered = {email: given for email, own_rows in persons.items() if (given := _staff_no_row(own_rows))}
    holders = {a.staff_no: a for a in session.scalars(select(Account).where(
        Account.home_tenant_id == caller.tenant.id, Account.staff_no.in_([n for _, n in numbered.values()])))
               } if numbered else {}
    details = []
    for email, own_rows in persons.items():
        account = existing.get(email)
        if account is not None and account.state == AccountState.DISABLED:
            details.append(_import_detail(own_rows[0].row, "邮箱", "account_disabled", "未停用的账号", email,
                                          _disabled_refusal(account)))
        if email not in numbered:
            continue
        row, staff_no = numbered[email]
        holder = holders.get(staff_no)
        if account is not None and (refusal := _staff_no_refusal(caller, account, staff_no)) is not None:
            code, expected, message = refusal
            details.append(_import_detail(row, "工号", code, expected, staff_no, message))
        elif holder is not None and holder.email != email:
            details.append(_import_detail(
                row, "工号", "staff_no_taken", "本单位未登记过的工号", staff_no,
                f"工号“{staff_no}”已登记给{holder.name}（{holder.email}）。一个工号在本单位只属于一人："
                f"请核对本行工号；如是{holder.name}的工号登记错了，请先改正其工号（PATCH /api/v1/accounts/{holder.id}）。"))
    return sorted(details, key=lambda d: (d["row"], d["column"]))


def import_accounts(session, outbox, caller: Caller, data: bytes, filename: str | None, content_type: str | None,
                    public_url: str, parse: Callable[..., list] = parse_account_table) -> dict:
    """All rows or none: every row is checked (domain/account_table.py), then, against the database, the addresses
    of disabled accounts and the staff numbers; `parse` is parse_account_table, or the service's wrapper that runs
    it in a tpool thread."""
    tenant = caller.tenant
    orgs = [OrgFact(o.id, o.name, o.level) for o in session.scalars(select(Org).where(Org.tenant_id == tenant.id))]
    rows = parse(data, filename, content_type, tenant_kind=tenant.kind, tenant_name=tenant.name, orgs=orgs)
    persons: dict[str, list] = {}
    for row in rows:
        persons.setdefault(row.email, []).append(row)
    details = _import_problems(session, caller, persons)
    if details:
        raise Unprocessable(f"人员名单有 {len({d['row'] for d in details})} 行存在问题，未导入任何人员。"
                            "请按 details 逐行修改后重新上传。", code=IMPORT_ERROR, details=details)
    totals = {"rows": len(rows), "people": len(persons), "created": 0, "existing": 0, "grants_added": 0, "invited": 0}
    for email, own_rows in persons.items():
        given = _staff_no_row(own_rows)
        invited = _invite_person(session, outbox, caller, own_rows[0].name, email, [r.grant for r in own_rows],
                                 public_url, given[1] if given else None)
        totals["created" if invited.created else "existing"] += 1
        totals["grants_added"] += len(invited.added)
        totals["invited"] += invited.link_expires_at is not None
    record_by(session, caller, "accounts.imported", "accounts", None, {"filename": filename, **totals})
    return totals


# --------------------------------------------------------------------------- accepting an invitation


@dataclass(frozen=True)
class InvitationView:
    """What the invitation page shows: whose it is, who invited, and why it cannot be used (if it cannot)."""

    name: str = ""
    email: str = ""
    inviter: str = ""
    staff_no: str | None = None  # the person's own, shown to them so they can tell a wrong one
    refusal: people.InvitationRefusal | None = None


def _look_up(session, token: str, lock: bool = False) -> tuple[Invitation | None, Account | None, InvitationView]:
    row = session.get(Invitation, token_hash(token), with_for_update=lock) if token else None
    if row is None:
        return None, None, InvitationView(refusal=people.invitation_refusal(found=False))
    account = session.get(Account, row.account_id, with_for_update=lock)
    inviter = session.get(Tenant, row.tenant_id).name
    refusal = people.invitation_refusal(found=True, used=row.used_at is not None, replaced=row.voided_at is not None,
                                        expired=row.expires_at <= clock.now(),
                                        disabled=account.state == AccountState.DISABLED, inviter=inviter)
    return row, account, InvitationView(account.name, account.email, inviter, staff_no=account.staff_no,
                                                refusal=refusal)


def invitation_view(session, token: str) -> InvitationView:
    """Changes nothing: mail scanners open links, and a single-use link must survive them."""
    return _look_up(session, token)[2]


def accept_invitation(session, token: str, password_hash: str, address: str | None) -> Account:
    """Set the password (already checked against the policy and hashed by the caller) and activate the account;
    the link is used up. Checked again under lock: a second submission of the same link finds it used."""
    row, account, view = _look_up(session, token, lock=True)
    if view.refusal is not None:
        raise DomainError(view.refusal.message, code=view.refusal.code, status=view.refusal.status)
    now = clock.now()
    account.password_hash = password_hash
    ACCOUNT.move(account, AccountState.ACTIVE, at=now)
    row.used_at = now
    record(session, row.tenant_id, f"account:{account.id} ({account.name})"[:200], "invitation.accepted", "account",
           account.id, {"email": account.email}, address)
    return account
