"""The event catalogue (common/events.py): envelopes, schemas, subscribers, queues, README table."""
from __future__ import annotations

import copy
import importlib
import inspect
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from jsonschema import Draft202012Validator

from common.campaign import MEDIA_FACTS, PublishedCampaign, campaign_event_data, load_builtin_definitions
from common.errors import InvalidInput
from common.events import (
    CATALOGUE,
    ENVELOPE_SCHEMA,
    InvalidEvent,
    catalogue_markdown,
    event_type,
    make_event,
    subscriptions,
    validate_envelope,
)

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "media", "review", "notify")
PLUS8 = timezone(timedelta(hours=8))

# One valid `data` per event type, as the producing service sends it.
SAMPLE_DATA: dict[str, dict] = {
    "campaign_published": {
        "campaign_id": "siyige-2020-seu",
        "derives_from": "siyige-2020",
        "title": "让党旗始终高高飘扬（东南大学）",
        "tracks": {
            "lecture": {
                "label": "专题微党课",
                "department": "organisation",
                "media": {"video": {"kind": "video", "max_bytes": 2147483648, "rules": []}},
                "rubric": [{"key": "thought", "label": "思想性", "weight": 40, "max": 10}],
                "deadlines": {"registration": {"level2": "2020-06-15T12:00:00+08:00"}},
                "submit_levels": ["level2"],
                "stage_labels": {"registration": "报名", "video": "党课视频"},
            },
        },
    },
    "account_invited": {
        "account_id": "a-1", "name": "李华", "email": "lihua@seu.edu.cn", "tenant_name": "东南大学",
        "invited_by": "key:sk_seu_ab12 (portal)", "roles": ["部门管理员（党委宣传部）"],
        "accept_url": "http://localhost:8000/invitations/tok", "link_expires_at": "2020-07-20T08:00:00+00:00",
    },
    "account_link_requested": {
        "account_id": "a-1", "name": "李华", "email": "lihua@seu.edu.cn", "purpose": "sign_in",
        "url": "http://localhost:8000/sign-in/link/tok", "link_expires_at": "2020-07-20T08:00:00+00:00",
        "requested_from": "203.0.113.7",
    },
    "account_sessions_ended": {"account_id": "a-1", "reason": "signed_out", "intake_session": "ab" * 32},
    "api_key_issued": {"key_hash": "a" * 64, "tenant_kind": "university", "tenant_name": "东南大学"},
    "api_key_revoked": {"key_hash": "b" * 64},
    "orgs_imported": {
        "orgs": [
            {"org_id": "o-1", "name": "计算机学院党委", "level": "level2", "parent_id": None,
             "contact_email": "cse@demo.local"},
            {"org_id": "o-2", "name": "计算机学院教工第一党支部", "level": "branch", "parent_id": "o-1",
             "contact_email": None},
        ],
    },
    "submission_submitted": {
        "submission_id": "s-1",
        "campaign_id": "siyige-2020-seu",
        "track": "story",
        "stage": "submission",
        "final_stage": True,
        "org_id": "o-1",
        "org_name": "计算机学院党委",
        "org_level": "level2",
        "title": "计算机学院党委战疫故事",
        "receipt_no": "SEU-20200714-00042",
        "submitted_at": "2020-07-14T09:30:00+08:00",
        "file_ids": ["f-1", "f-2"],
        "contact_email": None,
    },
    "submission_withdrawn": {
        "submission_id": "s-1",
        "campaign_id": "siyige-2020-seu",
        "track": "story",
        "org_id": "o-1",
        "withdrawn_at": "2020-07-15T10:00:00+08:00",
    },
    "submission_reopened": {
        "submission_id": "s-1",
        "campaign_id": "seu.siyige-2020-seu",
        "track": "lecture",
        "org_id": "o-1",
        "org_name": "计算机学院党委",
        "org_level": "level2",
        "title": "让党旗高高飘扬",
        "stage": "registration",
        "stages_submitted": ["registration"],
        "reopened_stage": "video",
        "reason": "file_deleted",
        "file_id": "f-1",
        "voided_receipts": ["SEU-20200714-00043"],
        "reopened_at": "2020-07-15T10:00:00+08:00",
    },
    "file_uploaded": {
        "file_id": "f-1",
        "submission_id": "s-1",
        "campaign_id": "siyige-2020-seu",
        "track": "lecture",
        "kind": "video",
        "object_key": "seu/s-1/f-1",
        "size": 123456,
        "sha256": "a" * 64,
        "content_type": "video/mp4",
        "original_name": "党课.mp4",
        "org_id": "o-1",
    },
    "file_checked": {
        "file_id": "f-1",
        "submission_id": "s-1",
        "verdict": "warnings",
        "findings": [{"rule": "width eq 1920", "severity": "warning", "message": "学校建议分辨率1920×1080。",
                      "expected": 1920, "actual": 1280}],
        "facts": {"width": 1280, "height": 720},
        "checked_at": "2020-06-20T08:00:00+00:00",
        "derived": {"poster": "derived/seu/f-1/poster.jpg"},
    },
    "tenant_registered": {"name": "东南大学", "kind": "university", "contact_email": "seuzzb@126.com"},
    "reviewer_invited": {
        "reviewer_id": "r-1", "round_id": "rd-1", "name": "王老师", "email": "wang@example.edu.cn",
        "round_title": "东南大学 · 战疫故事汇 · 校级评审", "sign_in_url": "http://localhost:8001/sign-in/abc",
        "link_expires_at": "2020-07-20T08:00:00+00:00", "assigned": 40, "open": 40,
    },
    "selection_made": {
        "round_id": "rd-1", "campaign_id": "siyige-2020-seu", "track": "story", "level": "university",
        "to_level": "ministry", "owner_org_id": None, "selected": ["s-1"], "not_selected": ["s-2"],
        "results": [{"submission_id": "s-1", "tenant": "seu", "rank": 1, "selected": True, "normalised": 88.5},
                    {"submission_id": "s-2", "tenant": "seu", "rank": 2, "selected": False, "normalised": 70.0}],
    },
    "publicity_ended": {
        "round_id": "rd-1", "campaign_id": "honours-2021", "track": "members", "level": "university", "label": "公示",
        "publicity_days": 5, "confirmed_at": "2020-07-20T01:00:00+00:00", "until": "2020-07-25",
        "ended_at": "2020-07-25T16:00:00+00:00",
        "works": [{"submission_id": "s-1", "tenant": "seu", "title": "张1同志先进事迹"}],
    },
    "review_audited": {
        "round_id": "rd-1", "tenant": "seu", "actor": "reviewer:r-1 (王老师)", "action": "score.submitted",
        "object_type": "assignment", "object_id": "a-1",
        "detail": {"round_title": "东南大学 · 战疫故事汇 · 校级评审", "submission_id": "s-1", "score_total": 80.0},
        "address": "203.0.113.7", "at": "2020-07-20T08:00:00+00:00",
    },
    "submission_forwarded": {
        "submission_id": "s-1", "campaign_id": "siyige-2020-seu", "track": "story", "org_id": "o-1",
        "org_name": "计算机学院党委", "org_level": "level2", "from_level": "university", "to_level": "ministry",
        "title": "战疫故事", "receipt_no": "SEU-20200714-0001", "forwarded_at": "2020-07-25T08:00:00+00:00",
        "fields": {"title": "战疫故事", "text": "……"},
        "files": [{"file_id": "f-1", "kind": "image", "object_key": "seu/f-1", "size": 1234,
                   "content_type": "image/jpeg"}],
        "tenant_name": "东南大学", "root_campaign_id": "siyige-2020",
    },
    "extension_granted": {
        "extension_id": "x-1", "campaign_id": "siyige-2020-seu", "track": "story", "stage": "submission",
        "stage_label": "提交作品", "org_id": "o-1", "org_name": "计算机科学与工程学院党委", "org_level": "level2",
        "until": "2020-07-25T23:59:00+08:00", "reason": "疫情封校，视频拍摄推迟", "granted_at": "2020-07-18T02:00:00+00:00",
    },
    "supervision_reminded": {
        "campaign_id": "wust.siyige-2020-wust", "campaign_title": "让党旗始终高高飘扬（武汉科技大学）", "track": "material",
        "track_label": "教育素材", "tenant_name": "武汉科技大学", "requested_at": "2020-10-16T01:00:00+00:00",
        "asked_by": {"account_id": "a-1", "name": "王宣传", "email": "wangxc@wust.edu.cn", "role": "部门管理员（党委宣传部）"},
        "recipients": [{"org_id": "o-1", "name": "资源与环境工程学院党委", "level": "level2",
                        "contact_email": "zh@wust.edu.cn", "contact_name": "张老师", "stage": "submission",
                        "stage_label": "提交作品", "deadline": "2020-10-15T23:59:59+08:00", "days_late": 1}],
    },
}

