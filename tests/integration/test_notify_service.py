"""Notify against a real RabbitMQ and a real SMTP server (aiosmtpd on loopback)."""
import json
import mailbox
import subprocess
import sys
import time
from datetime import datetime
from email.header import decode_header, make_header

import eventlet.debug
import pytest
from kombu import Connection, Exchange
from nameko.testing.services import entrypoint_hook
from sqlalchemy import select

from common import clock
from common.db import Store
from common.events import make_event
from tests.conftest import ROOT, free_port, wait_until

INTAKE = Exchange("intake.events", type="topic", durable=True)


class SmtpServer:
    def __init__(self, port, maildir):
        self.port, self.maildir, self.proc = port, maildir, None

    def start(self):
        # A greenthread an earlier test left waiting on a descriptor can still be registered with the hub when the
        # number is reused by this Popen's pipe ("Second simultaneous read on fileno …", seen after the messaging
        # tests' broken links): the pipe is read once, here, so a second registered reader is harmless.
        eventlet.debug.hub_prevent_multiple_readers(False)
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
                                          "-c", "tests.smtp_server.Recorder", str(self.maildir)], cwd=ROOT)
        finally:
            eventlet.debug.hub_prevent_multiple_readers(True)
        import socket

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("SMTP server did not start")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def received(self):
        # A published campaign is announced to its orgs (活动通知, tests/integration/test_notify_announcement.py);
        # these tests count the other mails, so the announcements, and the reports of those that bounced, are
        # left out here
        box = mailbox.Maildir(self.maildir, create=True)
        mails = [{"to": m["To"], "subject": str(make_header(decode_header(m["Subject"]))),
                  "message_id": m["Message-ID"], "body": _text_of(m)} for m in box]
        return [m for m in mails if not any(word in m["subject"] + m["body"] for word in ("【活动通知】", "【活动更正】"))]


def _text_of(message) -> str:
    """The plain-text body, also of a mail with parts (an announcement carries the notice as a .docx)."""
    part = next((p for p in message.walk() if p.get_content_type() == "text/plain"), message)
    return (part.get_payload(decode=True) or b"").decode("utf-8")


@pytest.fixture
def smtp(tmp_path):
    server = SmtpServer(free_port(), tmp_path / "received")
    yield server
    server.stop()


@pytest.fixture
def notify(make_config, start_service, sqlite_url, smtp, tmp_path):
    from services.notify.service import NotifyService

    templates = tmp_path / "templates"
    # the portals' webhook receivers of these tests listen on loopback, which only the allow-list lets through
    config = make_config("notify", DATABASE_URL=sqlite_url, MAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
                         TEMPLATE_DIR=str(templates), WEBHOOK_ALLOW_HOSTS="127.0.0.1")
    container = start_service(NotifyService, config)
    yield {"container": container, "amqp": config["AMQP_URI"], "store": Store(sqlite_url), "templates": templates}
    clock.set_start(None)


def publish(amqp, *events):
    with Connection(amqp) as conn:
        producer = conn.Producer()
        for ev in events:
            producer.publish(ev.to_dict(), exchange=INTAKE, routing_key=ev.type, serializer="json", delivery_mode=2)


def seu_campaign():
    from common.campaign import campaign_event_data, load_builtin_definitions

    return make_event("campaign_published", "seu", campaign_event_data(load_builtin_definitions()["siyige-2020-seu"]))


def campaign_then_orgs(notify, *first):
    """`first`, SEU's campaign, and only once notify keeps the campaign, SEU's orgs. Each event type has its own
    queue: orgs known before the campaign would be announced to (活动通知), and the bounced address among them would
    fail an announcement as well as the mails these tests count, at random."""
    from services.notify.models import CampaignCopy

    publish(notify["amqp"], *first, seu_campaign())
    wait_until(lambda: _kept(notify["store"], CampaignCopy, "siyige-2020-seu"), what="SEU's campaign in notify")
    publish(notify["amqp"], ORGS)


def _kept(store, model, key) -> bool:
    with store.transaction() as s:
        return s.get(model, key) is not None


