"""Review's lifecycles and its two pure decisions: saving a score, confirming a selection."""
from types import SimpleNamespace

import pytest

from common.errors import Conflict, InvalidInput
from common.lifecycle import IllegalMove
from services.review.domain.lifecycles import (
    ASSIGNMENT,
    ENTRY,
    ROUND,
    SCORE,
    AssignmentState,
    EntryState,
    RoundState,
    ScoreState,
    require_round_open,
)
from services.review.domain.scoring import decide_score
from services.review.domain.selection import Candidate, decide_selection

RUBRIC = [{"key": "thought", "label": "思想性", "max": 10, "weight": 50},
          {"key": "form", "label": "表现力", "max": 10, "weight": 50}]


def test_states_keep_their_values_and_labels():
    assert RoundState.labels() == {"open": "评分中", "closed": "评分已结束", "selected": "已确认入选"}
    assert ScoreState.labels() == {"open": "未评", "draft": "草稿", "submitted": "已提交"}
    assert [s.value for s in AssignmentState] == ["assigned", "declined", "withdrawn"]
    assert [s.value for s in EntryState] == ["submitted", "withdrawn", "reopened"]


def test_a_round_opens_closes_reopens_and_is_selected_once_closed():
    rnd = SimpleNamespace(state=None, closed_at=None, selected_at=None)
    ROUND.move(rnd, RoundState.OPEN)
    with pytest.raises(IllegalMove):
        ROUND.move(rnd, RoundState.SELECTED)
    ROUND.move(rnd, RoundState.CLOSED, at="t1")
    assert rnd.closed_at == "t1"
    ROUND.move(rnd, RoundState.OPEN)
    ROUND.move(rnd, RoundState.CLOSED, at="t2")
    ROUND.move(rnd, RoundState.SELECTED, at="t3")
    assert (rnd.state, rnd.selected_at) == ("selected", "t3")
    with pytest.raises(IllegalMove):
        ROUND.move(rnd, RoundState.OPEN)


def test_ended_assignments_may_be_given_back_and_submitted_scores_stay_submitted():
    a = SimpleNamespace(state=None)
    for state in (AssignmentState.ASSIGNED, AssignmentState.DECLINED, AssignmentState.ASSIGNED,
                  AssignmentState.WITHDRAWN, AssignmentState.ASSIGNED):
        ASSIGNMENT.move(a, state)
    score = SimpleNamespace(state=None, submitted_at=None)
    SCORE.move(score, ScoreState.DRAFT)
    SCORE.move(score, ScoreState.SUBMITTED, at="t")
    with pytest.raises(IllegalMove):
        SCORE.move(score, ScoreState.DRAFT)


def test_an_entry_may_start_in_any_state_and_only_forwarding_brings_a_withdrawn_one_back():
    for first in EntryState:
        ENTRY.move(SimpleNamespace(state=None), first)
    assert ENTRY.allows(EntryState.WITHDRAWN, EntryState.SUBMITTED)
    assert not ENTRY.allows(EntryState.WITHDRAWN, EntryState.REOPENED)


@pytest.mark.parametrize("state", ["closed", "selected"])
def test_the_round_open_guard_says_the_round_ended(state):
    require_round_open("open")
    with pytest.raises(Conflict) as caught:
        require_round_open(state)
    assert caught.value.code == "round_closed" and "已结束评分" in caught.value.message


def test_a_draft_keeps_partial_marks_and_a_submission_needs_them_all():
    draft = decide_score("open", RUBRIC, {"mark_thought": "8", "comment": " 好 "}, None, submit=False)
    assert (draft.marks, draft.comment, draft.total, draft.action, draft.state) == (
        {"thought": 8.0}, "好", None, "draft", ScoreState.DRAFT)
    with pytest.raises(InvalidInput) as caught:
        decide_score("open", RUBRIC, {"mark_thought": "8"}, "draft", submit=True)
    assert caught.value.code == "invalid_marks"
    done = decide_score("open", RUBRIC, {"mark_thought": "8", "mark_form": "9"}, "draft", submit=True)
    assert (done.total, done.action, done.state) == (85.0, "submit", ScoreState.SUBMITTED)


def test_a_submitted_score_changed_as_a_draft_stays_complete_and_submitted():
    changed = decide_score("open", RUBRIC, {"mark_thought": "10", "mark_form": "9"}, "submitted", submit=False)
    assert (changed.total, changed.action, changed.state) == (95.0, "change", ScoreState.SUBMITTED)
    with pytest.raises(InvalidInput):
        decide_score("open", RUBRIC, {"mark_thought": "10"}, "submitted", submit=False)


def test_a_score_is_refused_in_a_closed_round_and_with_a_long_comment():
    with pytest.raises(Conflict) as caught:
        decide_score("closed", RUBRIC, {}, None, submit=False)
    # a reviewer is told what it means for their score, not to reopen a round they do not run
    assert caught.value.code == "round_closed" and caught.value.message == "本轮评审已结束评分，分数不能再修改。"
    with pytest.raises(InvalidInput) as caught:
        decide_score("open", RUBRIC, {"comment": "字" * 2001}, None, submit=False)
    assert caught.value.code == "comment_too_long"


WORKS = [Candidate("s1", "seu", "甲", 1, 90.0, 88.0), Candidate("s2", "nju", "乙", 2, 80.0, 81.0),
         Candidate("s3", "seu", "丙")]


def test_a_selection_places_every_work_and_ranks_the_unscored_last():
    chosen = decide_selection("closed", "university", WORKS, ["s2", "s3"], limit=2)
    assert [(p.submission_id, p.rank, p.selected) for p in chosen.placed] == [
        ("s1", 1, False), ("s2", 2, True), ("s3", 3, True)]
    assert chosen.selected == ["s2", "s3"] and chosen.not_selected == ["s1"]
    assert chosen.results[2] == {"submission_id": "s3", "tenant": "seu", "rank": 3, "selected": True,
                                 "normalised": None, "title": "丙"}


@pytest.mark.parametrize("state, selected, code", [
    ("selected", [], "already_selected"), ("open", [], "round_still_open"),
    ("closed", ["s9"], "selection_unknown_work"), ("closed", ["s1", "s1"], "selection_duplicate"),
    ("closed", ["s1", "s2", "s3"], "selection_over_quota")])
def test_a_selection_is_refused(state, selected, code):
    with pytest.raises((Conflict, InvalidInput)) as caught:
        decide_selection(state, "university", WORKS, selected, limit=2)
    assert caught.value.code == code
