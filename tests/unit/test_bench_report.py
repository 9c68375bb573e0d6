"""The bench table: rows recorded by the benchmarks come back as one Markdown table with ratios."""
import json

from tests.bench.report import record, table


def test_records_go_to_the_results_file_and_into_one_table(tmp_path, monkeypatch):
    results = tmp_path / "results.jsonl"
    monkeypatch.setenv("BENCH_RESULTS", str(results))
    record("media", "header check", 76.0, "ms", peer=196.0, peer_label="ffprobe", goal="≤ 1.5×")
    record("intake", "works submitted", 45.2, "works/s", lower_is_better=False)
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["measure"] for r in rows] == ["header check", "works submitted"]
    text = table(rows).splitlines()
    assert text[2] == "| media | header check | 76.0 ms | 196 ms ffprobe | 0.39× | ≤ 1.5× |"
    assert text[3] == "| intake | works submitted | 45.2 works/s |  |  |  |"


def test_without_a_results_file_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv("BENCH_RESULTS", raising=False)
    monkeypatch.chdir(tmp_path)
    record("media", "scan", 0.66, "s")
    assert list(tmp_path.iterdir()) == []
