"""What a portal must tell its users, by webhook (issue #20): a file's check, an extension, each work's selection
result, a campaign for the university, a deadline reminder. Two universities subscribed to everything, a third to
campaigns, against a real RabbitMQ and real receivers that verify each signature: each hears only its own."""
import json
import re
from datetime import datetime

import requests
from jsonschema import Draft202012Validator
from kombu import Connection, Exchange
from nameko.testing.services import entrypoint_hook
from sqlalchemy.engine import make_url

from common import clock
from common.campaign import DEFINITIONS_DIR, campaign_event_data, load_builtin_definitions
from common.events import make_event
from services.notify import hooks
from services.notify.models import CampaignCopy, Contact, FileCopy, ForwardedWork, SubmissionCopy, TenantName
from services.notify.service import OPENAPI
from tests.conftest import wait_until
from tests.integration.test_notify_service import ORGS, key_events, notify, publish, smtp, start_receiver, story_submitted  # noqa: F401 - fixtures

# what only the other university's deliveries may mention: its works, files, orgs and extensions
FOREIGN = {"seu": ("s-wust-1", "f-wust", "o-w\"", "x-o-w", "研究生"), "wust": ("s-o-cse", "f-seu", "o-cse", "o-me", "微党课.mp4")}
WEBHOOK_EVENT = Draft202012Validator({**OPENAPI, "$ref": "#/components/schemas/WebhookEvent"})


def registered(slug, name, category):
    return make_event("tenant_registered", slug, {"name": name, "kind": "university", "category": category,
                                                  "contact_email": f"zzb@{slug}.demo.local"})


def from_service(amqp, service, *events):
    with Connection(amqp) as conn:
        for ev in events:
            conn.Producer().publish(ev.to_dict(), exchange=Exchange(f"{service}.events", type="topic", durable=True),
                                    routing_key=ev.type, serializer="json", delivery_mode=2)


def wust_submitted():
    return make_event("submission_submitted", "wust", {
        **story_submitted().data, "submission_id": "s-wust-1", "campaign_id": "siyige-2020", "org_id": "o-w",
        "org_name": "武汉科技大学研究生院党委", "title": "社区里的研究生党员", "receipt_no": "WUST-1"})


def uploaded(tenant, file_id, submission_id, org_id, name):
    return make_event("file_uploaded", tenant, {
        "file_id": file_id, "submission_id": submission_id, "campaign_id": "siyige-2020", "track": "lecture",
        "kind": "video", "object_key": f"{tenant}/{file_id}", "size": 10, "sha256": "0" * 64,
        "content_type": "video/mp4", "original_name": name, "org_id": org_id})


def checked(envelope_tenant, file_id, submission_id, verdict, message):
    return make_event("file_checked", envelope_tenant, {
        "file_id": file_id, "submission_id": submission_id, "verdict": verdict, "checked_at": "2020-07-10T02:00:00+00:00",
        "findings": [{"rule": "duration_s le 1800", "severity": "error", "expected": 1800, "actual": 1860,
                      "message": message}] if verdict == "failed" else [],
        "facts": {"duration_s": 1860.0, "width": 1920, "height": 1080, "video_codec": "h264", "audio_codec": "aac",
                  "subtitle_coverage": 0.95, "decode_errors": []},
        "derived": {"poster": f"derived/{file_id}/poster.jpg"}})


def forwarded(tenant, submission_id, org_id, title):
    return make_event("submission_forwarded", tenant, {
        "submission_id": submission_id, "campaign_id": "siyige-2020", "track": "story", "org_id": org_id,
        "org_name": "党委", "org_level": "level2", "from_level": "university", "to_level": "ministry", "title": title,
        "receipt_no": f"R-{submission_id}", "forwarded_at": "2020-07-20T02:00:00+00:00", "fields": {"title": title},
        "files": [], "root_campaign_id": "siyige-2020"})