ORGS = make_event("orgs_imported", "seu", {"orgs": [
    {"org_id": "o-cse", "name": "计算机科学与工程学院党委", "level": "level2", "parent_id": None,
     "contact_email": "cse@demo.local"},
    {"org_id": "o-me", "name": "机械工程学院党委", "level": "level2", "parent_id": None,
     "contact_email": "me@demo.local"},
    {"org_id": "o-gone", "name": "已撤销学院党委", "level": "level2", "parent_id": None,
     "contact_email": "bounce-gone@demo.local"},
    {"org_id": "o-branch", "name": "计算机科学与工程学院教工第一党支部", "level": "branch", "parent_id": "o-cse",
     "contact_email": "b1@demo.local"},
]})


def story_submitted(org_id="o-cse", email="cse@demo.local", receipt="SEU-20200714-00001"):
    return make_event("submission_submitted", "seu", {
        "submission_id": f"s-{org_id}", "campaign_id": "siyige-2020-seu", "track": "story", "stage": "submission",
        "final_stage": True, "org_id": org_id, "org_name": "计算机科学与工程学院党委", "org_level": "level2",
        "title": "计算机学院党委战疫故事", "receipt_no": receipt, "submitted_at": "2020-07-14T02:00:00+00:00",
        "file_ids": [], "contact_email": email})


def messages(store):
    from services.notify.models import MessageLog

    with store.transaction() as s:
        return [(m.kind, m.recipient, m.state, m.attempts, m.last_error) for m in
                s.scalars(select(MessageLog).order_by(MessageLog.id))]


def test_receipts_and_reminders_reach_a_real_smtp_server_once(notify, smtp):
    smtp.start()
    campaign_then_orgs(notify, make_event("tenant_registered", "seu", {
        "name": "东南大学", "kind": "university", "contact_email": "seuzzb@demo.local"}))
    submitted = story_submitted()
    publish(notify["amqp"], submitted, submitted)  # a duplicate delivery
    got = wait_until(lambda: smtp.received() or None, timeout=20, what="the receipt e-mail")
    assert len(got) == 1
    receipt = got[0]
    assert receipt["to"] == "cse@demo.local" and "SEU-20200714-00001" in receipt["subject"]
    assert "回执编号：SEU-20200714-00001" in receipt["body"] and "2020年07月14日 10:00" in receipt["body"]

    # 2020-07-13 is 7 days before 东南大学's story deadline (7/20) for level-2 orgs
    clock.set_start(datetime.fromisoformat("2020-07-13T09:00:00+08:00"))
    with entrypoint_hook(notify["container"], "send_reminders") as remind:
        assert remind() == 2  # 机械 and the bounced address; 计算机 has submitted; branches do not submit stories
        assert remind() == 0  # running again queues nothing new
    wait_until(lambda: len([m for m in smtp.received() if "截止" in m["subject"]]) == 1, timeout=20,
               what="the reminder")
    reminder = next(m for m in smtp.received() if m["to"] == "me@demo.local")
    assert "7 天后截止" in reminder["subject"] and "2020年07月20日 23:59" in reminder["body"]
    assert "机械工程学院党委" in reminder["body"]
    bounced = wait_until(lambda: [m for m in messages(notify["store"]) if m[2] == "failed"], what="the 550")
    assert bounced[0][1] == "bounce-gone@demo.local" and "550" in bounced[0][4] and bounced[0][3] == 1
    # ... and the university's organisation department is told, once
    report = wait_until(lambda: [m for m in smtp.received() if m["to"] == "seuzzb@demo.local"], timeout=20,
                        what="the report of the failing address")
    assert len(report) == 1 and "bounce-gone@demo.local" in report[0]["subject"] and "550" in report[0]["body"]

    # the organisation department sees which addresses to fix; another university sees nothing of it
    import requests

    publish(notify["amqp"], key_events("seu", "university", "东南大学", "sk_seu"),
            key_events("wust", "university", "武汉科技大学", "sk_wust"))
    url = "http://" + notify["container"].config["WEB_SERVER_ADDRESS"] + "/api/v1/messages"
    failed = wait_until(lambda: requests.get(url, params={"state": "failed"}, timeout=10,
                                             headers={"Authorization": "Bearer sk_seu"}).json().get("items"),
                        what="the failed-address list")
    assert [(m["recipient"], m["kind"]) for m in failed] == [("bounce-gone@demo.local", "reminder")]
    assert requests.get(url, headers={"Authorization": "Bearer sk_wust"}, timeout=10).json()["items"] == []


