"""The platform's clock.

Deadlines are real dates (the 2020 campaign's are in 2020). To demonstrate or
rehearse a campaign, `PLATFORM_CLOCK_START` sets where the clock stands when the
process starts; from there it runs at normal speed. Unset, it is the real time.

A rehearsal that walks a campaign through its stages (June's lectures, then the
material collection that opens on 9/1) moves the clock of every process at once
with `PLATFORM_CLOCK_FILE`: the file holds one moment, the time the platform
stood at when the file was written, and each process runs from there
(`python -m common.clock set 2020-09-10T10:00+08:00`). A process re-reads the file
only when its modification time changes.
"""
from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

_offset = timedelta(0)
_file: Path | None = None
_file_seen: tuple[int, timedelta] | None = None  # (mtime_ns, the offset it gave)


def set_start(start: datetime | None) -> None:
    global _offset
    _offset = timedelta(0) if start is None else start - datetime.now(timezone.utc)


def now() -> datetime:
    real = datetime.now(timezone.utc)
    return real + (_file_offset() if _file is not None else _offset)


def _file_offset() -> timedelta:
    """The offset the clock file gives; the process's own while the file is missing or unreadable."""
    global _file_seen
    try:
        stat = _file.stat()
    except OSError:
        return _offset
    if _file_seen is None or _file_seen[0] != stat.st_mtime_ns:
        try:
            moment = datetime.fromisoformat(_file.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return _offset if _file_seen is None else _file_seen[1]
        written = datetime.fromtimestamp(stat.st_mtime_ns / 1e9, timezone.utc)
        _file_seen = (stat.st_mtime_ns, moment - written)
    return _file_seen[1]


def write_file(path: Path, moment: datetime) -> None:
    """Move every process reading `path` to `moment`, from now on (written whole, then renamed into place)."""
    if moment.tzinfo is None:
        raise ValueError("the moment needs its offset, such as +08:00")
    part = path.with_name(path.name + ".part")
    part.write_text(moment.isoformat(), encoding="utf-8")
    os.replace(part, path)


def use_file(path: str | os.PathLike | None) -> None:
    global _file, _file_seen
    _file, _file_seen = (Path(path) if path else None), None


if os.environ.get("PLATFORM_CLOCK_START"):
    set_start(datetime.fromisoformat(os.environ["PLATFORM_CLOCK_START"]))
use_file(os.environ.get("PLATFORM_CLOCK_FILE"))


if __name__ == "__main__":  # python -m common.clock set MOMENT
    if len(sys.argv) != 3 or sys.argv[1] != "set" or not os.environ.get("PLATFORM_CLOCK_FILE"):
        sys.exit("usage: PLATFORM_CLOCK_FILE=PATH python -m common.clock set 2020-09-10T10:00+08:00")
    write_file(Path(os.environ["PLATFORM_CLOCK_FILE"]), datetime.fromisoformat(sys.argv[2]))
