"""Saving a reviewer's score form: decided at once from what the use case read.

The round must be open; the marks follow the rubric (all of them when the score is submitted,
or was before: a submitted score stays complete when changed); each comment has a limit: the one to the admin
(confidential) and the one for the submitting org (sent with the results only if the admin chooses so). The
outcome says what to store, what to log and which state the score ends in.
Pure: no framework.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from common.errors import Conflict, InvalidInput
from services.review.domain.lifecycles import ROUND_CLOSED_FOR_SCORES, ScoreState, require_round_open
from services.review.domain.rubric import InvalidMarks, check_marks, weighted_total

MAX_COMMENT = 2000
# Autosaved drafts this close together make one line of the score's log (the latest typed state): the page saves
# about a second after each pause in typing, and forty works an evening must not make thousands of log lines.
AUTOSAVE_RUN = timedelta(minutes=10)


@dataclass(frozen=True)
class ScoreSave:
    marks: dict[str, float]
    comment: str
    total: float | None  # only for a complete score
    action: str  # the log row's: draft | submit | change
    state: ScoreState  # the score's state once saved
    comment_for_org: str = ""


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
    for_org = (form.get("comment_for_org") or "").strip()
    if len(for_org) > MAX_COMMENT:
        raise InvalidInput(f"给报送单位的意见最多 {MAX_COMMENT} 字，当前 {len(for_org)} 字。请精简后再保存。",
                           code="comment_for_org_too_long", field="comment_for_org", expected=MAX_COMMENT,
                           found=len(for_org))
    total = weighted_total(rubric, marks) if complete and rubric else None
    action = "change" if current == ScoreState.SUBMITTED else ("submit" if submit else "draft")
    return ScoreSave(marks, comment, total, action, ScoreState.SUBMITTED if complete else ScoreState.DRAFT, for_org)


def decide_draft(round_state: str, rubric: list[dict], form: Mapping[str, str], current: str | None) -> ScoreSave:
    """A draft the work page saves as the expert types: the draft button's rules (partial marks, each in range).

    A submitted score is never touched by it: changing one takes the 修改评分 button (complete marks, logged as
    a change), so a half-typed edit saved on its own can neither empty a mark nor change the total."""
    require_round_open(round_state, ROUND_CLOSED_FOR_SCORES)
    if current == ScoreState.SUBMITTED:
        raise Conflict("这件作品的评分已提交，自动保存不会改动已提交的评分。修改后请点「修改评分」。",
                       code="already_submitted", found=current)
    return decide_score(round_state, rubric, form, current, submit=False)


def joins_last_log(last_action: str | None, last_at: datetime | None, now: datetime) -> bool:
    """Whether an autosaved draft rewrites the score's last log line instead of adding one (AUTOSAVE_RUN)."""
    return last_action == "draft" and last_at is not None and now - last_at < AUTOSAVE_RUN
