"""The field types the seeds need besides text: a number, a phone number, several choices, a list of people;
and the title every track must have."""
from __future__ import annotations

import copy

import pytest

from common.campaign import load_builtin_definitions, parse_definition
from common.campaign.values import field_text
from common.errors import Unprocessable
from services.intake.domain import submission as rules

NOMINATION_FIELDS = [
    {"key": "title", "label": "推荐对象", "type": "string", "required": True},
    {"key": "members", "label": "参会党员人数", "type": "number", "min_value": 1, "max_value": 500},
    {"key": "phone", "label": "联系电话", "type": "phone"},
    {"key": "forms", "label": "活动形式", "type": "choices", "choices": ["online", "offline", "practice"],
     "choice_labels": {"online": "线上", "offline": "线下", "practice": "实践"}, "min_items": 1, "max_items": 2},
    {"key": "nominees", "label": "推荐人选", "type": "people", "min_items": 1, "max_items": 3, "identifying": True},
]


def definition(fields=None, **track) -> dict:
    doc = copy.deepcopy(load_builtin_definitions()["siyige-2020"].raw)
    report = doc["tracks"]["report"]
    report["fields"] = copy.deepcopy(fields if fields is not None else NOMINATION_FIELDS)
    report["stages"][0]["required_fields"] = ["title"]
    report.update(track)
    return doc


@pytest.fixture(scope="module")
def track():
    return parse_definition(definition()).tracks["report"]


def check(track, **fields):
    return rules.check_fields(track, {"title": "某某", **fields}, [], required=["title"])


def refused(track, **fields) -> tuple[str, str]:
    with pytest.raises(Unprocessable) as caught:
        check(track, **fields)
    return caught.value.code, caught.value.message


GOOD_PERSON = {"name": "张三", "post": "党支部书记", "org": "计算机学院教工第一党支部"}


def test_good_values_of_every_new_type_pass(track):
    check(track, members=25, phone="13812345678", forms=["online", "practice"], nominees=[GOOD_PERSON, {"name": "李四"}])
    check(track, members=12.5, phone="025-83792345", forms=["offline"], nominees=[GOOD_PERSON])
    check(track, phone="0411 87654321")


@pytest.mark.parametrize("fields, code", [
    ({"members": "25"}, "not_a_number"),
    ({"members": True}, "not_a_number"),
    ({"members": 0}, "number_too_small"),
    ({"members": 501}, "number_too_large"),
    ({"phone": "1381234567"}, "invalid_phone"),
    ({"phone": "83792345"}, "invalid_phone"),  # a landline without its area code
    ({"phone": 13812345678}, "invalid_phone"),
    ({"forms": "online"}, "wrong_type"),
    ({"forms": ["online", "hybrid"]}, "not_a_choice"),
    ({"forms": ["online", "online"]}, "duplicate_choice"),
    ({"forms": ["online", "offline", "practice"]}, "too_many_items"),
    ({"nominees": {"name": "张三"}}, "wrong_type"),
    ({"nominees": [{"post": "书记"}]}, "invalid_person"),
    ({"nominees": [{"name": "张三", "phone": "138"}]}, "invalid_person"),
    ({"nominees": [{"name": "张三", "post": 3}]}, "invalid_person"),
    ({"nominees": [{"name": "张三\n李四"}]}, "multiline"),
    ({"nominees": [GOOD_PERSON] * 4}, "too_many_items"),
])
def test_a_bad_value_is_refused_with_its_code_and_a_chinese_message(track, fields, code):
    found, message = refused(track, **fields)
    assert found == code, message
    label = next(f["label"] for f in NOMINATION_FIELDS if f["key"] in fields)
    assert label in message


def test_an_empty_required_list_of_people_is_missing():
    spec = parse_definition(definition()).tracks["report"]
    with pytest.raises(Unprocessable) as caught:
        rules.check_fields(spec, {"title": "某某", "nominees": []}, [], required=["title", "nominees"])
    assert caught.value.code == "missing_field"


def test_values_read_as_one_line():
    assert field_text([GOOD_PERSON, {"name": "李四"}]) == "张三（党支部书记，计算机学院教工第一党支部）、李四"
    assert field_text(25.0) == "25" and field_text(["online", "practice"]) == "online、practice" and field_text(None) == ""


@pytest.mark.parametrize("fields, place", [
    ([f for f in NOMINATION_FIELDS if f["key"] != "title"], "tracks.report.fields.title"),
    ([{**NOMINATION_FIELDS[0], "required": False}, *NOMINATION_FIELDS[1:]], "tracks.report.fields.title"),
    ([{**NOMINATION_FIELDS[0], "type": "text"}, *NOMINATION_FIELDS[1:]], "tracks.report.fields.title"),
    ([*NOMINATION_FIELDS[:1], {**NOMINATION_FIELDS[1], "min_value": 9, "max_value": 2}],
     "tracks.report.fields.members.min_value"),
    ([*NOMINATION_FIELDS[:2], {**NOMINATION_FIELDS[2], "max_value": 2}], "tracks.report.fields.phone.max_value"),
    ([*NOMINATION_FIELDS[:3], {k: v for k, v in NOMINATION_FIELDS[3].items() if k != "choices"}],
     "tracks.report.fields.forms"),
])
def test_the_format_refuses_a_field_that_cannot_work(fields, place):
    with pytest.raises(Unprocessable) as caught:
        parse_definition(definition(fields))
    assert place in {d["field"] for d in caught.value.details}, caught.value.details


def test_every_text_field_of_a_track_is_prose_whatever_its_name():
    from common.text import PROSE_FIELDS, prose_keys, work_prose

    specs = [{"key": "title", "type": "string"}, {"key": "deeds", "type": "text"}, {"key": "phone", "type": "phone"},
             {"key": "plan", "type": "text"}]
    assert prose_keys(specs) == ("deeds", "plan")
    fields = {"title": "张三同志", "deeds": "带领突击队坚守社区。", "plan": "创建方案。", "phone": "13812345678"}
    assert work_prose(fields, prose_keys(specs)) == "张三同志\n带领突击队坚守社区。\n创建方案。"
    # a track not known to the reader: the free-text fields of the shipped definitions
    assert prose_keys(None) == PROSE_FIELDS and work_prose({"title": "题", "text": "正文"}) == "题\n正文"