def test_mail_waits_while_the_smtp_server_is_down_and_goes_out_once_it_is_back(notify, smtp):
    from services.notify.models import MessageLog

    campaign_then_orgs(notify)
    publish(notify["amqp"], story_submitted())
    failing = wait_until(lambda: [m for m in messages(notify["store"]) if m[3] >= 1], timeout=20,
                         what="a failed attempt")
    assert failing[0][2] == "pending" and "ConnectionRefusedError" in failing[0][4]
    smtp.start()

    def skip_backoff_until_received():
        # Reset on every poll: an attempt in flight when we first reset would set a new backoff after it.
        with notify["store"].transaction() as s:
            for m in s.scalars(select(MessageLog).where(MessageLog.state == "pending")):
                m.next_attempt_at = datetime.fromisoformat("2000-01-01T00:00:00+00:00")
        return len(smtp.received()) == 1

    wait_until(skip_backoff_until_received, timeout=20, interval=0.5, what="the delayed receipt")
    assert messages(notify["store"])[0][2] == "sent"


def test_a_university_overrides_a_template(notify, smtp):
    (notify["templates"] / "seu").mkdir(parents=True)
    (notify["templates"] / "seu" / "receipt.subject.txt").write_text("东南大学党委组织部回执：{{ receipt_no }}",
                                                                        encoding="utf-8")
    smtp.start()
    campaign_then_orgs(notify)
    publish(notify["amqp"], story_submitted())
    got = wait_until(lambda: smtp.received() or None, timeout=20, what="the receipt")
    assert got[0]["subject"] == "东南大学党委组织部回执：SEU-20200714-00001"
    assert "您单位提交的作品已收到" in got[0]["body"]  # the body was not overridden


def key_events(tenant, kind, name, key):
    from common.auth import hash_key

    return make_event("api_key_issued", tenant, {"key_hash": hash_key(key), "tenant_kind": kind, "tenant_name": name})


def test_the_progress_feed_by_cursor_for_the_ministry_and_each_university(notify, smtp, make_config):
    import requests

    base = "http://" + notify["container"].config["WEB_SERVER_ADDRESS"] + "/api/v1/feed/progress"
    wust_campaign = seu_campaign()
    from common.campaign import campaign_event_data, load_builtin_definitions

    wust_campaign = make_event("campaign_published", "wust",
                               campaign_event_data(load_builtin_definitions()["siyige-2020-wust"]))
    publish(notify["amqp"], key_events("ministry", "ministry", "教育部思政司", "sk_ministry"),
            key_events("seu", "university", "东南大学", "sk_seu"),
            key_events("wust", "university", "武汉科技大学", "sk_wust"), seu_campaign(), wust_campaign, ORGS)

    def get(key, **params):
        return requests.get(base, params=params, headers={"Authorization": f"Bearer {key}"}, timeout=10)

    story = wait_until(lambda: next((r for r in get("sk_seu").json().get("items", [])
                                     if r["track"] == "story" and r["orgs_expected"] == 3), None),
                       what="SEU's story row with its three level-2 orgs")
    assert (story["tenant_name"], story["base_campaign_id"], story["orgs_submitted"]) == ("东南大学", "siyige-2020", 0)

    everything = get("sk_ministry", limit=500).json()
    assert {r["tenant"] for r in everything["items"]} == {"seu", "wust"}
    from jsonschema import Draft202012Validator

    from services.notify.service import OPENAPI

    as_documented = Draft202012Validator({**OPENAPI, "$ref": "#/components/schemas/ProgressPage"})
    assert not [e.message for e in as_documented.iter_errors(everything)]
    assert {r["tenant"] for r in get("sk_wust", limit=500).json()["items"]} == {"wust"}

    cursor = everything["next_cursor"]
    assert get("sk_ministry", cursor=cursor).json()["items"] == []
    publish(notify["amqp"], story_submitted())
    changed = wait_until(lambda: get("sk_ministry", cursor=cursor).json()["items"], what="the changed row")
    assert [(r["tenant"], r["track"], r["orgs_submitted"], r["works"]["submitted"]) for r in changed] == [
        ("seu", "story", 1, 1)]

    assert get("sk_nobody").json()["error"]["code"] == "invalid_api_key"
    assert get("sk_ministry", cursor="not-a-cursor").json()["error"]["code"] == "invalid_cursor"
    # the document's range (1–500) is checked with every other query parameter, before the key
    assert get("sk_ministry", limit=0).json()["error"]["code"] == "invalid_query"

    atom = requests.get(base + ".atom", headers={"Authorization": "Bearer sk_seu"}, timeout=10)
    assert atom.headers["Content-Type"].startswith("application/atom+xml") and "东南大学" in atom.text
    assert "武汉科技大学" not in atom.text
    xlsx = requests.get(base + ".xlsx", headers={"Authorization": "Bearer sk_ministry"}, timeout=10)
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(xlsx.content))["进度"]
    assert sheet["A1"].value == "高校" and {c.value for c in sheet["A"][1:]} == {"东南大学", "武汉科技大学"}


