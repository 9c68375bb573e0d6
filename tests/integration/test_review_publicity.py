"""公示期满 (issue #16, "Where a selection ends"): a final round whose decision is a publicity is confirmed on review's
pages; once its period is over by the platform's clock, review's timer announces `publicity_ended` once, and notify
(on the same RabbitMQ) mails each org whose work was published, to a real SMTP server.

What is proved:
- before the period's last Beijing day is over the timer announces nothing; after it, one event, whatever the number
  of runs, and none from a restarted review;
- the same event delivered to notify again mails nobody twice;
- on PostgreSQL, a second replica running the timer while the first holds its claim waits, then announces nothing.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import datetime

import pytest
from kombu import Connection, Exchange
from nameko.testing.services import entrypoint_hook
from sqlalchemy import select

from common import clock
from common.db import Store, migrate
from common.events import make_event, validate_envelope
from common.settings import migrations_dir
from tests.conftest import ROOT, wait_until
from tests.integration.test_notify_service import smtp  # noqa: F401 - fixture
from tests.integration.test_review_final_rounds import entries, nominated, published, rounds
from tests.integration.test_review_service import INTAKE, admin, csrf, outbox, publish, review  # noqa: F401 - fixture
from tests.pg import create_database

REVIEW_EVENTS = Exchange("review.events", type="topic", durable=True)
SEU = make_event("tenant_registered", "seu", {"name": "东南大学", "kind": "university", "contact_email": None})
ORGS = make_event("orgs_imported", "seu", {"tenant_name": "东南大学", "orgs": [
    {"org_id": "o-cse", "name": "计算机科学与工程学院党委", "level": "level2", "parent_id": None,
     "contact_email": "cse@demo.local"}]})


@pytest.fixture
def notify(make_config, start_service, smtp, tmp_path):  # noqa: F811 - the SMTP fixture
    """Notify beside review (test_review_service.review) on the same broker, with its own database."""
    from services.notify.service import NotifyService

    url = f"sqlite:///{tmp_path / 'notify.db'}"
    config = make_config("notify", DATABASE_URL=url, MAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
                         TEMPLATE_DIR=str(tmp_path / "templates"))
    smtp.start()
    container = start_service(NotifyService, config)
    store = Store(url)
    yield {"container": container, "store": store}
    store.dispose()


def _end_publicities(container) -> int:
    with entrypoint_hook(container, "end_publicities") as run:
        return run()


def _publicity_mails(smtp) -> list[dict]:  # noqa: F811
    return [m for m in smtp.received() if m["subject"].startswith("【公示结果】")]


def test_a_publicitys_end_is_announced_once_and_each_org_is_told_the_result_stands(
        review, notify, smtp, make_config, start_service):  # noqa: F811
    from services.notify.models import CampaignCopy, Contact, SubmissionCopy, TenantName
    from services.review.service import ReviewService

    base, store = review["base"], review["store"]  # review's clock: 2020-07-20 09:00 Beijing
    published(review)

    def notify_keeps(model, key):
        with notify["store"].transaction() as s:
            row = s.get(model, key)
            return row is not None and (model is not Contact or row.email)

    wait_until(lambda: notify_keeps(CampaignCopy, "honours-2021"), timeout=20, what="notify's copy of the campaign")
    publish(review["amqp"], INTAKE, SEU, ORGS, nominated(1, track="pioneers"), nominated(2, track="pioneers"))
    wait_until(lambda: len([r for r in entries(store).values() if r]) == 2, timeout=20, what="2 works in a round")
    wait_until(lambda: notify_keeps(Contact, "o-cse") and notify_keeps(SubmissionCopy, "h-pioneers-2")
               and notify_keeps(TenantName, "seu"), timeout=20, what="notify's copies of the university, org and works")
    [(round_id, track, level)] = rounds(store)
    assert (track, level) == ("pioneers", "university")

    web = admin(base)
    page = web.get(f"{base}/rounds/{round_id}").text
    assert "最终评选：入选 名额不限，公示 5 天" in page
    token = csrf(page)
    web.post(f"{base}/rounds/{round_id}/close", data={"csrf_token": token})
    r = web.post(f"{base}/rounds/{round_id}/selection", data={"csrf_token": token, "selected": ["h-pioneers-1"]})
    assert r.status_code == 200 and "已确认" in r.text
    assert "入选作品公示中，公示期至 2020-07-25（北京时间）" in r.text
    [made] = outbox(store, "selection_made")
    assert made["data"]["decision"] == {"level": "university", "kind": "publicity", "label": "公示",
                                        "publicity_days": 5}

    container = review["container"]
    assert _end_publicities(container) == 0  # confirmed today: five days to go
    clock.set_start(datetime.fromisoformat("2020-07-25T23:59:00+08:00"))  # the period's last minute
    assert _end_publicities(container) == 0
    assert outbox(store, "publicity_ended") == []
    clock.set_start(datetime.fromisoformat("2020-07-26T00:01:00+08:00"))
    assert _end_publicities(container) == 1
    assert _end_publicities(container) == 0  # the next tick: already announced

    # a restarted review (another process on the same database) finds nothing left to announce
    config = make_config("review", DATABASE_URL=store.url, WEB_SECRET="test-secret")
    config["PUBLIC_URL"] = f"http://{config['WEB_SERVER_ADDRESS']}"
    container.stop()
    again = start_service(ReviewService, config)
    assert _end_publicities(again) == 0

    [ended] = outbox(store, "publicity_ended")
    validate_envelope(ended)  # as notify checks it
    data = ended["data"]
    assert (data["round_id"], data["track"], data["level"], data["label"]) == (round_id, "pioneers", "university", "公示")
    assert (data["publicity_days"], data["until"]) == (5, "2020-07-25")
    assert data["confirmed_at"].startswith("2020-07-20T01:00") and data["ended_at"].startswith("2020-07-25T16:01")
    assert data["works"] == [{"submission_id": "h-pioneers-1", "tenant": "seu", "title": "张1同志先进事迹"}]
    ranking = admin(config["PUBLIC_URL"]).get(f"{config['PUBLIC_URL']}/rounds/{round_id}/ranking").text
    assert "公示期已满（至 2020-07-25），入选结果已生效" in ranking

    # notify mails the org of the published work, once; the work not chosen hears nothing more
    [mail] = wait_until(lambda: _publicity_mails(smtp), timeout=30, what="the 公示期满 mail")
    assert mail["to"] == "cse@demo.local" and mail["subject"] == "【公示结果】张1同志先进事迹：公示期满，已入选"
    assert "于 2020年7月20日起公示 5 天。公示期已于 2020年7月25日届满，入选结果正式生效" in mail["body"]
    assert "在东南大学的“身边的先锋 · 校级评审”中入选" in mail["body"]
    with Connection(review["amqp"]) as conn:  # delivered again (a relay that died before marking it sent)
        conn.Producer().publish(ended, exchange=REVIEW_EVENTS, routing_key="publicity_ended", serializer="json",
                                delivery_mode=2)
    time.sleep(2)
    assert len(_publicity_mails(smtp)) == 1
    from services.notify.models import MessageLog

    with notify["store"].transaction() as s:
        assert [(m.kind, m.recipient) for m in s.scalars(select(MessageLog).where(
            MessageLog.kind == "publicity_ended"))] == [("publicity_ended", "cse@demo.local")]


CLAIM_AND_WAIT = """
import sys
from common.db import Store
from common.messaging import StandaloneOutbox
from services.review import operations as ops
from services.review.models import OutboxMessage
store = Store(sys.argv[1])
with store.engine.connect():  # connected and imported: from here it takes milliseconds
    pass