# For each type: an id its data requires (to drop) — the first required key.
REQUIRED_ID = {name: sorted(et.data_schema["required"])[0] for name, et in CATALOGUE.items()}


def envelope(name: str = "submission_withdrawn", tenant: str = "seu", **over) -> dict:
    doc = make_event(name, tenant, copy.deepcopy(SAMPLE_DATA[name])).to_dict()
    doc.update(over)
    return doc


# =========================================================================== the catalogue itself


def test_every_type_has_sample_data():
    assert set(SAMPLE_DATA) == set(CATALOGUE)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_data_schema_is_a_valid_json_schema(name):
    et = CATALOGUE[name]
    Draft202012Validator.check_schema(et.data_schema)
    assert et.name == name
    assert et.version >= 1
    assert et.source in SERVICES
    assert et.exchange == f"{et.source}.events"
    assert et.data_schema["additionalProperties"] is False


def test_the_envelope_schema_is_a_valid_json_schema():
    Draft202012Validator.check_schema(ENVELOPE_SCHEMA)


# =========================================================================== make_event


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_make_event_produces_a_valid_envelope(name):
    ev = make_event(name, "seu", copy.deepcopy(SAMPLE_DATA[name]))
    doc = ev.to_dict()
    assert set(doc) == {"event_id", "type", "version", "occurred_at", "tenant", "data"}
    assert re.fullmatch(r"[0-9a-f]{32}", ev.event_id)
    assert ev.type == name
    assert ev.version == CATALOGUE[name].version
    assert ev.tenant == "seu"
    assert ev.data == SAMPLE_DATA[name]
    when = datetime.fromisoformat(ev.occurred_at)
    assert when.tzinfo is not None and when.utcoffset() is not None
    assert abs(datetime.now(timezone.utc) - when) < timedelta(minutes=1)
    # what make_event builds, validate_envelope accepts unchanged
    assert validate_envelope(doc) == ev


