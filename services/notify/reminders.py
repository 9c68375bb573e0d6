"""Which deadline reminders are due: pure.

An org that has not submitted in a track's stage hears from us 7, 3 and 1
days (calendar days, Beijing time) before its level's deadline for that stage
(不掉队). A level without its own deadline uses the nearest one above it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from common.locale import BEIJING

DAYS_BEFORE = (7, 3, 1)
LEVELS = ("branch", "level2", "university", "ministry")


@dataclass(frozen=True)
class Reminder:
    tenant: str
    campaign_id: str
    track: str
    stage: str
    org_id: str
    deadline: datetime
    days_left: int

    @property
    def dedupe_key(self) -> str:
        return f"reminder:{self.campaign_id}:{self.track}:{self.stage}:{self.org_id}:{self.days_left}"


def effective_deadline(deadlines: dict[str, str], level: str) -> datetime | None:
    for lv in LEVELS[LEVELS.index(level):]:
        if deadlines.get(lv):
            return datetime.fromisoformat(deadlines[lv])
    return None


def due_reminders(now: datetime, campaigns: list[dict], contacts: list[dict],
                  submitted: set[tuple[str, str, str, str]]) -> list[Reminder]:
    """campaigns: {"campaign_id", "tenant", "tracks": {key: {"submit_levels", "deadlines": {stage: {level: iso}}}}};
    contacts: {"tenant", "org_id", "level"}; submitted: {(campaign_id, track, stage, org_id)}."""
    today = now.astimezone(BEIJING).date()
    due = []
    for campaign in campaigns:
        orgs = [c for c in contacts if c["tenant"] == campaign["tenant"]]
        for track_key, track in campaign["tracks"].items():
            for stage, deadlines in track.get("deadlines", {}).items():
                for level in track.get("submit_levels", []):
                    deadline = effective_deadline(deadlines, level)
                    if deadline is None or deadline < now:
                        continue
                    days_left = (deadline.astimezone(BEIJING).date() - today).days
                    if days_left not in DAYS_BEFORE:
                        continue
                    for org in orgs:
                        if org["level"] == level and (campaign["campaign_id"], track_key, stage,
                                                      org["org_id"]) not in submitted:
                            due.append(Reminder(campaign["tenant"], campaign["campaign_id"], track_key, stage,
                                                org["org_id"], deadline, days_left))
    return due