def extension(tenant, org_id, org_name):
    return make_event("extension_granted", tenant, {
        "extension_id": f"x-{org_id}", "campaign_id": "siyige-2020", "track": "story", "stage": "submission",
        "stage_label": "提交作品", "org_id": org_id, "org_name": org_name, "org_level": "level2",
        "until": "2020-07-25T23:59:00+08:00", "reason": "疫情封校，拍摄推迟", "granted_at": "2020-07-18T02:00:00+00:00"})


NATIONAL_SELECTION = make_event("selection_made", "ministry", {
    "round_id": "rd-national", "campaign_id": "siyige-2020", "track": "story", "level": "ministry", "to_level": None,
    "owner_org_id": None, "selected": ["s-o-cse"], "not_selected": ["s-wust-1"],
    "decision": {"level": "ministry", "kind": "award", "label": "全国优秀作品"},
    "results": [
        {"submission_id": "s-o-cse", "tenant": "seu", "rank": 1, "selected": True, "normalised": 92.5,
         "title": "计算机学院党委战疫故事", "category": "一等奖", "comments_for_org": ["叙事完整。"]},
        {"submission_id": "s-wust-1", "tenant": "wust", "rank": 2, "selected": False, "normalised": 80.0,
         "title": "社区里的研究生党员"}]})


def subscribe(base, key, url, event_types):
    answer = wait_until(lambda: (r := requests.post(base, json={"url": url, "event_types": event_types}, timeout=10,
                                                    headers={"Authorization": f"Bearer {key}"})).status_code == 201 and r,
                        timeout=20, what=f"the subscription of {key}")
    return answer.json()


def count(store, model, n, where: str = "1 = 1"):
    """At least `n` rows of `model` (`where`), read by a plain reader (WAL): the store's BEGIN IMMEDIATE would wait
    on, and hold up, the service's writers."""
    import sqlite3

    with sqlite3.connect(make_url(store.url).database) as db:
        return db.execute(f"SELECT count(*) FROM {model.__tablename__} WHERE {where}").fetchone()[0] >= n  # noqa: S608


def kinds(receiver) -> list[tuple[str, str]]:
    return sorted((body["type"], _about(body)) for _, body in receiver["received"])


def _about(body) -> str:
    d = body["data"]
    if body["type"] == "selection_result":
        return f"{d['submission_id']}:{d['result']}"
    if body["type"] == "deadline_reminder":
        return f"{d['kind']}:{d.get('org_id') or d['track']}"
    return d.get("file_id") or d.get("extension_id") or d.get("submission_id") or d.get("campaign_id")


SEU_HEARS = sorted([
    ("campaign_published", "siyige-2020"), ("campaign_published", "siyige-2020-seu"),
    ("deadline_reminder", "submit:o-gone"), ("deadline_reminder", "submit:o-me"),
    ("extension_granted", "x-o-cse"), ("file_checked", "f-seu"),
    ("selection_result", "s-o-cse:awarded"), ("selection_result", "s-o-cse:forwarded"),
    ("submission_submitted", "s-o-cse")])
WUST_HEARS = sorted([
    ("campaign_published", "siyige-2020"), ("extension_granted", "x-o-w"), ("file_checked", "f-wust"),
    ("selection_result", "s-wust-1:final_not_selected"), ("selection_result", "s-wust-1:forwarded"),
    ("submission_submitted", "s-wust-1")])


