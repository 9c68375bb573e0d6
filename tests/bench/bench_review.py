"""Review benchmark (prints figures; never a test).

    .venv/bin/python tests/bench/bench_review.py

- assignment of 10,000 works to 500 reviewers from 50 universities, k = 3, with
  university conflicts and 200 declared ones: the domain function, and the
  whole admin action through the service layer (which writes 30,000 rows);
- ranking of 100,000 scores (33,334 works, 1,000 reviewers), with Kendall's tau
  of the raw mean and of the normalised score against the known true order;
- server time, over HTTP with the service running as a process on SQLite, of a
  reviewer's queue page and work page, and of the admin's ranking page for the
  10,000-work round.
Goals (issue #4): assignment < 5 s, ranking < 1 s, reviewer pages < 300 ms.
"""
from __future__ import annotations

import collections
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.report import record  # noqa: E402
from tests.bench.timing import timed  # noqa: E402
from tests.signin import redeem, sign_in  # noqa: E402

UNIVERSITIES, WORKS, REVIEWERS = 50, 10_000, 500
TOKEN = "bench-sign-in-token"


def median_of(fn, n=3):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def bench_domain() -> None:
    from services.review.domain import ranking
    from services.review.domain.assignment import Reviewer, Work, assign, conflicted

    rng = random.Random(3)
    reviewers = [Reviewer(f"r{i:04d}", f"u{i % UNIVERSITIES:02d}", None,
                          frozenset(rng.sample(["党建", "思政", "新媒体", "视频", "文字"], 2))) for i in range(REVIEWERS)]
    works = [Work(f"w{i:05d}", f"u{rng.randrange(UNIVERSITIES):02d}", (), frozenset({rng.choice(["视频", "文字"])}))
             for i in range(WORKS)]
    declared = frozenset((f"r{rng.randrange(REVIEWERS):04d}", f"w{rng.randrange(WORKS):05d}") for _ in range(200))
    took, plan = median_of(lambda: assign(works, reviewers, 3, level="ministry", declared=declared))
    by_r, by_w = {r.reviewer_id: r for r in reviewers}, {w.work_id: w for w in works}
    bad = sum(1 for w, r in plan.pairs if conflicted("ministry", by_r[r], by_w[w], declared))
    print(f"review assignment: {WORKS} works, {REVIEWERS} reviewers, k=3, ministry conflicts + 200 declared: "
          f"{took:.2f} s (goal < 5 s); load spread {plan.spread}; conflicted pairs {bad}")
    record("review", f"assignment of {WORKS:,} works to {REVIEWERS:,} reviewers, k=3", took, "s", goal="< 5 s")

    scores, quality, _ = ranking.synthetic_round(33_334, 1000, 3, seed=5)
    took, ranked = median_of(lambda: ranking.rank(scores))
    truth = sorted(quality, key=lambda w: -quality[w])
    sums = collections.defaultdict(list)
    for s in scores:
        sums[s.work_id].append(s.total)
    raw = sorted(sums, key=lambda w: (-sum(sums[w]) / len(sums[w]), w))
    print(f"review ranking: {len(scores)} scores, {len(quality)} works: {took:.2f} s (goal < 1 s)")
    record("review", f"normalised ranking of {len(scores):,} scores", took, "s", goal="< 1 s")
    print(f"Kendall tau vs the true order: raw mean {ranking.kendall_tau(raw, truth):.3f}, "
          f"normalised {ranking.kendall_tau([r.work_id for r in ranked], truth):.3f}")


