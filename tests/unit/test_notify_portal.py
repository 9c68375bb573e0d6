"""What a portal's webhooks carry (services/notify/portal.py): each event built for one university, of its own only,
in the shape the API document describes."""
from types import SimpleNamespace

import pytest
from jsonschema import Draft202012Validator

from common.campaign import campaign_event_data, load_builtin_definitions
from common.errors import Unprocessable
from common.events import make_event
from services.notify import hooks, portal
from services.notify.service import OPENAPI


def valid(event) -> None:
    """The body a receiver gets is what the document's `WebhookEvent` says."""
    validator = Draft202012Validator({**OPENAPI, "$ref": "#/components/schemas/WebhookEvent"})
    errors = [e.message for e in validator.iter_errors(event.to_dict())]
    assert not errors, errors
    schema = Draft202012Validator(portal.data_schema(event.type))
    assert not list(schema.iter_errors(event.data))


CHECKED = make_event("file_checked", "seu", {
    "file_id": "f-1", "submission_id": "s-1", "verdict": "failed", "checked_at": "2020-07-10T02:00:00+00:00",
    "findings": [{"rule": "duration_s le 1800", "severity": "error", "expected": 1800, "actual": 1860,
                  "message": "时长应不超过30分钟，实际为31分钟。"}],
    "facts": {"duration_s": 1860, "width": 1920, "height": 1080, "video_codec": "h264", "audio_codec": "aac",
              "subtitle_coverage": 0.93, "decode_errors": ["frame 3"], "integrity": {"packets": 9}},
    "derived": {"poster": "seu/f-1/poster.jpg"}})
FILE = SimpleNamespace(tenant="seu", name="微党课.mp4", org_id="o-cse", submission_id="s-1")


def test_a_file_check_goes_to_the_university_intake_named_with_the_facts_a_portal_shows():
    event = portal.file_checked(CHECKED, FILE, SimpleNamespace(campaign_id="siyige-2020-seu", track="lecture"))
    valid(event)
    assert event.tenant == "seu" and event.type == "file_checked"
    assert event.data["findings"][0]["message"] == "时长应不超过30分钟，实际为31分钟。"
    assert event.data["facts"] == {"duration_s": 1860, "width": 1920, "height": 1080, "video_codec": "h264",
                                   "audio_codec": "aac", "subtitle_coverage": 0.93}
    assert "derived" not in event.data and event.data["track"] == "lecture"
    # the university is the file's (intake's word), whatever the event's envelope says
    elsewhere = make_event("file_checked", "wust", CHECKED.data)
    assert portal.file_checked(elsewhere, FILE, None).tenant == "seu"
    # the same check, redelivered: the same id (one delivery per subscription)
    assert portal.file_checked(CHECKED, FILE, None).event_id == portal.file_checked(CHECKED, FILE, None).event_id


def ministry_round(decision=None):
    data = {
        "round_id": "rd-m", "campaign_id": "siyige-2020", "track": "story", "level": "ministry", "to_level": None,
        "owner_org_id": None, "selected": ["s-seu", "s-wust"], "not_selected": ["s-seu-2"],
        "results": [
            {"submission_id": "s-seu", "tenant": "seu", "rank": 1, "selected": True, "normalised": 91.5,
             "title": "东南大学的故事", "category": "优秀", "org_name": "计算机学院党委", "fields": {"author": "张三"},
             "comments_for_org": ["叙事完整，建议压缩片头。"]},
            {"submission_id": "s-wust", "tenant": "wust", "rank": 2, "selected": True, "title": "武科大的故事"},
            {"submission_id": "s-seu-2", "tenant": "seu", "rank": 3, "selected": False, "title": "另一个故事"},
        ]}
    if decision:
        data["decision"] = decision
    return make_event("selection_made", "ministry", data)


def test_a_ministry_round_tells_each_university_of_its_own_works_only():
    final = {"level": "ministry", "kind": "award", "label": "全国优秀作品"}
    made = portal.selection_results(ministry_round(final), final, lambda sid, said: said)
    for e in made:
        valid(e)
    assert sorted((e.tenant, e.data["submission_id"], e.data["result"]) for e in made) == [
        ("seu", "s-seu", "awarded"), ("seu", "s-seu-2", "final_not_selected"), ("wust", "s-wust", "awarded")]
    seu = next(e for e in made if e.data["submission_id"] == "s-seu")
    assert "fields" not in seu.data and "org_name" not in seu.data  # what review sent for the library stays here
    assert seu.data["comments_for_org"] == ["叙事完整，建议压缩片头。"] and seu.data["category"] == "优秀"
    assert seu.data["decision"] == {"kind": "award", "label": "全国优秀作品"}
    assert len({e.event_id for e in made}) == 3


