"""Chinese text benchmark (prints figures; never a test).

    .venv/bin/python tests/bench/bench_text.py [--stories 100000] [--processes 2]

- segmentation throughput (jieba with the domain dictionary, after normalisation), characters per second;
- near-duplicate detection over generated stories (about 250 字 each, 5 % of them edited copies):
  fingerprints (in a process pool), LSH candidates and exact checks, with precision and recall.
Goal (issue #6): near-duplicates over 100,000 stories under 60 s on this machine.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stories", type=int, default=100_000)
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    from common import neardup, segment
    from tests import textgen

    t0 = time.perf_counter()
    copies = args.stories // 20
    docs, truth = textgen.corpus(args.stories - copies, copies, seed=11)
    chars = sum(len(t) for _, t in docs)
    print(f"generated {len(docs)} stories ({chars / len(docs):.0f} characters on average) in "
          f"{time.perf_counter() - t0:.1f} s")

    segment.dictionary()
    sample = "".join(t for _, t in docs[:4000])
    t0 = time.perf_counter()
    segment.words(sample)
    took = time.perf_counter() - t0
    print(f"segmentation (normalise + jieba, one process): {len(sample) / took:,.0f} characters/s")

    t0 = time.perf_counter()
    prints = neardup.fingerprints(docs, processes=args.processes)
    t_prints = time.perf_counter() - t0
    t1 = time.perf_counter()
    found = neardup.near_duplicates(prints)
    t_match = time.perf_counter() - t1
    got = {(m.a, m.b) for m in found}
    tp = len(got & truth)
    print(f"near-duplicates over {len(docs)} stories: {t_prints + t_match:.1f} s (goal < 60 s) = fingerprints "
          f"{t_prints:.1f} s with {args.processes} processes + LSH and exact checks {t_match:.1f} s")
    print(f"  {len(found)} pairs found, {len(truth)} true: precision {tp / max(1, len(got)):.3f}, "
          f"recall {tp / max(1, len(truth)):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
