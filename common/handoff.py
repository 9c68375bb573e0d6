"""One sign-in for every service's pages: intake signs people in, and hands them on to review and notify.

A person signs in once, on intake's pages (password and, where required, a second factor; or single
sign-on). To open review's pages or notify's dashboard, intake's page posts a *ticket* to that service's
`/sign-in/ticket` (common.web.SignInPages): a token signed with a key derived from WEB_SECRET for that
service alone, valid for a minute, used once, carrying who the person is and their grants:

    {"account_id": "...", "name": "王老师", "email": "wang@seu.edu.cn",
     "grants": [{"tenant": "seu", "tenant_kind": "university", "tenant_name": "东南大学",
                 "role": "department_admin", "department": "propaganda", "org_id": null}, ...],
     "session": "<hash of intake's session>", "session_expires": 1767225600, "jti": "...", "exp": ...}

The service then opens a session of its own (its own cookie, its own table) whose principal names the
person and intake's session (`person_principal`), ending no later than intake's. Intake announces the
end of a person's sessions (`account_sessions_ended`: signing out, a grant removed, the account disabled,
a new password), and each service ends its sessions of that person at once (`end_person_sessions`).

Why a POSTed form and not a link: the receiving service refuses a POST whose Origin is another site
but intake's, so no page elsewhere can sign a visitor in as someone else (login CSRF), and the ticket
never sits in a URL, a log or a Referer header.
"""
from __future__ import annotations

import secrets
import time

from sqlalchemy import delete

from common.web import Signer

TICKET_TTL_S = 60
TICKET_FIELD = "ticket"
GRANT_KEYS = ("tenant", "tenant_kind", "tenant_name", "role", "department", "org_id")


def _signer(secret: bytes, service: str) -> Signer:
    # one key per receiving service: a ticket for notify opens nothing at review
    return Signer(secret, f"handoff/{service}")


def issue_ticket(secret: bytes, service: str, *, account_id: str, name: str, email: str, grants: list[dict],
                 session: str, session_expires: float, now: float | None = None) -> str:
    grants = [{k: g.get(k) for k in GRANT_KEYS} for g in grants]
    return _signer(secret, service).sign({
        "account_id": account_id, "name": name, "email": email, "grants": grants, "session": session,
        "session_expires": int(session_expires), "jti": secrets.token_urlsafe(16)}, TICKET_TTL_S, now)


def read_ticket(secret: bytes, service: str, token: str, now: float | None = None) -> dict | None:
    """The ticket's person, or None if it is forged, malformed, expired or for another service.

    The caller records `jti` as used (a ticket opens one session) in the same transaction as the session.
    """
    body = _signer(secret, service).unsign(token or "", now)
    if body is None or not all(isinstance(body.get(k), str) for k in ("account_id", "session", "jti")):
        return None
    if not isinstance(body.get("grants"), list) or not isinstance(body.get("session_expires"), int):
        return None
    if body["session_expires"] <= (now or time.time()):
        return None
    return body


def person_principal(account_id: str, intake_session: str) -> str:
    """A web session's principal when a person opened it: ended with the person, or with one intake session."""
    return f"account:{account_id}:{intake_session[:16]}"


def end_person_sessions(session, model, account_id: str, intake_session: str | None = None) -> int:
    """End the person's sessions opened from `intake_session` (a sign-out), or all of them; how many ended."""
    if intake_session:
        where = model.principal == person_principal(account_id, intake_session)
    else:
        where = model.principal.startswith(f"account:{account_id}:", autoescape=True)
    return session.execute(delete(model).where(where)).rowcount or 0


def grants_in(person: dict, tenant: str | None = None, roles: tuple[str, ...] = ()) -> list[dict]:
    """The person's grants, in one tenant and of some roles if asked."""
    return [g for g in person.get("grants", []) if (tenant is None or g.get("tenant") == tenant)
            and (not roles or g.get("role") in roles)]
