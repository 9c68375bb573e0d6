"""Intake's decisions as pure functions (services/intake/domain/submission.py): a use case gathers the facts,
one function decides, on WUST's shipped lecture and story tracks.

The lecture track: registration (title, lecturers, planned_date; the university's deadline 2020-07-31) then
video (a video and at most one subtitle file; a level-2 org's deadline 2020-06-30); one work per level-2 org.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from common.errors import Conflict, DomainError, NotFound, Unprocessable
from services.intake.domain import submission as rules
from services.intake.domain.lifecycles import FILE, SUBMISSION, FileState, SubmissionState

PLUS8 = timezone(timedelta(hours=8))
EARLY = datetime(2020, 6, 1, 12, 0, tzinfo=PLUS8)
ORG = ("计算机科学与技术学院党委", "计算机学院党委")
REGISTRATION = {"title": "计算机学院党委微党课", "lecturers": ["张书记"], "planned_date": "2020-06-20"}


def work(track, **changes) -> rules.WorkFacts:
    facts = rules.WorkFacts(track=track, state=SubmissionState.DRAFT, last_stage=None, receipt_no=None,
                            org_level="level2", org_names=ORG, title=REGISTRATION["title"], fields=REGISTRATION,
                            now=EARLY, extension=None)
    return replace(facts, **changes)


def submit(track, themes, files=(), requested=None, used_quota=0, **changes) -> rules.Submitting:
    return rules.decide_submit(rules.SubmitFacts(work(track, **changes), requested, themes, used_quota, tuple(files)))


@pytest.fixture
def lecture(wust):
    return wust.tracks["lecture"]


def test_a_draft_submits_its_first_stage(wust, lecture):
    outcome = submit(lecture, wust.themes)
    assert (outcome.stage.key, outcome.final) == ("registration", False)
    assert outcome.char_counts["title"] == len("计算机学院党委微党课")


def test_problems_come_in_the_order_they_always_did(wust, lecture):
    late = datetime(2020, 8, 1, 9, 0, tzinfo=PLUS8)
    with pytest.raises(Conflict) as caught:  # withdrawn before anything else
        submit(lecture, wust.themes, state=SubmissionState.WITHDRAWN, now=late, fields={})
    assert caught.value.code == "submission_withdrawn"
    with pytest.raises(Conflict) as caught:
        submit(lecture, wust.themes, requested="video")
    assert (caught.value.code, caught.value.expected) == ("stage_out_of_order", "registration")
    with pytest.raises(DomainError) as caught:  # the deadline before the fields
        submit(lecture, wust.themes, now=late, fields={})
    assert caught.value.code == "deadline_passed"
    with pytest.raises(Unprocessable) as caught:
        submit(lecture, wust.themes, fields={"title": REGISTRATION["title"]})
    assert caught.value.code == "invalid_fields"


def test_an_extension_moves_the_deadline(wust, lecture):
    late = datetime(2020, 8, 1, 9, 0, tzinfo=PLUS8)
    assert submit(lecture, wust.themes, now=late, extension=late + timedelta(hours=1)).stage.key == "registration"


def test_the_quota_counts_from_the_first_stage_only(wust, lecture):
    with pytest.raises(Conflict) as caught:
        submit(lecture, wust.themes, used_quota=1)
    assert caught.value.code == "quota_exceeded"
    video = rules.FileFacts("video", "微党课.mp4", FileState.STORED, "passed")
    fields = {**REGISTRATION, "theme": wust.themes[0], "held_on": "2020-06-28"}
    outcome = submit(lecture, wust.themes, [video], used_quota=1, state=SubmissionState.SUBMITTED,
                     last_stage="registration", fields=fields)
    assert (outcome.stage.key, outcome.final) == ("video", True)


def test_the_files_of_the_stage_are_reported_together(wust, lecture):
    files = [rules.FileFacts("video", "微党课.mp4", FileState.PENDING, None),
             rules.FileFacts("subtitle", "字幕.srt", FileState.STORED, "failed")]
    with pytest.raises(Unprocessable) as caught:
        submit(lecture, wust.themes, files, state=SubmissionState.SUBMITTED, last_stage="registration",
               fields={**REGISTRATION, "theme": wust.themes[0], "held_on": "2020-06-28"})
    assert [d["code"] for d in caught.value.details] == ["upload_incomplete", "file_missing", "file_check_failed"]


def test_withdrawing_twice_is_nothing_and_a_draft_is_not_announced(lecture):
    assert rules.decide_withdraw(work(lecture, state=SubmissionState.WITHDRAWN)) is None
    assert rules.decide_withdraw(work(lecture)).announce is False
    assert rules.decide_withdraw(work(lecture, state=SubmissionState.SUBMITTED, last_stage="registration")).announce
    with pytest.raises(DomainError, match="已不能撤回") as caught:
        rules.decide_withdraw(work(lecture, now=datetime(2020, 8, 1, tzinfo=PLUS8)))
    assert caught.value.code == "deadline_passed"


def selection(wust, *works, already=0) -> rules.SelectionFacts:
    return rules.SelectionFacts(tenant_id="wust", track_key="lecture", level="university", to_level="ministry",
                                works=works, tracks={"wust.siyige-2020-wust": wust.tracks["lecture"]},
                                already={"wust.siyige-2020-wust": already})


def selected(work_id: str, **changes) -> rules.SelectedWork:
    return replace(rules.SelectedWork(work_id, True, "wust", "lecture", "微党课", SubmissionState.SUBMITTED, True,
                                      "university", "level2", "wust.siyige-2020-wust"), **changes)


def test_forwarding_moves_complete_works_and_skips_those_already_above(wust):
    moving = rules.decide_forward(selection(wust, selected("a"), selected("b", forwarded_to="ministry")))
    assert [(f.work_id, f.from_level) for f in moving] == [("a", "university")]
    with pytest.raises(Conflict) as caught:  # WUST forwards one lecture to the ministry
        rules.decide_forward(selection(wust, selected("a"), already=1))
    assert caught.value.code == "forward_quota_exceeded"


@pytest.mark.parametrize("work, code", [
    (rules.SelectedWork("gone"), "submission_not_found"),
    (selected("x", tenant_id="seu"), "submission_not_found"),
    (selected("x", complete=False), "not_forwardable"),
    (selected("x", org_level="branch", forwarded_to=None), "wrong_level"),  # still at its level-2 org
])
def test_forwarding_refuses_the_whole_selection_for_one_wrong_work(wust, work, code):
    with pytest.raises((NotFound, Conflict)) as caught:
        rules.decide_forward(selection(wust, selected("a"), work))
    assert caught.value.code == code


def test_the_lifecycles_allow_the_moves_intake_makes():
    assert SUBMISSION.allows(SubmissionState.SUBMITTED, SubmissionState.DRAFT)  # reopened back to a draft
    assert not SUBMISSION.allows(SubmissionState.WITHDRAWN, SubmissionState.SUBMITTED)
    assert FILE.allows(FileState.PENDING, FileState.STORED) and FILE.allows(FileState.RECEIVED, FileState.EXPIRED)
    assert not FILE.allows(FileState.DELETED, FileState.RECEIVED)
    assert SubmissionState.labels() == {"draft": "草稿", "submitted": "已提交", "withdrawn": "已撤回"}
