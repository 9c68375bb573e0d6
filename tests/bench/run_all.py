"""`make bench`: every benchmark, then one table of figures with the peers measured in the same run.

Each benchmark runs as its own process (so one's memory or event loop never colours another's); its full
output goes to var/bench/<name>.log and its headline figures come back through BENCH_RESULTS. The table,
headed by the machine it ran on, is printed and written to var/bench/table.md.

    .venv/bin/python tests/bench/run_all.py            # the sizes the README quotes
    .venv/bin/python tests/bench/run_all.py --quick    # small sizes, to see that everything runs
    .venv/bin/python tests/bench/run_all.py --only events pipeline
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.report import table  # noqa: E402

# name: (script, full-size arguments, quick arguments)
BENCHES = {
    "events": ("bench_events.py", [], ["--events", "300"]),
    "intake": ("bench_intake.py", [], ["--works", "60", "--upload-mb", "64", "--s3-mb", "96"]),
    "media": ("bench_media.py", [], ["--minutes", "2", "--target-mb", "100", "--workdir", "/tmp/bench-media-quick"]),
    "pipeline": ("bench_pipeline.py", [], ["--works", "40", "--scan-mb", "100"]),
    "review": ("bench_review.py", [], []),
    "signin": ("bench_signin.py", [], ["--people", "10"]),
    "notify": ("bench_notify.py", [], ["--universities", "60", "--works", "20000", "--emails", "200"]),
    "text": ("bench_text.py", [], ["--stories", "4000", "--library-docs", "4000", "--queries", "50"]),
}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    try:
        rabbit = subprocess.run(["rabbitmqctl", "-q", "version"], capture_output=True, text=True,
                                timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rabbit = "?"
    return (f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.0f} GiB, {platform.platform()}, "
            f"Python {platform.python_version()}, RabbitMQ {rabbit}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: checks that every benchmark runs")
    ap.add_argument("--only", nargs="+", choices=sorted(BENCHES), help="run only these")
    ap.add_argument("--keep", action="store_true",
                    help="keep the last run's figures of the benchmarks not run now (one table after re-running one)")
    args = ap.parse_args()
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    if not args.keep:
        results.unlink(missing_ok=True)
    failed = []
    for name in args.only or BENCHES:
        if results.exists():  # a re-run replaces that benchmark's rows
            kept = [line for line in results.read_text().splitlines() if json.loads(line).get("bench") != name]
            results.write_text("".join(line + "\n" for line in kept))
        script, full, quick = BENCHES[name]
        cmd = [sys.executable, str(ROOT / "tests" / "bench" / script), *(quick if args.quick else full)]
        print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
        started = time.monotonic()
        with open(out / f"{name}.log", "w") as log:
            rc = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, BENCH_RESULTS=str(results), BENCH_NAME=name)).returncode
        print(f"   {'ok' if rc == 0 else f'FAILED (exit {rc})'} in {time.monotonic() - started:.0f} s; "
              f"details in {(out / f'{name}.log').relative_to(ROOT)}", flush=True)
        if rc != 0:
            failed.append(name)
    rows = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    order = list(BENCHES)
    rows.sort(key=lambda r: order.index(r["bench"]) if r.get("bench") in order else len(order))
    text = (f"Measured {datetime.now(timezone.utc):%Y-%m-%d} on {machine()}"
            f"{' (--quick sizes)' if args.quick else ''}.\n\n{table(rows)}\n")
    (out / "table.md").write_text(text)
    print()
    print(text)
    if failed:
        print(f"benchmarks that failed (no figures from them above): {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