def test_make_event_ids_are_unique():
    ids = {make_event("submission_withdrawn", "seu", SAMPLE_DATA["submission_withdrawn"]).event_id
           for _ in range(50)}
    assert len(ids) == 50


def test_make_event_keeps_the_given_moment_in_utc_with_offset():
    ev = make_event("submission_withdrawn", "wust", SAMPLE_DATA["submission_withdrawn"],
                    occurred_at=datetime(2020, 7, 15, 8, 0, tzinfo=PLUS8))
    assert ev.occurred_at == "2020-07-15T00:00:00+00:00"
    assert datetime.fromisoformat(ev.occurred_at) == datetime(2020, 7, 15, 8, 0, tzinfo=PLUS8)


def test_the_ministry_is_a_tenant():
    assert make_event("campaign_published", "ministry", SAMPLE_DATA["campaign_published"]).tenant == "ministry"


def test_make_event_refuses_bad_data():
    data = dict(SAMPLE_DATA["submission_withdrawn"])
    del data["org_id"]
    with pytest.raises(InvalidEvent):
        make_event("submission_withdrawn", "seu", data)


def test_make_event_refuses_an_unknown_type():
    with pytest.raises(InvalidEvent) as info:
        make_event("submission_scored", "seu", {})
    assert info.value.found == "submission_scored"