def test_each_university_hears_its_own_files_extensions_results_campaigns_and_reminders(notify):
    store, amqp = notify["store"], notify["amqp"]
    base = "http://" + notify["container"].config["WEB_SERVER_ADDRESS"] + "/api/v1/webhooks"
    (seu, seu_server), (wust, wust_server), (hbue, hbue_server) = start_receiver(), start_receiver(), start_receiver()
    try:
        publish(amqp, registered("seu", "东南大学", "direct"), registered("wust", "武汉科技大学", "co_built"),
                registered("hbue", "湖北经济学院", "local"), key_events("seu", "university", "东南大学", "sk_seu"),
                key_events("wust", "university", "武汉科技大学", "sk_wust"),
                key_events("hbue", "university", "湖北经济学院", "sk_hbue"), ORGS)
        wait_until(lambda: count(store, TenantName, 3), timeout=20, what="the universities")
        # an unknown name is refused in Chinese, with a stable code and what may be subscribed to
        refused = requests.post(base, json={"url": seu["url"], "event_types": ["file_checked", "selection_made"]},
                                headers={"Authorization": "Bearer sk_seu"}, timeout=10)
        error = refused.json()["error"]
        assert refused.status_code == 422 and error["code"] == "unknown_event_type" and error["found"] == ["selection_made"]
        assert "不能订阅这些事件：selection_made" in error["message"] and error["expected"] == list(hooks.DELIVERABLE)
        subs = {}
        for key, receiver, types in (("sk_seu", seu, list(hooks.DELIVERABLE)), ("sk_wust", wust, list(hooks.DELIVERABLE)),
                                     ("sk_hbue", hbue, ["campaign_published", "selection_result", "file_checked"])):
            subs[key] = subscribe(base, key, receiver["url"], types)
            receiver["secret"] = subs[key]["secret"]

        # campaigns: SEU's own to SEU; the ministry's (直属 and 部省合建) to SEU and WUST, not to 湖北经济学院 (地方)
        definitions = load_builtin_definitions()
        publish(amqp, make_event("campaign_published", "seu", campaign_event_data(definitions["siyige-2020-seu"])),
                make_event("campaign_published", "ministry", campaign_event_data(definitions["siyige-2020"])),
                story_submitted(), wust_submitted(), uploaded("seu", "f-seu", "s-o-cse", "o-cse", "微党课.mp4"),
                uploaded("wust", "f-wust", "s-wust-1", "o-w", "研究生党课视频.mp4"),
                extension("seu", "o-cse", "计算机科学与工程学院党委"), extension("wust", "o-w", "武汉科技大学研究生院党委"),
                forwarded("seu", "s-o-cse", "o-cse", "计算机学院党委战疫故事"),
                forwarded("wust", "s-wust-1", "o-w", "社区里的研究生党员"))
        wait_until(lambda: count(store, FileCopy, 2) and count(store, ForwardedWork, 2) and count(store, SubmissionCopy, 2)
                   and count(store, CampaignCopy, 2, "campaign_id LIKE 'siyige-2020%'"),
                   timeout=30, what="the campaigns, files, works and forwarded works")
        # media's check of WUST's file, in an envelope naming SEU: it goes where intake put the file, WUST
        from_service(amqp, "media", checked("seu", "f-seu", "s-o-cse", "failed", "时长应不超过30分钟，实际为31分钟。"),
                     checked("seu", "f-wust", "s-wust-1", "passed", ""))
        from_service(amqp, "review", NATIONAL_SELECTION)
        # 2020-07-13 is 7 days before SEU's story deadline for level-2 orgs: 机械 and the bounced address owe it
        clock.set_start(datetime.fromisoformat("2020-07-13T09:00:00+08:00"))
        with entrypoint_hook(notify["container"], "send_reminders") as remind:
            remind()
            remind()  # a second run adds no second delivery

        wait_until(lambda: len(seu["received"]) >= len(SEU_HEARS) and len(wust["received"]) >= len(WUST_HEARS),
                   timeout=60, what="SEU's and WUST's deliveries")
        import eventlet

        eventlet.sleep(2)  # anything more, or anything for 湖北经济学院, would have arrived by now
        assert kinds(seu) == SEU_HEARS and kinds(wust) == WUST_HEARS and hbue["received"] == []
        hbue_log = requests.get(f"{base}/{subs['sk_hbue']['id']}/deliveries", headers={"Authorization": "Bearer sk_hbue"},
                                timeout=10).json()["items"]
        assert hbue_log == []
        for tenant, receiver, other in (("seu", seu, "wust"), ("wust", wust, "seu")):
            assert receiver["rejected"] == []  # every signature verified with the subscription's own secret
            for (_, body), header in zip(receiver["received"], receiver["event_headers"]):
                assert body["tenant"] == tenant and header == body["type"]
                assert not list(WEBHOOK_EVENT.iter_errors(body)), body
                text = json.dumps(body, ensure_ascii=False)
                assert not [word for word in FOREIGN[tenant] if word in text]
                assert "audience" not in body["data"] and "derived" not in body["data"]
                # every moment a portal reads, as intake's API writes them: Beijing time with its offset
                moments = re.findall(r'"(\d{4}-\d{2}-\d{2}T[0-9:.]+(?:[+-]\d{2}:\d{2}|Z)?)"', text)
                assert moments and all(m.endswith("+08:00") for m in moments), moments
        log = requests.get(f"{base}/{subs['sk_seu']['id']}/deliveries", headers={"Authorization": "Bearer sk_seu"},
                           timeout=10).json()["items"]
        assert log and all(d["created_at"].endswith("+08:00") for d in log), log[:2]

        check = next(b for _, b in seu["received"] if b["type"] == "file_checked")["data"]
        assert check["verdict"] == "failed" and check["findings"][0]["message"] == "时长应不超过30分钟，实际为31分钟。"
        assert check["facts"]["width"] == 1920 and check["facts"]["subtitle_coverage"] == 0.95
        assert check["file_name"] == "微党课.mp4" and check["org_id"] == "o-cse"
        award = next(b for _, b in seu["received"] if b["type"] == "selection_result" and b["data"]["result"] == "awarded")
        assert award["data"]["category"] == "一等奖" and award["data"]["decision"]["label"] == "全国优秀作品"
        assert award["data"]["comments_for_org"] == ["叙事完整。"]
        assert not set(award["data"]) - {"submission_id", "campaign_id", "track", "level", "result", "result_label",
                                         "round_id", "to_level", "rank", "title", "normalised", "category", "decision",
                                         "comments_for_org"}  # nothing about the experts
        reminder = next(b for _, b in seu["received"] if b["type"] == "deadline_reminder")["data"]
        assert reminder["days_left"] == 7 and reminder["stage_label"] and reminder["track"] == "story"
        published = {b["data"]["campaign_id"]: b for _, b in seu["received"] if b["type"] == "campaign_published"}
        assert published["siyige-2020"]["data"]["publisher"] == "ministry"

        # the delivery log and replay work for the new events as for the old
        seu_key = {"Authorization": "Bearer sk_seu"}
        log = requests.get(f"{base}/{subs['sk_seu']['id']}/deliveries", headers=seu_key, timeout=10).json()["items"]
        assert sorted(d["event_type"] for d in log) == sorted(t for t, _ in SEU_HEARS)
        assert {d["state"] for d in log} == {"delivered"}
        delivery = next(d for d in log if d["event_type"] == "file_checked")
        replay = requests.post(f"{base}/{subs['sk_seu']['id']}/deliveries/{delivery['id']}/replay", headers=seu_key,
                               timeout=10)
        assert replay.json()["state"] == "pending"
        wait_until(lambda: len(seu["received"]) == len(SEU_HEARS) + 1, timeout=20, what="the replayed file check")
        assert seu["received"][-1][0] == delivery["id"] and seu["received"][-1][1]["type"] == "file_checked"
        # WUST cannot read or replay SEU's log
        wust_key = {"Authorization": "Bearer sk_wust"}
        assert requests.post(f"{base}/{subs['sk_seu']['id']}/deliveries/{delivery['id']}/replay", headers=wust_key,
                             timeout=10).status_code == 404
    finally:
        for server in (seu_server, wust_server, hbue_server):
            server.shutdown()


