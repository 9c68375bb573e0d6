"""The submission log: every action on a submission, in order."""
from __future__ import annotations

from typing import Any

from common import clock
from services.intake.models import SubmissionLog


def log(session, submission_id: str, action: str, detail: Any = None) -> None:
    session.add(SubmissionLog(submission_id=submission_id, action=action, at=clock.now(), detail=detail))
