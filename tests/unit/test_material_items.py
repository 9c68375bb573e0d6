"""Material quotas count items as the notice does, and a work case needs its document (issue #16).

东南大学: 「各基层党组织提交1-2个工作案例，10件左右图片和音视频素材」 — a work case counts as one work; pictures and
audio/video count 件 by 件, one item a file, across an org's works of form media (quota_items), capped at 10. The
ministry's plan names 工作案例 among the material forms; a case is written up, so a work of form work_case needs its
document (required_when), in the ministry's definition and in every copy of it.
"""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest

from common.campaign import PublishedCampaign, campaign_event_data, check_tightens, parse_definition
from common.campaign.model import items_of
from common.errors import Conflict, Unprocessable
from services.intake.domain import submission as rules
from services.intake.domain.lifecycles import FileState, SubmissionState

PLUS8 = timezone(timedelta(hours=8))
AUTUMN = datetime(2020, 9, 10, 10, 0, tzinfo=PLUS8)  # the material stage opens 2020-09-01
ORG = ("计算机科学与技术学院党委", "计算机学院党委")


def material_work(track, form: str, title: str = "计算机学院党委抗疫纪实") -> rules.WorkFacts:
    return rules.WorkFacts(track=track, state=SubmissionState.DRAFT, last_stage=None, receipt_no=None,
                           org_level="level2", org_names=ORG, title=title, fields={"title": title, "form": form},
                           now=AUTUMN, extension=None)


def stored(*kinds: str) -> tuple[rules.FileFacts, ...]:
    return tuple(rules.FileFacts(kind, f"文件{i}.{kind}", FileState.STORED, "passed") for i, kind in enumerate(kinds))


def submit(track, themes, form: str, files=(), used_quota=0, used_items=0) -> rules.Submitting:
    facts = rules.SubmitFacts(material_work(track, form), None, themes, used_quota, tuple(files), used_items=used_items)
    return rules.decide_submit(facts)


@pytest.fixture
def material(seu):
    return seu.tracks["material"]


# --------------------------------------------------------------------------- the definitions say it


def test_the_definitions_count_items_and_require_a_case_document(builtin):
    for key in ("siyige-2020", "siyige-2020-seu", "siyige-2020-wust"):
        stage = builtin[key].tracks["material"].stage("submission")
        document = next(f for f in stage.files if f.kind == "document")
        assert document.required_when == {"form": ["work_case"]}, key
        assert document.min == 0  # an article or a picture set needs no document
    seu = builtin["siyige-2020-seu"].tracks["material"]
    assert seu.quota == {"level2": {"work_case": 2, "media": 10}}
    assert seu.quota_items == {"media": ["image", "audio", "video"]}
    assert seu.item_kinds({"form": "media"}) == ["image", "audio", "video"]
    assert seu.item_kinds({"form": "work_case"}) is None  # a case is one work
    # the ministry and WUST name no number: nothing is counted in files there
    assert builtin["siyige-2020"].tracks["material"].quota_items == {}
    assert builtin["siyige-2020-wust"].tracks["material"].quota_items == {}


def test_a_definition_round_trips_with_the_new_keys(builtin):
    for definition in builtin.values():
        assert parse_definition(definition.to_dict()) == definition


def test_an_item_is_a_file_and_a_work_is_at_least_one():
    assert items_of(["image", "audio", "video"], ["image"] * 6 + ["document"]) == 6
    assert items_of(["image", "audio", "video"], ["video", "audio"]) == 2
    # a work of form media with no picture is still one 素材: counting items is never looser than counting works
    assert items_of(["image"], []) == 1
    assert items_of(["image"], ["document"]) == 1


def _raw(builtin, key="siyige-2020-seu"):
    return copy.deepcopy(builtin[key].raw)


def _problems(raw) -> dict[str, str]:
    with pytest.raises(Unprocessable) as caught:
        parse_definition(raw)
    assert caught.value.code == "campaign_invalid"
    return {d["field"]: d["message"] for d in caught.value.details}


def _document(raw):
    stage = next(s for s in raw["tracks"]["material"]["stages"] if s["key"] == "submission")
    return next(f for f in stage["files"] if f["kind"] == "document")


def test_required_when_names_a_choice_field_and_its_values(builtin):
    raw = _raw(builtin)
    _document(raw)["required_when"] = {"summary": ["x"]}
    found = _problems(raw)
    place = "tracks.material.stages.submission.files.document.required_when.summary"
    assert "不是本赛道的选择题字段" in found[place] and "请" in found[place]
    raw = _raw(builtin)
    _document(raw)["required_when"] = {"form": ["case"]}
    found = _problems(raw)
    assert "case" in found["tracks.material.stages.submission.files.document.required_when.form"]
    raw = _raw(builtin)
    _document(raw)["max"] = 0
    assert "无人能满足" in _problems(raw)["tracks.material.stages.submission.files.document.required_when"]


