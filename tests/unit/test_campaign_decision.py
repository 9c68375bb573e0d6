"""Where a track's selection ends (`decision`): final at a level as an award, a 公示, a library or a vetting.

A university's own campaign ends at the university (同济 2018: 「“两优一先”评选表彰」), a college's notice
at the college; the ministry's campaigns end with the national selection, as every track without a
`decision` always has.
"""
from __future__ import annotations

import copy

import pytest

from common.campaign import COLLECTED, SCORED, VETTED, Decision, PublishedCampaign, load_builtin_definitions, parse_definition
from common.errors import Unprocessable
from common.events import make_event

RUBRIC = [{"key": "deeds", "label": "先进事迹", "weight": 60, "max": 10},
          {"key": "role", "label": "示范作用", "weight": 40, "max": 10}]


def awards() -> dict:
    """A university's 两优一先: branches and colleges nominate, colleges forward, the university awards."""
    return {
        "id": "lianyou-2018", "title": "2018年“两优一先”评选表彰", "timezone": "Asia/Shanghai",
        "tracks": {
            "nomination": {
                "label": "“两优一先”推荐", "department": "organisation", "submit_levels": ["branch"],
                "fields": [
                    {"key": "title", "label": "推荐对象", "type": "string", "required": True},
                    {"key": "category", "label": "表彰类别", "type": "choice", "required": True,
                     "choices": ["member", "worker", "org"],
                     "choice_labels": {"member": "优秀共产党员", "worker": "优秀党务工作者", "org": "先进基层党组织"}},
                    {"key": "deeds", "label": "先进事迹", "type": "text", "required": True},
                ],
                "stages": [{"key": "nomination", "label": "推荐", "required_fields": ["title", "category", "deeds"],
                            "deadlines": {"branch": "2018-06-01", "level2": "2018-06-08"}}],
                "forward": {"level2": 3},
                "rubric": copy.deepcopy(RUBRIC),
                "decision": {"level": "university", "kind": "award", "label": "校级“两优一先”表彰",
                             "category_field": "category", "places": {"member": 20, "worker": 10, "org": 8}},
            },
        },
    }


def problems_of(doc: dict) -> dict[str, str]:
    with pytest.raises(Unprocessable) as caught:
        parse_definition(doc)
    assert caught.value.code == "campaign_invalid"
    return {d["field"]: d["message"] for d in caught.value.details}


def nomination(doc: dict) -> dict:
    return doc["tracks"]["nomination"]


def test_a_university_award_parses_with_its_categories_and_places():
    track = parse_definition(awards()).tracks["nomination"]
    assert track.decision == Decision(level="university", kind="award", label="校级“两优一先”表彰",
                                      places={"member": 20, "worker": 10, "org": 8}, category_field="category")
    assert track.decision.title == "校级“两优一先”表彰"
    assert track.judged == SCORED
    assert parse_definition(parse_definition(awards()).to_dict()) == parse_definition(awards())


def test_a_track_without_a_decision_ends_with_the_ministrys_selection_and_the_material_in_the_library():
    ministry = load_builtin_definitions()["siyige-2020"]
    assert ministry.tracks["lecture"].decision == Decision()
    assert (ministry.tracks["lecture"].decision.level, ministry.tracks["lecture"].decision.title) == ("ministry", "择优入选")
    assert ministry.tracks["material"].decision.kind == "library"
    assert "decision" not in ministry.to_dict()["tracks"]["lecture"]  # nothing said, nothing written


def test_tracks_without_a_rubric_are_collected_and_a_vetting_is_neither_scored_nor_collected():
    ministry = load_builtin_definitions()["siyige-2020"]
    assert {key: t.judged for key, t in ministry.tracks.items()} == {
        "lecture": SCORED, "story": SCORED, "meeting_report": COLLECTED, "material": SCORED, "report": COLLECTED}
    doc = awards()
    nomination(doc).update(rubric=[], decision={"level": "university", "kind": "vetting"})
    assert parse_definition(doc).tracks["nomination"].judged == VETTED


