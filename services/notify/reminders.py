"""Which deadline reminders are due: pure.

An org that has not submitted in a track's stage hears from us 7, 3 and 1
days (calendar days, Beijing time) before its level's deadline for that stage
(不掉队). A level without its own deadline uses the nearest one above it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from common.campaign.audience import includes
from common.campaign.model import COLLECTED, Decision, effective_at, forwarding_deadline, judged
from common.levels import forward_limit
from common.locale import BEIJING
from services.notify import periods

DAYS_BEFORE = (7, 3, 1)


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
                    deadline = effective_at(deadlines, level)
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


# ------------------------------------------------------------------ a recurring track's record of each period
#
# A recurring track (「月度组织生活」) has no stage deadlines: each period's record is due at the end of its due day
# (common/campaign/recurrence.py). An org that has not submitted the period's record hears from us once per period,
# from DAYS_BEFORE's first mark (7 days before the due day) on: a monthly mail three times a month would be noise, and
# a service that was down on the 7-day mark, or a period that opens less than 7 days before its due day (due on the
# 5th), sends it the first time it runs in the window, still once (its key).


@dataclass(frozen=True)
class PeriodReminder:
    tenant: str
    campaign_id: str
    track: str
    period: str  # YYYY-MM
    period_label: str  # 2020年4月
    org_id: str
    due: datetime
    days_left: int  # calendar days in the campaign's timezone, 0 on the due day

    @property
    def dedupe_key(self) -> str:
        return f"period-reminder:{self.campaign_id}:{self.track}:{self.period}:{self.org_id}"


def due_period_reminders(now: datetime, campaigns: list[dict], contacts: list[dict],
                         submitted: set[tuple[str, str, str, str]]) -> list[PeriodReminder]:
    """campaigns and contacts as for due_reminders; submitted: {(campaign_id, track, period, org_id)} of the works
    submitted. Each org at a submitting level of a recurring track that has no record of a period taking records
    now, when the period's due day is at most DAYS_BEFORE[0] days away."""
    window = max(DAYS_BEFORE)
    due = []
    for campaign in campaigns:
        orgs = [c for c in contacts if c["tenant"] == campaign["tenant"]]
        for track_key, track in campaign["tracks"].items():
            for p in periods.open_periods(track, now):
                days_left = periods.days_until(p.due, now)
                if days_left > window:
                    continue
                for org in orgs:
                    if org["level"] in track.get("submit_levels", []) and (
                            campaign["campaign_id"], track_key, p.key, org["org_id"]) not in submitted:
                        due.append(PeriodReminder(campaign["tenant"], campaign["campaign_id"], track_key, p.key,
                                                  p.label, org["org_id"], p.due, days_left))
    return due


# ------------------------------------------------------------------ universities that have forwarded nothing
#
# A university must forward its selection of a track to the ministry by the track's university deadline
# (「7月31日前报送」): the last stage's, effective at the university level, the moment review refuses a later
# confirmation by and intake's supervision lists laggards against. A university that has forwarded nothing in
# the track hears from us 3 and 1 Beijing days before it, as review counts its reviewer reminders.

FORWARD_DAYS_BEFORE = (3, 1)


@dataclass(frozen=True)
class ForwardReminder:
    tenant: str  # the university
    campaign_id: str  # the campaign it works under: its own copy of the ministry's, else the ministry's itself
    root_campaign_id: str  # the ministry's
    track: str
    deadline: datetime
    days_left: int  # Beijing calendar days, 0 on the deadline's day
    due: int  # which of FORWARD_DAYS_BEFORE this is: its mail goes out once

    @property
    def dedupe_key(self) -> str:
        return f"forward-reminder:{self.root_campaign_id}:{self.track}:{self.tenant}:{self.due}"


def university_deadline(track: dict) -> datetime | None:
    """When a university must have forwarded the track to the ministry; None when the ministry expects nothing of
    it by a deadline: the selection ends below the ministry (a university's own award), nothing is judged in rounds
    (a collected track: meeting records, publicity), the university forwards 0, or no deadline is set."""
    decision = Decision.from_dict(track.get("decision"))
    if decision.level != "ministry" or judged(track.get("rubric") or [], decision.kind) == COLLECTED:
        return None
    if forward_limit(track.get("forward", {}), track.get("quota", {}), "university") == 0:
        return None
    return forwarding_deadline(track.get("deadlines") or {}, "university")


def forward_reminder_due(deadline: datetime, now: datetime) -> tuple[int, int] | None:
    """(days_left, due) when a reminder is due now, else None.

    The nearest reminder day at or after today: a service that was down on the 3-day mark sends that reminder
    the day after, still once (its key); a deadline two days off sends the 3-day one now and the 1-day one the
    day before. Nothing after the deadline: by then review refuses the confirmation, and the ministry's 督办
    (supervision) is the way to chase."""
    if deadline < now:
        return None
    days_left = (deadline.astimezone(BEIJING).date() - now.astimezone(BEIJING).date()).days
    due = [d for d in FORWARD_DAYS_BEFORE if days_left <= d]
    return (days_left, min(due)) if due else None


def due_forward_reminders(now: datetime, campaigns: list[dict], universities: list[str],
                          forwarded: set[tuple[str, str, str]],
                          categories: dict[str, str | None] | None = None) -> list[ForwardReminder]:
    """campaigns: {"campaign_id", "tenant", "derives_from", "tracks", "audience"?} as notify keeps them (the
    ministry's and the universities'); universities: the registered universities' tenants, `categories` their
    category (absent: not registered); forwarded: {(tenant, root campaign, track)} of every work that reached the
    ministry. A university's copy of a ministry campaign sets its own deadlines; a university without one works
    under the ministry's. A university outside the ministry campaign's audience owes it nothing."""
    copies = {(c["tenant"], c["derives_from"]): c for c in campaigns if c["tenant"] != "ministry" and c["derives_from"]}
    due = []
    for root in (c for c in campaigns if c["tenant"] == "ministry"):
        for tenant in universities:
            if not includes(root.get("audience"), tenant, (categories or {}).get(tenant)):
                continue
            campaign = copies.get((tenant, root["campaign_id"]), root)
            for track_key, track in campaign["tracks"].items():
                if (tenant, root["campaign_id"], track_key) in forwarded:
                    continue
                deadline = university_deadline(track)
                when = forward_reminder_due(deadline, now) if deadline is not None else None
                if when is not None:
                    due.append(ForwardReminder(tenant, campaign["campaign_id"], root["campaign_id"], track_key,
                                               deadline, *when))
    return due
