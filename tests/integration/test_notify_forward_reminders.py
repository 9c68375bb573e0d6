"""Notify reminds a university that has forwarded nothing in a track, 3 and 1 days before its deadline to the
ministry, once each, by e-mail to its 组织部 mailbox, through a real SMTP server (issue #16)."""
from datetime import datetime

from nameko.testing.services import entrypoint_hook
from sqlalchemy.engine import make_url

from common import clock
from common.campaign import campaign_event_data, load_builtin_definitions
from common.events import make_event
from services.notify.models import CampaignCopy, ForwardedWork, TenantName
from tests.conftest import wait_until
from tests.integration.test_notify_service import notify, publish, smtp  # noqa: F401 - fixtures


def campaign(campaign_id: str, tenant: str):
    return make_event("campaign_published", tenant, campaign_event_data(load_builtin_definitions()[campaign_id]))


def university(tenant: str, name: str, email: str | None):
    return make_event("tenant_registered", tenant, {"name": name, "kind": "university", "contact_email": email})


def wust_forwarded_a_story():
    return make_event("submission_forwarded", "wust", {
        "submission_id": "s-wust-1", "campaign_id": "siyige-2020", "track": "story", "org_id": "o-w",
        "org_name": "武汉科技大学研究生院党委", "org_level": "level2", "from_level": "university", "to_level": "ministry",
        "title": "社区里的研究生党员", "receipt_no": "WUST-1", "forwarded_at": "2020-07-20T02:00:00+00:00",
        "fields": {"title": "社区里的研究生党员"}, "files": [], "tenant_name": "武汉科技大学",
        "root_campaign_id": "siyige-2020"})


def forward_reminders(store) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from services.notify.models import MessageLog

    with store.transaction() as s:
        return sorted((m.recipient, m.dedupe_key) for m in
                      s.scalars(select(MessageLog).where(MessageLog.kind == "forward_reminder")))


def test_a_university_that_forwarded_nothing_is_mailed_once_on_each_reminder_day(notify, smtp):
    smtp.start()
    # SEU works under its copy, WUST under the ministry's campaign itself; 北京某大学 gave no mailbox
    publish(notify["amqp"], university("seu", "东南大学", "seuzzb@demo.local"),
            university("wust", "武汉科技大学", "wustzzb@demo.local"), university("bj", "北京某大学", None),
            campaign("siyige-2020", "ministry"), campaign("siyige-2020-seu", "seu"), wust_forwarded_a_story())
    store = notify["store"]

    def heard():
        # a plain reader (WAL): the store's BEGIN IMMEDIATE would block the loop the service's writer needs
        import sqlite3

        with sqlite3.connect(make_url(store.url).database) as db:
            counts = [db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - our table names
                      for table in (TenantName.__tablename__, CampaignCopy.__tablename__, ForwardedWork.__tablename__)]
        return counts == [3, 2, 1]

    wait_until(heard, timeout=20, what="the universities, campaigns and WUST's forwarded story")
    remind = lambda: _send_reminders(notify)  # noqa: E731
    clock.set_start(datetime.fromisoformat("2020-07-27T09:00:00+08:00"))  # four days before 7/31
    assert remind() == 0
    clock.set_start(datetime.fromisoformat("2020-07-28T09:00:00+08:00"))  # three days before
    assert remind() == 3  # SEU's lecture and story; WUST's lecture (its story went up)
    assert remind() == 0  # a second run, as another replica's, adds nothing
    clock.set_start(datetime.fromisoformat("2020-07-29T09:00:00+08:00"))
    assert remind() == 0  # the 3-day reminder was sent: not again
    clock.set_start(datetime.fromisoformat("2020-07-30T09:00:00+08:00"))  # one day before
    assert remind() == 3 and remind() == 0
    clock.set_start(datetime.fromisoformat("2020-08-01T09:00:00+08:00"))  # after it: nothing more from us
    assert remind() == 0

    assert forward_reminders(store) == sorted(
        [(f"{u}zzb@demo.local", f"forward-reminder:siyige-2020:{t}:{u}:{d}")
         for u, t in (("seu", "lecture"), ("seu", "story"), ("wust", "lecture")) for d in (3, 1)])
    got = wait_until(lambda: [m for m in smtp.received() if "向教育部报送" in m["subject"]] if len(
        [m for m in smtp.received() if "向教育部报送" in m["subject"]]) == 6 else None, timeout=30,
        what="six reminder mails")
    seu_story = [m for m in got if m["to"] == "seuzzb@demo.local" and "战疫故事汇" in m["subject"]]
    assert sorted(m["subject"] for m in seu_story) == [
        "【提醒】“战疫故事汇”须于 2020年07月31日 23:59 前向教育部报送，还有 1 天",
        "【提醒】“战疫故事汇”须于 2020年07月31日 23:59 前向教育部报送，还有 3 天"]
    body = seu_story[0]["body"]
    assert body.startswith("东南大学党委组织部：") and "尚未向教育部报送该赛道的任何作品" in body
    assert "最多 10 件" in body and "教育部思政司" in body
    assert not [m for m in got if m["to"] == "wustzzb@demo.local" and "战疫故事汇" in m["subject"]]


def _send_reminders(env) -> int:
    with entrypoint_hook(env["container"], "send_reminders") as send:
        return send()
