"""When a stage opens, whom to ask, and the notice's own words (issue #16: opening dates, contacts, the notice).

The plan starts the material collection 「秋季开学后」: the stage opens on 2020-09-01 (a platform reading; the
plan names no day) and intake refuses a submission before it with `stage_not_open`, while drafts may be written.
The seeds' 「联系人和报送方式」 are the definitions' `contacts`, checked so that an org can reach them.
"""
from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from common.campaign import PublishedCampaign, campaign_event_data, check_tightens, load_builtin_definitions, parse_definition
from common.campaign.events import TRACKS_SCHEMA
from common.errors import DomainError, Unprocessable
from services.intake.domain import submission as rules
from services.intake.domain.lifecycles import SubmissionState

PLUS8 = timezone(timedelta(hours=8))
BUILTIN = load_builtin_definitions()
MATERIAL = {"title": "战疫中的党支部", "form": "article"}


def raw(name: str = "siyige-2020") -> dict:
    return copy.deepcopy(BUILTIN[name].raw)


def material_stage(doc: dict) -> dict:
    [stage] = doc["tracks"]["material"]["stages"]
    return stage


def problems_of(doc: dict) -> dict[str, str]:
    with pytest.raises(Unprocessable) as caught:
        parse_definition(doc)
    assert caught.value.code == "campaign_invalid"
    return {d["field"]: d["message"] for d in caught.value.details}


# --------------------------------------------------------------------------- the shipped definitions


@pytest.mark.parametrize("name", ["siyige-2020", "siyige-2020-seu", "siyige-2020-wust"])
def test_the_material_collection_opens_at_the_start_of_the_autumn_term(name):
    [stage] = BUILTIN[name].tracks["material"].stages
    assert stage.opens == datetime(2020, 9, 1, 0, 0, tzinfo=PLUS8)
    # every other stage is open from publication
    assert [s.key for t in BUILTIN[name].tracks.values() for s in t.stages if s.opens is not None] == ["submission"]


def test_the_contacts_are_the_seeds():
    seu, wust = BUILTIN["siyige-2020-seu"].contacts, BUILTIN["siyige-2020-wust"].contacts
    assert [(c.name, c.department, c.phone, c.email) for c in seu] == [
        ("崔琳", "organisation", "025-52090134", "seuzzb@126.com")]
    assert [(c.name, c.department, c.phone) for c in wust] == [
        ("郑娟", "organisation", "13871155658"), ("郑永松", "organisation", "15697181255"),
        ("仵霜", "propaganda", "15697181533"), ("瞿孝平", "propaganda", "18062136802")]
    assert {c.email for c in wust if c.department == "propaganda"} == {"xcb@wust.edu.cn"}
    assert BUILTIN["siyige-2020"].contacts == []  # the plan itself names none


def test_opening_contacts_and_notice_survive_the_round_trip():
    doc = raw("siyige-2020-wust")
    doc["notice"] = "各二级党组织：\n\n为深入贯彻……\n\n党委组织部\n2020年6月10日"
    definition = parse_definition(doc)
    assert parse_definition(definition.to_dict()) == definition
    assert definition.notice.count("\n") == 5  # the notice keeps its lines; titles and labels may not


# --------------------------------------------------------------------------- refused definitions


def test_a_stage_that_opens_after_its_first_deadline_is_refused():
    doc = raw()
    material_stage(doc)["opens"] = "2020-11-01"
    found = problems_of(doc)
    assert list(found) == ["tracks.material.stages.submission.opens"]
    assert "2020-11-01 00:00" in found["tracks.material.stages.submission.opens"]
    assert "2020-10-31 23:59" in found["tracks.material.stages.submission.opens"]


def test_an_opening_that_is_no_date_is_refused():
    doc = raw()
    material_stage(doc)["opens"] = "2020-09-31"
    assert list(problems_of(doc)) == ["tracks.material.stages.submission.opens"]