def test_the_event_carries_the_decision_and_an_early_event_without_one_reads_as_the_ministrys():
    data = PublishedCampaign.of(parse_definition(awards()), "tongji.lianyou-2018").to_event()
    make_event("campaign_published", "tongji", data)  # the catalogue's schema takes it
    assert data["tracks"]["nomination"]["decision"]["places"] == {"member": 20, "worker": 10, "org": 8}
    back = PublishedCampaign.from_event(data).tracks["nomination"]
    assert back.decision == parse_definition(awards()).tracks["nomination"].decision and back.judged == SCORED
    early = copy.deepcopy(data)
    del early["tracks"]["nomination"]["decision"]
    assert PublishedCampaign.from_event(early).tracks["nomination"].decision == Decision()


@pytest.mark.parametrize("edit, place", [
    # the deciding level submits too: nobody judges its works
    (lambda t: (t.update(submit_levels=["branch", "level2"], forward={}), t["decision"].update(level="level2"),
                t["stages"][0]["deadlines"].pop("level2")), "tracks.nomination.decision.level"),
    # nothing is forwarded from the level that decides, nor from above it
    (lambda t: t["forward"].update(university=5), "tracks.nomination.forward.university"),
    # nor is anything due there: a deadline is when a level hands its works up
    (lambda t: t["stages"][0]["deadlines"].update(university="2018-06-20"),
     "tracks.nomination.stages.nomination.deadlines.university"),
    (lambda t: t["decision"].update(kind="publicity"), "tracks.nomination.decision.publicity_days"),
    (lambda t: t["decision"].update(publicity_days=7), "tracks.nomination.decision.publicity_days"),
    (lambda t: t["decision"].update(kind="select"), "tracks.nomination.decision.category_field"),
    (lambda t: t["decision"].update(kind="vetting"), "tracks.nomination.rubric"),
    (lambda t: t.update(rubric=[]), "tracks.nomination.rubric"),
    (lambda t: t["decision"].pop("category_field"), "tracks.nomination.decision.places"),
    (lambda t: t["decision"]["places"].update(youth=5), "tracks.nomination.decision.places"),
    (lambda t: t["decision"].update(category_field="deeds"), "tracks.nomination.decision.category_field"),
    (lambda t: t["fields"][1].update(required=False), "tracks.nomination.fields.category.required"),
    # the structure: known kinds and levels, a 公示期 of days, at least one place
    (lambda t: t["decision"].update(kind="lottery"), "tracks.nomination.decision.kind"),
    (lambda t: t["decision"].update(level="branch"), "tracks.nomination.decision.level"),
    (lambda t: t["decision"].update(kind="publicity", category_field=None) or t["decision"].pop("category_field")
     or t["decision"].update(places=5, publicity_days=31), "tracks.nomination.decision.publicity_days"),
    (lambda t: t["decision"].update(places=0), "tracks.nomination.decision.places"),
    (lambda t: t["decision"].pop("level"), "tracks.nomination.decision.level"),
])
def test_a_decision_that_cannot_work_is_refused_at_its_place_in_chinese(edit, place):
    doc = awards()
    edit(nomination(doc))
    found = problems_of(doc)
    assert place in found, found
    assert all("请" in message for message in found.values())


def test_a_publicity_names_its_period_and_a_library_or_vetting_needs_no_categories():
    for decision in ({"level": "university", "kind": "publicity", "publicity_days": 7, "places": 10},
                     {"level": "university", "kind": "library", "label": "学校素材库"},
                     {"level": "level2", "kind": "select"}):
        doc = awards()
        nomination(doc)["decision"] = decision
        nomination(doc)["forward"] = {"level2": 3} if decision["level"] == "university" else {}
        nomination(doc)["stages"][0]["deadlines"] = {"branch": "2018-06-01"}
        assert parse_definition(doc).tracks["nomination"].decision == Decision.from_dict(decision)
