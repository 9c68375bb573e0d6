"""Notify benchmark (prints figures; never a test).

    .venv/bin/python tests/bench/bench_notify.py [--universities 3000] [--works 1000000]

Builds notify's database at national scale through its own read-model code
(3,000 universities with their derived campaigns and 30 level-2 orgs each,
1,000,000 works), starts the service as a process, and measures over HTTP:
- a feed page (200 rows) from the start and from a cursor in the middle,
- the full XLSX and Atom exports,
- e-mails per second to a local SMTP server (aiosmtpd on loopback).
- the dashboard page (signed in as the ministry), whole and filtered.
Goals (issue #5): feed page under 200 ms, dashboard under 500 ms.
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.report import record  # noqa: E402
from tests.bench.timing import timed  # noqa: E402
from tests.signin import sign_in  # noqa: E402


def build(db_url: str, universities: int, works: int) -> None:
    from sqlalchemy import insert

    from common.auth import hash_key
    from common.campaign import campaign_event_data, load_builtin_definitions
    from common.db import Store, migrate
    from common.settings import migrations_dir
    from services.notify import readmodel
    from services.notify.models import ApiKeyCopy, CampaignCopy, Contact, SubmissionCopy, TenantName

    migrate(db_url, migrations_dir("notify"))
    store = Store(db_url)
    tracks = campaign_event_data(load_builtin_definitions()["siyige-2020-seu"])["tracks"]
    track_keys = [k for k, t in tracks.items() if "level2" in t["submit_levels"]]
    rng = random.Random(7)
    t0 = time.perf_counter()
    with store.transaction() as s:
        s.add(ApiKeyCopy(key_hash=hash_key("sk_bench_ministry"), tenant="ministry", tenant_kind="ministry",
                         revoked=False))
        s.add(ApiKeyCopy(key_hash=hash_key("sk_bench_university"), tenant="u0001", tenant_kind="university",
                         revoked=False))
        s.execute(insert(TenantName), [{"tenant": f"u{i:04d}", "name": f"第{i}大学"} for i in range(universities)])
        s.execute(insert(CampaignCopy), [{"campaign_id": f"siyige-2020-u{i:04d}", "tenant": f"u{i:04d}",
                                          "title": "四个一", "derives_from": "siyige-2020", "tracks": tracks}
                                         for i in range(universities)])
        s.execute(insert(Contact), [{"org_id": f"u{i:04d}-o{j:02d}", "tenant": f"u{i:04d}", "name": f"学院{j}党委",
                                     "level": "level2", "parent_id": None, "email": None}
                                    for i in range(universities) for j in range(30)])
    batch = []
    with store.transaction() as s:
        for n in range(works):
            i = n % universities
            batch.append({"submission_id": f"w{n:07d}", "tenant": f"u{i:04d}", "campaign_id": f"siyige-2020-u{i:04d}",
                          "track": rng.choice(track_keys), "org_id": f"u{i:04d}-o{rng.randrange(30):02d}",
                          "level": "level2", "stages": ["submission"], "complete": True,
                          "state": "withdrawn" if rng.random() < 0.03 else "submitted"})
            if len(batch) == 20_000:
                s.execute(insert(SubmissionCopy), batch)
                batch = []
        if batch:
            s.execute(insert(SubmissionCopy), batch)
    loaded = time.perf_counter() - t0
    t0 = time.perf_counter()
    with store.transaction() as s:
        for campaign in s.query(CampaignCopy).all():
            readmodel.refresh_campaign(s, campaign)
        from sqlalchemy import func, select

        from services.notify.models import Progress

        rows = s.scalar(select(func.count()).select_from(Progress))
    print(f"built: {universities} universities, {universities * 30} orgs, {works} works in {loaded:.1f} s; "
          f"read model ({rows} rows, every track and submitting level) recomputed in {time.perf_counter() - t0:.1f} s")
    store.dispose()



def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--universities", type=int, default=3000)
    ap.add_argument("--works", type=int, default=1_000_000)
    ap.add_argument("--emails", type=int, default=2000)
    args = ap.parse_args()
    from deploy.embedded import free_port, wait_healthy

    data = Path(tempfile.mkdtemp(prefix="bench-notify-"))
    db_url = f"sqlite:///{data / 'notify.db'}"
    build(db_url, args.universities, args.works)
    port, smtp_port = free_port(), free_port()
    maildir = data / "received"
    smtp = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{smtp_port}",
                             "-c", "aiosmtpd.handlers.Mailbox", str(maildir)], cwd=ROOT)
    env = dict(os.environ, DATA_DIR=str(data), NOTIFY_DATABASE_URL=db_url, NOTIFY_PORT=str(port),
               MAIL_URL=f"smtp://127.0.0.1:{smtp_port}", LOG_LEVEL="WARNING")
    proc = subprocess.Popen([sys.executable, "-m", "common.run", "notify"], cwd=ROOT, env=env,
                            stdout=open(data / "notify.log", "wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/api/v1/feed/progress"
    http = requests.Session()
    http.headers["Authorization"] = "Bearer sk_bench_ministry"
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", proc, timeout=60)
        first = http.get(base, params={"limit": 200}).json()
        assert len(first["items"]) == 200 or not first["has_more"], first  # a small --universities has fewer
        middle = first["next_cursor"]
        for _ in range(30):  # walk to the middle of the feed
            middle = http.get(base, params={"limit": 200, "cursor": middle}).json()["next_cursor"]
        p50, p95 = timed(lambda: http.get(base, params={"limit": 200}).raise_for_status(), 50)
        print(f"feed page, 200 rows, from the start: p50 {p50:.1f} ms, p95 {p95:.1f} ms (goal < 200 ms)")
        record("notify", f"progress feed page of 200 rows ({args.universities} universities, {args.works:,} works), p95", p95,
               "ms", goal="< 200 ms")
        p50, p95 = timed(lambda: http.get(base, params={"limit": 200, "cursor": middle}).raise_for_status(), 50)
        print(f"feed page, 200 rows, from a cursor: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        browser, _ = sign_in(f"http://127.0.0.1:{port}", "sk_bench_ministry")
        board = f"http://127.0.0.1:{port}/dashboard"
        assert "全国高校进度" in browser.get(board).text
        p50, p95 = timed(lambda: browser.get(board).raise_for_status(), 20)
        print(f"dashboard page (every university): p50 {p50:.1f} ms, p95 {p95:.1f} ms (goal < 500 ms)")
        record("notify", "ministry dashboard page (every university), p95", p95, "ms", goal="< 500 ms")
        p50, p95 = timed(lambda: browser.get(board, params={"campaign": "siyige-2020", "track": "story"})
                         .raise_for_status(), 20)
        print(f"dashboard page filtered by campaign and track: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        # one university's page counts its orgs each once (distinct over its works, not org × track slots)
        own, _ = sign_in(f"http://127.0.0.1:{port}", "sk_bench_university")
        assert "个组织已提交" in own.get(board).text
        p50, p95 = timed(lambda: own.get(board).raise_for_status(), 20)
        print(f"dashboard page (one university, orgs counted once): p50 {p50:.1f} ms, p95 {p95:.1f} ms (goal < 500 ms)")
        record("notify", "a university's dashboard page (its orgs counted once), p95", p95, "ms", goal="< 500 ms")
        p50, _ = timed(lambda: http.get(base + ".xlsx").raise_for_status(), 3)
        print(f"XLSX export of every row: {p50:.0f} ms")
        record("notify", "progress XLSX of every row", p50 / 1000, "s")
        p50, _ = timed(lambda: http.get(base + ".atom").raise_for_status(), 3)
        print(f"Atom feed of every row: {p50:.0f} ms")

        from sqlalchemy import insert

        from common.db import Store, utcnow
        from services.notify.models import MessageLog

        store = Store(db_url)
        t0 = time.perf_counter()
        with store.transaction() as s:
            s.execute(insert(MessageLog), [{"dedupe_key": f"bench:{n}", "kind": "reminder", "tenant": "u0000",
                                            "recipient": f"org{n}@demo.local", "subject": "【提醒】战疫故事汇将于 3 天后截止",
                                            "body": "尚未提交。" * 20, "state": "pending", "attempts": 0,
                                            "next_attempt_at": utcnow()} for n in range(args.emails)])
        import mailbox

        box = mailbox.Maildir(maildir, create=True)
        deadline = time.monotonic() + 300
        while len(box) < args.emails and time.monotonic() < deadline:
            time.sleep(0.2)
        took = time.perf_counter() - t0
        print(f"e-mails delivered to a local SMTP server: {len(box)} in {took:.1f} s = {len(box) / took:.0f}/s")
        record("notify", "e-mails delivered to a local SMTP server (each committed once accepted)",
               len(box) / took, "/s", lower_is_better=False)
        store.dispose()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        smtp.terminate()
        import shutil

        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
