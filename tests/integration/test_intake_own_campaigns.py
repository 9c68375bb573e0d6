"""A university publishes campaigns of its own (issue #16, "Who may publish what"), over real HTTP against a real
RabbitMQ: 同济 publishes its 2018 两优一先 (common/campaign/definitions/own/) under its own key, its branches nominate
into it, no other university sees it, and an own campaign that would go above 同济 is refused with
`decision_above_owner`, storing and announcing nothing.
"""
import hashlib
import json
from datetime import datetime

import pytest
import yaml
from kombu import Connection, Exchange, Queue
from sqlalchemy import select

from common import clock
from common.campaign import DEFINITIONS_DIR
from tests.conftest import wait_until
from tests.integration.test_intake_api import Portal, announce_check, error_of, start_intake

TONGJI_ORGS = ("名称,层级,上级组织\n"
               "土木工程学院党委,二级党组织,\n"
               "土木工程学院教工第一党支部,党支部,土木工程学院党委\n").encode("utf-8")
LIANYOU = (DEFINITIONS_DIR / "own" / "tongji-lianyou-2018.yaml").read_text(encoding="utf-8")
SHIFAN = (DEFINITIONS_DIR / "own" / "tongji-shifan-2018.yaml").read_text(encoding="utf-8")
YAML = {"Content-Type": "application/yaml"}