def test_invalid_event_is_a_400_invalid_input():
    assert issubclass(InvalidEvent, InvalidInput)
    err = InvalidEvent("x")
    assert err.status == 400
    assert err.code == "invalid_event"


# =========================================================================== validate_envelope refuses


def _without(doc: dict, key: str) -> dict:
    doc = dict(doc)
    del doc[key]
    return doc


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda d: _without(d, "tenant"), id="missing-tenant"),
    pytest.param(lambda d: {**d, "tenant": "SEU"}, id="tenant-upper-case"),
    pytest.param(lambda d: {**d, "tenant": "s"}, id="tenant-too-short"),
    pytest.param(lambda d: {**d, "tenant": "-seu"}, id="tenant-leading-hyphen"),
    pytest.param(lambda d: {**d, "tenant": "东南大学"}, id="tenant-not-a-slug"),
    pytest.param(lambda d: {**d, "tenant": "seu_1"}, id="tenant-underscore"),
    pytest.param(lambda d: {**d, "tenant": "a" * 64}, id="tenant-too-long"),
    pytest.param(lambda d: {**d, "tenant": None}, id="tenant-null"),
    pytest.param(lambda d: _without(d, "event_id"), id="missing-event-id"),
    pytest.param(lambda d: {**d, "event_id": "0" * 31}, id="event-id-31-hex"),
    pytest.param(lambda d: {**d, "event_id": "A" * 32}, id="event-id-upper-hex"),
    pytest.param(lambda d: _without(d, "occurred_at"), id="missing-occurred-at"),
    pytest.param(lambda d: _without(d, "data"), id="missing-data"),
    pytest.param(lambda d: {**d, "data": []}, id="data-not-an-object"),
    pytest.param(lambda d: {**d, "extra": 1}, id="extra-envelope-key"),
    pytest.param(lambda d: {**d, "type": "submission_scored"}, id="unknown-type"),
    pytest.param(lambda d: {**d, "type": 7}, id="type-not-a-string"),
    pytest.param(lambda d: {**d, "version": 2}, id="wrong-version"),
    pytest.param(lambda d: {**d, "version": 0}, id="version-zero"),
    pytest.param(lambda d: {**d, "version": "1"}, id="version-as-text"),
    pytest.param(lambda d: {**d, "version": True}, id="version-as-bool"),
])
def test_validate_envelope_refuses(mutate):
    with pytest.raises(InvalidEvent):
        validate_envelope(mutate(envelope()))


@pytest.mark.parametrize("doc", [None, [], "event", 42])
def test_validate_envelope_refuses_what_is_not_an_object(doc):
    with pytest.raises(InvalidEvent):
        validate_envelope(doc)


def test_wrong_version_names_both_versions():
    with pytest.raises(InvalidEvent) as info:
        validate_envelope(envelope(version=2))
    assert info.value.expected == 1
    assert info.value.found == 2


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_data_missing_an_id_is_refused(name):
    doc = envelope(name)
    del doc["data"][REQUIRED_ID[name]]
    with pytest.raises(InvalidEvent) as info:
        validate_envelope(doc)
    assert REQUIRED_ID[name] in info.value.message


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_data_with_an_extra_property_is_refused(name):
    doc = envelope(name)
    doc["data"]["author_name"] = "张三"  # blind review: not in any schema
    with pytest.raises(InvalidEvent) as info:
        validate_envelope(doc)
    assert "author_name" in info.value.message


@pytest.mark.parametrize("name,key,value", [
    ("submission_submitted", "org_level", "department"),
    ("submission_submitted", "track", "Story"),
    ("submission_submitted", "final_stage", "yes"),
    ("submission_submitted", "file_ids", [""]),
    ("submission_submitted", "submission_id", ""),
    ("submission_submitted", "submission_id", "x" * 65),
    ("file_uploaded", "kind", "pdf"),
    ("file_uploaded", "size", -1),
    ("file_uploaded", "sha256", "A" * 64),
    ("file_checked", "verdict", "ok"),
    ("campaign_published", "tracks", {"story": {"label": "x"}}),
])
def test_data_violating_the_types_schema_is_refused(name, key, value):
    doc = envelope(name)
    doc["data"][key] = value
    with pytest.raises(InvalidEvent):
        validate_envelope(doc)


