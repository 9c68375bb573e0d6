"""A recurring track in notify (石油大学's monthly online 组织生活), walked through April and May 2020 on the rehearsal
clock: progress counts the current month's records, and a branch without this month's record is reminded once,
7 days before the month's due day, through a real SMTP server (issue #16)."""
from datetime import datetime

import eventlet
from nameko.testing.services import entrypoint_hook
from sqlalchemy import select

from common import clock
from common.campaign import DEFINITIONS_DIR, campaign_event_data, load_builtin_definitions
from common.events import make_event
from tests.conftest import wait_until
from tests.integration.test_notify_service import _kept, notify, publish, smtp  # noqa: F401 - fixtures

CAMPAIGN = "upc-zuzhishenghuo-2020"
UPC = make_event("tenant_registered", "upc", {"name": "中国石油大学", "kind": "university",
                                              "contact_email": "upczzb@demo.local"})
ORGS = make_event("orgs_imported", "upc", {"orgs": [
    {"org_id": "o-pe", "name": "石油工程学院党委", "level": "level2", "parent_id": None, "contact_email": "pe@demo.local"},
    {"org_id": "o-b1", "name": "研钻井19-1党支部", "level": "branch", "parent_id": "o-pe", "contact_email": "b1@demo.local"},
    {"org_id": "o-b2", "name": "研钻井19-2党支部", "level": "branch", "parent_id": "o-pe", "contact_email": "b2@demo.local"},
    {"org_id": "o-b3", "name": "研钻井19-3党支部", "level": "branch", "parent_id": "o-pe", "contact_email": None},
]})


def record(org_id: str, held_on: str, submitted_at: str):
    return make_event("submission_submitted", "upc", {
        "submission_id": f"s-{org_id}-{held_on}", "campaign_id": CAMPAIGN, "track": "monthly_record",
        "stage": "record", "final_stage": True, "org_id": org_id, "org_name": org_id, "org_level": "branch",
        "title": f"{held_on} 组织生活", "receipt_no": f"UPC-{org_id}-{held_on}", "submitted_at": submitted_at,
        "file_ids": [], "contact_email": None, "parent_org_id": "o-pe",
        "fields": {"title": f"{held_on} 组织生活", "held_on": held_on, "attendance": 12}})


def progress(store):
    from services.notify.models import Progress

    with store.transaction() as s:
        row = s.get(Progress, ("upc", CAMPAIGN, "monthly_record", "branch"))
        return row and (row.period, row.orgs_expected, row.orgs_submitted, row.works_submitted)


def dashboard_track(store):
    from services.notify import dashboard

    with store.transaction() as s:
        track, = dashboard.aggregate(s, "upc", dashboard.Filters())["tracks"]
        return track["period"], track["orgs_expected"], track["orgs_submitted"]


def period_reminders(store):
    from services.notify.models import MessageLog

    with store.transaction() as s:
        return sorted((m.recipient, m.dedupe_key) for m in
                      s.scalars(select(MessageLog).where(MessageLog.kind == "period_reminder")))


def test_a_monthly_record_is_counted_and_reminded_per_month(notify, smtp):
    from services.notify.models import CampaignCopy, Contact

    store = notify["store"]
    smtp.start()
    clock.set_start(datetime.fromisoformat("2020-04-10T09:00:00+08:00"))
    publish(notify["amqp"], UPC, ORGS)
    wait_until(lambda: _kept(store, Contact, "o-b3") and _kept(store, Contact, "o-pe"), what="石油大学's orgs")
    definition = load_builtin_definitions(DEFINITIONS_DIR / "own")[CAMPAIGN]
    publish(notify["amqp"], make_event("campaign_published", "upc", campaign_event_data(definition)))
    wait_until(lambda: _kept(store, CampaignCopy, CAMPAIGN), what="石油大学's campaign")
    assert progress(store) == ("2020-04", 3, 0, 0)  # three branches owe April's record; the college records nothing

    # b1 files March's record late in March and April's now; b2 only March's
    publish(notify["amqp"], record("o-b1", "2020-03-20", "2020-03-25T02:00:00+00:00"),
            record("o-b1", "2020-04-08", "2020-04-09T02:00:00+00:00"),
            record("o-b2", "2020-03-18", "2020-03-19T02:00:00+00:00"))
    assert wait_until(lambda: (p := progress(store)) == ("2020-04", 3, 1, 1) and p, what="April's count")
    assert dashboard_track(store) == ("2020年4月", 3, 1)

    remind = lambda: _hook(notify, "send_reminders")  # noqa: E731
    clock.set_start(datetime.fromisoformat("2020-04-22T09:00:00+08:00"))  # 8 days before April 30
    assert remind() == 0
    clock.set_start(datetime.fromisoformat("2020-04-23T09:00:00+08:00"))  # 7 days before
    assert remind() == 1  # b2 (b1 has April's; b3 has no address)
    assert remind() == 0  # a second run, as another replica's
    clock.set_start(datetime.fromisoformat("2020-04-29T09:00:00+08:00"))  # the 1-day mark: still once a month
    assert remind() == 0

    # May begins: the rows count May (nothing in yet) once the period timer runs, and May is reminded on its own
    clock.set_start(datetime.fromisoformat("2020-05-01T08:00:00+08:00"))
    assert _hook(notify, "roll_periods") == 1 and _hook(notify, "roll_periods") == 0
    assert progress(store) == ("2020-05", 3, 0, 0) and dashboard_track(store) == ("2020年5月", 3, 0)
    clock.set_start(datetime.fromisoformat("2020-05-24T09:00:00+08:00"))  # 7 days before May 31
    publish(notify["amqp"], record("o-b2", "2020-05-20", "2020-05-24T00:30:00+00:00"))
    wait_until(lambda: progress(store) == ("2020-05", 3, 1, 1), what="b2's May record")
    assert remind() == 1  # now b1 owes one

    assert period_reminders(store) == [
        ("b1@demo.local", f"period-reminder:{CAMPAIGN}:monthly_record:2020-05:o-b1"),
        ("b2@demo.local", f"period-reminder:{CAMPAIGN}:monthly_record:2020-04:o-b2")]
    got = wait_until(lambda: (m := [x for x in smtp.received() if "的记录" in x["subject"]]) and len(m) == 2 and m,
                     timeout=30, what="two reminder mails")
    april = next(m for m in got if m["to"] == "b2@demo.local")
    assert april["subject"] == "【提醒】“月度组织生活记录”2020年4月的记录将于 7 天后截止（2020年04月30日 23:59）"
    assert april["body"].startswith("研钻井19-2党支部：") and "尚未提交2020年4月的记录" in april["body"]
    assert "中国石油大学2020年上半年党支部线上组织生活" in april["body"]
    eventlet.sleep(0.5)
    assert len([x for x in smtp.received() if "的记录" in x["subject"]]) == 2


def _hook(env, name: str):
    with entrypoint_hook(env["container"], name) as call:
        return call()