def test_a_university_that_forwarded_nothing_hears_the_reminder_by_webhook_too(notify):
    """The reminders to forward to the ministry (3 and 1 days before the university deadline) reach each
    university's portal, of its own tracks only, once each however often the timer runs."""
    store, amqp = notify["store"], notify["amqp"]
    base = "http://" + notify["container"].config["WEB_SERVER_ADDRESS"] + "/api/v1/webhooks"
    (seu, seu_server), (wust, wust_server) = start_receiver(), start_receiver()
    try:
        publish(amqp, registered("seu", "东南大学", "direct"), registered("wust", "武汉科技大学", "co_built"),
                key_events("seu", "university", "东南大学", "sk_seu"),
                key_events("wust", "university", "武汉科技大学", "sk_wust"))
        wait_until(lambda: count(store, TenantName, 2), timeout=20, what="the universities")
        for key, receiver in (("sk_seu", seu), ("sk_wust", wust)):
            receiver["secret"] = subscribe(base, key, receiver["url"], ["deadline_reminder"])["secret"]
        definitions = load_builtin_definitions()
        publish(amqp, make_event("campaign_published", "ministry", campaign_event_data(definitions["siyige-2020"])),
                make_event("campaign_published", "seu", campaign_event_data(definitions["siyige-2020-seu"])),
                forwarded("wust", "s-wust-1", "o-w", "社区里的研究生党员"))  # WUST's story went up: nothing owed
        wait_until(lambda: count(store, CampaignCopy, 2) and count(store, ForwardedWork, 1), timeout=20,
                   what="the campaigns and WUST's forwarded story")
        clock.set_start(datetime.fromisoformat("2020-07-28T09:00:00+08:00"))  # three days before 7/31
        with entrypoint_hook(notify["container"], "send_reminders") as remind:
            remind()
            remind()
        wait_until(lambda: len(seu["received"]) >= 2 and len(wust["received"]) >= 1, timeout=30, what="the reminders")
        import eventlet

        eventlet.sleep(1.5)
        assert kinds(seu) == [("deadline_reminder", "forward:lecture"), ("deadline_reminder", "forward:story")]
        assert kinds(wust) == [("deadline_reminder", "forward:lecture")]
        for tenant, receiver in (("seu", seu), ("wust", wust)):
            assert receiver["rejected"] == []
            for _, body in receiver["received"]:
                assert body["tenant"] == tenant and not list(WEBHOOK_EVENT.iter_errors(body)), body
                assert body["data"]["days_left"] == 3 and body["data"]["kind_label"] == "向教育部报送截止提醒"
    finally:
        for server in (seu_server, wust_server):
            server.shutdown()