def start_receiver() -> tuple[dict, object]:
    """A portal's webhook endpoint on loopback: verifies signatures with `state["secret"]`, can be told to fail
    (`fail_next`); keeps (delivery id, body) of each accepted delivery and its X-Siyige-Event. (state, server)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from services.notify import webhooks

    state = {"secret": None, "fail_next": 0, "received": [], "rejected": [], "event_headers": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                webhooks.verify(body, dict(self.headers), state["secret"], int(time.time()))
            except ValueError as exc:
                state["rejected"].append(str(exc))
                self.send_response(401)
                self.end_headers()
                return
            if state["fail_next"] > 0:
                state["fail_next"] -= 1
                self.send_response(503)
                self.end_headers()
                return
            state["event_headers"].append(self.headers["X-Siyige-Event"])
            state["received"].append((self.headers["X-Siyige-Delivery"], json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    return state, server


@pytest.fixture
def portal_receiver():
    """A portal's webhook endpoint on loopback (start_receiver)."""
    state, server = start_receiver()
    yield state
    server.shutdown()


def test_webhooks_are_signed_retried_scoped_to_the_university_and_replayable(notify, smtp, portal_receiver):
    import requests

    from services.notify.models import WebhookDelivery

    base = "http://" + notify["container"].config["WEB_SERVER_ADDRESS"] + "/api/v1/webhooks"
    campaign_then_orgs(notify, key_events("seu", "university", "东南大学", "sk_seu"),
                       key_events("wust", "university", "武汉科技大学", "sk_wust"))
    seu = {"Authorization": "Bearer sk_seu"}
    r = wait_until(lambda: (x := requests.post(base, json={"url": portal_receiver["url"],
                                                           "event_types": ["submission_submitted"]},
                                               headers=seu, timeout=10)).status_code == 201 and x,
                   what="the subscription")
    sub = r.json()
    portal_receiver["secret"] = sub["secret"]
    assert "secret" not in requests.get(base, headers=seu, timeout=10).json()["items"][0]
    bad = requests.post(base, json={"url": "ftp://x", "event_types": ["submission_submitted"]}, headers=seu, timeout=10)
    assert bad.json()["error"]["code"] == "invalid_url"
    assert requests.get(f"{base}/{sub['id']}/deliveries", headers={"Authorization": "Bearer sk_wust"},
                        timeout=10).json()["error"]["code"] == "subscription_not_found"

    portal_receiver["fail_next"] = 1
    wust_event = make_event("submission_submitted", "wust", {**story_submitted().data, "campaign_id": "x"})
    publish(notify["amqp"], story_submitted(), wust_event)
    failed_once = wait_until(lambda: [d for d in requests.get(f"{base}/{sub['id']}/deliveries", headers=seu,
                                                              timeout=10).json()["items"] if d["attempts"] == 1],
                             what="the first, failed attempt")
    assert failed_once[0]["last_status"] == 503 and failed_once[0]["state"] == "pending"
    with notify["store"].transaction() as s:  # skip the backoff wait
        for d in s.scalars(select(WebhookDelivery)):
            d.next_attempt_at = datetime.fromisoformat("2000-01-01T00:00:00+00:00")
    wait_until(lambda: portal_receiver["received"], what="the retried delivery")
    delivery_id, payload = portal_receiver["received"][0]
    assert payload["type"] == "submission_submitted" and payload["tenant"] == "seu"
    assert portal_receiver["rejected"] == []
    import eventlet

    eventlet.sleep(1.5)
    assert len(portal_receiver["received"]) == 1  # WUST's event never reaches SEU's portal

    replayed = requests.post(f"{base}/{sub['id']}/deliveries/{delivery_id}/replay", headers=seu, timeout=10)
    assert replayed.json()["state"] == "pending"
    wait_until(lambda: len(portal_receiver["received"]) == 2, what="the replayed delivery")
    assert portal_receiver["received"][1][0] == delivery_id  # same delivery id: the portal can de-duplicate


