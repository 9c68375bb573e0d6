"""Saving a reviewer's score form: decided at once from what the use case read.

The round must be open; the marks follow the rubric (all of them when the score is submitted,
or was before: a submitted score stays complete when changed); the comment has a limit. The
outcome says what to store, what to log and which state the score ends in.
Pure: no framework.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from common.errors import InvalidInput
from services.review.domain.lifecycles import ROUND_CLOSED_FOR_SCORES, ScoreState, require_round_open
from services.review.domain.rubric import InvalidMarks, check_marks, weighted_total

MAX_COMMENT = 2000


@dataclass(frozen=True)
class ScoreSave:
    marks: dict[str, float]
    comment: str
    total: float | None  # only for a complete score
    action: str  # the log row's: draft | submit | change
    state: ScoreState  # the score's state once saved


def decide_score(round_state: str, rubric: list[dict], form: Mapping[str, str], current: str | None,
                 submit: bool) -> ScoreSave:
    """`current`: the state of the score already saved, None for the first save."""
    require_round_open(round_state, ROUND_CLOSED_FOR_SCORES)
    raw = {c["key"]: form.get(f"mark_{c['key']}", "") for c in rubric}
    complete = submit or current == ScoreState.SUBMITTED
    try:
        marks = check_marks(rubric, raw, complete=complete)
    except InvalidMarks as exc:
        raise InvalidInput(str(exc), code="invalid_marks", field=getattr(exc, "field", None)) from None
    comment = (form.get("comment") or "").strip()
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(f"评语最多 {MAX_COMMENT} 字，当前 {len(comment)} 字。请精简后再保存。", code="comment_too_long",
                           expected=MAX_COMMENT, found=len(comment))
    total = weighted_total(rubric, marks) if complete and rubric else None
    action = "change" if current == ScoreState.SUBMITTED else ("submit" if submit else "draft")
    return ScoreSave(marks, comment, total, action, ScoreState.SUBMITTED if complete else ScoreState.DRAFT)
