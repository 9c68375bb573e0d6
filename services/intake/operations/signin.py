"""Signing in on intake's pages: password, second factor, e-mailed links, and ending a person's sessions.

Intake is where people sign in; review and notify take them over with a ticket (common.handoff). A signed-in
person's session here is a row of `web_sessions` whose principal is `account:<id>`; what the other services
opened from it ends when intake says so (`account_sessions_ended`, through the outbox, in the same transaction
as the change that ends them: signing out, a grant removed, the account disabled, a new password).

The password is checked by the caller, off the event loop (Argon2id); these functions only read and write
rows. The rules (who needs a second factor, what a code proves, why a link cannot be used) are in
domain/signin.py. Every sign-in, second-factor enrolment, reset and sign-out leaves an audit row in the
person's home tenant.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import select

from common import clock
from common.errors import Conflict, DomainError
from services.intake.domain import signin
from services.intake.domain.lifecycles import AccountState
from services.intake.domain.people import normalise_email
from services.intake.models import Account, AccountGrant, AccountLink, Org, Tenant
from services.intake.operations.accounts import token_hash  # noqa: F401  (the pages name links by it)
from services.intake.operations.audit import record
from services.intake.operations.sessions import end_sessions
from services.intake.sealing import seal, unseal


def _actor(account: Account) -> str:
    return f"account:{account.id} ({account.name})"[:200]


# --------------------------------------------------------------------------- who the person is


@dataclass(frozen=True)
class Credentials:
    """What checking a password needs, read before the (slow, off-loop) hash check."""

    account_id: str | None
    password_hash: str | None


def credentials(session, email: str) -> Credentials:
    """The stored hash of an active account with this address; (None, None) for any other address."""
    account = session.scalar(select(Account).where(Account.email == normalise_email(email)))
    if account is None or account.state != AccountState.ACTIVE or not account.password_hash:
        return Credentials(None, None)
    return Credentials(account.id, account.password_hash)


def grants_of(session, account_id: str) -> list[dict]:
    """Every grant of the person, in every tenant, with the tenant's kind and name (a ticket's `grants`)."""
    rows = session.execute(select(AccountGrant, Tenant, Org.name).join(Tenant, Tenant.id == AccountGrant.tenant_id)
                           .outerjoin(Org, Org.id == AccountGrant.org_id)
                           .where(AccountGrant.account_id == account_id)
                           .order_by(AccountGrant.granted_at, AccountGrant.id)).all()
    return [{"id": g.id, "tenant": t.id, "tenant_kind": t.kind, "tenant_name": t.name, "role": g.role,
             "department": g.department, "org_id": g.org_id, "org_name": org_name} for g, t, org_name in rows]


def second_factor_state(session, account_id: str) -> dict:
    """Whether the person has an authenticator, and whether their roles require one (for their home page)."""
    account = session.get(Account, account_id)
    roles = {g.role for g in session.scalars(select(AccountGrant).where(AccountGrant.account_id == account_id))}
    return {"enabled": account.totp_enabled_at is not None, "required": signin.second_factor_required(roles),
            "enabled_at": account.totp_enabled_at}


@dataclass(frozen=True)
class SignInStep:
    """Where a person whose password (or link) was right goes next."""

    account_id: str
    name: str
    email: str
    next: str  # "signed_in" | "second_factor" (give a code) | "enrol" (set up an authenticator first)


def after_first_factor(session, account_id: str) -> SignInStep:
    account = session.get(Account, account_id)
    roles = {g["role"] for g in grants_of(session, account_id)}
    if account.totp_enabled_at is not None:
        step = "second_factor"
    elif signin.second_factor_required(roles):
        step = "enrol"
    else:
        step = "signed_in"
    return SignInStep(account.id, account.name, account.email, step)


def signed_in(session, account_id: str, method: str, address: str | None) -> Account:
    """The person is in: last sign-in time, and the audit row in their home tenant."""
    account = session.get(Account, account_id, with_for_update=True)
    if account.state != AccountState.ACTIVE:
        raise DomainError("您的账号已停用，不能登录。如有疑问，请联系本单位的单位管理员。", code="account_disabled", status=403)
    account.last_sign_in_at = clock.now()
    record(session, account.home_tenant_id, _actor(account), "account.signed_in", "account", account.id,
           {"method": method}, address)
    return account


# --------------------------------------------------------------------------- the second factor


TOTP = "totp-secret"  # the sealing purpose of authenticator secrets


def start_enrolment(session, account_id: str, secret: bytes) -> tuple[str, str]:
    """(TOTP secret, otpauth URI) of the authenticator being enrolled: the pending one, or a new one.

    Stored sealed (services/intake/sealing.py, `secret` is the service's WEB_SECRET): the database alone gives
    nobody the codes.
    """
    account = session.get(Account, account_id, with_for_update=True)
    if account.totp_enabled_at is not None:  # the authenticator in use is never shown again, to anyone signed in
        raise Conflict("您已启用第二重验证。如需更换手机或验证器，请联系本单位的单位管理员。", code="second_factor_enabled")
    if not account.totp_secret:
        account.totp_secret = seal(secret, signin.new_totp_secret(), TOTP)
    totp = unseal(secret, account.totp_secret, TOTP)
    return totp, signin.provisioning_uri(totp, account.email)


def confirm_code(session, account_id: str, code: str, address: str | None, secret: bytes) -> bool:
    """Whether `code` is right now for the person's authenticator (used once); the first right code enrols it."""
    account = session.get(Account, account_id, with_for_update=True)  # two tabs sending one code: one wins
    if not account.totp_secret:
        return False
    # real time, not the platform's clock: the person's phone knows nothing of a demo clock set to 2020
    step = signin.matching_step(unseal(secret, account.totp_secret, TOTP), code, time.time(), account.totp_last_step)
    if step is None:
        return False
    account.totp_last_step = step
    if account.totp_enabled_at is None:
        account.totp_enabled_at = clock.now()
        record(session, account.home_tenant_id, _actor(account), "account.second_factor_enrolled", "account",
               account.id, None, address)
    return True


# --------------------------------------------------------------------------- e-mailed links


def request_link(session, outbox, email: str, purpose: str, address: str | None, public_url: str) -> bool:
    """E-mail a single-use link if the address has an active account (older links of the purpose are void).

    Whether one was sent is for the log and the tests, never for the page: it answers the same either way.
    """
    account = session.scalar(select(Account).where(Account.email == normalise_email(email)))
    if account is None or account.state != AccountState.ACTIVE:
        return False
    session.refresh(account, with_for_update=True)
    now = clock.now()
    for older in session.scalars(select(AccountLink).where(AccountLink.account_id == account.id,
                                                           AccountLink.purpose == purpose,
                                                           AccountLink.used_at.is_(None), AccountLink.voided_at.is_(None))):
        older.voided_at = now
    token = secrets.token_urlsafe(32)
    expires = now + signin.LINK_TTL[purpose]
    session.add(AccountLink(token_hash=token_hash(token), account_id=account.id, purpose=purpose, created_at=now,
                            expires_at=expires, requested_from=address))
    path = "sign-in/link" if purpose == "sign_in" else "password-reset"
    outbox.add(session, "account_link_requested", account.home_tenant_id, {
        "account_id": account.id, "name": account.name, "email": account.email, "purpose": purpose,
        "url": f"{public_url.rstrip('/')}/{path}/{token}", "link_expires_at": expires.isoformat(),
        "requested_from": address})
    return True


@dataclass(frozen=True)
class LinkView:
    """What a link's page shows: whose it is, and why it cannot be used (if it cannot)."""

    name: str = ""
    email: str = ""
    refusal: signin.LinkRefusal | None = None


def _look_up_link(session, token: str, purpose: str, lock: bool = False) -> tuple[AccountLink | None, Account | None, LinkView]:
    row = session.get(AccountLink, token_hash(token), with_for_update=lock) if token else None
    if row is None or row.purpose != purpose:
        return None, None, LinkView(refusal=signin.link_refusal(purpose, found=False))
    account = session.get(Account, row.account_id, with_for_update=lock)
    refusal = signin.link_refusal(purpose, found=True, used=row.used_at is not None, replaced=row.voided_at is not None,
                                  expired=row.expires_at <= clock.now(), disabled=account.state != AccountState.ACTIVE)
    return row, account, LinkView(account.name, account.email, refusal)


def link_view(session, token: str, purpose: str) -> LinkView:
    """Changes nothing: mail scanners open links, and a single-use link must survive them."""
    return _look_up_link(session, token, purpose)[2]


def use_link(session, token: str, purpose: str) -> Account:
    """Use the link up (checked again under lock: a second submission finds it used)."""
    row, account, view = _look_up_link(session, token, purpose, lock=True)
    if view.refusal is not None:
        raise DomainError(view.refusal.message, code=view.refusal.code, status=view.refusal.status)
    row.used_at = clock.now()
    return account


def reset_password(session, outbox, token: str, password_hash: str, address: str | None) -> Account:
    """Set a new password with a reset link (hashed by the caller); every session of the person ends."""
    account = use_link(session, token, "password_reset")
    account.password_hash = password_hash
    record(session, account.home_tenant_id, _actor(account), "account.password_reset", "account", account.id, None,
           address)
    end_sessions(session, outbox, account.id, "password_changed", account.home_tenant_id)
    return account


# --------------------------------------------------------------------------- signing out


def sign_out(session, outbox, account_id: str, intake_session: str, address: str | None) -> None:
    account = session.get(Account, account_id)
    record(session, account.home_tenant_id, _actor(account), "account.signed_out", "account", account.id, None, address)
    end_sessions(session, outbox, account_id, "signed_out", account.home_tenant_id, intake_session)
