"""The platform's clock.

Deadlines are real dates (the 2020 campaign's are in 2020). To demonstrate or
rehearse a campaign, `PLATFORM_CLOCK_START` sets where the clock stands when the
process starts; from there it runs at normal speed. Unset, it is the real time.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

_offset = timedelta(0)


def set_start(start: datetime | None) -> None:
    global _offset
    _offset = timedelta(0) if start is None else start - datetime.now(timezone.utc)


def now() -> datetime:
    return datetime.now(timezone.utc) + _offset


if os.environ.get("PLATFORM_CLOCK_START"):
    set_start(datetime.fromisoformat(os.environ["PLATFORM_CLOCK_START"]))
