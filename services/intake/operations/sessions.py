"""A person's web sessions: intake's own, and (through `account_sessions_ended`) those review and notify opened.

Ended in the same transaction as the change that ends them (signing out, a grant removed, the account
disabled, a new password): the event leaves through the outbox with it, and each service ends the
sessions it opened from intake's tickets (common.handoff) when it arrives.
"""
from __future__ import annotations

from sqlalchemy import delete

from services.intake.models import WebSession


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