@pytest.mark.parametrize("contact, where", [
    ({"name": "崔琳", "phone": "5209"}, "contacts.0.phone"),
    ({"name": "崔琳"}, "contacts.0"),
    ({"name": "崔琳", "email": "seuzzb"}, "contacts.0.email"),
    ({"name": "崔琳", "phone": "025-52090134", "department": "finance"}, "contacts.0.department"),
])
def test_a_contact_no_one_can_reach_is_refused(contact, where):
    doc = raw()
    doc["contacts"] = [contact]
    assert where in problems_of(doc)


def test_a_title_still_may_not_break_lines():
    doc = raw()
    doc["title"] = "四个一\n行动"
    assert "title" in problems_of(doc)


# --------------------------------------------------------------------------- copies


def test_a_copy_may_open_later_but_not_earlier_nor_drop_the_opening():
    parent = BUILTIN["siyige-2020"]
    later = raw("siyige-2020-seu")
    material_stage(later)["opens"] = "2020-09-07"  # its own notice goes out a week later: stricter
    check_tightens(parent, parse_definition(later))
    for opens in ("2020-08-15", None):
        child = raw("siyige-2020-seu")
        if opens is None:
            material_stage(child).pop("opens")
        else:
            material_stage(child)["opens"] = opens
        with pytest.raises(Unprocessable) as caught:
            check_tightens(parent, parse_definition(child))
        assert [d["field"] for d in caught.value.details] == ["tracks.material.stages.submission.opens"]
        assert "不能提前" in caught.value.details[0]["message"]


# --------------------------------------------------------------------------- the event


def test_campaign_published_carries_the_opening():
    from jsonschema import Draft202012Validator

    data = campaign_event_data(BUILTIN["siyige-2020-wust"], "siyige-2020-wust", "siyige-2020")
    assert data["tracks"]["material"]["opens"] == {"submission": "2020-09-01T00:00:00+08:00"}
    assert "opens" not in data["tracks"]["story"]  # nothing to say: open from publication
    assert not list(Draft202012Validator(TRACKS_SCHEMA).iter_errors(data["tracks"]))
    back = PublishedCampaign.from_event(data)
    assert back.tracks["material"].opens == {"submission": datetime(2020, 9, 1, tzinfo=PLUS8)}
    assert back.tracks["story"].opens == {}


# --------------------------------------------------------------------------- intake


def material_work(now: datetime) -> rules.WorkFacts:
    track = BUILTIN["siyige-2020-seu"].tracks["material"]
    return rules.WorkFacts(track=track, state=SubmissionState.DRAFT, last_stage=None, receipt_no=None,
                           org_level="level2", org_names=("计算机科学与工程学院党委",), title=MATERIAL["title"],
                           fields=MATERIAL, now=now, extension=None)


def submit_material(now: datetime) -> rules.Submitting:
    return rules.decide_submit(rules.SubmitFacts(material_work(now), None, [], 0, ()))


def test_a_submission_before_the_opening_is_refused_saying_when_it_opens():
    with pytest.raises(DomainError) as caught:
        submit_material(datetime(2020, 8, 31, 23, 59, tzinfo=PLUS8))
    error = caught.value
    assert (error.code, error.status) == ("stage_not_open", 409)
    assert "2020年09月01日 00:00" in error.message and "草稿" in error.message
    assert error.expected == "2020-09-01T00:00:00+08:00"


def test_from_the_opening_minute_it_is_taken():
    outcome = submit_material(datetime(2020, 9, 1, 0, 0, tzinfo=PLUS8))
    assert (outcome.stage.key, outcome.final) == ("submission", True)


def test_editing_a_draft_before_the_opening_is_allowed_and_a_withdrawn_one_still_is_not():
    early = material_work(datetime(2020, 7, 1, 9, 0, tzinfo=PLUS8))
    assert rules.check_editable(early, "修改") is None  # raises when refused
    with pytest.raises(DomainError) as caught:
        rules.check_editable(replace(early, state=SubmissionState.WITHDRAWN), "修改")
    assert caught.value.code == "submission_withdrawn"