print("ready", flush=True)
print(ops.end_due_publicities(store.transaction, StandaloneOutbox(OutboxMessage)), flush=True)
store.dispose()
"""


def test_two_replicas_whose_timers_find_one_period_over_announce_it_once(pg_server):
    from common.messaging import StandaloneOutbox
    from services.review.domain import publicity
    from services.review.models import Entry, OutboxMessage, PublicityPeriod, Round, SelectionRow
    from services.review.operations.publicity import end_publicity

    url = create_database(pg_server)
    migrate(url, migrations_dir("review"))
    store = Store(url)
    confirmed = datetime.fromisoformat("2020-07-20T09:00:00+08:00")
    with store.transaction() as s:
        s.add(Round(id="rd-1", tenant="seu", campaign_id="honours-2021", track="pioneers", level="university",
                    owner_org_id="", title="身边的先锋 · 校级评审", state="selected", selected_at=confirmed))
        s.flush()
        s.add(Entry(submission_id="h-1", tenant="seu", campaign_id="honours-2021", track="pioneers",
                    stage="nomination", title="张1同志先进事迹", state="submitted", round_id="rd-1", level="university"))
        s.add(SelectionRow(round_id="rd-1", submission_id="h-1", rank=1, selected=True))
        s.add(PublicityPeriod(round_id="rd-1", tenant="seu", label="公示", days=5, confirmed_at=confirmed,
                              ends_at=publicity.period(confirmed, 5).ends_at))
    clock.set_start(datetime.fromisoformat("2020-07-26T08:00:00+08:00"))
    try:
        with store.transaction() as s:
            assert end_publicity(s, StandaloneOutbox(OutboxMessage), "rd-1", clock.now()) == 1  # not committed yet
            other = subprocess.Popen([sys.executable, "-c", CLAIM_AND_WAIT, url], cwd=ROOT, stdout=subprocess.PIPE,
                                     text=True, env={**os.environ, "PLATFORM_CLOCK_START": "2020-07-26T08:00:00+08:00"})
            assert other.stdout.readline().strip() == "ready"
            time.sleep(1.5)  # ample for its few statements, had it not to wait for this claim
            waited = other.poll() is None
        assert other.wait(timeout=60) == 0
        assert other.stdout.read().strip() == "0"
        assert waited, "the second replica did not wait for the first one's claim"
        with store.transaction() as s:
            rows = s.scalars(select(OutboxMessage).where(OutboxMessage.event_type == "publicity_ended")).all()
            assert len(rows) == 1 and rows[0].envelope["data"]["works"][0]["submission_id"] == "h-1"
            assert s.get(PublicityPeriod, "rd-1").ended_at is not None
    finally:
        clock.set_start(None)
        store.dispose()


def test_the_round_page_says_the_publicity_is_running(review):
    base, store = review["base"], review["store"]
    published(review)
    publish(review["amqp"], INTAKE, nominated(3, track="pioneers"))
    wait_until(lambda: len([r for r in entries(store).values() if r]) == 1, timeout=20, what="1 work in a round")
    [(round_id, _, _)] = rounds(store)
    web = admin(base)
    token = csrf(web.get(f"{base}/rounds/{round_id}").text)
    web.post(f"{base}/rounds/{round_id}/close", data={"csrf_token": token})
    web.post(f"{base}/rounds/{round_id}/selection", data={"csrf_token": token, "selected": ["h-pioneers-3"]})
    page = web.get(f"{base}/rounds/{round_id}").text
    assert re.search(r'id="publicity">入选作品公示中，公示期至 2020-07-25（北京时间）', page)