def build(db_url: str) -> tuple[str, str]:
    """A ministry round of 10,000 forwarded works and 500 reviewers, assigned and scored."""
    import hashlib
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import insert, select

    from common.campaign import campaign_event_data, load_builtin_definitions
    from common.db import Store, migrate
    from common.settings import migrations_dir
    from services.review import operations as ops
    from services.review.domain.reviewers import ReviewerRow
    from services.review.models import ApiKeyCopy, Assignment, Entry, OrgCopy, Round, Score, SignInLink, TenantCopy

    migrate(db_url, migrations_dir("review"))
    store = Store(db_url)
    rng = random.Random(11)
    text = ("党员突击队连续奋战在抗疫一线，他们用行动诠释了初心使命。" * 8)[:290]
    with store.transaction() as s:
        ops.record_campaign(s, "ministry", campaign_event_data(load_builtin_definitions()["siyige-2020"]))
        s.add(ApiKeyCopy(key_hash=hashlib.sha256(b"sk_bench_ministry").hexdigest(), tenant="ministry",
                         tenant_kind="ministry", revoked=False))
        s.execute(insert(TenantCopy), [{"tenant": f"u{i:02d}", "name": f"第{i}大学"} for i in range(UNIVERSITIES)])
        s.execute(insert(OrgCopy), [{"org_id": f"u{i:02d}-o{j:02d}", "tenant": f"u{i:02d}", "name": f"第{j}学院党委",
                                     "short_name": None, "level": "level2", "parent_id": None}
                                    for i in range(UNIVERSITIES) for j in range(30)])
        rnd = Round(id="bench-round", tenant="ministry", campaign_id="siyige-2020", track="story", level="ministry",
                    owner_org_id="", title="教育部 · 战疫故事汇 · 全国评审", reviewers_per_work=3, state="open")
        s.add(rnd)
        s.flush()
        s.execute(insert(Entry), [{
            "submission_id": f"w{n:05d}", "tenant": f"u{n % UNIVERSITIES:02d}", "campaign_id": "siyige-2020",
            "track": "story", "stage": "submission", "final_stage": True, "title": f"第{n % 30}学院党委战疫故事{n}",
            "org_id": f"u{n % UNIVERSITIES:02d}-o{n % 30:02d}", "org_name": f"第{n % 30}学院党委", "org_level": "level2",
            "fields": {"title": f"战疫故事{n}", "text": text}, "file_ids": [], "state": "submitted",
            "level": "ministry", "round_id": "bench-round",
            "submitted_at": datetime(2020, 7, 20, tzinfo=timezone.utc) + timedelta(seconds=n),
            "updated_at": datetime(2020, 7, 20, tzinfo=timezone.utc)} for n in range(WORKS)])
        ops.add_reviewers(s, rnd, [ReviewerRow(i, f"专家{i}", f"e{i}@example.edu.cn", f"u{i % UNIVERSITIES:02d}")
                                   for i in range(REVIEWERS)])
    t0 = time.perf_counter()
    with store.transaction() as s:
        result = ops.run_assignment(s, s.get(Round, "bench-round"))
    took = time.perf_counter() - t0
    print(f"review assignment through the service layer (reads the round, writes {result['added']} "
          f"assignments): {took:.2f} s (goal < 5 s)")
    with store.transaction() as s:
        ids = s.scalars(select(Assignment.id)).all()
        now = datetime(2020, 7, 25, tzinfo=timezone.utc)
        s.execute(insert(Score), [{"assignment_id": a, "marks": {}, "comment": "", "total": rng.uniform(50, 95),
                                   "state": "submitted", "updated_at": now, "submitted_at": now} for a in ids])
        reviewer = s.scalar(select(Assignment.reviewer_id).limit(1))
        # leave this reviewer's queue open, as on the evening they score it
        for a in s.scalars(select(Assignment).where(Assignment.reviewer_id == reviewer)):
            s.delete(s.get(Score, a.id))
        s.add(SignInLink(token_hash=hashlib.sha256(TOKEN.encode()).hexdigest(), reviewer_id=reviewer,
                         expires_at=now + timedelta(days=3650)))
        work = s.scalar(select(Assignment.id).where(Assignment.reviewer_id == reviewer))
    store.dispose()
    return reviewer, work



def bench_server() -> None:
    from deploy.embedded import free_port, wait_healthy

    data = Path(tempfile.mkdtemp(prefix="bench-review-"))
    db_url = f"sqlite:///{data / 'review.db'}"
    _, assignment_id = build(db_url)
    port = free_port()
    env = dict(os.environ, DATA_DIR=str(data), REVIEW_DATABASE_URL=db_url, REVIEW_PORT=str(port), LOG_LEVEL="WARNING",
               WEB_SECRET="bench")
    proc = subprocess.Popen([sys.executable, "-m", "common.run", "review"], cwd=ROOT, env=env,
                            stdout=open(data / "review.log", "wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{base}/health", proc, timeout=60)
        expert, _ = redeem(f"{base}/sign-in/{TOKEN}")
        queue = expert.get(f"{base}/queue")
        assert queue.status_code == 200 and assignment_id in queue.text, queue.text[:300]
        p50, p95 = timed(lambda: expert.get(f"{base}/queue").raise_for_status(), 50)
        n = queue.text.count('href="/works/')
        print(f"reviewer queue page ({n} works): p50 {p50:.1f} ms, p95 {p95:.1f} ms (goal < 300 ms)")
        p50, p95 = timed(lambda: expert.get(f"{base}/works/{assignment_id}").raise_for_status(), 50)
        print(f"reviewer work page: p50 {p50:.1f} ms, p95 {p95:.1f} ms (goal < 300 ms)")
        record("review", "reviewer work page, p95", p95, "ms", goal="< 300 ms")
        admin, _ = sign_in(base, "sk_bench_ministry")
        p50, p95 = timed(lambda: admin.get(f"{base}/rounds/bench-round/ranking").raise_for_status(), 5)
        print(f"admin ranking page ({WORKS} works, about {WORKS * 3} scores): p50 {p50:.0f} ms, p95 {p95:.0f} ms")
        p50, _ = timed(lambda: admin.get(f"{base}/rounds/bench-round/export.xlsx").raise_for_status(), 3)
        print(f"ranking and scores as XLSX: {p50:.0f} ms")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        import shutil

        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    bench_domain()
    bench_server()