def test_contact_email_is_optional_on_submission_submitted():
    doc = envelope("submission_submitted")
    del doc["data"]["contact_email"]
    validate_envelope(doc)


@pytest.mark.parametrize("where", ["occurred_at", "data.withdrawn_at"])
@pytest.mark.parametrize("value", ["yesterday", "2020-07-15", "2020-07-15T10:00:00"])
def test_timestamps_must_be_rfc3339_date_times(where, value):
    doc = envelope("submission_withdrawn")
    if where == "occurred_at":
        doc["occurred_at"] = value
    else:
        doc["data"]["withdrawn_at"] = value
    with pytest.raises(InvalidEvent):
        validate_envelope(doc)


# =========================================================================== campaign_published: the format's schema


@pytest.mark.parametrize("campaign_id", ["siyige-2020", "siyige-2020-seu", "siyige-2020-wust"])
def test_every_shipped_campaign_is_published_as_valid_data_that_reads_back(campaign_id):
    definition = load_builtin_definitions()[campaign_id]
    data = campaign_event_data(definition, f"seu.{campaign_id}", "siyige-2020")
    event = validate_envelope(make_event("campaign_published", "seu", data).to_dict())
    published = PublishedCampaign.from_event(event.data)
    assert published.to_event() == data
    assert (published.campaign_id, published.derives_from) == (f"seu.{campaign_id}", "siyige-2020")
    for key, track in definition.tracks.items():
        mine = published.tracks[key]
        assert mine.media == track.media and mine.rubric == track.rubric
        assert mine.deadlines == {stage.key: stage.deadlines for stage in track.stages}
        assert [f.identifying for f in mine.fields] == [f.identifying for f in track.fields]
        for kind in track.media:
            assert mine.policy(kind) == definition.media_policies()[key][kind]  # what media judges with


def test_a_version_1_event_from_before_fields_quota_and_forward_is_still_read():
    data = copy.deepcopy(SAMPLE_DATA["campaign_published"])
    assert not {"fields", "quota", "forward"} & set(data["tracks"]["lecture"])
    validate_envelope(envelope("campaign_published"))
    lecture = PublishedCampaign.from_event(data).tracks["lecture"]
    assert (lecture.fields, lecture.quota, lecture.forward) == ([], {}, {})
    assert lecture.deadlines["registration"]["level2"] == datetime(2020, 6, 15, 12, 0, tzinfo=PLUS8)
    assert lecture.policy("video") == {"kind": "video", "max_bytes": 2147483648, "rules": []}
    assert lecture.policy("image") is None


