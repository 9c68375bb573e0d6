"""Intake benchmark (prints figures; never a test).

    make bench            (or: .venv/bin/python tests/bench/bench_intake.py [--works 300] [--upload-mb 1024])
    .venv/bin/python tests/bench/bench_intake.py --s3-only --s3-rounds 3   (only the S3 upload against boto3, best of 3)

1. Submissions sustained through the API to a published `submission_submitted`:
   each work is created and submitted over HTTP; latency runs from the submit
   request to the event arriving on a queue bound to intake's exchange.
2. Peak RSS of the intake process while a file of --upload-mb MiB is streamed
   to the folder backend (goal: under 150 MB for 1 GiB).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from kombu import Connection, Exchange, Queue

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from deploy.embedded import free_port, wait_healthy  # noqa: E402
from tests.bench.report import record  # noqa: E402

CHUNK = os.urandom(1024 * 1024)


def rss_peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def rss_now_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--works", type=int, default=300)
    ap.add_argument("--upload-mb", type=int, default=1024)
    ap.add_argument("--s3-mb", type=int, default=512, help="size of the S3 upload compared with plain boto3")
    ap.add_argument("--s3-rounds", type=int, default=1, help="S3 uploads each way, alternating; the best of each counts")
    ap.add_argument("--s3-only", action="store_true", help="only the S3 upload against boto3")
    args = ap.parse_args()
    status = 0 if args.s3_only else folder_and_events(args)
    s3_upload_against_boto3(args.s3_mb, args.s3_rounds)
    return status


def folder_and_events(args) -> int:

    data = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    port = free_port()
    vhost = f"bench-{os.getpid()}"
    api = "http://guest:guest@localhost:15672/api"
    requests.put(f"{api}/vhosts/{vhost}", timeout=10).raise_for_status()
    requests.put(f"{api}/permissions/{vhost}/guest", json={"configure": ".*", "write": ".*", "read": ".*"},
                 timeout=10).raise_for_status()
    amqp = f"amqp://guest:guest@localhost:5672/{vhost}"
    env = dict(os.environ, DATA_DIR=str(data), AMQP_URI=amqp, INTAKE_PORT=str(port),
               PLATFORM_CLOCK_START="2020-06-12T09:00:00+08:00", LOG_LEVEL="WARNING")
    admin = [sys.executable, "-m", "services.intake.admin"]

    def run(*a):
        return subprocess.run(admin + list(a), cwd=ROOT, env=env, check=True, capture_output=True,
                              text=True).stdout.strip()

    run("create-tenant", "ministry", "教育部", "--kind", "ministry")
    run("create-tenant", "seu", "东南大学")
    key = run("issue-key", "seu")
    run("publish-builtin", "siyige-2020")
    run("publish-builtin", "siyige-2020-seu", "--owner", "seu")
    proc = subprocess.Popen([sys.executable, "-m", "common.run", "intake"], cwd=ROOT, env=env,
                            stdout=open(data / "intake.log", "wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/api/v1"
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {key}"
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", proc, timeout=60)
        # one level-2 org per work, so the quota never stops the run
        rows = "".join(f"第{i}学院党委,二级党组织,\n" for i in range(args.works))
        http.post(f"{base}/orgs/import", data=("名称,层级,上级组织\n" + rows).encode(),
                  headers={"Content-Type": "text/csv"}).raise_for_status()
        orgs = []
        page = 1
        while len(orgs) < args.works:
            items = http.get(f"{base}/orgs", params={"per_page": 200, "page": page}).json()["items"]
            orgs += [o["id"] for o in items]
            page += 1

        arrived: dict[str, float] = {}
        with Connection(amqp) as conn:
            q = Queue("bench-submitted", Exchange("intake.events", type="topic", durable=True),
                      routing_key="submission_submitted", auto_delete=True)
            channel = conn.channel()
            q.bind(channel).declare()

            def on_message(body, message):
                doc = body if isinstance(body, dict) else json.loads(body)
                arrived[doc["data"]["submission_id"]] = time.perf_counter()
                message.ack()

            consumer = conn.Consumer(q, callbacks=[on_message], channel=channel)
            consumer.consume()
            stop = threading.Event()

            def drain():
                while not stop.is_set():
                    try:
                        conn.drain_events(timeout=0.2)
                    except TimeoutError:
                        pass
                    except Exception:  # noqa: BLE001
                        if stop.is_set():
                            return
            t = threading.Thread(target=drain, daemon=True)
            t.start()

            sent: dict[str, float] = {}
            t0 = time.perf_counter()
            for org in orgs[: args.works]:
                w = http.post(f"{base}/submissions", json={
                    "campaign_id": "siyige-2020-seu", "track": "story", "org_id": org,
                    "fields": {"title": "战疫故事", "text": "党员冲在抗疫第一线。" * 10}}).json()
                sent[w["id"]] = time.perf_counter()
                http.post(f"{base}/submissions/{w['id']}/submit").raise_for_status()
            deadline = time.monotonic() + 60
            while len(arrived) < len(sent) and time.monotonic() < deadline:
                time.sleep(0.05)
            elapsed = max(arrived.values()) - t0
            stop.set()
            t.join(timeout=2)
        lat = sorted((arrived[k] - sent[k]) * 1000 for k in sent if k in arrived)
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
        print(f"works submitted (create + submit, sequential client): {len(sent)}; events arrived: {len(arrived)}")
        print(f"sustained: {len(arrived) / elapsed:.1f} works/s (API to published submission_submitted)")
        print(f"submit→event latency: p50 {p(0.50):.1f} ms, p99 {p(0.99):.1f} ms, "
              f"mean {statistics.mean(lat):.1f} ms")
        record("intake", "works created and submitted (sequential client)", len(arrived) / elapsed, "works/s",
               lower_is_better=False)
        record("intake", "submit → event on the broker, p50", p(0.50), "ms")
        record("intake", "submit → event on the broker, p99", p(0.99), "ms")

        # 2. a large upload through the folder backend
        org = orgs[0]
        w = http.post(f"{base}/submissions", json={"campaign_id": "siyige-2020-seu", "track": "lecture",
                                                   "org_id": org, "fields": {"title": "党课"}}).json()
        size = args.upload_mb * 1024 * 1024
        h = hashlib.sha256()
        for _ in range(args.upload_mb):
            h.update(CHUNK)
        ticket = http.post(f"{base}/submissions/{w['id']}/files", json={
            "kind": "video", "filename": "党课.mp4", "size": size, "sha256": h.hexdigest()}).json()
        before = rss_now_kb(proc.pid)
        t0 = time.perf_counter()

        def body():
            for _ in range(args.upload_mb):
                yield CHUNK
        r = requests.put(ticket["upload"]["url"], data=body(), timeout=600)  # chunked
        if not r.ok:
            raise SystemExit(f"upload refused: {r.status_code} {r.text}")
        took = time.perf_counter() - t0
        http.post(f"{base}/files/{ticket['file']['id']}/complete").raise_for_status()
        print(f"upload of {args.upload_mb} MiB to the folder backend: {took:.1f} s "
              f"({args.upload_mb / took:.0f} MiB/s), hashed and verified")
        print(f"intake RSS: before {before / 1024:.0f} MB, peak over the whole run {rss_peak_kb(proc.pid) / 1024:.0f} MB")
        record("intake", f"{args.upload_mb} MiB upload to the folder store, hashed and verified", took, "s",
               note=f"{args.upload_mb / took:.0f} MiB/s")
        record("intake", "peak RSS (whole run, upload included)", rss_peak_kb(proc.pid) / 1024, "MB",
               goal="< 150 MB")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        requests.delete(f"{api}/vhosts/{vhost}", timeout=10)
        import shutil

        shutil.rmtree(data, ignore_errors=True)
    return 0


def s3_upload_against_boto3(megabytes: int, rounds: int = 1) -> None:
    """A portal's upload through intake to S3 (register with each part's SHA-256, PUT to presigned URLs that sign
    them, complete: intake checks S3's composite checksum) against a plain boto3 upload of the same file to the same
    endpoint, parts one at a time and of the same size on both sides. The endpoint is moto's S3 server (MinIO does
    not run here) with the SHA-256 check AWS S3 makes on a PUT that declares one (tests/s3_server.py): moto alone
    would store the parts unchecked, leaving out hashing S3 does. The portal's digests are computed with the file,
    outside the timing, as a portal computes them in the pass that gives the file's SHA-256."""
    import boto3
    from boto3.s3.transfer import TransferConfig

    from common import objectstore

    work = Path(tempfile.mkdtemp(prefix="bench-s3-"))
    source = work / "lecture.mp4"
    digest = hashlib.sha256()
    part_digests, part = [], hashlib.sha256()
    with open(source, "wb") as out:
        for n in range(megabytes):
            out.write(CHUNK)
            digest.update(CHUNK)
            part.update(CHUNK)
            if (n + 1) * len(CHUNK) % objectstore.PART_SIZE == 0 or n == megabytes - 1:
                part_digests.append(part.hexdigest())
                part = hashlib.sha256()
    size = source.stat().st_size
    s3_port, port = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{s3_port}"
    creds = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    moto = subprocess.Popen([sys.executable, "-m", "tests.s3_server", str(s3_port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, **creds))
    vhost = f"bench-s3-{os.getpid()}"
    api = "http://guest:guest@localhost:15672/api"
    requests.put(f"{api}/vhosts/{vhost}", timeout=10).raise_for_status()
    requests.put(f"{api}/permissions/{vhost}/guest", json={"configure": ".*", "write": ".*", "read": ".*"},
                 timeout=10).raise_for_status()
    env = dict(os.environ, **creds, DATA_DIR=str(work / "data"), AMQP_URI=f"amqp://guest:guest@localhost:5672/{vhost}",
               INTAKE_PORT=str(port), PLATFORM_CLOCK_START="2020-06-12T09:00:00+08:00", LOG_LEVEL="WARNING",
               OBJECT_STORE_URL=f"s3://works?endpoint={endpoint}&region=us-east-1")
    proc = None
    try:
        wait_healthy(f"{endpoint}/moto-api/", moto, timeout=30)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench")
        s3.create_bucket(Bucket="works")

        def admin(*a):
            return subprocess.run([sys.executable, "-m", "services.intake.admin", *a], cwd=ROOT, env=env,
                                  check=True, capture_output=True, text=True).stdout.strip()

        admin("create-tenant", "ministry", "教育部", "--kind", "ministry")
        admin("create-tenant", "seu", "东南大学")
        key = admin("issue-key", "seu")
        admin("publish-builtin", "siyige-2020")
        admin("publish-builtin", "siyige-2020-seu", "--owner", "seu")
        proc = subprocess.Popen([sys.executable, "-m", "common.run", "intake"], cwd=ROOT, env=env,
                                stdout=open(work / "intake.log", "wb"), stderr=subprocess.STDOUT)
        wait_healthy(f"http://127.0.0.1:{port}/health", proc, timeout=60)
        base = f"http://127.0.0.1:{port}/api/v1"
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {key}"
        http.post(f"{base}/orgs/import", data="名称,层级,上级组织\n机械工程学院党委,二级党组织,\n".encode(),
                  headers={"Content-Type": "text/csv"}).raise_for_status()
        org = http.get(f"{base}/orgs").json()["items"][0]["id"]
        config = TransferConfig(multipart_threshold=objectstore.MULTIPART_THRESHOLD,
                                multipart_chunksize=objectstore.PART_SIZE, max_concurrency=1, use_threads=False)
        timings = []
        for n in range(rounds):
            # a new work each round (one video per work); ours and boto3 alternate, so load beside them hits both
            w = http.post(f"{base}/submissions", json={"campaign_id": "siyige-2020-seu", "track": "lecture",
                                                       "org_id": org, "fields": {"title": f"党课{n}"}}).json()
            t0 = time.perf_counter()
            ticket = http.post(f"{base}/submissions/{w['id']}/files", json={
                "kind": "video", "filename": "党课.mp4", "size": size, "sha256": digest.hexdigest(),
                **({"part_sha256": part_digests} if len(part_digests) > 1 else {})}).json()
            parts = ticket["upload"].get("multipart", {}).get("parts") or [
                {"part_number": None, "url": ticket["upload"]["url"], "size": size,
                 "headers": ticket["upload"]["headers"]}]
            etags = []
            with open(source, "rb") as f:
                for part in parts:
                    r = requests.put(part["url"], data=f.read(part["size"]), headers=part.get("headers", {}),
                                     timeout=600)
                    r.raise_for_status()
                    etags.append({"part_number": part["part_number"], "etag": r.headers["ETag"]})
            body = {"parts": etags} if parts[0]["part_number"] else None
            done = http.post(f"{base}/files/{ticket['file']['id']}/complete", json=body, timeout=600)
            done.raise_for_status()
            ours = time.perf_counter() - t0

            t0 = time.perf_counter()
            s3.upload_file(str(source), "works", "peer/lecture.mp4", Config=config)
            peer = time.perf_counter() - t0
            timings.append((ours, peer))
            print(f"S3 upload of {megabytes} MiB ({len(parts)} parts of at most {objectstore.PART_SIZE >> 20} MiB), "
                  f"round {n + 1}: through intake {ours:.1f} s (register, presigned PUTs, complete); "
                  f"plain boto3 upload_file {peer:.1f} s ({ours / peer:.2f}×)")
            s3.delete_object(Bucket="works", Key=f"seu/{done.json()['id']}")  # moto holds objects in memory
            s3.delete_object(Bucket="works", Key="peer/lecture.mp4")
        ours, peer = min(t[0] for t in timings), min(t[1] for t in timings)
        read_back = os.environ.get("S3_VERIFIES_CHECKSUMS", "1") in ("0", "false", "no", "off")
        record("intake", f"{megabytes} MiB upload to S3 (moto server): register, PUT, complete", ours, "s",
               peer=peer, peer_label="boto3 upload_file, same part size",
               note=("intake reads the object back to check its SHA-256" if read_back else
                     "S3 checks each part's declared SHA-256, intake S3's composite of them: no read-back")
               + (f"; best of {rounds}" if rounds > 1 else ""))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        moto.terminate()
        moto.wait(timeout=20)
        requests.delete(f"{api}/vhosts/{vhost}", timeout=10)
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
