"""A page of a listing."""
from __future__ import annotations

from sqlalchemy import func, select

MAX_PER_PAGE = 200


def paged(session, query, page: int, per_page: int, to_json, prefetch=None) -> dict:
    """`prefetch(rows)`, when given, reads what the page's rows need in one query; to_json(row, prefetched)."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.scalars(query.offset((page - 1) * per_page).limit(per_page)).all()
    if prefetch is not None:
        extra = prefetch(rows)
        items = [to_json(r, extra) for r in rows]
    else:
        items = [to_json(r) for r in rows]
    return {"items": items, "page": page, "per_page": per_page, "total": total}
