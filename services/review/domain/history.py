"""A work's history across rounds: its confirmed place (rank and result) in each round it went through.

A round's confirmed selection is the office's record (the orgs were mailed 「第 3 位」 from it), so it stays as
confirmed for good: a work forwarded from it, reopened or withdrawn later keeps its row there, and the next round
shows it as where the work came from (院级评审第 2 名 → 校级评审第 3 名 → 全国评审). Pure: no framework.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from common.locale import LEVEL_LABELS, ROUND_LABELS


@dataclass(frozen=True)
class Place:
    """A work's row in one confirmed round, with what that round's selection did (decisions.RoundEnd)."""

    round_id: str
    level: str
    batch: int
    confirmed_at: datetime
    rank: int
    scored: bool  # ranked by scores; a work nobody scored follows the ranked ones
    selected: bool
    up: str | None  # where the round's chosen works went; None: the round decided (final)
    vetting: bool = False


def earlier_places(places: Iterable[Place], round_id: str, confirmed_at: datetime | None) -> list[Place]:
    """The places a round's page shows as a work's history: those confirmed before this round was (all of them while
    it is not confirmed yet), oldest first; never the round's own, nor a later round's."""
    return sorted((p for p in places if p.round_id != round_id
                   and (confirmed_at is None or p.confirmed_at < confirmed_at)),
                  key=lambda p: (p.confirmed_at, p.round_id))


def describe(place: Place) -> str:
    """One place as the admin reads it: 「校级评审第 3 名，报送教育部」, 「院级评审（第 2 批）第 1 名，入选」."""
    label = ROUND_LABELS.get(place.level, place.level) + (f"（第 {place.batch} 批）" if place.batch > 1 else "")
    if place.vetting:
        return f"{label}：{'审核通过' if place.selected else '审核不通过'}"
    rank = f"第 {place.rank} 名" if place.scored else "未评分"
    if place.up is not None:
        result = f"报送{LEVEL_LABELS.get(place.up, place.up)}" if place.selected else "未报送"
    else:
        result = "入选" if place.selected else "未入选"
    return f"{label}{rank}，{result}"
