"""The 2020 notices, read again: what the shipped definitions now say, and the format rules that let them say it."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest

from common.campaign import (
    DECISION_ABOVE_OWNER,
    DEFINITIONS_DIR,
    SCORED,
    Decision,
    above_owner_problems,
    check_owner_reach,
    load_builtin_definitions,
    parse_definition,
)
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


# =========================================================================== a university's own campaigns (同济 2018)
# seeds/004_…: 同济's 2018 plan, items 9 (「兩優一先」評選表彰) and 10 (示範黨支部評選和建設). The seed names the
# categories, who is addressed and the occasion (建党97周年), but no number and no date: the definitions say which
# figures are platform examples, and these tests hold them to what the files say.

OWN = load_builtin_definitions(DEFINITIONS_DIR / "own")


def at_8(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T23:59:59").replace(tzinfo=PLUS8)


def test_tongjis_two_campaigns_are_its_own_and_not_auto_published_builtins():
    # own/ also holds 石油大学's and 民族大学's (tests/unit/test_campaign_seeds_2.py)
    assert sorted(d for d in OWN if d.startswith("tongji-")) == ["tongji-lianyou-2018", "tongji-shifan-2018"]
    assert all(d.derives_from is None for d in OWN.values())
    assert not set(OWN) & set(BUILTIN)  # loadable, but not among the definitions every demo tenant gets


def test_tongjis_lianyou_is_an_award_by_category_decided_at_the_university():
    # 「開展"兩優一先"評選表彰工作」; 「共產黨員和意昂4工作者」「基層黨組織」 are the three categories
    track = OWN["tongji-lianyou-2018"].tracks["nomination"]
    assert track.decision == Decision(level="university", kind="award", label="校级“两优一先”表彰",
                                      places={"member": 50, "worker": 20, "org": 20}, category_field="category")
    category = track.field("category")
    assert (category.type, category.required) == ("choice", True)
    assert category.choice_labels == {"member": "优秀共产党员", "worker": "优秀党务工作者", "org": "先进基层党组织"}
    assert track.judged == SCORED and [c.key for c in track.rubric] == ["deeds", "example", "excellence"]
    # addressed to 「各基層黨(工)委、直屬黨總支」, aimed at 「全校基層黨支部」: branches nominate, colleges too and recommend
    assert track.submit_levels == ["branch", "level2"] and track.forward == {"level2": 6}
    # 「以慶祝建黨97周年為契機」: everything is in before 七一 2018, and nothing is due at the university or above
    deadlines = track.stage("nomination").deadlines
    assert deadlines == {"branch": at_8("2018-06-08"), "level2": at_8("2018-06-15")}
    assert max(deadlines.values()) < datetime(2018, 7, 1, tzinfo=PLUS8)
    # the 推荐表's fields, in the types the seeds brought
    types = {f.key: f.type for f in track.fields}
    assert types["nominee"] == "people" and types["phone"] == "phone" and types["party_members"] == "number"
    assert track.stage("nomination").required_fields == ["title", "category", "deeds", "phone"]
    assert [(f.kind, f.min, f.max) for f in track.stage("nomination").files] == [("document", 1, 1), ("image", 0, 3)]


def test_tongjis_model_branches_are_a_selection_at_the_university_from_the_branches():
    # 「著力培育一批工作規範、特色鮮明、作用突出的黨支部」
    track = OWN["tongji-shifan-2018"].tracks["model_branch"]
    assert track.decision == Decision(level="university", kind="select", label="校级示范党支部", places=20)
    assert [c.label for c in track.rubric] == ["工作规范", "特色鲜明", "作用突出"]
    assert track.submit_levels == ["branch"] and track.quota == {"branch": 1} and track.forward == {"level2": 2}
    assert track.stage("application").deadlines == {"branch": at_8("2018-10-15"), "level2": at_8("2018-10-31")}
    secretary, members = track.field("secretary"), track.field("party_members")
    assert (secretary.type, secretary.min_items, secretary.max_items) == ("people", 1, 1)
    assert (members.type, members.min_value) == ("number", 3)  # 党章: 正式党员三人以上 form a branch


# --------------------------------------------------------------------------- the owner rule (common.campaign.ownership)


def lianyou_raw() -> dict:
    return copy.deepcopy(OWN["tongji-lianyou-2018"].raw)


def refusal(doc: dict, owner: str = "university") -> Unprocessable:
    with pytest.raises(Unprocessable) as caught:
        check_owner_reach(parse_definition(doc), owner)
    assert caught.value.code == DECISION_ABOVE_OWNER and caught.value.status == 422
    return caught.value


def test_tongjis_campaigns_end_at_the_university_that_owns_them():
    for definition in OWN.values():
        assert above_owner_problems(definition, "university") == []
        check_owner_reach(definition, "university")


def test_a_universitys_own_campaign_that_ends_at_the_ministry_is_refused_saying_what_to_write():
    doc = lianyou_raw()
    doc["tracks"]["nomination"]["decision"]["level"] = "ministry"
    error = refusal(doc)
    assert [d["field"] for d in error.details] == ["tracks.nomination.decision.level"]
    assert (error.field, error.found, error.expected) == ("tracks.nomination.decision.level", "ministry",
                                                          ["level2", "university"])
    assert "“两优一先”推荐" in error.message and "教育部" in error.message
    assert "decision: {level: university, kind: award}" in error.message


def test_a_universitys_own_track_without_a_decision_forwarding_to_the_ministry_is_refused_at_every_place():
    # written as the ministry writes its tracks: no decision (the national selection), the university forwards
    doc = lianyou_raw()
    track = doc["tracks"]["nomination"]
    del track["decision"]
    track["forward"]["university"] = 1
    track["stages"][0]["deadlines"]["university"] = "2018-06-25"
    error = refusal(doc)
    assert [d["field"] for d in error.details] == [
        "tracks.nomination.decision.level", "tracks.nomination.forward.university",
        "tracks.nomination.stages.nomination.deadlines.university"]
    by_field = {d["field"]: d["message"] for d in error.details}
    assert "未写 decision 即为教育部的全国遴选" in by_field["tracks.nomination.decision.level"]
    assert "请删除 forward.university" in by_field["tracks.nomination.forward.university"]
    assert "deadlines.level2" in by_field["tracks.nomination.stages.nomination.deadlines.university"]
    assert "3处" in error.message


def test_a_collected_track_has_no_decision_to_judge_but_its_deadline_at_the_university_is():
    # a register with nothing to score (石油大学's monthly 组织生活 records): its default decision says nothing
    doc = lianyou_raw()
    track = doc["tracks"]["nomination"]
    del track["decision"]
    track.update(rubric=[], forward={})
    assert above_owner_problems(parse_definition(doc), "university") == []
    track["stages"][0]["deadlines"]["university"] = "2018-06-25"
    assert [d["field"] for d in refusal(doc).details] == ["tracks.nomination.stages.nomination.deadlines.university"]


def test_the_ministry_may_publish_anything_and_a_copy_keeps_its_parents_reach():
    ministry, wust = BUILTIN["siyige-2020"], BUILTIN["siyige-2020-wust"]
    check_owner_reach(ministry, "ministry")
    check_owner_reach(parse_definition(lianyou_raw()), "ministry")
    # the same tracks owned by a university go to the ministry: refused, unless inherited from the ministry's
    assert {d["field"] for d in above_owner_problems(ministry, "university")} >= {
        "tracks.lecture.decision.level", "tracks.lecture.forward.university"}
    check_owner_reach(wust, "university", inherited=ministry.tracks)  # its own 红色防火墙台账 is collected, dated nowhere
    with pytest.raises(ValueError):
        above_owner_problems(ministry, "province")
