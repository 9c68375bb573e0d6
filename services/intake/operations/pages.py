"""A page of a listing, and the cursor a portal follows to mirror a list (`updated_since`, `cursor`)."""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, func, or_, select

from common.errors import InvalidInput

MAX_PER_PAGE = 200
# How far behind the clock the last page's cursor stays: a change is stamped when its transaction makes it and
# seen when it commits, so a work stamped a little before the newest one seen may commit after it. The cursor of a
# last page never passes "now minus this": the next read gives the changes of these seconds again (a portal keeps
# the newest copy by id), and so never misses one whose transaction was slower.
SETTLE = timedelta(seconds=120)
_START = ""  # the id part of a position that takes every row of its moment


def paged(session, query, page: int, per_page: int, to_json, prefetch=None) -> dict:
    """`prefetch(rows)`, when given, reads what the page's rows need in one query; to_json(row, prefetched)."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.scalars(query.offset((page - 1) * per_page).limit(per_page)).all()
    return {"items": _items(rows, to_json, prefetch), "page": page, "per_page": per_page, "total": total}


def _items(rows, to_json, prefetch) -> list:
    if prefetch is None:
        return [to_json(r) for r in rows]
    extra = prefetch(rows)
    return [to_json(r, extra) for r in rows]


@dataclass(frozen=True)
class Sync:
    """A mirroring read: rows changed at or after `since`, after the position `after` (a cursor's), in
    (changed, id) order."""

    since: datetime | None
    after: tuple[datetime, str] | None


def sync_of(args) -> Sync | None:
    """`updated_since` and `cursor` of a query string (a werkzeug MultiDict); None when neither is given. Either
    may be given alone or both (the cursor continues the read `updated_since` began); `page` with either is
    refused: a cursor is the position, a page number would be a second one."""
    since_raw, cursor_raw = args.get("updated_since"), args.get("cursor")
    if since_raw is None and cursor_raw is None:
        return None
    if "page" in args:
        raise InvalidInput("按 updated_since 或 cursor 同步时不能同时使用 page：游标已标明读到哪里。请去掉 page，"
                           "沿用上次回答的 next_cursor 继续读取（per_page 仍决定每次读取的条数）。",
                           code="invalid_query", field="page", expected="cursor 或 page 二选一", found=args.get("page"))
    return Sync(None if since_raw is None else parse_since(since_raw),
                None if cursor_raw is None else _read_cursor(cursor_raw))


def parse_since(raw: str) -> datetime:
    """An ISO-8601 moment with its offset (2020-07-14T23:59:59+08:00, or Z for UTC)."""
    hint = "（查询字符串中的“+”须写作 %2B）" if " " in raw else ""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        why = "缺少时区偏移" if moment is not None else "不是有效的 ISO 8601 时间"
        raise InvalidInput(f"查询参数 updated_since 应为带时区偏移的 ISO 8601 时间，如 2020-07-14T23:59:59+08:00；"
                           f"实际为“{raw}”，{why}{hint}。", code="invalid_query", field="updated_since",
                           expected="2020-07-14T23:59:59+08:00", found=raw)
    return moment


def _cursor(position: tuple[datetime, str]) -> str:
    moment, row_id = position
    text = json.dumps([moment.astimezone(timezone.utc).isoformat(), row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _read_cursor(raw: str) -> tuple[datetime, str]:
    try:
        moment, row_id = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        at = datetime.fromisoformat(moment)
        if at.tzinfo is None or not isinstance(row_id, str):
            raise ValueError(raw)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("查询参数 cursor 无法识别。请原样使用上次回答中的 next_cursor，不要修改；"
                           "或改用 updated_since 重新开始。", code="invalid_query", field="cursor",
                           expected="上次回答的 next_cursor", found=raw[:100]) from None
    return at, row_id


def synced(session, query, changed, row_id, sync: Sync, per_page: int, to_json, now: Callable[[], datetime],
           prefetch=None) -> dict:
    """One page of a mirroring read: the rows of `query` changed (column `changed`) since `sync.since`, after its
    cursor, oldest change first and by id within a moment, so that a portal that keeps reading `next_cursor`
    sees every change, a row changed in the same second included. `has_more` says whether to read on now; the
    last page's `next_cursor` is the place to read from next time (`now`: the clock `changed` is stamped by)."""
    if sync.since is not None:
        query = query.where(changed >= sync.since)
    if sync.after is not None:
        at, last_id = sync.after
        query = query.where(or_(changed > at, and_(changed == at, row_id > last_id)))
    rows = session.scalars(query.order_by(None).order_by(changed, row_id).limit(per_page + 1)).all()
    has_more = len(rows) > per_page
    rows = rows[:per_page]
    if rows:
        position = (getattr(rows[-1], changed.key), getattr(rows[-1], row_id.key))
    elif sync.after is not None:
        position = sync.after
    else:
        position = (sync.since, _START)
    if not has_more:
        horizon = now() - SETTLE
        if position is None or position[0] > horizon:
            position = (horizon, _START)
    return {"items": _items(rows, to_json, prefetch), "per_page": per_page, "next_cursor": _cursor(position),
            "has_more": has_more}
