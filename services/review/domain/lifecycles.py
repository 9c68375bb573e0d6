"""Review's lifecycles: a round, an assignment, a score, and review's copy of a work (its entry).

Each is a `State` enum whose members carry the label users read, and a `Lifecycle` naming the
moves the use cases make; `Lifecycle.move` is the one place a state changes. The values are the
strings the database has always held (no migration).
Pure: no framework.
"""
from __future__ import annotations

from common.errors import Conflict
from common.lifecycle import Lifecycle, State


class RoundState(State):
    OPEN = "open", "评分中"
    CLOSED = "closed", "评分已结束"
    SELECTED = "selected", "已确认入选"


# open (reviewers score) -> closed (scores final, ranking shown) -> selected (confirmed, forwarded);
# a closed round may be opened again until its selection is confirmed.
ROUND = Lifecycle("round", {
    None: {RoundState.OPEN},
    RoundState.OPEN: {RoundState.CLOSED},
    RoundState.CLOSED: {RoundState.OPEN, RoundState.SELECTED},
}, stamps={RoundState.CLOSED: "closed_at", RoundState.SELECTED: "selected_at"})


class AssignmentState(State):
    ASSIGNED = "assigned", "已分配"
    DECLINED = "declined", "已放弃"
    WITHDRAWN = "withdrawn", "作品已撤回"


# An assignment ends when its reviewer declines it or when its work leaves the round (withdrawn, or
# reopened in intake); the admin may give an ended one back to the same reviewer by hand.
ASSIGNMENT = Lifecycle("assignment", {
    None: {AssignmentState.ASSIGNED},
    AssignmentState.ASSIGNED: {AssignmentState.DECLINED, AssignmentState.WITHDRAWN},
    AssignmentState.DECLINED: {AssignmentState.ASSIGNED},
    AssignmentState.WITHDRAWN: {AssignmentState.ASSIGNED},
})


class ScoreState(State):
    OPEN = "open", "未评"  # no score saved yet: never stored, shown for an assignment without a score row
    DRAFT = "draft", "草稿"
    SUBMITTED = "submitted", "已提交"


SCORE = Lifecycle("score", {
    None: {ScoreState.DRAFT},
    ScoreState.DRAFT: {ScoreState.SUBMITTED},
}, stamps={ScoreState.SUBMITTED: "submitted_at"})


class EntryState(State):
    """Review's copy of a work, as intake's events describe it."""

    SUBMITTED = "submitted", "已提交"
    WITHDRAWN = "withdrawn", "已撤回"
    REOPENED = "reopened", "已退回修改"


# Events may arrive in any order, so a copy may start in any state. A withdrawal is final for a
# submission; a work forwarded from the level below replaces the copy whatever it held.
ENTRY = Lifecycle("entry", {
    None: {EntryState.SUBMITTED, EntryState.WITHDRAWN, EntryState.REOPENED},
    EntryState.SUBMITTED: {EntryState.WITHDRAWN, EntryState.REOPENED},
    EntryState.REOPENED: {EntryState.SUBMITTED, EntryState.WITHDRAWN},
    EntryState.WITHDRAWN: {EntryState.SUBMITTED},  # only by forwarding: a submission never brings it back
})


ROUND_CLOSED = "本轮评审已结束评分，不能再修改专家、分配或评分。如需修改，请先重新开放评分。"
# What a reviewer is told: reopening a round is the admin's, not theirs.
ROUND_CLOSED_FOR_SCORES = "本轮评审已结束评分，分数不能再修改。"


def require_round_open(state: str, message: str = ROUND_CLOSED) -> None:
    """Reviewers, assignments and scores change only while their round is open."""
    if state != RoundState.OPEN:
        raise Conflict(message, code="round_closed", found=state)
