"""Issue #14, item 2: one title must not stop the mail of every university.

A title with a line separator other than "\\n" made building the subject raise; the sender
built the whole batch first and the poisoned message was the oldest, so nothing was sent
again, for anyone. Against a real RabbitMQ and a real SMTP server (tests/smtp_server.py).
"""
import mailbox
from datetime import datetime, timezone
from email.header import decode_header, make_header

import requests
from sqlalchemy import select

from common.events import make_event
from services.notify.models import MessageLog
from tests.conftest import wait_until
from tests.integration.test_notify_service import key_events, notify, publish, smtp  # noqa: F401  (fixtures)
from tests.unit.test_notify_mail import LINE_SEPARATORS

# Every separator the issue lists, and the rest of what str.splitlines splits on.
POISONS = LINE_SEPARATORS + ["\x00", "\x1f", "\u202e", "\ud800"]


def submitted(tenant: str, n: int, title: str, email: str):
    return make_event("submission_submitted", tenant, {
        "submission_id": f"s-{tenant}-{n}", "campaign_id": f"siyige-2020-{tenant}", "track": "story",
        "stage": "submission", "final_stage": True, "org_id": f"o-{tenant}-{n}", "org_name": "学院党委",
        "org_level": "level2", "title": title, "receipt_no": f"{tenant.upper()}-{n:05d}",
        "submitted_at": "2020-07-14T02:00:00+00:00", "file_ids": [], "contact_email": email})


def test_poisoned_titles_never_stop_the_mail_of_other_universities(notify, smtp):  # noqa: F811
    # The poisoned works come first, so their messages are the oldest of the batch.
    poisoned = [submitted("seu", n, f"战疫故事{sep}Bcc: victim@example.com{sep}第二行", f"seu{n}@demo.local")
                for n, sep in enumerate(POISONS)]
    # One recipient that no cleaning makes an address (a second header smuggled in): it fails on its own.
    smuggled = submitted("seu", 99, "正常标题", "seu99@demo.local\u2028Bcc: victim@example.com")
    good = [submitted("wust", n, f"武汉科技大学作品{n}", f"wust{n}@demo.local") for n in range(5)]
    publish(notify["amqp"], key_events("seu", "university", "东南大学", "sk_seu_mail"), *poisoned, smuggled)
    wait_until(lambda: len(states(notify)) == len(poisoned) + 1, timeout=20, what="SEU's messages in the log")
    # A row written before the fix, with a raw separator in its stored subject, is the oldest of all.
    with notify["store"].transaction() as s:
        s.add(MessageLog(id=0, dedupe_key="legacy:1", kind="receipt", tenant="seu", recipient="legacy@demo.local",
                         subject="【回执】旧标题\u2028Bcc: victim@example.com", body="正文", state="pending", attempts=0))
    publish(notify["amqp"], *good)
    wait_until(lambda: len(states(notify)) == len(poisoned) + 2 + len(good), timeout=20, what="WUST's messages")
    smtp.start()  # the server was down until now: everything is due together, in one batch

    expected = len(poisoned) + 1 + len(good)  # everything but the smuggled recipient

    def due_now_until_received():
        # the attempts made while the server was down set a backoff: make them due again on every poll
        with notify["store"].transaction() as s:
            for m in s.scalars(select(MessageLog).where(MessageLog.state == "pending")):
                m.next_attempt_at = datetime(2000, 1, 1, tzinfo=timezone.utc)
        return len(received(smtp)) == expected

    wait_until(due_now_until_received, timeout=30, interval=0.5, what=f"{expected} messages at the SMTP server")
    got = received(smtp)
    assert sorted(m["to"] for m in got if m["to"].startswith("wust")) == [f"wust{n}@demo.local" for n in range(5)]
    for m in got:
        assert len(m["subject"].splitlines()) == 1 and "\ud800" not in m["subject"]
        assert not ({k.lower() for k in m["headers"]} & {"bcc", "cc"}), m
    subjects = {m["to"]: m["subject"] for m in got}
    assert subjects["seu0@demo.local"] == "【回执 SEU-00000】战疫故事 Bcc: victim@example.com 第二行"
    assert subjects["legacy@demo.local"] == "【回执】旧标题 Bcc: victim@example.com"

    # The smuggled recipient failed at once, on its own, and says why where the university looks.
    failed = requests.get(f"http://{notify['container'].config['WEB_SERVER_ADDRESS']}/api/v1/messages",
                          params={"state": "failed"}, headers={"Authorization": "Bearer sk_seu_mail"},
                          timeout=10).json()["items"]
    assert [(m["recipient"], m["attempts"]) for m in failed] == [
        ("seu99@demo.local\u2028Bcc: victim@example.com", 1)]
    assert "不是有效的邮箱地址" in failed[0]["last_error"]
    assert set(states(notify).values()) == {"sent", "failed"}


def received(smtp) -> list[dict]:  # noqa: F811
    """What the SMTP server stored, with every header name as it arrived."""
    box = mailbox.Maildir(smtp.maildir, create=True)
    return [{"to": m["To"], "subject": str(make_header(decode_header(m["Subject"]))), "headers": list(m.keys())}
            for m in box]


def states(notify) -> dict[str, str]:  # noqa: F811
    with notify["store"].transaction() as s:
        return {m.dedupe_key: m.state for m in s.scalars(select(MessageLog))}
