"""The dashboard's shaping of aggregated progress: buckets, laggards, chart series, safe embedding."""
import json

from services.notify import dashboard


def uni(tenant, submitted, expected, name=None, works=0, forwarded=0):
    return {"tenant": tenant, "name": name, "orgs_submitted": submitted, "orgs_expected": expected,
            "works_submitted": works, "works_in_progress": 0, "works_withdrawn": 0, "works_forwarded": forwarded}


def test_universities_fall_in_tenths_of_their_submission_rate():
    counts = dashboard.histogram([uni("a", 0, 30), uni("b", 3, 30), uni("c", 15, 30), uni("d", 30, 30),
                                  uni("e", 29, 30), uni("f", 0, 0)])
    assert counts == [1, 1, 0, 0, 0, 1, 0, 0, 0, 2]  # f has nothing expected: not drawn
    assert sum(counts) == 5


def test_laggards_are_the_lowest_rates_first_then_the_most_missing():
    rows = [uni("a", 10, 30, "甲大学"), uni("b", 0, 5, "乙大学"), uni("c", 0, 40, None), uni("d", 30, 30)]
    lag = dashboard.laggards(rows, n=3)
    assert [u["tenant"] for u in lag] == ["c", "b", "a"]
    assert lag[0]["name"] == "c" and lag[0]["missing"] == 40 and lag[2]["rate"] == 33.3


def test_chart_series_follow_the_tracks():
    data = {"track_labels": {"story": "战疫故事汇"}, "universities": [uni("a", 1, 2)],
            "tracks": [{"track": "story", "orgs_expected": 2, "orgs_submitted": 1, "works_submitted": 3,
                        "works_in_progress": 1, "works_withdrawn": 0, "works_forwarded": 1}]}
    charts = dashboard.charts(data)
    assert charts["tracks"] == ["战疫故事汇"] and charts["works"]["submitted"] == [3]
    assert charts["histogram"][5] == 1 and charts["buckets"][0] == "0–10%"


def test_embedded_json_cannot_close_its_script_element():
    text = dashboard.embed({"name": "</script><script>alert(1)</script><!--"})
    assert "</script" not in text and "<!--" not in text
    assert json.loads(text)["name"] == "</script><script>alert(1)</script><!--"