def _rule(**over) -> dict:
    return {"fact": "duration_s", "op": "le", "value": 1800, "severity": "error", **over}


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda t: t["media"]["video"]["rules"].append(_rule(fact="bitrate")), id="rule-unknown-fact"),
    pytest.param(lambda t: t["media"]["video"]["rules"].append(_rule(fact="has_gps")), id="rule-image-fact-on-video"),
    pytest.param(lambda t: t["media"]["video"]["rules"].append(_rule(op="gte")), id="rule-unknown-operator"),
    pytest.param(lambda t: t["media"]["video"]["rules"].append(_rule(severity="fatal")), id="rule-unknown-severity"),
    pytest.param(lambda t: t["media"]["video"]["rules"].append(_rule(note="x")), id="rule-extra-key"),
    pytest.param(lambda t: t["media"]["video"]["rules"].append({"fact": "duration_s"}), id="rule-incomplete"),
    pytest.param(lambda t: t["media"].update(pdf={"kind": "pdf", "max_bytes": None, "rules": []}), id="media-unknown-kind"),
    pytest.param(lambda t: t["media"]["video"].update(kind="image"), id="media-kind-not-its-key"),
    pytest.param(lambda t: t["media"]["video"].update(max_bytes=0), id="media-max-bytes-zero"),
    pytest.param(lambda t: t["media"]["video"].pop("rules"), id="media-without-rules"),
    pytest.param(lambda t: t["rubric"][0].pop("weight"), id="criterion-without-weight"),
    pytest.param(lambda t: t["rubric"][0].update(max=0), id="criterion-max-zero"),
    pytest.param(lambda t: t["rubric"].append("思想性"), id="criterion-as-text"),
    pytest.param(lambda t: t["deadlines"]["registration"].update(level2="2020-06-15"), id="deadline-a-date"),
    pytest.param(lambda t: t["deadlines"]["registration"].update(ministry="2020-07-31T23:59:59+08:00"),
                 id="deadline-of-the-ministry"),
    pytest.param(lambda t: t.update(submit_levels=["department"]), id="submit-level-unknown"),
    pytest.param(lambda t: t.update(department="宣传部"), id="department-in-chinese"),
    pytest.param(lambda t: t.update(label=""), id="label-empty"),
    pytest.param(lambda t: t.update(fields=[{"key": "title", "label": "标题", "type": "essay"}]), id="field-type-unknown"),
    pytest.param(lambda t: t.update(fields=[{"key": "title", "label": "标题"}]), id="field-without-type"),
    pytest.param(lambda t: t.update(quota={"department": 1}), id="quota-level-unknown"),
    pytest.param(lambda t: t.update(quota={"level2": {"work_case": -1}}), id="quota-per-value-negative"),
    pytest.param(lambda t: t.update(forward={"university": -1}), id="forward-negative"),
    pytest.param(lambda t: t.update(forward={"ministry": 1}), id="forward-from-the-ministry"),
])
def test_campaign_published_tracks_are_checked_with_the_formats_schema(mutate):
    doc = envelope("campaign_published")
    validate_envelope(doc)
    mutate(doc["data"]["tracks"]["lecture"])
    with pytest.raises(InvalidEvent):
        validate_envelope(doc)


def test_campaign_published_media_rules_may_name_every_fact_media_measures():
    doc = envelope("campaign_published")
    video = doc["data"]["tracks"]["lecture"]["media"]["video"]
    video["rules"] = [_rule(fact=fact, op="eq", value=1) for fact in MEDIA_FACTS["video"]]
    validate_envelope(doc)


def test_event_type_lookup():
    assert event_type("file_checked") is CATALOGUE["file_checked"]
    with pytest.raises(InvalidEvent):
        event_type("nope")


# =========================================================================== subscribers and queues


def test_subscriptions_list_every_subscriber_once():
    pairs = [(et.name, sub) for et, sub in subscriptions()]
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == {(et.name, sub) for et in CATALOGUE.values() for sub in et.subscribers}


@pytest.mark.parametrize("et,subscriber", subscriptions(), ids=lambda v: getattr(v, "name", v))
def test_queue_names_follow_nameko(et, subscriber):
    service, method = subscriber.split(".")
    assert et.queue_for(subscriber) == f"evt-{et.source}-{et.name}--{service}.{method}"
    assert re.fullmatch(r"evt-[a-z]+-[a-z_]+--[a-z]+\.[a-z_]+", et.queue_for(subscriber))


@pytest.mark.parametrize("et,subscriber", subscriptions(), ids=lambda v: getattr(v, "name", v))
def test_queue_and_exchange_names_equal_namekos_own(monkeypatch, et, subscriber):
    """nameko's EventHandler (SERVICE_POOL) computes the same queue and exchange names."""
    from nameko.events import EventHandler
    from nameko.messaging import Consumer

    monkeypatch.setattr(Consumer, "setup", lambda self: None)  # no broker
    service, method = subscriber.split(".")
    handler = EventHandler(et.source, et.name)
    handler.container = SimpleNamespace(service_name=service, config={})
    handler.method_name = method
    handler.setup()
    assert handler.queue.name == et.queue_for(subscriber)
    assert handler.queue.exchange.name == et.exchange
    assert handler.queue.routing_key == et.name


