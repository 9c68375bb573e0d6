"""A round whose works all copy one text (issue #19): server time of its admin page's matches (prints a figure).

    .venv/bin/python tests/bench/bench_neardup_round.py [--works 200] [--module services.review.operations.texts]

Every pair of works is a match, as `index_text` records them; the page shows WORKS_PER_PAGE works.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--works", type=int, default=200)
    ap.add_argument("--module", default="services.review.operations.texts")
    args = ap.parse_args()
    import random

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from services.review.models import Base, Entry, Round, TextMatch
    from services.review.operations.progress import WORKS_PER_PAGE
    from tests import textgen

    texts = importlib.import_module(args.module)
    story = textgen.story(random.Random(1), sentences=12)
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    n = args.works
    with Session(engine) as s:
        s.add(Round(id="r", tenant="seu", campaign_id="c", track="story", level="university", title="校级评审"))
        works = [Entry(submission_id=f"w{i:04d}", tenant="seu", campaign_id="c", track="story", stage="s",
                       title=f"作品{i}", fields={"text": story}, state="submitted", round_id="r") for i in range(n)]
        s.add_all(works)
        s.add_all(TextMatch(a=f"w{i:04d}", b=f"w{j:04d}", similarity=1.0, found_at=datetime(2020, 7, 1, tzinfo=timezone.utc))
                  for i in range(n) for j in range(i + 1, n))
        s.flush()
        shown = works[:WORKS_PER_PAGE]
        t0 = time.perf_counter()
        out = texts.matches_for(s, shown, s.get(Round, "r"))
        took = time.perf_counter() - t0
    print(f"round of {n} identical works, matches of the {len(shown)} shown: {took:.2f} s, "
          f"{sum(len(v) for v in out.values())} listed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
