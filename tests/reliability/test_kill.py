"""A service killed with SIGKILL while it works through its messages (issue #7).

200 works are submitted while notify is down, so their events wait in its queue.
Notify starts, and is killed with SIGKILL in the middle of handling them and sending
the receipts; then it starts again. Messages it had not acknowledged come back and
are handled once (the message log's keys); a receipt is marked sent right after the
mail server accepted it, so at most the one being sent at the moment of the kill
can go out again, with the same Message-ID. Every org gets its receipt.
"""
import time

from tests.conftest import wait_until
from tests.reliability.conftest import import_orgs, submit_story

WORKS = 200


def test_notify_killed_mid_flow_sends_every_receipt_once(platform):
    base = f"http://127.0.0.1:{platform.ports['intake']}/api/v1"
    http = platform.portal(platform.key)
    orgs = import_orgs(http, base, WORKS)
    time.sleep(2)  # notify has the org list before it goes down
    platform.kill("notify")
    works = [submit_story(http, base, orgs[f"学院{n:03d}党委"], n) for n in range(WORKS)]

    platform.start("notify")
    wait_until(lambda: len(platform.smtp.received()) >= WORKS // 4, timeout=120, what="the first receipts")
    platform.kill("notify")  # in the middle of the flow
    at_kill = len(platform.smtp.received())
    platform.start("notify")

    platform.wait(lambda: len({m["message_id"] for m in platform.smtp.received()}) >= WORKS, timeout=180,
                  what=f"{WORKS} distinct receipts", progress=lambda: f"{len(platform.smtp.received())} received")
    time.sleep(3)  # room for more duplicates to show up
    got = platform.smtp.received()
    distinct = {m["message_id"] for m in got}
    recipients = {m["to"] for m in got}
    assert len(distinct) == WORKS and len(recipients) == WORKS
    assert len(got) - len(distinct) <= 1, f"{len(got) - len(distinct)} receipts sent twice"
    assert at_kill < WORKS, "the kill came after the flow had ended; it proved nothing"
    log = http.get(f"http://127.0.0.1:{platform.ports['notify']}/api/v1/messages",
                   params={"limit": 500}).json()["items"]
    receipts = [m for m in log if m["kind"] == "receipt"]
    assert len(receipts) == WORKS and all(m["state"] == "sent" for m in receipts)
    print(f"{WORKS} works; notify killed after {at_kill} receipts had gone out; {len(got)} e-mails, "
          f"{len(distinct)} distinct; {len(works)} works submitted")
