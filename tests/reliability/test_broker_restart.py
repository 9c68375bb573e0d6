"""The broker stopped and started again while 200 works are being submitted (issue #7).

Intake and notify run as processes, as in production, against the OS's RabbitMQ and a
real SMTP server. Portals keep submitting stories over HTTP while RabbitMQ's
application is stopped and started again. Intake keeps accepting (its events wait in
its outbox); the services reconnect; every work ends submitted with one receipt, and
every org gets exactly one receipt e-mail: none lost, none twice.
"""
import threading
import time

from tests.conftest import wait_until
from tests.reliability.conftest import broker, broker_back, import_orgs, submit_story

WORKS = 200


def test_every_work_submitted_through_a_broker_restart_gets_one_receipt(platform):
    base = f"http://127.0.0.1:{platform.ports['intake']}/api/v1"
    http = platform.portal(platform.key)
    # One story per org (the quota is 1–2 per org), each org with its own mailbox.
    orgs = import_orgs(http, base, WORKS)
    time.sleep(2)  # notify has the org list (its contacts) before the first receipt

    submitted, errors = [], []

    def portal():
        session = platform.portal(platform.key)
        for n in range(WORKS):
            try:
                submitted.append(submit_story(session, base, orgs[f"学院{n:03d}党委"], n))
            except Exception as exc:  # noqa: BLE001  (kept and asserted on below)
                errors.append(repr(exc))

    sender = threading.Thread(target=portal)
    sender.start()
    wait_until(lambda: len(submitted) >= WORKS // 4, timeout=60, what="a quarter of the works in")
    broker("stop_app")
    try:
        time.sleep(3)  # works keep being submitted while the broker is down
        during = len(submitted)
    finally:  # whatever happens, the broker is back for the tests after this one
        broker("start_app")
        broker_back()
    sender.join(timeout=120)
    assert not errors, errors[:3]
    assert len(submitted) == WORKS and during > WORKS // 4  # intake kept accepting while the broker was down

    smtp = platform.smtp
    got = platform.wait(lambda: (m := smtp.received()) and len(m) >= WORKS and m, timeout=180,
                        what=f"{WORKS} receipt e-mails", progress=lambda: f"{len(smtp.received())} received")
    time.sleep(5)  # room for a duplicate to show up
    got = smtp.received()
    recipients = [m["to"] for m in got]
    assert len(got) == WORKS and len(set(recipients)) == WORKS, (len(got), len(set(recipients)))
    receipts = {http.get(f"{base}/submissions/{w}").json()["receipt_no"] for w in submitted}
    assert len(receipts) == WORKS and None not in receipts
    print(f"{WORKS} works; the broker stopped after {WORKS // 4} or more, {during} were in when it started "
          f"again; {len(got)} receipts to {len(set(recipients))} distinct orgs")
