"""A track that runs once per period (「月度组织生活」: a record each month): its periods, and a work's period.

A recurring track names the months it runs (`first` to `last`, as YYYY-MM), the date field of a work that says which
month it belongs to (the day the 组织生活 was held: a record of a meeting held on 2020-03-20 is March's),
and the day of the month each period is due (`due_day`; absent: the month's last day). The quota counts
per org per period, a period takes records from its first day on and closes at its due day's end, both in
the campaign's timezone. Months are what the seeds need; the period is named by how `first` and `last` are
written, so weeks could join later as ISO weeks (2020-W10) without a new key.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
DUE_DAY_MAX = 28  # every month has a 28th: a due day never falls outside its month
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Recurrence:
    first: str  # the first period, YYYY-MM
    last: str  # the last period, YYYY-MM
    field: str  # the work's date field whose month is its period
    due_day: int | None = None  # the day of the period's month it is due (at its end); None: the month's last day
    timezone: str = "Asia/Shanghai"  # the campaign's: periods begin and end in it (not written in the track)

    def to_dict(self) -> dict:
        out = {"first": self.first, "last": self.last, "field": self.field}
        if self.due_day is not None:
            out["due_day"] = self.due_day
        return out

    def to_event(self) -> dict:
        """As campaign_published carries it: with the timezone, since the event carries no campaign timezone."""
        return {**self.to_dict(), "timezone": self.timezone}

    @classmethod
    def from_dict(cls, data: dict, timezone: str) -> Recurrence:
        return cls(first=data["first"], last=data["last"], field=data["field"],
                   due_day=data.get("due_day"), timezone=data.get("timezone", timezone))


@dataclass(frozen=True)
class Period:
    key: str  # YYYY-MM
    opens: datetime  # the first moment of the period, in the campaign's timezone
    due: datetime  # the last moment a record of it is taken (before any extension)

    @property
    def label(self) -> str:
        year, month = self.key.split("-")
        return f"{year}年{int(month)}月"


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _months(first: str, last: str) -> list[str]:
    year, month = map(int, first.split("-"))
    end = tuple(map(int, last.split("-")))
    out = []
    while (year, month) <= end:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def period(recurrence: Recurrence, key: str) -> Period | None:
    """The period named `key` (YYYY-MM), or None when the track does not run then."""
    if not re.fullmatch(MONTH_PATTERN, key) or not recurrence.first <= key <= recurrence.last:
        return None  # YYYY-MM keys compare as text
    tz = ZoneInfo(recurrence.timezone)
    year, month = map(int, key.split("-"))
    last_day = calendar.monthrange(year, month)[1]
    due_day = recurrence.due_day if recurrence.due_day is not None else last_day
    return Period(key, datetime.combine(date(year, month, 1), time(0, 0), tzinfo=tz),
                  datetime.combine(date(year, month, due_day), time(23, 59, 59), tzinfo=tz))


def periods(recurrence: Recurrence) -> list[Period]:
    """Every period the track runs, in order."""
    return [period(recurrence, key) for key in _months(recurrence.first, recurrence.last)]


def period_key_of(recurrence: Recurrence, fields: dict) -> str | None:
    """The period a work belongs to: the month of its date field; None while the field holds no valid day."""
    value = fields.get(recurrence.field)
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        return None
    try:
        return month_key(date.fromisoformat(value))
    except ValueError:
        return None


def period_at(recurrence: Recurrence, moment: datetime) -> Period | None:
    """The period a moment falls in (in the campaign's timezone), or None outside the track's months."""
    return period(recurrence, month_key(moment.astimezone(ZoneInfo(recurrence.timezone)).date()))
