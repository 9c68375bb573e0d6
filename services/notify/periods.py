"""The periods of a recurring track as notify counts and reminds by them (「月度组织生活」: a record each month). Pure.

A recurring track (`recurrence` in its published copy, common/campaign/recurrence.py) takes one record per org and
month: a work belongs to the month of its date field, as intake decides. Its progress counts one period, the one
the platform's clock stands in, so the dashboard shows 「4月：12/30」 rather than every record since March; before the
first month it shows the first (nothing in yet), after the last month the last (how the track ended).
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from common.campaign.recurrence import Period, Recurrence, period, period_at, period_key_of, periods

# A recurring track's copy carries its campaign's timezone (Recurrence.to_event); this is only for a copy without
DEFAULT_TIMEZONE = "Asia/Shanghai"


def period_label(key: str) -> str:
    """How people say a period: 2020-04 -> 2020年4月."""
    year, month = key.split("-")
    return f"{year}年{int(month)}月"


def recurrence_of(track: dict) -> Recurrence | None:
    """The track's recurrence as its published copy carries it, or None for a track that runs once."""
    data = track.get("recurrence")
    return Recurrence.from_dict(data, DEFAULT_TIMEZONE) if data else None


def work_period(track: dict, fields: dict | None) -> str | None:
    """The period (YYYY-MM) a work of the track belongs to; None for a track that runs once, or while the work's
    date field holds no day."""
    recurrence = recurrence_of(track)
    return period_key_of(recurrence, fields or {}) if recurrence is not None else None


def counted_period(track: dict, now: datetime) -> Period | None:
    """The period the track's progress counts at `now`: the one `now` falls in, else the first (before it runs) or
    the last (after it ended); None for a track that runs once."""
    recurrence = recurrence_of(track)
    if recurrence is None:
        return None
    found = period_at(recurrence, now)
    if found is not None:
        return found
    first = period(recurrence, recurrence.first)
    return first if now < first.opens else period(recurrence, recurrence.last)


def open_periods(track: dict, now: datetime) -> list[Period]:
    """The track's periods taking records at `now` (opened, not yet past their due moment)."""
    recurrence = recurrence_of(track)
    return [p for p in periods(recurrence) if p.opens <= now <= p.due] if recurrence is not None else []


def days_until(due: datetime, now: datetime) -> int:
    """Calendar days from `now` to `due`, in the due moment's own timezone (the campaign's); 0 on the due day."""
    tz = due.tzinfo or ZoneInfo(DEFAULT_TIMEZONE)
    return (due.astimezone(tz).date() - now.astimezone(tz).date()).days


def last_due(track: dict) -> datetime | None:
    """When the track's last period is due; None for a track that runs once."""
    recurrence = recurrence_of(track)
    return period(recurrence, recurrence.last).due if recurrence is not None else None
