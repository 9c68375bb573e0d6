"""How the platform speaks to people in China: Beijing time, Chinese labels, sizes in words.

Every service writes dates, levels, kinds of file and byte sizes into pages, mails and
error messages; they read the same everywhere because they come from here.
"""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")

LEVEL_LABELS = {"branch": "党支部", "level2": "二级党组织", "university": "高校党委", "ministry": "教育部"}
# What a review round at a level is called in the UI.
ROUND_LABELS = {"level2": "院级评审", "university": "校级评审", "ministry": "全国评审"}
KIND_LABELS = {"video": "视频", "image": "图片", "audio": "音频", "document": "文档", "subtitle": "字幕"}
# A university's category (intake's tenants.category), as the ministry's plans name whom they are for
# (「在教育部直属高校和部省合建高校开展」): a campaign's `audience` names categories by these keys.
CATEGORY_LABELS = {"direct": "教育部直属高校", "co_built": "部省合建高校", "local": "地方高校"}
CATEGORY_UNKNOWN_LABEL = "未登记类别"


def in_beijing(when: datetime | str) -> datetime:
    """`when` (aware, or an ISO string with offset) as Beijing time."""
    moment = datetime.fromisoformat(when) if isinstance(when, str) else when
    return moment.astimezone(BEIJING)


def beijing_iso(when: datetime | str | None) -> str | None:
    """The one form of a moment in an API answer: Beijing time to the second, with its offset
    (2020-07-14T23:59:59+08:00); None stays None."""
    if when is None:
        return None
    return in_beijing(when).replace(microsecond=0).isoformat()


_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)")


def beijing_times(value):
    """`value` (JSON-like: dicts, lists, strings) with every moment in it, an ISO string with an offset, written as
    `beijing_iso` writes it: an event's body passed on to a portal carries the times other services wrote in UTC, and
    a portal sees one form everywhere. Dates without a time, and strings that only contain a moment, stay as they are."""
    if isinstance(value, dict):
        return {k: beijing_times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [beijing_times(v) for v in value]
    if isinstance(value, str) and _MOMENT.fullmatch(value):
        return beijing_iso(value.replace("Z", "+00:00"))
    return value


def beijing_minute(when: datetime | str) -> str:
    """For mails and messages: 2020年07月14日 17:00."""
    return in_beijing(when).strftime("%Y年%m月%d日 %H:%M")


def beijing_short(when: datetime | str) -> str:
    """For tables in pages: 2020-07-14 17:00."""
    return in_beijing(when).strftime("%Y-%m-%d %H:%M")


def beijing_date(when: datetime | str) -> str:
    return in_beijing(when).strftime("%Y-%m-%d")


def byte_size(n: int) -> str:
    """1.5 MB, 2 GB, 300 字节: binary units, at most two decimals, no trailing zeros."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{n} 字节"
