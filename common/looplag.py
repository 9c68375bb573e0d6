"""How late the event loop wakes up: the proof that CPU-heavy work (jieba, probing, hashing) runs elsewhere.

A green thread asks to sleep TICK seconds and measures how much later it actually woke. Anything that
holds the loop (a jieba cut, a hash of a large chunk, a blocking call) shows as lag, and the same lag
delays every HTTP request and AMQP heartbeat of the process. `/health` reports the worst lag of the
last minute, so a benchmark (or an operator) can watch it during a 1 GB scan.
"""
from __future__ import annotations

import time
from collections import deque

import eventlet

TICK = 0.05  # seconds between wake-ups
WINDOW = 60.0  # seconds of history kept for the report
STALL = 0.010  # a lag worth listing with its time: a request waiting 10 ms more is felt
LISTED = 20  # the longest stalls listed


class LoopLag:
    def __init__(self, tick: float = TICK, window: float = WINDOW):
        self.tick, self.window = tick, window
        self.samples: deque[tuple[float, float]] = deque()  # (when, lag in seconds), only lags above 1 ms
        self.ticks = 0
        self.worst = 0.0
        self._thread = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = eventlet.spawn(self._run)

    def _run(self) -> None:
        while True:
            asked = time.monotonic()
            eventlet.sleep(self.tick)
            now = time.monotonic()
            lag = now - asked - self.tick
            self.ticks += 1
            self.worst = max(self.worst, lag)
            if lag > 0.001:
                self.samples.append((now, lag))
            while self.samples and self.samples[0][0] < now - self.window:
                self.samples.popleft()

    def report(self) -> dict:
        """For /health: the worst lag in the last minute and since start, in milliseconds, and the
        longest stalls of the last minute with how long ago they ended (so a benchmark can tell a
        stall during its run from one at start-up)."""
        if self._thread is None:
            return {}
        recent = max((lag for _, lag in self.samples), default=0.0)
        now = time.monotonic()
        stalls = sorted(((now - when, lag) for when, lag in self.samples if lag >= STALL), key=lambda x: -x[1])
        return {"event_loop": {"max_lag_ms_last_minute": round(recent * 1000, 1),
                               "max_lag_ms_since_start": round(self.worst * 1000, 1), "ticks": self.ticks,
                               "stalls_last_minute": [{"ended_s_ago": round(ago, 2), "lag_ms": round(lag * 1000, 1)}
                                                      for ago, lag in stalls[:LISTED]]}}


monitor = LoopLag()
