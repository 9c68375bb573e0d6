"""What crosses services: end-to-end latency, pipeline throughput with one and two replicas, memory,
and the event loop during a 1 GB upload and scan.

All four services run as processes, as deployed, on PostgreSQL (one database each; fsync on), the OS's
RabbitMQ, a folder object store and a real SMTP server (aiosmtpd). Three phases:

1. Latency at a steady load: portals create and submit stories at --rate per second for --seconds;
   for each, the time from sending the submit request to the receipt e-mail's arrival at the SMTP
   server (the Maildir file's time): p50 and p99.
2. Throughput, once with one replica of every service and once with two of media and review
   (competing consumers on the same queues): --works stories, each with a photo, are created by 8
   portal clients, uploaded, checked by media, submitted once the check passed, and taken into the
   university's review round (where assignment runs over them). Works per second from the first
   upload to the last work in the round.
3. The event loop under CPU-heavy work: a --scan-mb lecture video is uploaded to intake (hashed in
   its thread pool) and checked by media (scanned in a child process) while /health of both is
   polled every 100 ms: the slowest answer, and each service's own loop-lag monitor.

Peak RSS (VmHWM) of every service process is read at the end of each configuration.

With the throughput, the CPU time each service spent per work, in both configurations: utime + stime of
every process of the service and of its children (media's warm workers; `tests/bench/proccpu.py`), read
before the portals start and again once every work's receipt e-mail has been sent, divided by the works.
Works per second cannot show what a replica buys on a machine whose cores are saturated; the CPU per work
shows what each step costs, and whether a second replica costs more of it. --only-cpu runs that phase
alone (no latency, assignment or event-loop phase, no video to generate).

    .venv/bin/python tests/bench/bench_pipeline.py [--works 400] [--rate 4] [--seconds 60] [--scan-mb 1000]
    .venv/bin/python tests/bench/bench_pipeline.py --only-cpu --works 100
"""
from __future__ import annotations

import argparse
import hashlib
import mailbox
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from email.utils import parseaddr
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from deploy.embedded import free_port, wait_healthy  # noqa: E402
from tests.bench.proccpu import trees_cpu_seconds  # noqa: E402
from tests.bench.report import record  # noqa: E402
from tests.conftest import AMQP_BASE, RABBIT_API  # noqa: E402  (also patches for eventlet, as the tests do)
from tests.integration.test_notify_service import SmtpServer  # noqa: E402
from tests.pg import create_database, pg_cluster  # noqa: E402
from tests.reliability.conftest import import_orgs  # noqa: E402
from tests.reliability.soak import Portal  # noqa: E402
from tests.signin import sign_in  # noqa: E402

SERVICES = ("intake", "media", "review", "notify")


class Stories:
    """Distinct generated stories (about 250 字, jieba's vocabulary), as real ones are: review compares
    every story with the others, and identical texts would make each one a near-duplicate of all."""

    def __init__(self, seed: int = 8):
        import random

        from tests import textgen

        self._rng, self._story, self._lock = random.Random(seed), textgen.story, threading.Lock()

    def next(self) -> str:
        with self._lock:
            return self._story(self._rng)


stories = Stories()


