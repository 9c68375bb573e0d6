"""Figures for the one table of `make bench`.

Each benchmark prints its own details and, for each headline figure, calls `record`. When run by
`tests/bench/run_all.py`, the records go to the file named by BENCH_RESULTS (one JSON object per line)
and come back as one table; run alone, a benchmark just prints.
"""
from __future__ import annotations

import json
import os


def record(area: str, measure: str, ours: float, unit: str, *, peer: float | None = None,
           peer_label: str = "", goal: str = "", lower_is_better: bool = True, note: str = "") -> None:
    """One row: what was measured, our figure, the peer's from the same run (if there is a peer)."""
    row = {"bench": os.environ.get("BENCH_NAME"), "area": area, "measure": measure, "ours": ours, "unit": unit,
           "peer": peer, "peer_label": peer_label,
           "goal": goal, "lower_is_better": lower_is_better, "note": note}
    path = os.environ.get("BENCH_RESULTS")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def table(rows: list[dict]) -> str:
    """A Markdown table: area, measure, ours, peer, ours/peer, goal."""
    lines = ["| area | measure | ours | peer (same run) | ours/peer | goal |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        ratio = ""
        if r.get("peer"):
            ratio = f"{r['ours'] / r['peer']:.2f}×"
        peer = f"{fmt(r.get('peer'), r['unit'])} {r.get('peer_label', '')}".strip()
        measure = r["measure"] + (f" ({r['note']})" if r.get("note") else "")
        lines.append(f"| {r['area']} | {measure} | {fmt(r['ours'], r['unit'])} | {peer} | {ratio} | {r.get('goal', '')} |")
    return "\n".join(lines)
