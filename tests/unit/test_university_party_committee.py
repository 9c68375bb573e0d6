"""A university's party committee (学校党委) is an org that submits where a notice asks it to (issue #16): the plan's
「高校各级党组织负责人为本组织成员讲授一堂专题微党课」. Its work is weighed in the university's own round; every
other org's in its parent level's. Pure rules: the org list, the level a work first sits at, the review round it
enters, and the definition check that someone weighs every submitting level's work."""
from __future__ import annotations

import pytest

from common.campaign import parse_definition
from common.errors import Unprocessable
from common.levels import first_round_level
from services.intake.domain.orgs import parse_org_table
from services.intake.domain.submission import level_of_work
from services.review.domain.rounds import round_for_submission
from tests.unit.test_org_import import details_of, table


@pytest.mark.parametrize("org_level, first", [("branch", "level2"), ("level2", "university"), ("university", "university")])
def test_each_org_level_is_first_weighed_where_intake_and_review_agree(org_level, first):
    assert first_round_level(org_level) == first
    assert level_of_work(org_level, None) == first
    assert level_of_work(org_level, "ministry") == "ministry"  # once forwarded, where it was forwarded
    parent = "college-1" if org_level == "branch" else None
    key = round_for_submission("seu", "siyige-2020", "lecture", org_level, parent)
    assert (key.level, key.owner_org_id) == (first, "college-1" if first == "level2" else "")


def test_the_ministry_submits_nothing():
    with pytest.raises(ValueError):
        first_round_level("ministry")


def test_the_committee_row_comes_first_whatever_its_place_in_the_file():
    rows = parse_org_table(table(["计算机学院教工第一党支部", "党支部", "计算机学院党委"],
                                 ["计算机学院党委", "二级党组织"],
                                 ["中共东南大学委员会", "学校党委"]))
    assert [(r.name, r.level, r.parent_name) for r in rows] == [
        ("中共东南大学委员会", "university", None), ("计算机学院党委", "level2", None),
        ("计算机学院教工第一党支部", "branch", "计算机学院党委")]


@pytest.mark.parametrize("word", ["学校党委", "高校党委", "校党委", "university"])
def test_every_way_of_writing_the_committees_level_is_read(word):
    assert parse_org_table(table(["东南大学党委", word]))[0].level == "university"


def test_a_second_committee_in_the_file_is_named_with_the_first():
    details = details_of(table(["东南大学党委", "学校党委"], ["建筑学院党委", "二级党组织"], ["东南大学委员会", "校党委"]))
    assert [(d["row"], d["column"], d["code"]) for d in details] == [(4, "层级", "second_university_org")]
    assert "第2行的「东南大学党委」已是学校党委" in details[0]["message"]


def test_a_committee_other_than_the_stored_one_is_refused_and_the_stored_one_is_updated():
    existing = {"东南大学党委": "university"}
    details = details_of(table(["中共东南大学委员会", "学校党委"]), existing=existing)
    assert [d["code"] for d in details] == ["second_university_org"] and "系统中已登记" in details[0]["message"]
    updated = parse_org_table(table(["东南大学党委", "学校党委", "", "", "", "左书记"]), existing=existing)
    assert updated[0].contact_name == "左书记"


def test_a_committee_has_no_parent():
    details = details_of(table(["计算机学院党委", "二级党组织"], ["东南大学党委", "学校党委", "计算机学院党委"]))
    assert [(d["row"], d["code"]) for d in details] == [(3, "university_has_parent")]


def test_the_ministrys_lecture_takes_every_level_of_party_org(ministry):
    lecture = ministry.tracks["lecture"]
    assert lecture.submit_levels == ["branch", "level2", "university"]
    assert lecture.quota["university"] == 1


def _lecture_decided_at(ministry, level: str, submit: list[str]) -> dict:
    data = ministry.to_dict()
    track = data["tracks"]["lecture"]
    track["submit_levels"], track["decision"], track["forward"] = submit, {"level": level, "kind": "select"}, {}
    track["quota"] = {lv: 1 for lv in submit}
    for stage in track["stages"]:
        stage["deadlines"] = {lv: "2020-07-31" for lv in submit if lv != "university"} or {"branch": "2020-07-31"}
    return data


def test_a_track_decided_by_the_colleges_cannot_take_the_committees_work(ministry):
    """The committee's work is first weighed by the university: a selection that ends with the colleges never sees it."""
    with pytest.raises(Unprocessable) as caught:
        parse_definition(_lecture_decided_at(ministry, "level2", ["branch", "university"]))
    problems = {d["field"]: d for d in caught.value.details}
    assert "tracks.lecture.decision.level" in problems, caught.value.details
    message = problems["tracks.lecture.decision.level"]["message"]
    assert "由二级党组织最终评定" in message and "提交的作品要到" in message, message


def test_a_track_decided_by_the_university_may_take_the_committees_work_with_the_colleges(ministry):
    parsed = parse_definition(_lecture_decided_at(ministry, "university", ["level2", "university"]))
    assert parsed.tracks["lecture"].decision.level == "university"
