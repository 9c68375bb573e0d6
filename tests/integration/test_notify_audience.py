"""The ministry's 四个一 2020 is for 教育部直属高校 and 部省合建高校 (issue #16): notify announces it to the 组织部 of
each university in its audience and of none other, against a real RabbitMQ and a real SMTP server (aiosmtpd); a
university whose category is set later so that it joins the audience is told late, once; a copy made by a
university outside it counts no orgs expected on the ministry's dashboard until its category puts it in."""
from datetime import datetime

from sqlalchemy import func, select

from common import clock
from common.campaign import campaign_event_data, load_builtin_definitions
from common.events import make_event
from tests.conftest import wait_until
from tests.integration.test_notify_announcement import known, mails
from tests.integration.test_notify_service import _kept, notify, publish, smtp  # noqa: F401 (fixtures)


def registered(slug, name, category, email=None):
    data = {"name": name, "kind": "ministry" if slug == "ministry" else "university",
            "contact_email": email or f"zzb@{slug}.demo.local"}
    if category != "absent":
        data["category"] = category
    return make_event("tenant_registered", slug, data)


TENANTS = [registered("ministry", "教育部思想政治工作司", "absent", "szs@moe.local"),
           registered("seu", "东南大学", "direct"),  # 直属高校
           registered("hbue", "湖北经济学院", "local"),  # 地方高校
           registered("newu", "新登记大学", None),  # not registered: not hidden
           registered("oldu", "老事件大学", "absent")]  # an event from before categories


def test_the_ministrys_campaign_is_announced_only_to_the_universities_in_its_audience(notify, smtp):
    from services.notify.models import CampaignCopy, MessageLog, Progress, TenantName

    clock.set_start(datetime.fromisoformat("2020-06-12T09:00:00+08:00"))  # the campaign runs: late mails go out
    smtp.start()
    publish(notify["amqp"], *TENANTS)
    wait_until(lambda: known(notify["store"], TenantName, 5), what="the tenants")
    ministry = make_event("campaign_published", "ministry",
                          campaign_event_data(load_builtin_definitions()["siyige-2020"]))
    assert ministry.data["audience"] == {"categories": ["direct", "co_built"]}
    publish(notify["amqp"], ministry)
    got = wait_until(lambda: (lambda m: m if len(m) >= 3 else None)(mails(smtp)), timeout=20,
                     what="the announcements to the universities in the audience")
    eventlet_pause()
    assert sorted(m["to"] for m in mails(smtp)) == ["zzb@newu.demo.local", "zzb@oldu.demo.local", "zzb@seu.demo.local"]
    assert all(m["subject"].startswith("【活动通知】") for m in got)
    with notify["store"].transaction() as s:
        assert s.get(CampaignCopy, "siyige-2020").audience == {"categories": ["direct", "co_built"]}
        assert s.get(TenantName, "hbue").category == "local" and s.get(TenantName, "oldu").category is None

    # 湖北经济学院's copy, made before this (a 地方高校 cannot make one now): kept, but no one is expected of it
    wust = load_builtin_definitions()["siyige-2020-wust"]
    copy = make_event("campaign_published", "hbue", campaign_event_data(wust, "hbue.siyige-2020-hbue", "siyige-2020"))
    publish(notify["amqp"], copy)
    wait_until(lambda: _kept(notify["store"], CampaignCopy, "hbue.siyige-2020-hbue"), what="hbue's copy")
    assert rows(notify["store"], "hbue") == 0

    # the operator corrects its category: a 部省合建高校 now, told late (once), and counted under its copy
    publish(notify["amqp"], registered("hbue", "湖北经济学院", "co_built"))
    late = wait_until(lambda: [m for m in mails(smtp) if m["to"] == "zzb@hbue.demo.local"] or None, timeout=20,
                      what="the late announcement to 湖北经济学院")
    assert len(late) == 1 and "现补发活动通知" in late[0]["body"]
    wait_until(lambda: rows(notify["store"], "hbue") > 0, what="hbue's progress rows")
    with notify["store"].transaction() as s:
        keys = sorted(k for k in s.scalars(select(MessageLog.dedupe_key)) if "siyige-2020:" in k)
        count = s.scalar(select(func.count()).select_from(Progress).where(Progress.tenant == "hbue"))
    assert keys == ["announce-late:siyige-2020:hbue", "announce:siyige-2020:v1:newu", "announce:siyige-2020:v1:oldu",
                    "announce:siyige-2020:v1:seu"]
    assert count == sum(len(t.submit_levels) for t in wust.tracks.values())
    # and back to 地方高校: its rows go
    publish(notify["amqp"], registered("hbue", "湖北经济学院", "local"))
    wait_until(lambda: rows(notify["store"], "hbue") == 0, what="hbue's rows dropped")


def rows(store, tenant) -> int:
    from services.notify.models import Progress

    with store.transaction() as s:
        return s.scalar(select(func.count()).select_from(Progress).where(Progress.tenant == tenant))


def eventlet_pause(seconds=1.0):
    """Give a mail that should not come the time to come (the announcement is one transaction: it would be here)."""
    import eventlet

    eventlet.sleep(seconds)
