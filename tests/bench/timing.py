"""Timing for the benchmarks: server time of a request, as p50 and p95 in milliseconds."""
from __future__ import annotations

import statistics
import time


def timed(fn, n: int) -> tuple[float, float]:
    xs = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        xs.append((time.perf_counter() - t) * 1000)
    xs.sort()
    return statistics.median(xs), xs[min(len(xs) - 1, int(0.95 * len(xs)))]
