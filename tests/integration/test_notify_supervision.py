"""Supervision's reminder mail (督办, issue #15): from the person's click on intake's page, through the broker, to a
real SMTP server (aiosmtpd on loopback); one mail per org reminded, however often the event or the click comes; and
names that carry line separators make no second header."""
from __future__ import annotations

import mailbox
import time
from email.header import decode_header, make_header

import eventlet
import pytest

from common import clock
from common.db import Store
from common.events import make_event
from tests.conftest import wait_until
from tests.integration.test_intake_accounts import db  # noqa: F401  (fixture)
from tests.integration.test_intake_api import intake  # noqa: F401  (fixture)
from tests.integration.test_intake_supervision import LATE, member, remind, reminders_sent, signed_in, wust_with_works
from tests.integration.test_notify_service import notify, publish, smtp  # noqa: F401  (fixtures)
from tests.unit.test_notify_mail import LINE_SEPARATORS


@pytest.fixture
def notify_beside_intake(make_config, start_service, tmp_path, smtp):  # noqa: F811
    """Notify on its own SQLite file (intake's may be SQLite in the same folder), on intake's vhost."""
    from services.notify.service import NotifyService

    url = f"sqlite:///{tmp_path / 'notify.db'}"
    config = make_config("notify", DATABASE_URL=url, MAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
                         TEMPLATE_DIR=str(tmp_path / "templates"))
    container = start_service(NotifyService, config)
    yield {"container": container, "store": Store(url)}
    clock.set_start(None)


def received(smtp) -> list[dict]:  # noqa: F811
    """The reminder mails the SMTP server stored (not the invitations and receipts of the same run), with every
    header name as it arrived."""
    box = mailbox.Maildir(smtp.maildir, create=True)
    mails = [{"to": m["To"], "subject": str(make_header(decode_header(m["Subject"]))),
              "headers": [k.lower() for k in m], "body": m.get_payload(decode=True).decode("utf-8")} for m in box]
    return [m for m in mails if m["subject"].startswith("【督办】")]


def test_a_double_click_on_the_page_mails_each_contact_once(intake, db, notify_beside_intake, smtp):  # noqa: F811
    smtp.start()
    wust, base = intake["wust"], intake["base"]
    wust_with_works(intake)
    member(db, wust, "xc@wust.edu.cn", {"role": "department_admin", "department": "propaganda"}, name="王宣传")
    web = signed_in(base, "xc@wust.edu.cn")
    clock.set_start(LATE)
    page = web.get(f"{base}/supervision", timeout=30).text
    pool = eventlet.GreenPool()
    for track in ("material", "report"):  # each clicked twice at once
        answers = list(pool.imap(lambda _, t=track: remind(web, base, page, tenant="wust",
                                                           campaign_id="siyige-2020-wust", track=t), range(2)))
        assert [a.status_code for a in answers] == [200, 200]
    assert [len(e["data"]["recipients"]) for e in reminders_sent(db)] == [1, 4]

    expected = {("mat@wust.test", "教育素材"), ("res@wust.test", "成果宣传报道"), ("mat@wust.test", "成果宣传报道"),
                ("bres@wust.test", "成果宣传报道"), ("bmat@wust.test", "成果宣传报道")}
    got = wait_until(lambda: (m := received(smtp)) and len(m) >= len(expected) and m, timeout=30,
                     what="the reminder mails at the SMTP server")
    time.sleep(1.5)  # nothing more comes: not the second click, not a redelivery
    got = received(smtp)
    assert sorted((m["to"], "教育素材" if "教育素材" in m["subject"] else "成果宣传报道") for m in got) == sorted(expected)
    material = next(m for m in got if "教育素材" in m["subject"])
    assert material["subject"] == "【督办】材料与冶金学院党委：“教育素材”的“提交素材”尚未提交，已逾期 2 天（王宣传提醒）"
    for part in ("材料与冶金学院党委（李老师）", "让党旗始终高高飘扬", "2020年10月15日 23:59（北京时间）", "现已逾期 2 天",
                 "武汉科技大学部门管理员（党委宣传部）王宣传", "xc@wust.edu.cn"):
        assert part in material["body"], part
    report = next(m for m in got if m["to"] == "res@wust.test")
    assert "逾期" not in report["subject"] and "本阶段未设截止时间" in report["body"]


def reminded(names: list[str], asked_by: str = "王宣传", emails: list[str] | None = None):
    emails = emails or [f"org{n}@wust.test" for n in range(len(names))]
    return make_event("supervision_reminded", "wust", {
        "campaign_id": "wust.siyige-2020-wust", "campaign_title": "四个一 2020 · 武汉科技大学", "track": "material",
        "track_label": "教育素材", "tenant_name": "武汉科技大学", "requested_at": "2020-10-17T02:00:00+00:00",
        "asked_by": {"account_id": "a-1", "name": asked_by, "email": "xc@wust.edu.cn", "role": "部门管理员（党委宣传部）"},
        "recipients": [{"org_id": f"o-{n}", "name": name, "level": "level2", "contact_email": email,
                        "contact_name": None, "stage": "submission", "stage_label": "提交素材",
                        "deadline": "2020-10-15T15:59:59+00:00", "days_late": 2}
                       for n, (name, email) in enumerate(zip(names, emails))]})


def test_names_with_line_separators_make_no_second_header_and_a_redelivered_event_mails_once(notify, smtp):  # noqa: F811
    smtp.start()
    names = [f"材料学院党委{sep}Bcc: victim@example.com" for sep in LINE_SEPARATORS]
    event = reminded(names, asked_by="王宣传\u2028Cc: other@example.com")
    publish(notify["amqp"], event, event)  # delivered twice: the once-only record keeps it to one mail each
    got = wait_until(lambda: (m := received(smtp)) and len(m) >= len(names) and m, timeout=30,
                     what="one mail per org")
    time.sleep(1)
    got = received(smtp)
    assert sorted(m["to"] for m in got) == sorted(f"org{n}@wust.test" for n in range(len(names)))
    for mail in got:
        assert len(mail["subject"].splitlines()) == 1, mail["subject"]
        assert "材料学院党委 Bcc: victim@example.com" in mail["subject"] and "王宣传 Cc: other@example.com" in mail["subject"]
        assert not {"bcc", "cc"} & set(mail["headers"]), mail["headers"]
        assert "2020年10月15日 23:59（北京时间）" in mail["body"]
