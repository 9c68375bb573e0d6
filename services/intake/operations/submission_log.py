"""The submission log: every action on a submission, in order; each one moves the work's `updated_at`."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from common import clock
from services.intake.models import Submission, SubmissionLog


def log(session, submission_id: str, action: str, detail: Any = None) -> None:
    now = clock.now()
    session.add(SubmissionLog(submission_id=submission_id, action=action, at=now, detail=detail))
    touch(session, submission_id, now)


def touch(session, submission_id: str, now: datetime | None = None) -> None:
    """The work changed (its fields, state, files, checks, forwarding, result): a portal that mirrors the works
    with `updated_since` or a cursor reads it again. Every logged action comes through here, and so does a file
    state nobody logs (bytes received, upload expired)."""
    sub = session.get(Submission, submission_id)
    if sub is not None:
        sub.updated_at = now or clock.now()