def test_the_check_result_tells_the_org_what_to_fix(notify, smtp):
    smtp.start()
    uploaded = make_event("file_uploaded", "seu", {
        "file_id": "f-1", "submission_id": "s-o-cse", "campaign_id": "siyige-2020-seu", "track": "lecture",
        "kind": "video", "object_key": "seu/f-1", "size": 10, "sha256": "0" * 64, "content_type": "video/mp4",
        "original_name": "计算机学院党委微党课.mp4", "org_id": "o-cse"})
    finding = {"rule": "duration_s le 1800", "severity": "error", "expected": 1800, "actual": 1860,
               "message": "时长应不超过30分钟，实际为31分钟。微党课时长不超过30分钟，请剪辑后重新上传。"}
    checked = make_event("file_checked", "media", {
        "file_id": "f-1", "submission_id": "s-o-cse", "verdict": "failed", "findings": [finding],
        "facts": {"duration_s": 1860}, "checked_at": "2020-07-10T02:00:00+00:00"})
    passed = make_event("file_checked", "media", {
        "file_id": "f-1", "submission_id": "s-o-cse", "verdict": "passed", "findings": [],
        "facts": {}, "checked_at": "2020-07-10T03:00:00+00:00"})
    publish(notify["amqp"], ORGS)
    from services.notify.models import Contact

    def contacts():
        with notify["store"].transaction() as s:
            return len(s.scalars(select(Contact)).all())

    wait_until(lambda: contacts() == 4, what="the contacts")
    # the check result may overtake the upload event: the mail waits for it, it is not lost
    with Connection(notify["amqp"]) as conn:
        conn.Producer().publish(checked.to_dict(), exchange=Exchange("media.events", type="topic", durable=True),
                                routing_key="file_checked", serializer="json")
        conn.Producer().publish(passed.to_dict(), exchange=Exchange("media.events", type="topic", durable=True),
                                routing_key="file_checked", serializer="json")
    publish(notify["amqp"], uploaded)
    got = wait_until(lambda: smtp.received() or None, timeout=20, what="the check result e-mail")
    assert len(got) == 1 and got[0]["to"] == "cse@demo.local"
    assert "未通过" in got[0]["subject"] and "计算机学院党委微党课.mp4" in got[0]["subject"]
    assert "【须修改】时长应不超过30分钟" in got[0]["body"] and "重新上传" in got[0]["body"]


def test_a_withdrawal_that_overtakes_its_submission_still_wins(notify, smtp):
    from services.notify.models import Progress, SubmissionCopy

    campaign_then_orgs(notify)
    submitted = story_submitted()
    withdrawn = make_event("submission_withdrawn", "seu", {
        "submission_id": submitted.data["submission_id"], "campaign_id": "siyige-2020-seu", "track": "story",
        "org_id": "o-cse", "withdrawn_at": "2020-07-14T03:00:00+00:00"})
    publish(notify["amqp"], withdrawn)

    def copy_state():
        with notify["store"].transaction() as s:
            row = s.get(SubmissionCopy, submitted.data["submission_id"])
            return row and (row.state, tuple(row.stages))

    wait_until(lambda: copy_state() == ("withdrawn", ()), what="the early withdrawal")
    publish(notify["amqp"], submitted)
    wait_until(lambda: copy_state() == ("withdrawn", ("submission",)), what="the late submission")
    with notify["store"].transaction() as s:
        row = s.get(Progress, ("seu", "siyige-2020-seu", "story", "level2"))
        assert (row.works_submitted, row.works_withdrawn, row.orgs_submitted) == (0, 1, 0)


def reopened(submission_id: str, at: str, voided: str):
    return make_event("submission_reopened", "seu", {
        "submission_id": submission_id, "campaign_id": "siyige-2020-seu", "track": "story", "org_id": "o-cse",
        "org_name": "计算机科学与工程学院党委", "org_level": "level2", "title": "计算机学院党委战疫故事", "stage": None,
        "stages_submitted": [], "reopened_stage": "submission", "reason": "file_deleted", "file_id": "f-1",
        "voided_receipts": [voided], "reopened_at": at, "contact_email": "cse@demo.local"})