def test_quota_items_need_a_quota_field_its_values_and_kinds_the_track_takes(builtin):
    raw = _raw(builtin)
    raw["tracks"]["material"]["quota_items"] = {"poster": ["image"]}
    assert "poster" in _problems(raw)["tracks.material.quota_items.poster"]
    raw = _raw(builtin)
    raw["tracks"]["material"]["quota_items"] = {"media": ["subtitle"]}
    assert "不接收" in _problems(raw)["tracks.material.quota_items.media"]
    raw = _raw(builtin, "siyige-2020")
    raw["tracks"]["material"]["quota_items"] = {"media": ["image"]}
    assert "quota_field" in _problems(raw)["tracks.material.quota_items"]
    raw = _raw(builtin)
    raw["tracks"]["material"]["quota_items"] = {"media": ["pdf"]}  # not a file kind at all: the schema says so
    assert any(p.startswith("tracks.material.quota_items.media") for p in _problems(raw))


def test_a_copy_may_not_drop_the_case_document_but_may_require_it_of_every_work(builtin):
    parent = builtin["siyige-2020"]
    child = _raw(builtin)
    del _document(child)["required_when"]
    with pytest.raises(Unprocessable) as caught:
        check_tightens(parent, parse_definition(child))
    assert [d["field"] for d in caught.value.details] == [
        "tracks.material.stages.submission.files.document.required_when.form"]
    assert "work_case" in caught.value.message
    _document(child)["min"] = 1  # every material work with a document: stricter, no condition needed
    check_tightens(parent, parse_definition(child))


def test_the_event_says_whether_files_are_named_by_the_rule(builtin):
    data = campaign_event_data(builtin["siyige-2020-wust"])
    assert data["tracks"]["material"]["naming_rule"] is True
    assert "naming_rule" not in data["tracks"]["lecture"]  # written only when it says something
    back = PublishedCampaign.from_event(data)
    assert back.tracks["material"].naming_rule and not back.tracks["lecture"].naming_rule


# --------------------------------------------------------------------------- intake decides by them


def test_a_work_case_without_its_document_is_refused_with_what_to_do(seu, material):
    with pytest.raises(Unprocessable) as caught:
        submit(material, seu.themes, "work_case", stored("image", "image"))
    error = caught.value
    assert (error.code, error.field, error.expected, error.found) == ("file_missing", "files.document", 1, 0)
    assert "工作案例需附文档" in error.message
    assert "请上传" in error.message
    outcome = submit(material, seu.themes, "work_case", stored("document", "image"))
    assert outcome.final


def test_an_article_or_a_picture_set_needs_no_document(seu, material):
    assert submit(material, seu.themes, "article").final
    assert submit(material, seu.themes, "media", stored("image", "image", "image")).final


def test_pictures_and_clips_count_one_item_each_up_to_ten(seu, material):
    # 7 items already in: a set of 3 more fits, a set of 4 does not
    assert submit(material, seu.themes, "media", stored("image", "image", "video"), used_items=7).final
    with pytest.raises(Conflict) as caught:
        submit(material, seu.themes, "media", stored("image", "image", "image", "audio"), used_items=7)
    error = caught.value
    assert (error.code, error.status, error.expected, error.found) == ("too_many_items", 409, 10, 11)
    assert "最多提交 10 件" in error.message and "已提交 7 件" in error.message and "本作品有 4 件" in error.message
    assert "减到 3 个以内" in error.message  # what to do: how many may stay


def test_when_the_items_are_used_up_the_org_is_told_to_withdraw_one(seu, material):
    with pytest.raises(Conflict) as caught:
        submit(material, seu.themes, "media", stored("image"), used_items=10)
    assert caught.value.code == "too_many_items"
    assert "撤回" in caught.value.message


def test_a_document_in_a_picture_set_is_not_an_item(seu, material):
    assert submit(material, seu.themes, "media", stored("image", "document", "document"), used_items=9).final


def test_work_cases_still_count_as_works(seu, material):
    assert submit(material, seu.themes, "work_case", stored("document"), used_quota=1).final
    with pytest.raises(Conflict) as caught:
        submit(material, seu.themes, "work_case", stored("document"), used_quota=2)
    assert caught.value.code == "quota_exceeded"


def test_without_items_in_the_definition_nothing_is_counted_in_files(wust):
    track = wust.tracks["material"]
    assert submit(track, wust.themes, "media", stored(*["image"] * 40)).final
