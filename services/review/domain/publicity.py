"""公示: a final round whose decision is a publicity publishes its chosen works for `publicity_days` days, and the result
stands once the period is over (publicity_ended).

The period is counted in Beijing calendar days from the day the selection was confirmed, as intake words a work's
result (services/intake/domain/submission.py `decided_words`): confirmed on 7/20 with 5 days, the works are
「公示中（至 2020-07-25）」 through 7/25 and 「公示期满，已入选」 from 00:00 on 7/26 (Beijing time), the moment review
announces the end. A publicity that chose nothing publishes nothing and has no end to announce.
Pure: no framework.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from common.locale import BEIJING


@dataclass(frozen=True)
class Publicity:
    """A confirmed selection's 公示期."""

    days: int
    until: date  # its last day (Beijing)
    ends_at: datetime  # when it is over: 00:00 Beijing time the day after `until`, in UTC


def period(confirmed_at: datetime, days: int) -> Publicity:
    until = confirmed_at.astimezone(BEIJING).date() + timedelta(days=int(days))
    ends_at = datetime.combine(until + timedelta(days=1), time(0), BEIJING).astimezone(timezone.utc)
    return Publicity(int(days), until, ends_at)


def publicity_of(kind: str | None, days: int | None, confirmed_at: datetime, chosen: int) -> Publicity | None:
    """The 公示期 a confirmed final selection starts; None when it is no publicity or chose nothing."""
    if kind != "publicity" or not days or chosen <= 0:
        return None
    return period(confirmed_at, days)


def is_over(ends_at: datetime, now: datetime) -> bool:
    return now >= ends_at


def ended_data(*, round_id: str, campaign_id: str, track: str, level: str, label: str, days: int,
               confirmed_at: datetime, ended_at: datetime, works: list[dict]) -> dict:
    """The publicity_ended event's data; `works`: the chosen works in rank order, each {submission_id, tenant, title}."""
    p = period(confirmed_at, days)
    return {"round_id": round_id, "campaign_id": campaign_id, "track": track, "level": level, "label": label,
            "publicity_days": p.days, "confirmed_at": confirmed_at.isoformat(), "until": p.until.isoformat(),
            "ended_at": ended_at.isoformat(), "works": works}