def test_a_late_reopening_or_a_late_submission_does_not_undo_what_a_newer_event_counted(notify, smtp):
    """Events can arrive out of order (a retry, a replica): notify counts the newest state of each work."""
    from services.notify.models import SubmissionCopy

    def copy_state(sid):
        with notify["store"].transaction() as s:
            row = s.get(SubmissionCopy, sid)
            return row and (row.state, tuple(row.stages))

    def handled_reopenings():
        return sum(1 for m in messages(notify["store"]) if m[0] == "reopened")

    campaign_then_orgs(notify)
    publish(notify["amqp"], story_submitted())
    wait_until(lambda: copy_state("s-o-cse") == ("submitted", ("submission",)), what="the submission")
    # submitted 02:00, its file deleted 02:30 (reopened), submitted again 03:00 — the reopening arrives last
    again = story_submitted(receipt="SEU-20200714-00002")
    again.data["submitted_at"] = "2020-07-14T03:00:00+00:00"
    publish(notify["amqp"], again)
    publish(notify["amqp"], reopened("s-o-cse", "2020-07-14T02:30:00+00:00", "SEU-20200714-00001"))
    wait_until(lambda: handled_reopenings() == 1, what="the late reopening")
    assert copy_state("s-o-cse") == ("submitted", ("submission",))

    # the other way round: a reopening at 02:30 arrives before the submission of 02:00 it undid
    first = story_submitted(org_id="o-me", receipt="SEU-20200714-00003")
    late = reopened("s-o-me", "2020-07-14T02:30:00+00:00", "SEU-20200714-00003")
    late.data["org_id"] = "o-me"
    publish(notify["amqp"], late)
    wait_until(lambda: copy_state("s-o-me") == ("draft", ()), what="the early reopening")
    publish(notify["amqp"], first)
    wait_until(lambda: any(m[0] == "receipt" and m[1] == "cse@demo.local" for m in messages(notify["store"]))
               and len([m for m in messages(notify["store"]) if m[0] == "receipt"]) >= 3, what="the late receipt")
    assert copy_state("s-o-me") == ("draft", ())


def test_reviewers_get_their_link_and_orgs_their_selection_result(notify, smtp):
    smtp.start()
    campaign_then_orgs(notify)
    publish(notify["amqp"], story_submitted())
    from services.notify.models import SubmissionCopy

    def known():
        with notify["store"].transaction() as s:
            return s.get(SubmissionCopy, "s-o-cse") is not None

    wait_until(known, what="the submission")
    invited = make_event("reviewer_invited", "seu", {
        "reviewer_id": "r-1", "round_id": "rd-1", "name": "王老师", "email": "wang@example.edu.cn",
        "round_title": "东南大学 · 战疫故事汇 · 校级评审", "sign_in_url": "http://localhost:8001/sign-in/tok123",
        "link_expires_at": "2020-07-28T08:00:00+00:00", "assigned": 40, "open": 40})
    selected = make_event("selection_made", "seu", {
        "round_id": "rd-1", "campaign_id": "siyige-2020-seu", "track": "story", "level": "university",
        "to_level": "ministry", "owner_org_id": None, "selected": ["s-o-cse"], "not_selected": [],
        "results": [{"submission_id": "s-o-cse", "tenant": "seu", "rank": 1, "selected": True, "normalised": 90.0,
                     "title": "计算机学院党委战疫故事"}]})
    with Connection(notify["amqp"]) as conn:
        for ev in (invited, invited, selected):  # the invitation twice: one e-mail
            conn.Producer().publish(ev.to_dict(), exchange=Exchange("review.events", type="topic", durable=True),
                                    routing_key=ev.type, serializer="json", delivery_mode=2)
    got = wait_until(lambda: (m := smtp.received()) and len(m) >= 3 and m, timeout=30, what="three e-mails")
    by_subject = {m["subject"]: m for m in got}
    invite = next(m for s, m in by_subject.items() if "评审邀请" in s)
    assert invite["to"] == "wang@example.edu.cn" and "http://localhost:8001/sign-in/tok123" in invite["body"]
    assert "40 件" in invite["body"] and "2020年07月28日 16:00" in invite["body"]
    result = next(m for s, m in by_subject.items() if "评审结果" in s)
    assert result["to"] == "cse@demo.local" and "入选" in result["subject"] and "第 1 位" in result["body"]
    assert "教育部" in result["body"]
    import time as _time

    _time.sleep(1)
    assert sum("评审邀请" in m["subject"] for m in smtp.received()) == 1


