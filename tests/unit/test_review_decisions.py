"""Review's lifecycles and its pure decisions: saving a score, confirming a selection, where a selection ends."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from common.errors import Conflict, InvalidInput
from common.lifecycle import IllegalMove
from services.review.domain import decisions
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


# --------------------------------------------------------------------------- where a selection ends (issue #16)

FORWARDING = {"forward": {"level2": 2, "university": 1}, "quota": {"level2": 2}, "rubric": RUBRIC}
AWARD = {"rubric": RUBRIC, "decision": {"level": "university", "kind": "award", "label": "校级“两优一先”表彰",
                                        "places": {"优秀共产党员": 2, "优秀党务工作者": 1}, "category_field": "category"}}


def test_a_round_below_the_decision_forwards_within_its_forward_count():
    end = decisions.round_end(FORWARDING, "university")
    assert (end.final, end.up, end.limit, end.places) == (False, "ministry", 1, None)
    assert decisions.describe(end) == "可向教育部报送：1 件"
    assert decisions.event_decision(end) is None
    below = decisions.round_end(AWARD, "level2")
    assert (below.final, below.up) == (False, "university")


def test_the_ministry_round_is_final_even_for_a_track_without_decision():
    end = decisions.round_end(FORWARDING, "ministry")
    assert (end.final, end.up, end.limit) == (True, None, None)
    assert decisions.describe(end) == "最终评选：入选名额不限"
    assert decisions.event_decision(end) == {"level": "ministry", "kind": "select", "label": "择优入选"}


def test_the_decision_level_is_final_with_its_places_per_category():
    end = decisions.round_end(AWARD, "university")
    assert (end.final, end.up, end.limit, end.category_field) == (True, None, None, "category")
    assert end.places == {"优秀共产党员": 2, "优秀党务工作者": 1}
    assert decisions.describe(end) == "表彰名额（校级“两优一先”表彰）：优秀共产党员 2 名、优秀党务工作者 1 名"
    assert "报送" not in decisions.describe(end)
    assert decisions.confirm_label(end) == "确认表彰名单"
    assert decisions.category_of(end, {"category": "优秀党务工作者"}) == "优秀党务工作者"
    assert decisions.category_of(end, {"category": ""}) is None


@pytest.mark.parametrize("decision, words", [
    ({"level": "university", "kind": "select", "places": 3}, "最终评选：入选 3 件"),
    ({"level": "university", "kind": "award", "places": 5}, "表彰名额：5 名"),
    ({"level": "university", "kind": "publicity", "places": 10, "publicity_days": 7}, "最终评选：入选 10 件，公示 7 天"),
    ({"level": "university", "kind": "library", "label": "素材库"}, "入库（素材库）：名额不限"),
    ({"level": "university", "kind": "vetting"}, "审核：逐件通过/不通过"),
])
def test_each_kind_is_said_in_its_own_words(decision, words):
    end = decisions.round_end({"rubric": RUBRIC, "decision": decision}, "university")
    assert decisions.describe(end) == words
    assert end.category_field is None  # only an award given by category names one


def test_publicity_days_travel_with_the_decision():
    end = decisions.round_end({"decision": {"level": "university", "kind": "publicity", "publicity_days": 7}},
                              "university")
    assert decisions.event_decision(end) == {"level": "university", "kind": "publicity", "label": "公示",
                                             "publicity_days": 7}


def test_a_later_batch_keeps_what_earlier_batches_left_per_category():
    end = decisions.remaining(decisions.round_end(AWARD, "university"), ["优秀共产党员", "优秀党务工作者"])
    assert end.places == {"优秀共产党员": 1, "优秀党务工作者": 0}
    forwarding = decisions.remaining(decisions.round_end(FORWARDING, "level2"), [None, None, None])
    assert forwarding.limit == 0  # never below nothing


def test_the_best_of_each_category_are_ticked_before_the_admin_chooses():
    end = decisions.round_end(AWARD, "university")
    ranked = [("a", "优秀共产党员"), ("b", "优秀党务工作者"), ("c", "优秀党务工作者"), ("d", "优秀共产党员"),
              ("e", "优秀共产党员"), ("f", None)]
    assert decisions.preselected(end, ranked) == {"a", "b", "d"}
    assert decisions.preselected(decisions.round_end(FORWARDING, "university"), ranked) == {"a"}


def _award_candidates():
    return [Candidate("s1", "seu", "甲", 1, 90.0, 88.0, "优秀共产党员"),
            Candidate("s2", "seu", "乙", 2, 80.0, 81.0, "优秀共产党员"),
            Candidate("s3", "seu", "丙", 3, 70.0, 71.0, "优秀共产党员"),
            Candidate("s4", "seu", "丁", 4, 60.0, 61.0, "优秀党务工作者"),
            Candidate("s5", "seu", "戊", None, None, None, None)]


def test_an_award_within_each_categorys_places_names_the_category_of_each_result():
    end = decisions.round_end(AWARD, "university")
    chosen = decide_selection("closed", "university", _award_candidates(), ["s1", "s2", "s4"], end=end)
    assert [(r["submission_id"], r["selected"], r["category"]) for r in chosen.results] == [
        ("s1", True, "优秀共产党员"), ("s2", True, "优秀共产党员"), ("s3", False, "优秀共产党员"),
        ("s4", True, "优秀党务工作者"), ("s5", False, None)]


def test_an_award_over_a_categorys_places_is_refused_saying_which_and_by_how_many():
    end = decisions.round_end(AWARD, "university")
    with pytest.raises(Conflict) as caught:
        decide_selection("closed", "university", _award_candidates(), ["s1", "s2", "s3", "s4"], end=end)
    err = caught.value
    assert (err.status, err.code) == (409, "selection_over_places")
    assert "「优秀共产党员」最多 2 名，当前选了 3 名" in err.message and "取消" in err.message
    assert "优秀党务工作者" not in err.message.split("：", 2)[-1]  # within its places: not named as a problem
    assert err.found == {"优秀共产党员": 3, "优秀党务工作者": 1}


def test_an_award_refuses_a_work_without_category_and_a_category_without_places():
    end = decisions.round_end(AWARD, "university")
    with pytest.raises(Conflict) as caught:
        decide_selection("closed", "university", _award_candidates(), ["s1", "s5"], end=end)
    assert caught.value.code == "selection_without_category" and "《戊》" in caught.value.message
    other = [Candidate("s6", "seu", "己", 1, 50.0, 50.0, "先进基层党组织")]
    with pytest.raises(Conflict) as caught:
        decide_selection("closed", "university", other, ["s6"], end=end)
    assert caught.value.code == "selection_over_places" and "「先进基层党组织」没有表彰名额" in caught.value.message


def test_a_final_selection_over_its_number_of_places_is_refused_in_the_decisions_words():
    end = decisions.round_end({"rubric": RUBRIC, "decision": {"level": "university", "kind": "select", "places": 1}},
                              "university")
    with pytest.raises(Conflict) as caught:
        decide_selection("closed", "university", WORKS, ["s1", "s2"], end=end)
    assert caught.value.code == "selection_over_places" and "最终评定" in caught.value.message
    assert "报送" not in caught.value.message
    assert "category" not in decide_selection("closed", "university", WORKS, ["s1"], end=end).results[0]


@pytest.mark.parametrize("track, enters", [
    (None, True),  # a campaign review has not heard of: as before
    ({"rubric": RUBRIC}, True),
    ({"rubric": []}, False),  # collected and listed, never in a round
    ({"rubric": [], "decision": {"level": "university", "kind": "vetting"}}, True),
])
def test_only_tracks_with_something_to_judge_enter_review(track, enters):
    assert decisions.enters_review(track) is enters


# --------------------------------------------------------------------------- what intake and notify make of a final result

AWARD_MADE = {
    "round_id": "rd-1", "campaign_id": "seu.awards", "track": "members", "level": "university", "to_level": None,
    "owner_org_id": None, "selected": ["s1", "s4"], "not_selected": ["s2"],
    "decision": {"level": "university", "kind": "award", "label": "校级“两优一先”表彰"},
    "results": [{"submission_id": "s1", "tenant": "seu", "rank": 1, "selected": True, "category": "优秀共产党员"},
                {"submission_id": "s2", "tenant": "seu", "rank": 2, "selected": False, "category": "优秀共产党员"},
                {"submission_id": "s4", "tenant": "seu", "rank": 3, "selected": True, "category": "优秀党务工作者"}],
}


def test_intake_records_each_chosen_works_award_with_its_category():
    from services.intake.domain.submission import decide_final, decided_words

    decided = decide_final(AWARD_MADE)
    assert [(d.work_id, d.detail.get("category")) for d in decided] == [("s1", "优秀共产党员"), ("s4", "优秀党务工作者")]
    assert decided[0].detail == {"round_id": "rd-1", "level": "university", "kind": "award",
                                 "label": "校级“两优一先”表彰", "passed": True, "category": "优秀共产党员"}
    now = datetime(2020, 7, 1, tzinfo=timezone.utc)
    assert decided_words(decided[0].detail, now, now) == "获表彰（优秀共产党员）"


def test_intake_reads_a_publicity_as_running_then_standing_and_a_vetting_both_ways():
    from services.intake.domain.submission import decide_final, decided_words

    made = {**AWARD_MADE, "decision": {"level": "university", "kind": "publicity", "label": "公示", "publicity_days": 7}}
    detail = decide_final(made)[0].detail
    at = datetime(2020, 7, 1, 2, tzinfo=timezone.utc)
    assert decided_words(detail, at, at + timedelta(days=7)) == "公示中（至 2020-07-08）"
    assert decided_words(detail, at, at + timedelta(days=8)) == "公示期满，已入选"
    vetted = decide_final({**AWARD_MADE, "decision": {"level": "university", "kind": "vetting", "label": "审核把关"}})
    assert [(d.work_id, d.passed) for d in vetted] == [("s1", True), ("s4", True), ("s2", False)]
    assert [decided_words(d.detail, at, at) for d in vetted] == ["审核通过", "审核通过", "审核未通过"]
    library = decide_final({**AWARD_MADE, "decision": {"level": "university", "kind": "library", "label": "素材库"}})
    assert decided_words(library[0].detail, at, at) == "已入库"


def test_a_ministry_selection_from_before_decisions_is_the_national_selection():
    from services.intake.domain.submission import decide_final, decided_words
    from services.notify.library import enters_library
    from services.notify.messages import final_decision

    old = {k: v for k, v in AWARD_MADE.items() if k != "decision"} | {"level": "ministry"}
    assert decide_final(old)[0].detail["kind"] == "select"
    assert decided_words(decide_final(old)[0].detail, datetime.now(timezone.utc), datetime.now(timezone.utc)) == "已入选"
    assert final_decision(old)["kind"] == "select" and enters_library(old)


@pytest.mark.parametrize("data, enters", [
    ({"to_level": "ministry", "level": "university"}, False),  # forwarded: not a result yet
    ({"to_level": None, "level": "ministry", "decision": {"kind": "select"}}, True),  # the national selection
    ({"to_level": None, "level": "university", "decision": {"kind": "library"}}, True),  # a university's 素材库
    ({"to_level": None, "level": "university", "decision": {"kind": "award"}}, False),  # 表彰 is not library material
])
def test_the_library_takes_the_ministrys_selection_and_any_levels_library_decision(data, enters):
    from services.notify.library import enters_library

    assert enters_library(data) is enters


@pytest.mark.parametrize("decision, result, subject, sentence", [
    ({"kind": "award", "label": "校级“两优一先”表彰"}, {"selected": True, "category": "优秀共产党员"},
     "获表彰（优秀共产党员）", "在东南大学的评选中获优秀共产党员表彰"),
    ({"kind": "award", "label": "校级“两优一先”表彰"}, {"selected": True}, "获表彰", "在东南大学的评选中获校级“两优一先”表彰"),
    ({"kind": "publicity", "label": "公示", "publicity_days": 7}, {"selected": True}, "入选公示",
     "在东南大学的评选中入选，现予公示 7 天，公示期满无异议后结果生效"),
    ({"kind": "library", "label": "教育素材库"}, {"selected": True}, "入库", "已被东南大学收入教育素材库"),
    ({"kind": "select", "label": "择优入选"}, {"selected": True}, "入选", "在东南大学的评选中入选"),
    ({"kind": "select", "label": "择优入选"}, {"selected": False}, "未入选",
     "在东南大学的评选中本次未入选。感谢您单位的积极参与"),
    ({"kind": "vetting", "label": "审核把关"}, {"selected": False}, "审核未通过",
     "未通过东南大学的审核"),
])
def test_the_result_mail_says_the_decision_in_words(decision, result, subject, sentence):
    from services.notify.messages import selection_outcome

    words = selection_outcome(decision, result, "东南大学")
    assert (words["final"], words["verdict"], words["outcome"]) == (True, subject, sentence)
    assert words["ranked"] is (decision["kind"] != "vetting")


def test_the_result_mail_template_reads_a_final_award_and_still_a_forwarding():
    from services.notify.mail import Templates

    templates = Templates()
    base = {"contact": "东南大学党委组织部（zzb@seu.edu.cn）",
        "org_name": "计算机学院党委", "title": "张三同志事迹", "round_title": "两优一先 · 校级评审", "rank": 1,
            "selected": True, "to_level_label": ""}
    from services.notify.messages import selection_outcome

    final = templates.render("selection_result", "seu", {**base, **selection_outcome(
        {"kind": "award", "label": "校级表彰"}, {"selected": True, "category": "优秀共产党员"}, "东南大学")})
    assert final.subject == "【评审结果】张三同志事迹：获表彰（优秀共产党员）"
    assert ("您单位报送的作品《张三同志事迹》在“两优一先 · 校级评审”中排名第 1 位，"
            "在东南大学的评选中获优秀共产党员表彰。") in final.body
    up = templates.render("selection_result", "seu", {**base, "to_level_label": "教育部", "final": False,
                                                      "ranked": True, "verdict": "", "outcome": ""})
    assert up.subject == "【评审结果】张三同志事迹：入选" and "已入选，将报送教育部。" in up.body


# --------------------------------------------------------------------------- vetting (审核把关): pass or fail, no scores

VETTING = {"rubric": [], "decision": {"level": "university", "kind": "vetting"}}


def test_a_vetting_needs_no_closed_round_and_carries_each_failed_works_reason():
    end = decisions.round_end(VETTING, "university")
    assert end.vetting and decisions.confirm_label(end) == "确认审核结果"
    works = [Candidate("s1", "seu", "甲"), Candidate("s2", "seu", "乙")]
    done = decide_selection("open", "university", works, ["s1"], end=end, reasons={"s2": "  缺少 支部 签章 "})
    assert [(r["submission_id"], r["selected"], r.get("reason")) for r in done.results] == [
        ("s1", True, None), ("s2", False, "缺少 支部 签章")]


def test_a_vetting_refuses_a_failed_work_without_reason_naming_it():
    end = decisions.round_end(VETTING, "university")
    works = [Candidate("s1", "seu", "甲"), Candidate("s2", "seu", "乙"), Candidate("s3", "seu", "丙")]
    with pytest.raises(InvalidInput) as caught:
        decide_selection("open", "university", works, ["s1"], end=end, reasons={"s2": "", "s3": " "})
    assert caught.value.code == "vetting_reason_missing" and "《乙》、《丙》" in caught.value.message
    with pytest.raises(InvalidInput) as caught:
        decide_selection("open", "university", works, ["s1", "s2"], end=end, reasons={"s3": "长" * 201})
    assert caught.value.code == "vetting_reason_too_long"
    with pytest.raises(Conflict) as caught:  # a scored round still closes its scoring first
        decide_selection("open", "university", works, ["s1"], end=decisions.round_end(AWARD, "university"))
    assert caught.value.code == "round_still_open"


def test_a_failed_vettings_reason_reaches_the_portal_and_the_mail():
    from services.intake.domain.submission import decide_final, decided_words
    from services.notify.messages import selection_outcome

    made = {**AWARD_MADE, "decision": {"level": "university", "kind": "vetting", "label": "审核把关"},
            "results": [*AWARD_MADE["results"][:1], {**AWARD_MADE["results"][1], "reason": "缺少签章"}]}
    failed = [d for d in decide_final(made) if not d.passed]
    now = datetime.now(timezone.utc)
    assert [decided_words(d.detail, now, now) for d in failed] == ["审核未通过（缺少签章）"]
    words = selection_outcome(made["decision"], {"selected": False, "reason": "缺少签章"}, "东南大学")
    assert words["outcome"] == "未通过东南大学的审核，原因：缺少签章"