def test_queue_names_are_unique():
    names = [et.queue_for(sub) for et, sub in subscriptions()]
    assert len(names) == len(set(names))


def _service_class(service: str):
    module = importlib.import_module(f"services.{service}.service")
    classes = [obj for obj in vars(module).values()
               if inspect.isclass(obj) and obj.__module__ == module.__name__ and getattr(obj, "name", None) == service]
    assert len(classes) == 1, f"services.{service}.service should define one class with name = {service!r}"
    return classes[0]


def _event_handlers(cls) -> set[tuple[str, str]]:
    """(event type, method) for every method of `cls` decorated as an event entrypoint."""
    from nameko.events import EventHandler

    from common.messaging import EventConsumer

    found = set()
    for attr, member in inspect.getmembers(cls, callable):
        for entrypoint in getattr(member, "nameko_entrypoints", ()):
            if isinstance(entrypoint, EventConsumer):
                found.add((entrypoint.event_type.name, attr))
            elif isinstance(entrypoint, EventHandler):
                found.add((entrypoint.event_type, attr))
    return found


@pytest.mark.parametrize("et,subscriber", subscriptions(), ids=lambda v: getattr(v, "name", v))
def test_every_subscriber_is_a_method_of_its_service(et, subscriber):
    service, method = subscriber.split(".")
    assert service in SERVICES
    cls = _service_class(service)
    assert hasattr(cls, method), f"{subscriber} listed for {et.name} but {cls.__name__} has no {method}"
    assert (et.name, method) in _event_handlers(cls), f"{subscriber} is not decorated to handle {et.name}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_event_handler_of_a_service_is_in_the_catalogue(service):
    cls = _service_class(service)
    listed = {(et.name, sub) for et, sub in subscriptions()}
    for event_name, method in sorted(_event_handlers(cls)):
        assert (event_name, f"{service}.{method}") in listed, \
            f"{service}.{method} handles {event_name} but is not a subscriber in common/events.py"


def test_the_handlers_found_are_the_expected_ones():
    # Guards the inspection itself: if it found nothing, the two tests above would pass vacuously.
    found = {(name, f"{svc}.{method}") for svc in SERVICES for name, method in _event_handlers(_service_class(svc))}
    assert found == {(et.name, sub) for et, sub in subscriptions()}
    assert len(found) == sum(len(et.subscribers) for et in CATALOGUE.values()) > 0


def test_no_service_subscribes_to_its_own_events():
    for et, subscriber in subscriptions():
        assert subscriber.split(".")[0] != et.source, subscriber


# =========================================================================== README table


def test_catalogue_markdown_lists_every_type():
    table = catalogue_markdown().splitlines()
    assert table[0] == "| event | from | to | version | what it means |"
    assert len(table) == 2 + len(CATALOGUE)
    for line, et in zip(table[2:], CATALOGUE.values()):
        assert line.startswith(f"| `{et.name}` | {et.source} | ")
    assert "| `file_checked` | media | intake, notify, review | 1 |" in catalogue_markdown()
    assert "| `submission_submitted` | intake | notify, review | 1 |" in catalogue_markdown()


def test_readme_event_table_equals_the_catalogue():
    readme = ROOT / "README.md"
    assert readme.is_file(), "the README lists the event catalogue"
    lines = readme.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == "<!-- events:start -->"]
    ends = [i for i, line in enumerate(lines) if line.strip() == "<!-- events:end -->"]
    assert starts and ends, "README.md needs <!-- events:start --> / <!-- events:end --> around the event table"
    assert len(starts) == 1 and len(ends) == 1 and starts[0] < ends[0], "one pair of markers, in order"
    table = "\n".join(lines[starts[0] + 1:ends[0]]).strip()
    assert table == catalogue_markdown().strip(), (
        "README event table is out of date; replace it with common.events.catalogue_markdown()")