def test_an_invited_person_gets_the_link_to_set_their_password_once(notify, smtp):
    smtp.start()
    invited = make_event("account_invited", "seu", {
        "account_id": "a-1", "name": "李华", "email": "lihua@seu.edu.cn", "tenant_name": "东南大学",
        "invited_by": "东南大学党委组织部", "roles": ["部门管理员（党委宣传部）", "查看者"],
        "accept_url": "http://localhost:8000/invitations/tok-abc", "link_expires_at": "2020-07-28T08:00:00+00:00"})
    publish(notify["amqp"], invited, invited)  # delivered twice: mailed once
    got = wait_until(lambda: smtp.received(), timeout=30, what="the invitation")
    mail = got[0]
    assert mail["to"] == "lihua@seu.edu.cn" and "东南大学" in mail["subject"] and "账号邀请" in mail["subject"]
    assert "http://localhost:8000/invitations/tok-abc" in mail["body"]
    assert "部门管理员（党委宣传部）" in mail["body"] and "查看者" in mail["body"]
    assert "2020年07月28日 16:00" in mail["body"]
    time.sleep(1)
    assert len(smtp.received()) == 1


def test_an_invitation_from_a_university_with_a_line_separator_in_its_name_is_one_subject_line(notify, smtp):
    smtp.start()
    invited = make_event("account_invited", "seu", {
        "account_id": "a-2", "name": "王五\u2028Bcc: victim@example.com", "email": "wangwu@seu.edu.cn",
        "tenant_name": "东南大学\r\nBcc: victim@example.com", "invited_by": "单位管理员", "roles": ["查看者"],
        "accept_url": "http://localhost:8000/invitations/tok-def", "link_expires_at": "2020-07-28T08:00:00+00:00"})
    publish(notify["amqp"], invited)
    mail = wait_until(lambda: smtp.received(), timeout=30, what="the invitation")[0]
    assert mail["to"] == "wangwu@seu.edu.cn" and "东南大学" in mail["subject"]
    assert not any(sep in mail["subject"] for sep in ("\r", "\n", "\u2028"))
    assert "victim@example.com" not in (mail.get("bcc") or "") and "http://localhost:8000/invitations/tok-def" in mail["body"]


def test_a_key_limited_to_some_orgs_is_refused_with_its_reason(notify):
    """Issue #15: a portal key limited to some orgs or tracks works on intake's API only. Everything notify serves is
    the whole university's (webhook subscriptions and deliveries, the message log, progress), so notify refuses it with
    403 key_reach and says which key to use, on the API and on the pages' key sign-in, while a whole-university key
    of the same university goes on working."""
    import requests

    from common.auth import hash_key
    from tests.signin import form_token

    base = "http://" + notify["container"].config["WEB_SERVER_ADDRESS"]
    limited = make_event("api_key_issued", "seu", {"key_hash": hash_key("sk_seu_cs_only"), "tenant_kind": "university",
                                                   "tenant_name": "东南大学", "scopes": ["submit"],
                                                   "reach": {"org_ids": ["o-cs"], "tracks": ["lecture"]}})
    publish(notify["amqp"], key_events("seu", "university", "东南大学", "sk_seu"), limited)

    def answer(path, key):
        return requests.get(base + path, headers={"Authorization": f"Bearer {key}"}, timeout=10)

    wait_until(lambda: answer("/api/v1/webhooks", "sk_seu_cs_only").status_code == 403, timeout=20,
               what="notify's copy of the limited key")
    for path in ("/api/v1/webhooks", "/api/v1/messages", "/api/v1/feed/progress"):
        refused = answer(path, "sk_seu_cs_only")
        error = refused.json()["error"]
        assert (refused.status_code, error["code"]) == (403, "key_reach"), (path, refused.text)
        assert "部分组织或赛道" in error["message"] and "不受限的报送密钥" in error["message"]
    assert answer("/api/v1/webhooks", "sk_seu").status_code == 200
    web = requests.Session()
    token = form_token(web.get(f"{base}/sign-in", timeout=10).text)
    signed = web.post(f"{base}/sign-in", data={"api_key": "sk_seu_cs_only", "csrf_token": token}, allow_redirects=False,
                      timeout=10)
    assert signed.status_code == 403 and "部分组织或赛道" in signed.text
    answer = web.get(f"{base}/dashboard", allow_redirects=False, timeout=10)
    assert answer.headers["Location"] == "/sign-in?next=/dashboard"  # not in