def test_a_work_whose_university_notify_knows_otherwise_is_told_to_nobody():
    known = {"s-seu": "seu", "s-wust": "seu"}  # review says wust; the copy says seu: not told at all
    tenant_of = lambda sid, said: said if known.get(sid, said) == said else None  # noqa: E731
    made = portal.selection_results(ministry_round(), None, tenant_of)
    assert sorted((e.tenant, e.data["submission_id"], e.data["result"]) for e in made) == [
        ("seu", "s-seu", "selected"), ("seu", "s-seu-2", "not_selected")]


def test_a_forwarded_work_is_a_result_of_its_university():
    event = make_event("submission_forwarded", "wust", {
        "submission_id": "s-wust-1", "campaign_id": "siyige-2020", "track": "story", "org_id": "o-w",
        "org_name": "研究生院党委", "org_level": "level2", "from_level": "university", "to_level": "ministry",
        "title": "社区里的研究生党员", "receipt_no": "WUST-1", "forwarded_at": "2020-07-20T02:00:00+00:00",
        "fields": {"title": "社区里的研究生党员"}, "files": [{"file_id": "f", "kind": "video", "object_key": "wust/f",
                                                          "size": 1, "content_type": "video/mp4"}]})
    made = portal.forwarded_result(event)
    valid(made)
    assert made.tenant == "wust" and made.data["result"] == "forwarded" and "files" not in made.data


def test_a_campaign_goes_to_each_university_it_is_for_without_its_audience():
    event = make_event("campaign_published", "ministry", campaign_event_data(load_builtin_definitions()["siyige-2020"]))
    made = portal.campaign_published(event, ["seu", "ministry", "wust"])
    assert [e.tenant for e in made] == ["seu", "wust"]
    for e in made:
        valid(e)
        assert "audience" not in e.data and e.data["publisher"] == "ministry"
    assert made[0].event_id != made[1].event_id


def test_a_deadline_reminder_carries_its_kind():
    made = portal.deadline_reminder("submit", "reminder:c:story:submission:o-me:7", "seu", "2020-07-13T01:00:00+00:00", {
        "campaign_id": "c", "campaign_title": "战疫", "track": "story", "track_label": "战疫故事汇",
        "deadline": "2020-07-20T23:59:00+08:00", "days_left": 7, "org_id": "o-me", "org_name": "机械工程学院党委",
        "stage": "submission", "stage_label": "提交作品"})
    valid(made)
    assert made.data["kind_label"] == "提交截止提醒"
    again = portal.deadline_reminder("submit", "reminder:c:story:submission:o-me:7", "seu", "later", made.data)
    assert again.event_id == made.event_id  # the timer's second run adds no second delivery


def test_the_document_lists_what_a_portal_may_subscribe_to():
    schemas = OPENAPI["components"]["schemas"]
    assert schemas["WebhookEvent"]["properties"]["type"]["enum"] == list(hooks.DELIVERABLE)
    assert [s["$ref"].rsplit("/", 1)[1] for s in schemas["WebhookEvent"]["properties"]["data"]["oneOf"]] == list(
        hooks.DELIVERABLE)
    for name in hooks.DELIVERABLE:
        assert schemas[name]["type"] == "object" and schemas[name]["description"].startswith("`data` of")


def test_an_unknown_event_name_is_refused_in_chinese_with_a_stable_code():
    with pytest.raises(Unprocessable) as refused:
        hooks.subscribe(None, "seu", {"url": "https://portal.seu.edu.cn/hooks",
                                      "event_types": ["file_checked", "submission_forwarded", "selection_made"]},
                        lambda url: None)
    assert refused.value.code == "unknown_event_type"
    assert "不能订阅这些事件：selection_made、submission_forwarded" in refused.value.message
    assert "file_checked（文件检查结果）" in refused.value.message  # what may be subscribed to is listed
    assert set(portal.LABELS) == set(hooks.DELIVERABLE)