@pytest.fixture
def intake(db_url, make_config, start_service):
    from common.db import Store
    from services.intake import admin, operations as ops

    env = start_intake(db_url, make_config, start_service)
    # 同济 joins as an operator adds a university: a tenant and its portal's key (the seeded ones are seu and wust)
    store = Store(db_url)
    with store.transaction() as s:
        admin.ensure_tenant(s, "tongji", "同济大学", "university")
        key = ops.issue_key(s, admin.StandaloneOutbox(), "tongji")
    store.dispose()
    tongji = Portal(env["base"], key)
    r = tongji("POST", "/api/v1/orgs/import", data=TONGJI_ORGS, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    # the campaign's own year: nominations close on 2018-06-08 (branches) and 2018-06-15 (colleges)
    clock.set_start(datetime.fromisoformat("2018-06-01T09:00:00+08:00"))
    yield {**env, "tongji": tongji, "db_url": db_url}
    clock.set_start(None)


def campaign_events(env):
    """A queue of intake's campaign_published, declared before anything below is published."""
    conn = Connection(env["config"]["AMQP_URI"])
    queue = Queue("probe-own-campaigns", Exchange("intake.events", type="topic", durable=True),
                  routing_key="campaign_published", auto_delete=True)
    queue.bind(conn.channel()).declare()
    return conn, queue.bind(conn.channel())


def events_until(bound, campaign_id: str) -> list[dict]:
    """Every campaign_published payload up to and including the one for `campaign_id`, in the order published."""
    seen: list[dict] = []

    def arrived():
        msg = bound.get(no_ack=True)
        if msg is not None:
            seen.append(msg.payload)
        return any(p["data"]["campaign_id"] == campaign_id for p in seen)

    wait_until(arrived, what=f"campaign_published for {campaign_id}")
    return seen


def outbox_campaign_ids(db_url) -> list[str]:
    from common.db import Store
    from services.intake.models import OutboxMessage

    store = Store(db_url)
    with store.transaction() as s:
        rows = s.scalars(select(OutboxMessage.envelope).where(OutboxMessage.event_type == "campaign_published")).all()
    store.dispose()
    return [envelope["data"]["campaign_id"] for envelope in rows]


def lianyou_doc(new_id: str) -> dict:
    doc = json.loads(json.dumps(yaml.safe_load(LIANYOU), default=str))  # YAML reads dates as dates; JSON wants text
    doc["id"] = new_id
    return doc


def nominate(tongji, org_name: str, **fields) -> dict:
    return tongji.draft("tongji-lianyou-2018", "nomination", org_name, **{
        "title": "张明", "category": "member", "phone": "021-65982200",
        "deeds": "扎根教学一线二十年，带领教工党支部把党建与学科建设结合，示范引领作用突出。",
        "nominee": [{"name": "张明", "post": "教授、教工第一党支部书记", "org": "土木工程学院教工第一党支部"}],
        **fields})


def test_a_university_publishes_its_own_award_and_its_branches_nominate_into_it(intake):
    tongji = intake["tongji"]
    conn, bound = campaign_events(intake)
    with conn:
        r = tongji("POST", "/api/v1/campaigns", data=LIANYOU.encode("utf-8"), headers=YAML)
        assert r.status_code == 201, r.text
        doc = r.json()
        assert (doc["id"], doc["short_id"], doc["owner"], doc["derives_from"]) == (
            "tongji.tongji-lianyou-2018", "tongji-lianyou-2018", "tongji", None)
        assert doc["tracks"]["nomination"]["decision"] == {
            "level": "university", "kind": "award", "label": "校级“两优一先”表彰", "category_field": "category",
            "places": {"member": 50, "worker": 20, "org": 20}}
        published = events_until(bound, "tongji.tongji-lianyou-2018")[-1]
        assert published["tenant"] == "tongji"
        assert published["data"]["tracks"]["nomination"]["decision"]["level"] == "university"
    assert {c["id"] for c in tongji("GET", "/api/v1/campaigns").json()["items"]} == {
        "siyige-2020", "tongji.tongji-lianyou-2018"}

    # a branch nominates a member: drafted, its 推荐表 uploaded and checked, submitted with a receipt
    work = nominate(tongji, "土木工程学院教工第一党支部")
    assert work["campaign_id"] == "tongji.tongji-lianyou-2018"
    form = b"%PDF-1.4\n" + bytes(range(256)) * 40
    ticket = tongji("POST", f"/api/v1/submissions/{work['id']}/files", json={
        "kind": "document", "filename": "推荐审批表.pdf", "size": len(form),
        "sha256": hashlib.sha256(form).hexdigest(), "content_type": "application/pdf"})
    assert ticket.status_code == 201, ticket.text
    file_id = ticket.json()["file"]["id"]
    import requests

    assert requests.put(ticket.json()["upload"]["url"], data=form, timeout=30).status_code == 200
    assert tongji("POST", f"/api/v1/files/{file_id}/complete").status_code == 200
    announce_check(intake, file_id, work["id"], "passed", checked_at="2018-06-01T01:05:00+00:00", tenant="tongji")
    r = tongji("POST", f"/api/v1/submissions/{work['id']}/submit")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "submitted" and r.json()["receipt_no"].startswith("TONGJI-20180601-")

    # its college nominates too (submit_levels: branch, level2); the category is required, as the award reads it
    college = nominate(tongji, "土木工程学院党委", title="土木工程学院教工第一党支部", category="org",
                       party_members=28, nominee=[])
    assert college["fields"]["category"] == "org"
    body = error_of(tongji("PATCH", f"/api/v1/submissions/{college['id']}", json={"fields": {"category": "hero"}}),
                    422, "not_a_choice")
    assert body["field"] == "fields.category"


def test_another_university_cannot_see_a_universitys_own_campaign(intake):
    tongji, seu = intake["tongji"], intake["seu"]
    assert tongji("POST", "/api/v1/campaigns", data=LIANYOU.encode("utf-8"), headers=YAML).status_code == 201
    work = nominate(tongji, "土木工程学院教工第一党支部")
    for ref in ("tongji-lianyou-2018", "tongji.tongji-lianyou-2018"):
        error_of(seu("GET", f"/api/v1/campaigns/{ref}"), 404, "campaign_not_found")
        r = seu("POST", "/api/v1/submissions", json={"campaign_id": ref, "track": "nomination",
                                                     "org_id": seu.org_id("机械工程学院党委"), "fields": {}})
        error_of(r, 404, "campaign_not_found")
    error_of(seu("GET", f"/api/v1/submissions/{work['id']}"), 404, "submission_not_found")
    assert all(c["owner"] != "tongji" for c in seu("GET", "/api/v1/campaigns").json()["items"])
    # the same short id is seu's own to take: nothing of 同济's stands in its way, nothing of it is revealed
    r = seu("POST", "/api/v1/campaigns", data=LIANYOU.encode("utf-8"), headers=YAML)
    assert r.status_code == 201 and r.json()["id"] == "seu.tongji-lianyou-2018"
    assert tongji("GET", "/api/v1/campaigns/tongji-lianyou-2018").json()["owner"] == "tongji"


def test_an_own_campaign_that_goes_above_the_university_is_refused_and_nothing_is_published(intake):
    tongji = intake["tongji"]
    conn, bound = campaign_events(intake)
    with conn:
        before = outbox_campaign_ids(intake["db_url"])

        # a decision at the ministry: nobody there runs 同济's award
        at_ministry = lianyou_doc("lianyou-at-ministry")
        at_ministry["tracks"]["nomination"]["decision"]["level"] = "ministry"
        body = error_of(tongji("POST", "/api/v1/campaigns", json=at_ministry), 422, "decision_above_owner")
        assert body["field"] == "tracks.nomination.decision.level" and body["found"] == "ministry"
        assert "“两优一先”推荐" in body["message"] and "decision: {level: university" in body["message"]

        # written as the ministry writes its tracks: no decision, the university forwards and has a date to do so
        forwards = lianyou_doc("lianyou-forwards")
        track = forwards["tracks"]["nomination"]
        del track["decision"]
        track["forward"]["university"] = 3
        track["stages"][0]["deadlines"]["university"] = "2018-06-25"
        body = error_of(tongji("POST", "/api/v1/campaigns", json=forwards), 422, "decision_above_owner")
        assert [d["field"] for d in body["details"]] == [
            "tracks.nomination.decision.level", "tracks.nomination.forward.university",
            "tracks.nomination.stages.nomination.deadlines.university"]
        assert all(d["message"] for d in body["details"])

        # nothing stored, nothing in the outbox, nothing listed
        for refused in ("lianyou-at-ministry", "lianyou-forwards"):
            error_of(tongji("GET", f"/api/v1/campaigns/{refused}"), 404, "campaign_not_found")
        assert outbox_campaign_ids(intake["db_url"]) == before
        assert [c["id"] for c in tongji("GET", "/api/v1/campaigns").json()["items"]] == ["siyige-2020"]

        # and nothing on the broker: the outbox publishes in order, so what comes before the next good
        # campaign's event is all there was
        r = tongji("POST", "/api/v1/campaigns", data=SHIFAN.encode("utf-8"), headers=YAML)
        assert r.status_code == 201, r.text
        ids = [p["data"]["campaign_id"] for p in events_until(bound, "tongji.tongji-shifan-2018")]
        assert not {"tongji.lianyou-at-ministry", "tongji.lianyou-forwards"} & set(ids)
        assert outbox_campaign_ids(intake["db_url"]) == before + ["tongji.tongji-shifan-2018"]