class Cluster:
    """One configuration: fresh databases, vhost, SMTP server and data folder; services as processes."""

    def __init__(self, pg_url: str, workdir: Path, replicas: dict[str, int]):
        self.workdir = workdir
        self.replicas = replicas
        self.vhost = f"bench-{uuid.uuid4().hex[:8]}"
        api = RABBIT_API.rstrip("/")
        requests.put(f"{api}/api/vhosts/{self.vhost}", timeout=10).raise_for_status()
        requests.put(f"{api}/api/permissions/{self.vhost}/guest",
                     json={"configure": ".*", "write": ".*", "read": ".*"}, timeout=10).raise_for_status()
        self.smtp = SmtpServer(free_port(), workdir / "mail")
        self.smtp.start()
        self.db = {s: create_database(pg_url) for s in SERVICES}
        self.env = dict(os.environ, DATA_DIR=str(workdir / "data"), AMQP_URI=f"{AMQP_BASE}/{self.vhost}",
                        PLATFORM_CLOCK_START="2020-07-10T09:00:00+08:00", LOG_LEVEL="WARNING",
                        MAIL_URL=f"smtp://127.0.0.1:{self.smtp.port}", RATE_UPLOADS="1000000",
                        **{f"{s.upper()}_DATABASE_URL": url for s, url in self.db.items()})
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}
        self._engines: dict = {}
        self.orgs_made = 0  # each phase imports its own orgs: the story quota is per org

    def new_orgs(self, http: requests.Session, base: str, n: int) -> dict[str, str]:
        orgs = import_orgs(http, base, n, start=self.orgs_made)
        self.orgs_made += n
        return orgs

    def admin(self, *args) -> str:
        return subprocess.run([sys.executable, "-m", "services.intake.admin", *args], cwd=ROOT, env=self.env,
                              check=True, capture_output=True, text=True).stdout.strip()

    def start(self) -> None:
        self.admin("create-tenant", "ministry", "教育部思政司", "--kind", "ministry")
        self.admin("create-tenant", "seu", "东南大学")
        self.key = self.admin("issue-key", "seu", "--label", "portal")
        self.admin("publish-builtin", "siyige-2020")
        self.admin("publish-builtin", "siyige-2020-seu", "--owner", "seu")
        for service in SERVICES:
            for replica in range(self.replicas.get(service, 1)):
                name = f"{service}-{replica + 1}"
                port = self.ports[name] = free_port()
                self.procs[name] = subprocess.Popen(
                    [sys.executable, "-m", "common.run", service], cwd=ROOT,
                    env=dict(self.env, **{f"{service.upper()}_PORT": str(port)}),
                    stdout=open(self.workdir / f"{name}.log", "ab"), stderr=subprocess.STDOUT)
        for name, proc in self.procs.items():
            wait_healthy(f"http://127.0.0.1:{self.ports[name]}/health", proc, timeout=120)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def peak_rss_mb(self) -> dict[str, float]:
        out = {}
        for name, proc in self.procs.items():
            status = Path(f"/proc/{proc.pid}/status").read_text()
            out[name] = int(next(x for x in status.splitlines() if x.startswith("VmHWM")).split()[1]) / 1024
        return out

    def query(self, service: str, sql: str) -> list[tuple]:
        """Rows of one read-only query on a service's database (one engine per service, kept)."""
        if service not in self._engines:
            self._engines[service] = create_engine(self.db[service])
        with self._engines[service].connect() as c:
            return [tuple(row) for row in c.execute(text(sql))]

    def in_round(self) -> int:
        """Works review has taken into a round (what assignment runs over)."""
        return self.query("review", "SELECT count(*) FROM entries WHERE round_id IS NOT NULL "
                                    "AND state = 'submitted'")[0][0]

    def receipts_sent(self) -> int:
        return self.query("notify", "SELECT count(*) FROM messages WHERE kind = 'receipt' AND state = 'sent'")[0][0]

    def cpu_seconds(self) -> dict[str, float]:
        """CPU-seconds so far of each service: every replica's process tree, children included."""
        by_pid = trees_cpu_seconds([proc.pid for proc in self.procs.values()])
        out: dict[str, float] = {}
        for name, proc in self.procs.items():
            service = name.rsplit("-", 1)[0]
            out[service] = out.get(service, 0.0) + by_pid[proc.pid]
        return out

    def checks_by_replica(self) -> dict[str, int]:
        """How many file checks each media process made (competing consumers share the queue)."""
        return {str(who): n for who, n in self.query(
            "media", "SELECT claimed_by, count(*) FROM check_reports GROUP BY claimed_by")}

    def stop(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.smtp.stop()
        requests.delete(f"{RABBIT_API.rstrip('/')}/api/vhosts/{self.vhost}", timeout=10)


def mail_arrivals(maildir: Path) -> dict[str, float]:
    """Recipient → arrival time (the Maildir file's modification time, wall clock)."""
    box = mailbox.Maildir(maildir, create=True)
    out = {}
    for key, message in box.iteritems():
        sub = "new" if (maildir / "new" / key).exists() else "cur"
        out[parseaddr(message["To"])[1]] = (maildir / sub / key).stat().st_mtime
    return out


def latency_at_steady_load(c: Cluster, rate: float, seconds: float) -> list[float]:
    base = c.url("intake-1") + "/api/v1"
    n = int(rate * seconds)
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {c.key}"
    orgs = list(c.new_orgs(http, base, n).values())
    first = c.orgs_made - n
    time.sleep(3)  # notify has the contacts
    sent: dict[str, float] = {}
    lock = threading.Lock()

    def one(i: int) -> None:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {c.key}"
        work = s.post(f"{base}/submissions", timeout=30, json={
            "campaign_id": "siyige-2020-seu", "track": "story", "org_id": orgs[i],
            "fields": {"title": f"学院{i:03d}战疫故事", "text": stories.next()}}).json()
        at = time.time()
        s.post(f"{base}/submissions/{work['id']}/submit", timeout=30).raise_for_status()
        with lock:
            sent[f"org{first + i:03d}@demo.local"] = at

    threads = []
    start = time.monotonic()
    for i in range(n):  # an open-loop load: a new portal request on schedule, whatever the last one does
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        t = threading.Thread(target=one, args=(i,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join(timeout=60)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(mail_arrivals(c.workdir / "mail")) < n:
        time.sleep(0.5)
    arrived = mail_arrivals(c.workdir / "mail")
    missing = [r for r in sent if r not in arrived]
    if missing:
        raise SystemExit(f"{len(missing)} of {n} receipts never arrived: no figure is made up")
    return sorted((arrived[r] - sent[r]) * 1000 for r in sent)


def pipeline_throughput(c: Cluster, works: int, clients: int = 8, on_start=None) -> tuple[float, float]:
    """Works per second into the review round, and the seconds it all took. `on_start` is called once the
    orgs are imported, just before the portals start."""
    base = c.url("intake-1") + "/api/v1"
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {c.key}"
    already = c.in_round()
    per_client = works // clients
    orgs_each = (per_client + 1) // 2  # two stories per org: the story quota
    orgs = list(c.new_orgs(http, base, orgs_each * clients).values())
    time.sleep(3)
    # No withdrawals here: every work is meant to reach the round.
    portals = [Portal(base, c.key, orgs[k * orgs_each:(k + 1) * orgs_each], withdraw_every=0,
                      story_text=lambda n: stories.next()) for k in range(clients)]
    first_upload = []

    def client(p: Portal) -> None:
        for _ in range(per_client):
            p.new_work()
            if not first_upload:
                first_upload.append(time.monotonic())
            p.submit_ready()
        deadline = time.monotonic() + 300
        while p.pending and time.monotonic() < deadline:
            time.sleep(0.2)
            p.submit_ready()

    threads = [threading.Thread(target=client, args=(p,)) for p in portals]
    if on_start:
        on_start()
    t0 = time.monotonic()
    for t in threads:
        t.start()
    total = per_client * clients
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and c.in_round() - already < total:
        time.sleep(0.2)
    done = time.monotonic()
    for t in threads:
        t.join(timeout=60)
    got = c.in_round() - already
    if got < total:
        raise SystemExit(f"only {got} of {total} works reached the review round: no figure is made up")
    return total / (done - first_upload[0]), done - t0


def cpu_per_work(c: Cluster, works: int, idle_s: float = 5.0) -> dict:
    """The throughput phase, with each service's CPU time read before the portals start and after the last
    receipt e-mail is sent: CPU-seconds per work by service, and what each spends idle (for comparison).
    First 8 works (one per portal client) go through unmeasured: what a service spends once, on its first
    work (loading a dictionary, warming a worker), is not a cost per work."""
    warm = c.receipts_sent()
    pipeline_throughput(c, 8)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and c.receipts_sent() - warm < 8:
        time.sleep(0.2)
    idle0 = c.cpu_seconds()
    time.sleep(idle_s)
    idle = {s: (v - idle0[s]) / idle_s for s, v in c.cpu_seconds().items()}
    receipts0 = c.receipts_sent()
    before: dict[str, float] = {}
    rate, took = pipeline_throughput(c, works, on_start=lambda: before.update(c.cpu_seconds()))
    total = works // 8 * 8
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and c.receipts_sent() - receipts0 < total:
        time.sleep(0.2)
    after, got = c.cpu_seconds(), c.receipts_sent() - receipts0
    if got < total:
        raise SystemExit(f"only {got} of {total} receipts were sent: no figure is made up")
    per_work = {s: (after[s] - before[s]) / got for s in SERVICES}
    return {"throughput": rate, "took": took, "works": got, "per_work": per_work,
            "total": sum(per_work.values()), "idle": idle}


def assignment(c: Cluster, reviewers: int = 30) -> tuple[int, float]:
    """The admin's step that ends the pipeline: import reviewers, then assign every work in the round
    to 3 of them, through review's web UI. Returns (assignments made, seconds for the assign request)."""
    import re

    [(round_id,)] = c.query("review", "SELECT id FROM rounds WHERE track = 'story'")
    base = c.url("review-1")
    web, _ = sign_in(base, c.key)
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', web.get(f"{base}/rounds/{round_id}").text).group(1)
    table = "姓名,邮箱,所在高校,研究方向\n" + "".join(  # experts from other universities: none is excluded
        f"专家{i:02d},expert{i:02d}@example.edu.cn,南京大学,党建\n" for i in range(reviewers))
    r = web.post(f"{base}/rounds/{round_id}/reviewers/import", data={"csrf_token": token},
                 files={"file": ("专家.csv", table.encode(), "text/csv")})
    if r.status_code != 200:
        page_text = re.sub(r"<[^>]+>|\s+", " ", r.text)
        raise SystemExit(f"importing reviewers: {r.status_code} {page_text[:800]}")
    t = time.perf_counter()
    r = web.post(f"{base}/rounds/{round_id}/assign", data={"csrf_token": token}, timeout=600)
    took = time.perf_counter() - t
    r.raise_for_status()
    added = re.search(r"新增 (\d+) 项", r.text)
    if not added:
        raise SystemExit(f"assignment did not report what it made: {r.text[:300]}")
    return int(added.group(1)), took


def loop_under_heavy_work(c: Cluster, scan_mb: int, video: Path) -> dict:
    """Upload and check a large video while /health of intake and media is polled."""
    base = c.url("intake-1") + "/api/v1"
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {c.key}"
    org = next(iter(c.new_orgs(http, base, 1).values()))
    # A story told as a video (the story track takes videos up to 2 GB; the lecture's sign-up is over
    # on the bench's date).
    work = http.post(f"{base}/submissions", json={"campaign_id": "siyige-2020-seu", "track": "story",
                                                  "org_id": org, "fields": {"title": "战疫故事（视频）"}}).json()
    if "id" not in work:
        raise SystemExit(f"the lecture was not created: {work}")
    digest = hashlib.sha256()
    with open(video, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    size = video.stat().st_size
    polls: dict[str, list[float]] = {"intake-1": [], "media-1": []}
    stop = threading.Event()

    stalls: dict[str, dict[float, float]] = {name: {} for name in polls}  # ended at (perf_counter) → lag ms

    def poll(name: str) -> None:
        s = requests.Session()
        while not stop.is_set():
            t = time.perf_counter()
            r = s.get(c.url(name) + "/health", timeout=30)
            r.raise_for_status()
            answered = time.perf_counter()
            polls[name].append((answered - t) * 1000)
            for stall in r.json().get("event_loop", {}).get("stalls_last_minute", []):
                stalls[name][round(answered - stall["ended_s_ago"], 1)] = stall["lag_ms"]
            time.sleep(0.1)

    idle = {name: [] for name in polls}
    for name in polls:  # the baseline: the same poll with nothing else going on
        s = requests.Session()
        for _ in range(20):
            t = time.perf_counter()
            s.get(c.url(name) + "/health", timeout=30)
            idle[name].append((time.perf_counter() - t) * 1000)
            time.sleep(0.05)
    ticket = http.post(f"{base}/submissions/{work['id']}/files", json={
        "kind": "video", "filename": "战疫故事.mp4", "size": size, "sha256": digest.hexdigest()}).json()
    if "upload" not in ticket:
        raise SystemExit(f"no upload ticket for the video: {ticket}")
    pollers = [threading.Thread(target=poll, args=(name,), daemon=True) for name in polls]
    for t in pollers:
        t.start()
    t0 = time.perf_counter()

    def body():
        with open(video, "rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk

    try:
        requests.put(ticket["upload"]["url"], data=body(), timeout=600).raise_for_status()
        http.post(f"{base}/files/{ticket['file']['id']}/complete", timeout=600).raise_for_status()
        uploaded = time.perf_counter() - t0
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            f = http.get(f"{base}/files/{ticket['file']['id']}").json()
            if (f.get("check") or {}).get("verdict"):
                break
            time.sleep(0.2)
        else:
            raise SystemExit(f"the video was not checked within 10 minutes: {f}")
        checked = time.perf_counter() - t0
    finally:
        stop.set()
    for t in pollers:
        t.join(timeout=30)
    # The loop's own view: the longest stall that ended while the upload and check ran (the services
    # list their stalls of the last minute with how long ago each ended).
    lag = {name: max((ms for at, ms in stalls[name].items() if t0 <= at <= t0 + checked), default=0.0)
           for name in polls}
    return {"size": size, "uploaded_s": uploaded, "checked_s": checked, "verdict": f["check"]["verdict"],
            "idle_max": {n: max(v) for n, v in idle.items()}, "busy_max": {n: max(v) for n, v in polls.items()},
            "busy_p50": {n: statistics.median(v) for n, v in polls.items()}, "polls": {n: len(v) for n, v in polls.items()},
            "lag": lag}


def run_configuration(pg_url: str, label: str, replicas: dict[str, int], args, video: Path | None) -> dict:
    """One configuration's phases; the first (one replica each) also runs the latency and event-loop ones."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    c = Cluster(pg_url, workdir, replicas)
    r: dict = {}
    try:
        c.start()
        if not replicas and not args.only_cpu:
            lat = r["latency"] = latency_at_steady_load(c, args.rate, args.seconds)
            print(f"[{label}] submit → receipt e-mail at {args.rate:g} stories/s for {args.seconds:g} s "
                  f"({len(lat)} works): p50 {statistics.median(lat):.0f} ms, "
                  f"p99 {lat[int(0.99 * (len(lat) - 1))]:.0f} ms, max {lat[-1]:.0f} ms")
        cpu = r["cpu"] = cpu_per_work(c, args.works)
        r["throughput"] = cpu["throughput"]
        print(f"[{label}] pipeline (create + photo upload → media check → submit → review round), "
              f"{args.works} works, 8 portal clients: {cpu['throughput']:.1f} works/s ({cpu['took']:.0f} s in all)")
        print(f"[{label}] CPU-s per work, to the receipt e-mail ({cpu['works']} works; every process of the service "
              f"and its children): " + ", ".join(f"{s} {v:.4f}" for s, v in cpu["per_work"].items())
              + f"; total {cpu['total']:.4f}. Idle CPU-s per s: "
              + ", ".join(f"{s} {v:.4f}" for s, v in cpu["idle"].items()))
        r["checks_by_replica"] = shares = c.checks_by_replica()
        print(f"[{label}] photo checks per media process: {sorted(shares.values(), reverse=True)}")
        if not args.only_cpu:
            made, assign_s = r["assignment"] = assignment(c)
            print(f"[{label}] assignment of every work in the round to 3 of 30 reviewers: "
                  f"{made} assignments in {assign_s * 1000:.0f} ms")
        if not replicas and not args.only_cpu:
            heavy = r["heavy"] = loop_under_heavy_work(c, args.scan_mb, video)
            print(f"[{label}] {heavy['size'] / 1e9:.2f} GB video: uploaded and hashed in "
                  f"{heavy['uploaded_s']:.1f} s, checked by {heavy['checked_s']:.1f} s ({heavy['verdict']}); "
                  f"/health polled every 100 ms meanwhile ({heavy['polls']}): slowest "
                  f"{heavy['busy_max']} ms, median {heavy['busy_p50']} ms; idle slowest {heavy['idle_max']} ms; "
                  f"loop lag reported by the services {heavy['lag']}")
        r["rss"] = c.peak_rss_mb()
        print(f"[{label}] peak RSS (MB): " + ", ".join(f"{n} {v:.0f}" for n, v in r["rss"].items()))
    finally:
        c.stop()
    return r


def record_cpu(one: dict, two: dict) -> None:
    """CPU per work by service and in all, in ms (CPU-seconds × 1000: the table shows two decimals)."""
    works = one["cpu"]["works"]
    for service in (*SERVICES, "total"):
        mine = one["cpu"]["total"] if service == "total" else one["cpu"]["per_work"][service]
        theirs = two["cpu"]["total"] if service == "total" else two["cpu"]["per_work"][service]
        what = "all four services" if service == "total" else service
        record("pipeline", f"CPU per work (create → photo upload → check → submit → review round → receipt), "
                           f"{what}, 1 replica each", mine * 1000, "CPU-ms",
               note=f"{works} works; utime + stime of the service's processes and their children" if service == "intake"
               else "")
        record("pipeline", f"CPU per work, {what}, 2 media + 2 review replicas", theirs * 1000, "CPU-ms",
               peer=mine * 1000, peer_label="1 replica each")


def record_latency(args, one: dict) -> None:
    lat = one["latency"]
    record("pipeline", f"portal submit → receipt e-mail at {args.rate:g} stories/s, p50", statistics.median(lat), "ms")
    record("pipeline", f"portal submit → receipt e-mail at {args.rate:g} stories/s, p99",
           lat[int(0.99 * (len(lat) - 1))], "ms")


def record_rest(one: dict) -> None:
    made, assign_s = one["assignment"]
    record("pipeline", f"assign the round's works to 3 of 30 reviewers ({made} assignments)", assign_s * 1000, "ms")
    for name, mb in one["rss"].items():
        record("pipeline", f"peak RSS of {name.rsplit('-', 1)[0]}", mb, "MB")
    heavy = one["heavy"]
    for name in ("intake-1", "media-1"):
        service = name.rsplit("-", 1)[0]
        record("event loop", f"slowest /health of {service} during a {heavy['size'] / 1e9:.1f} GB upload + scan",
               heavy["busy_max"][name], "ms", peer=heavy["idle_max"][name], peer_label="idle",
               note=f"longest event-loop stall meanwhile, seen by {service} itself: {heavy['lag'][name]:.0f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--works", type=int, default=400, help="works through the pipeline per configuration")
    ap.add_argument("--rate", type=float, default=4.0, help="stories per second in the latency phase")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the latency phase")
    ap.add_argument("--scan-mb", type=int, default=1000, help="size of the video in the event-loop phase")
    ap.add_argument("--only-cpu", action="store_true",
                    help="only the throughput phase and its CPU per work (no latency, assignment or event-loop phase)")
    args = ap.parse_args()
    video = None
    if not args.only_cpu:
        from tests.bench.bench_media import generate

        minutes = max(1, round(20 * args.scan_mb / 1000))
        video, _ = generate(Path("/tmp/bench-media" if args.scan_mb >= 1000 else "/tmp/bench-media-quick"),
                            minutes, args.scan_mb)
    with pg_cluster(fsync=True, max_connections=300) as pg_url:
        one = run_configuration(pg_url, "1 replica each", {}, args, video)
        two = run_configuration(pg_url, "2 media + 2 review", {"media": 2, "review": 2}, args, video)

    if not args.only_cpu:
        record_latency(args, one)
    record("pipeline", "works/s upload → check → submit → review round, 1 replica each", one["throughput"],
           "works/s", lower_is_better=False)
    record("pipeline", "works/s, 2 media + 2 review replicas (peer: 1 replica each)", two["throughput"],
           "works/s", peer=one["throughput"], peer_label="1 replica each", lower_is_better=False,
           note=f"{os.cpu_count()} cores shared by every process; checks per media process "
                f"{sorted(two['checks_by_replica'].values(), reverse=True)}")
    record_cpu(one, two)
    if not args.only_cpu:
        record_rest(one)
    return 0


if __name__ == "__main__":
    sys.exit(main())
