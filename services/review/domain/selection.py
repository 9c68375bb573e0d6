"""Confirming a round's selection (确认入选名单): decided at once from the round's ranking and limit.

Only a closed round selects, once. Every work of the round gets its row: the ranked ones their
rank, the unscored ones the places after them; the chosen ones go up to the level above, or, in a
final round (decisions.RoundEnd), are the result: within the decision's places, by category for an
award given by category, each result naming its category. A round that forwards confirms by its level's
deadline (rounds.forwarding_deadline: the track's last stage), never after.
Pure: no framework.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from common.campaign.model import Decision
from common.errors import Conflict
from common.levels import parent_level
from services.review.domain.decisions import RoundEnd, check_places, vetting_reasons
from services.review.domain.lifecycles import RoundState
from services.review.domain.publicity import Publicity, publicity_of
from services.review.domain.rounds import ForwardDeadline, check_forward_deadline, check_selection


@dataclass(frozen=True)
class Candidate:
    """A work of the round as the selection sees it; no rank when nobody scored it."""

    submission_id: str
    tenant: str
    title: str
    rank: int | None = None
    normalised: float | None = None
    raw_mean: float | None = None
    category: str | None = None  # the award's category, from the work's category_field (final rounds only)


@dataclass(frozen=True)
class Placed:
    """A work's row in the confirmed selection."""

    submission_id: str
    rank: int
    normalised: float | None
    raw_mean: float | None
    selected: bool
    reason: str | None = None  # 审核把关: why the work failed, kept with the selection


@dataclass(frozen=True)
class Selection:
    placed: list[Placed]
    results: list[dict]  # the event's, one per work in rank order
    selected: list[str]  # as the admin chose them, in their order
    not_selected: list[str]  # sorted
    publicity: Publicity | None = None  # 公示: the period the chosen works are published for, from `now`


def decide_selection(round_state: str, level: str, candidates: Sequence[Candidate], selected: list[str],
                     limit: int | None = None, *, end: RoundEnd | None = None,
                     reasons: dict[str, str] | None = None, deadline: ForwardDeadline | None = None,
                     now: datetime | None = None) -> Selection:
    """`candidates`: the ranked works in rank order, then the unscored ones. `end` says where the round's
    selection ends (decisions.round_end); without it the round forwards up within `limit`. In a vetting
    (审核把关) `selected` are the works that pass, nothing was scored, so the round need not be closed first, and
    each failed work needs its reason (`reasons`, by work), which its result carries. `deadline`: when a
    forwarding round must have confirmed (rounds.forwarding_deadline), judged at `now`; refused after it before
    anything else is asked of the admin, since closing the scoring or choosing again cannot help then. A publicity
    (公示) confirmed at `now` starts its period (publicity.py), which the selection carries."""
    if end is None:
        end = RoundEnd(level, Decision(), False, parent_level(level), limit)
    if round_state == RoundState.SELECTED:
        raise Conflict("本轮的入选名单已经确认并报送，不能再改。", code="already_selected")
    if deadline is not None and now is not None:
        check_forward_deadline(deadline, now)
    if round_state != RoundState.CLOSED and not end.vetting:
        raise Conflict("请先结束评分（分数定稿）再确认入选名单。", code="round_still_open", found=round_state)
    in_round = {c.submission_id for c in candidates}
    check_selection(selected, in_round, None, level)
    by_id = {c.submission_id: c for c in candidates}
    check_places(end, [(s, by_id[s].title, by_id[s].category) for s in selected])
    chosen = set(selected)
    failed = vetting_reasons(chosen, [(c.submission_id, c.title) for c in candidates], reasons or {}) \
        if end.vetting else {}
    placed, results = [], []
    for n, c in enumerate(candidates, start=1):
        rank = n if c.rank is None else c.rank  # the unscored follow the ranked
        placed.append(Placed(c.submission_id, rank, c.normalised, c.raw_mean, c.submission_id in chosen,
                             failed.get(c.submission_id)))
        result = {"submission_id": c.submission_id, "tenant": c.tenant, "rank": rank,
                  "selected": c.submission_id in chosen, "normalised": c.normalised, "title": c.title}
        if end.category_field is not None:  # by its name (优秀共产党员): intake and notify show it as it is
            result["category"] = end.category_name(c.category)
        if c.submission_id in failed:
            result["reason"] = failed[c.submission_id]
        results.append(result)
    publicity = publicity_of(end.decision.kind, end.decision.publicity_days, now, len(chosen)) \
        if end.final and now is not None else None
    return Selection(placed, results, list(selected), sorted(in_round - chosen), publicity)
