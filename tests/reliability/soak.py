"""Soak: mixed load for a while with one broker restart, then counts in and out at every stage (issue #7).

    make soak        (or: .venv/bin/python -m tests.reliability.soak --minutes 10)

Intake, media and notify run as processes against the OS's RabbitMQ and a real SMTP
server. One portal client keeps working as a university does: each story is created
with a photo (registered, uploaded, confirmed), submitted once its photo has been
checked, and one in ten is withdrawn again. Half-way through, RabbitMQ's application
is stopped for 5 seconds and started again. Then the client stops, everything in
flight is let through, and the counts of every stage are printed and compared:
what went in must come out, once. Exit status 1 when a count differs.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.conftest import AMQP_BASE, RABBIT_API  # noqa: E402
from tests.reliability.conftest import Platform, broker, broker_back, import_orgs, seeded  # noqa: E402


def photo(n: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), ((n * 37) % 256, (n * 91) % 256, 120)).save(out, "JPEG")
    return out.getvalue()


class Portal:
    def __init__(self, base: str, key: str, orgs: list[str], withdraw_every: int = 10,
                 story_text=lambda n: "党员冲锋在前，守护校园平安。" * 3):
        self.base, self.orgs = base, orgs
        self.story_text = story_text  # the text of the n-th story
        self.withdraw_every = withdraw_every  # one in this many submissions is withdrawn again; 0: none
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"
        self.created = self.uploaded = self.submitted = self.withdrawn = 0
        self.pending: list[str] = []  # works whose photo is not checked yet
        self.submitted_ids: list[str] = []
        self.file_ids: list[str] = []

    def call(self, method: str, path: str, **kw) -> requests.Response:
        # A portal retries a request the network lost, with the same Idempotency-Key.
        key = str(uuid.uuid4())
        for attempt in range(20):
            try:
                return self.http.request(method, self.base + path, timeout=30,
                                         headers={"Idempotency-Key": key} if method == "POST" else None, **kw)
            except requests.ConnectionError:
                time.sleep(0.5 * (attempt + 1))
        raise RuntimeError(f"{method} {path} kept failing")

    def new_work(self) -> None:
        n = self.created
        org = self.orgs[n // 2]  # two stories per org: the story quota
        work = self.call("POST", "/submissions", json={
            "campaign_id": "siyige-2020-seu", "track": "story", "org_id": org,
            "fields": {"title": f"战疫故事{n:05d}", "text": self.story_text(n)}}).json()
        self.created += 1
        data = photo(n)
        ticket = self.call("POST", f"/submissions/{work['id']}/files", json={
            "kind": "image", "filename": f"照片{n}.jpg", "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "content_type": "image/jpeg"}).json()
        assert requests.put(ticket["upload"]["url"], data=data, timeout=30).status_code == 200
        assert self.call("POST", f"/files/{ticket['file']['id']}/complete").status_code == 200
        self.uploaded += 1
        self.file_ids.append(ticket["file"]["id"])
        self.pending.append(work["id"])

    def submit_ready(self) -> None:
        still = []
        for work_id in self.pending:
            r = self.call("POST", f"/submissions/{work_id}/submit")
            if r.status_code == 200:
                self.submitted += 1
                self.submitted_ids.append(work_id)
                if self.withdraw_every and self.submitted % self.withdraw_every == 0:  # a portal changes its mind
                    assert self.call("POST", f"/submissions/{work_id}/withdraw").status_code == 200
                    self.withdrawn += 1
            elif r.json()["error"]["code"] == "file_check_pending":
                still.append(work_id)
            else:
                raise AssertionError(r.text)
        self.pending = still


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--orgs", type=int, default=2500)
    args = ap.parse_args()

    vhost = f"soak-{uuid.uuid4().hex[:8]}"
    api = RABBIT_API.rstrip("/")
    requests.put(f"{api}/api/vhosts/{vhost}", timeout=10).raise_for_status()
    requests.put(f"{api}/api/permissions/{vhost}/guest", json={"configure": ".*", "write": ".*", "read": ".*"},
                 timeout=10).raise_for_status()
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    platform = Platform(workdir, f"{AMQP_BASE}/{vhost}", services=("intake", "media", "notify"))
    try:
        seeded(platform)
        base = f"http://127.0.0.1:{platform.ports['intake']}/api/v1"
        portal = Portal(base, platform.key, [])
        portal.orgs = list(import_orgs(portal.http, base, args.orgs).values())
        time.sleep(3)  # notify and media have the org list and the policies
        started = time.monotonic()
        end = started + args.minutes * 60
        restarted_at = None
        while time.monotonic() < end and portal.created < 2 * args.orgs:
            portal.new_work()
            if portal.created % 5 == 0:
                portal.submit_ready()
            if restarted_at is None and time.monotonic() > started + args.minutes * 30:
                restarted_at = portal.created
                broker("stop_app")
                try:
                    time.sleep(5)
                finally:
                    broker("start_app")
                    broker_back()
        load_s = time.monotonic() - started
        drain_until = time.monotonic() + 300
        while portal.pending and time.monotonic() < drain_until:
            portal.submit_ready()
            time.sleep(1)

        expected_mails = portal.submitted  # one receipt per submission; a withdrawal sends none
        while time.monotonic() < drain_until and len({m["message_id"] for m in platform.smtp.received()}) < expected_mails:
            time.sleep(2)
        time.sleep(5)
        mails = platform.smtp.received()
        live = portal.call("GET", "/submissions", params={"state": "submitted", "per_page": 1}).json()["total"]
        gone = portal.call("GET", "/submissions", params={"state": "withdrawn", "per_page": 1}).json()["total"]
        checked = sum(1 for f in portal.file_ids
                      if portal.call("GET", f"/files/{f}").json().get("check", {}).get("verdict") == "passed")
        rows = [
            ("works created (client)", portal.created, "works with a photo uploaded (client)", portal.uploaded),
            ("photos uploaded (client)", portal.uploaded, "photos checked, passed (media → intake)", checked),
            ("works submitted (client)", portal.submitted, "receipt e-mails, distinct (notify → SMTP)",
             len({m["message_id"] for m in mails})),
            ("receipt e-mails, distinct", len({m["message_id"] for m in mails}), "receipt e-mails, all",
             len(mails)),
            ("submitted − withdrawn (client)", portal.submitted - portal.withdrawn, "submitted (intake)", live),
            ("withdrawn (client)", portal.withdrawn, "withdrawn (intake)", gone),
            ("left unsubmitted (client)", len(portal.pending), "expected", 0),
        ]
        print(f"soak: {load_s / 60:.1f} min of load, {portal.created} works "
              f"({portal.created / load_s:.1f}/s), the broker stopped for 5 s after work {restarted_at}")
        failed = False
        for left, a, right, b in rows:
            mark = "ok" if a == b else "DIFFERS"
            failed |= a != b
            print(f"  {left:<34} {a:>6}   {right:<44} {b:>6}   {mark}")
        print("soak:", "every count matches" if not failed else "COUNTS DIFFER", f"(logs in {workdir})")
        return 1 if failed else 0
    finally:
        platform.stop()
        requests.delete(f"{api}/api/vhosts/{vhost}", timeout=10)


if __name__ == "__main__":
    sys.exit(main())