def test_a_branch_that_owes_its_monthly_record_is_reminded_by_webhook_even_without_an_address(notify):
    """石油大学's monthly 组织生活 (test_notify_recurring.py): 7 days before April's due day, each branch without
    April's record is a `deadline_reminder` of kind `period` to 石油大学's portal, b3 (no mailbox) included."""
    from tests.integration.test_notify_recurring import CAMPAIGN, ORGS as UPC_ORGS

    store, amqp = notify["store"], notify["amqp"]
    base = "http://" + notify["container"].config["WEB_SERVER_ADDRESS"] + "/api/v1/webhooks"
    upc, server = start_receiver()
    try:
        clock.set_start(datetime.fromisoformat("2020-04-10T09:00:00+08:00"))
        publish(amqp, registered("upc", "中国石油大学", "direct"), key_events("upc", "university", "中国石油大学", "sk_upc"),
                UPC_ORGS)
        upc["secret"] = subscribe(base, "sk_upc", upc["url"], ["deadline_reminder"])["secret"]
        definition = load_builtin_definitions(DEFINITIONS_DIR / "own")[CAMPAIGN]
        publish(amqp, make_event("campaign_published", "upc", campaign_event_data(definition)))
        wait_until(lambda: count(store, CampaignCopy, 1) and count(store, Contact, 4), timeout=20,
                   what="石油大学's campaign and orgs")
        clock.set_start(datetime.fromisoformat("2020-04-23T09:00:00+08:00"))  # 7 days before April 30
        with entrypoint_hook(notify["container"], "send_reminders") as remind:
            remind()
            remind()
        wait_until(lambda: len(upc["received"]) >= 3, timeout=30, what="the three branches' reminders")
        import eventlet

        eventlet.sleep(1.5)
        assert kinds(upc) == [("deadline_reminder", f"period:o-b{n}") for n in (1, 2, 3)] and upc["rejected"] == []
        for _, body in upc["received"]:
            assert body["tenant"] == "upc" and not list(WEBHOOK_EVENT.iter_errors(body)), body
            assert body["data"]["period"] == "2020-04" and body["data"]["period_label"] == "2020年4月"
            assert body["data"]["days_left"] == 7 and body["data"]["org_level"] == "branch"
    finally:
        server.shutdown()
