"""A file's check: its lifecycle, and the claim that keeps two replicas off one file.

state: checking (claimed by a replica) -> done. `file_uploaded` may reach two replicas (a
duplicate publish); the first to claim checks, the other finds the claim and tries later.
A claim expires, so a replica that died mid-check does not block the file for ever.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from common.db import utcnow
from common.lifecycle import Lifecycle, State
from services.media.models import CheckReport


class CheckState(State):
    CHECKING = "checking", "检查中"
    DONE = "done", "已检查"


# A claim may be taken over (checking -> checking) once it has expired; a recheck records a done file again.
CHECK = Lifecycle("check", {None: {CheckState.CHECKING}, CheckState.CHECKING: {CheckState.DONE}},
                  stamps={CheckState.DONE: "checked_at"})


class ClaimHeld(Exception):
    """Another check of this file is under way; try again later."""


def declared_type(data: dict) -> str | None:
    """The type the portal declared (checked against the content, and kept for a check again)."""
    return (data.get("content_type") or "")[:120] or None


def claim(session, tenant: str, data: dict, replica: str, lease: timedelta) -> bool:
    """Take the file of `file_uploaded` for `replica`; False if its check is already done.

    A live claim (a check under way anywhere) raises `ClaimHeld`, so the message comes back
    later through the retry queues instead of being dropped: if that check finishes, the retry
    finds it done; if its replica died, the claim expires and the retry takes it over.
    """
    row = session.get(CheckReport, data["file_id"], with_for_update=True)
    now = utcnow()
    if row is not None and is_done(row):
        return False
    if row is not None and row.claimed_at is not None and now - row.claimed_at < lease:
        raise ClaimHeld(f"file {data['file_id']} is being checked by {row.claimed_by}")
    if row is None:
        row = CheckReport(file_id=data["file_id"], submission_id=data["submission_id"], tenant=tenant,
                          campaign_id=data["campaign_id"], track=data["track"], kind=data["kind"],
                          object_key=data["object_key"], findings=[], facts={}, derived={}, cues=[], text="")
        session.add(row)
    CHECK.move(row, CheckState.CHECKING)
    row.claimed_by, row.claimed_at = replica, now
    row.declared_type = row.declared_type or declared_type(data)
    return True


def release(session, file_id: str, replica: str) -> None:
    """Give up `replica`'s claim after a failed check, so that the retry may check the file at once."""
    row = session.get(CheckReport, file_id)
    if row is not None and row.state == CheckState.CHECKING and row.claimed_by == replica:
        row.claimed_by, row.claimed_at = None, None


def finish(row: CheckReport, at: datetime) -> None:
    CHECK.move(row, CheckState.DONE, at)


def is_done(row: CheckReport) -> bool:
    return row.state == CheckState.DONE
