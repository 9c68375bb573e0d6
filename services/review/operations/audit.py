"""Intake's audit log told of a change made here: `review_audited`, in the change's own transaction.

Every use case that changes a round, its reviewers, assignments, conflicts, sign-in mails or scores calls
`record` once, with who acts (`Acting`, from the entrypoint) and what it changed; intake appends the row to the
log of the round's tenant. A use case that changes nothing records nothing. Who is named how: domain/audit.py.
"""
from __future__ import annotations

from common import clock
from services.review.domain.audit import Acting, event_data
from services.review.models import Round


def record(session, outbox, by: Acting, rnd: Round, action: str, object_type: str, object_id: str | None,
           **detail) -> None:
    """Announce one change; the caller's transaction commits it with the change, or neither."""
    outbox.add(session, "review_audited", rnd.tenant, event_data(
        rnd.id, rnd.tenant, rnd.title, by, action, object_type, object_id, detail, clock.now()))
