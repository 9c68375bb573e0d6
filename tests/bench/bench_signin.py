"""Signing in (issue #15): what a password check costs, how many a replica does a second, and that the loop stays free.

    .venv/bin/python tests/bench/bench_signin.py [--people 60]

- one Argon2id check (t=3, 64 MiB: argon2-cffi's defaults, RFC 9106), median of a few, in milliseconds;
- `--people` sign-ins at once through intake's path (`verify_off_loop`: a tpool thread, two at a time), people a
  second, and the longest the event loop waited meanwhile (other requests, the AMQP heartbeat);
- the peer: the same checks run on the loop itself, the way a naive service would, and the loop's longest wait then;
- a hand-on ticket issued and read (common.handoff), and a TOTP code checked, in microseconds.
Prints figures; never a test.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import eventlet  # noqa: E402

eventlet.monkey_patch()

from tests.bench.report import record  # noqa: E402

PASSWORD = "红旗飘飘党建引领2020"


def longest_wait_while(work) -> tuple[float, float]:
    """(seconds the work took, the longest the loop waited for a 1 ms ticker meanwhile, in ms)."""
    waits, done = [], []

    def ticker():
        while not done:
            before = time.perf_counter()
            eventlet.sleep(0.001)
            waits.append(time.perf_counter() - before - 0.001)

    tick = eventlet.spawn(ticker)
    eventlet.sleep(0.01)
    t0 = time.perf_counter()
    work()
    took = time.perf_counter() - t0
    done.append(True)
    tick.wait()
    return took, max(waits) * 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=60)
    args = ap.parse_args()
    from services.intake.passwords import hash_password, verify_off_loop, verify_password

    stored = hash_password(PASSWORD)
    singles = []
    for _ in range(7):
        t0 = time.perf_counter()
        assert verify_password(stored, PASSWORD)
        singles.append((time.perf_counter() - t0) * 1000)
    one = statistics.median(singles)
    print(f"one Argon2id check: {one:.0f} ms (median of {len(singles)})")
    record("sign-in", "one password check (Argon2id, 64 MiB)", one, "ms")

    def ours():
        pool = eventlet.GreenPool(args.people)
        for _ in range(args.people):
            pool.spawn(verify_off_loop, stored, PASSWORD)
        pool.waitall()

    def naive():
        for _ in range(args.people):
            verify_password(stored, PASSWORD)

    took, wait = longest_wait_while(ours)
    naive_took, naive_wait = longest_wait_while(naive)
    print(f"{args.people} sign-ins at once: {args.people / took:.1f} people/s, longest loop wait {wait:.1f} ms "
          f"(on the loop: {args.people / naive_took:.1f} people/s, longest wait {naive_wait:.0f} ms)")
    record("sign-in", f"people signed in a second, {args.people} at once", args.people / took, "/s",
           peer=args.people / naive_took, peer_label="checked on the loop", lower_is_better=False)
    record("sign-in", "longest event-loop wait during those sign-ins", wait, "ms", peer=naive_wait,
           peer_label="checked on the loop", goal="< 20 ms")

    from common import handoff
    from services.intake.domain import signin

    secret = b"x" * 32
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        handoff.read_ticket(secret, "review", handoff.issue_ticket(
            secret, "review", account_id="a" * 32, name="王老师", email="wang@seu.edu.cn",
            grants=[{"tenant": "seu", "role": "owner"}], session="s" * 64, session_expires=time.time() + 3600))
    ticket_us = (time.perf_counter() - t0) / n * 1e6
    totp_secret = signin.new_totp_secret()
    import pyotp

    code = pyotp.TOTP(totp_secret).now()
    t0 = time.perf_counter()
    for _ in range(n):
        signin.matching_step(totp_secret, code, time.time(), None)
    totp_us = (time.perf_counter() - t0) / n * 1e6
    print(f"hand-on ticket issued and read: {ticket_us:.0f} µs; TOTP code checked: {totp_us:.0f} µs")
    record("sign-in", "hand-on ticket issued and read", ticket_us, "µs")
    record("sign-in", "TOTP code checked", totp_us, "µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
