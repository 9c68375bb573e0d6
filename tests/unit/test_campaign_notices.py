"""The 2020 notices, read again: what the shipped definitions now say, and the format rules that let them say it."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest

from common.campaign import load_builtin_definitions, parse_definition
from common.errors import Unprocessable
from services.intake.domain import submission as rules

BUILTIN = load_builtin_definitions()
PLUS8 = timezone(timedelta(hours=8))


def problems_of(doc: dict) -> dict[str, str]:
    with pytest.raises(Unprocessable) as caught:
        parse_definition(doc)
    return {d["field"]: d["message"] for d in caught.value.details}


def wust_raw() -> dict:
    return copy.deepcopy(BUILTIN["siyige-2020-wust"].raw)


def stage(doc: dict, track: str, key: str) -> dict:
    return next(s for s in doc["tracks"][track]["stages"] if s["key"] == key)


def test_seu_stories_may_be_cases_as_documents():
    # 「可以文字、图片、视频、案例等多种方式」
    story = BUILTIN["siyige-2020-seu"].tracks["story"]
    assert rules.check_file_kind(story, "document", 1000) == story.media["document"].max_bytes
    assert story.media["document"].rules[0].value == ["docx", "pdf"]


def test_wusts_colleges_file_one_written_report_for_their_branches_by_7_15():
    # 「各二级党组织……于7月15日前,向党委组织部报送本单位各支部组织生活会召开情况书面材料」
    report = BUILTIN["siyige-2020-wust"].tracks["meeting_report"]
    assert report.submit_levels == ["level2"] and report.quota == {"level2": 1}
    assert report.stage("submission").deadlines["level2"] == datetime(2020, 7, 15, 23, 59, 59, tzinfo=PLUS8)
    # SEU asks for none: the ministry's record is optional, and SEU's copy leaves it out
    assert not BUILTIN["siyige-2020"].tracks["meeting_report"].required
    assert "meeting_report" not in BUILTIN["siyige-2020-seu"].tracks


def test_wusts_6_30_is_when_the_lecture_is_held_and_a_later_day_is_refused():
    lecture = BUILTIN["siyige-2020-wust"].tracks["lecture"]
    fields = {"title": "资源学院党委微党课", "lecturers": ["张书记"], "theme": BUILTIN["siyige-2020-wust"].themes[0],
              "held_on": "2020-06-28", "mode": "online"}
    rules.check_fields(lecture, fields, BUILTIN["siyige-2020-wust"].themes, required=["title", "held_on"])
    with pytest.raises(Unprocessable) as caught:
        rules.check_fields(lecture, {**fields, "held_on": "2020-07-02"}, BUILTIN["siyige-2020-wust"].themes)
    assert caught.value.code == "date_too_late" and caught.value.field == "fields.held_on"
    assert "2020-06-30" in caught.value.message and "2020-07-02" in caught.value.message
    with pytest.raises(Unprocessable) as caught:  # required with the video
        rules.check_fields(lecture, {k: v for k, v in fields.items() if k != "held_on"},
                           BUILTIN["siyige-2020-wust"].themes, required=lecture.stage("video").required_fields)
    assert caught.value.code == "missing_field"


def test_a_registration_cannot_outlive_the_video_it_registers_for_at_any_level():
    # WUST as it read before: its registration had only the university's 7/31, the colleges' video closed 6/30,
    # so on 7/16 a college could still register a lecture whose video it could no longer hand in.
    doc = wust_raw()
    stage(doc, "lecture", "video")["deadlines"]["level2"] = "2020-06-30"
    found = problems_of(doc)
    assert list(found) == ["tracks.lecture.stages.registration.deadlines.level2"]
    assert "没有自己的截止时间" in found["tracks.lecture.stages.registration.deadlines.level2"]
    assert "2020-06-30" in found["tracks.lecture.stages.registration.deadlines.level2"]
    # giving the registration the colleges' own date fixes it
    stage(doc, "lecture", "registration")["deadlines"]["level2"] = "2020-06-20"
    parse_definition(doc)


@pytest.mark.parametrize("edit, place", [
    (lambda f: f.update(min_date="2020-07-01", max_date="2020-06-30"), "min_date"),
    (lambda f: f.update(max_date="2020-02-30"), "max_date"),
    (lambda f: f.update(max_date="2020/06/30"), "max_date"),
])
def test_date_bounds_must_be_days_in_order(edit, place):
    doc = wust_raw()
    held = next(f for f in doc["tracks"]["lecture"]["fields"] if f["key"] == "held_on")
    edit(held)
    assert f"tracks.lecture.fields.held_on.{place}" in problems_of(doc)


def test_a_date_bound_on_a_field_that_is_no_date_is_refused():
    doc = wust_raw()
    title = next(f for f in doc["tracks"]["lecture"]["fields"] if f["key"] == "title")
    title["max_date"] = "2020-06-30"
    assert "tracks.lecture.fields.title.max_date" in problems_of(doc)
