"""The dashboard's shaping of aggregated progress: buckets, laggards, and the charts the page draws."""
from pathlib import Path

import lxml.html

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


def track(key, expected, submitted, works=0, in_progress=0, withdrawn=0, forwarded=0, period=None):
    return {"track": key, "period": period, "orgs_expected": expected, "orgs_submitted": submitted,
            "works_submitted": works, "works_in_progress": in_progress, "works_withdrawn": withdrawn,
            "works_forwarded": forwarded}


def test_chart_rows_follow_the_tracks():
    data = {"track_labels": {"story": "战疫故事汇"}, "universities": [uni("a", 1, 2)],
            "tracks": [track("story", 2, 1, works=3, in_progress=1, forwarded=1)]}
    charts = dashboard.charts(data)
    (row,) = charts["orgs"]["rows"]
    assert row["label"] == "战疫故事汇" and row["value"] == "1 / 2"
    assert [(s["series"], s["value"], s["width"]) for s in row["bars"][0]] == [("submitted", 1, "50.00%"),
                                                                               ("missing", 1, "50.00%")]
    works = charts["works"]["rows"][0]["bars"]
    assert [s["value"] for s in works[0]] == [3, 1, 0] and works[1][0]["series"] == "forwarded"
    assert charts["works"]["rows"][0]["bars"][0][0]["width"] == "75.00%"  # 3 of the longest bar's 4
    assert charts["histogram"][5] == 1 and charts["buckets"][0] == "0–10%"
    assert charts["rates"]["rows"][5]["value"] == "1"


PAGES = Path(dashboard.__file__).resolve().parent / "pages"
LONG = ["习近平新时代中国特色社会主义思想学习教育专题微党课（研究生党支部组）",
        "“不忘初心、牢记使命”主题教育优秀党日活动案例征集（附属医院及各直属单位）",
        "战疫故事汇"]


def render(data: dict, tenant=None):
    from common.web import Templates

    context = dashboard.page({"total": {}, "campaigns": [], **data}, tenant, "教育部思政司", dashboard.Filters())
    return lxml.html.fromstring(Templates(PAGES).render("dashboard.html", session=None, csrf_token="t", **context))


def test_long_names_are_drawn_whole_in_a_label_column_with_the_full_name_as_tooltip():
    labels = {f"t{i}": name for i, name in enumerate(LONG)}
    data = {"track_labels": labels, "universities": [uni("a", 1, 2, "东南大学")],
            "tracks": [track(f"t{i}", 3, i, works=i + 1) for i in range(len(LONG))]}
    page = render(data)
    for chart in ("chart-orgs", "chart-works"):
        rows = page.get_element_by_id(chart).find_class("bar-row")
        # every label whole (no ellipsis, no cut), in its own column beside the bars, and whole again in the tooltip
        assert [r.find_class("bar-label")[0].text_content() for r in rows] == LONG
        assert all(r.get("title").startswith(name + "：") for r, name in zip(rows, LONG))
    css = (PAGES.parent / "static" / "site.css").read_text()
    rule = css[css.index(".bar-label {"):].split("}")[0]
    # the label column wraps: nothing in its rule hides, clips or keeps a long name on one line
    assert "overflow-wrap: anywhere" in rule and not any(w in rule for w in ("ellipsis", "nowrap", "hidden"))


def colour_of(page, chart: str, series: str) -> str:
    swatch = page.get_element_by_id(chart).xpath(f'.//ul[@class="legend"]/li[@data-series="{series}"]/span')[0]
    return swatch.get("style").split("background:")[1].strip()


def greenish(colour: str) -> bool:
    r, g, b = (int(colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    return g > r and g > b


def test_not_submitted_is_a_warning_colour_and_bars_match_their_legend():
    data = {"track_labels": {"story": "战疫故事汇"}, "universities": [],
            "tracks": [track("story", 5, 2, works=2, in_progress=1)]}
    page = render(data, tenant="seu")
    missing, submitted = colour_of(page, "chart-orgs", "missing"), colour_of(page, "chart-orgs", "submitted")
    assert not greenish(missing) and greenish(submitted)
    legend = [li.text_content() for li in page.get_element_by_id("chart-orgs").xpath('.//ul[@class="legend"]/li')]
    assert legend == ["已提交", "未提交"]
    for seg in page.get_element_by_id("chart-orgs").find_class("seg"):
        assert colour_of(page, "chart-orgs", seg.get("data-series")) in seg.get("style")
    # the same series has the same colour on every chart
    assert colour_of(page, "chart-works", "submitted") == submitted


def test_an_empty_chart_says_no_data_instead_of_drawing_bare_axes():
    page = render({"track_labels": {}, "universities": [], "tracks": []})
    for chart in ("chart-orgs", "chart-works", "chart-rates"):
        figure = page.get_element_by_id(chart)
        assert "暂无数据" in figure.text_content() and not figure.find_class("bar-row")
    # tracks that expect nothing yet draw nothing either
    zero = render({"track_labels": {}, "universities": [], "tracks": [track("story", 0, 0)]}, tenant="seu")
    assert "暂无数据" in zero.get_element_by_id("chart-orgs").text_content()
    assert not zero.xpath('//*[@id="chart-rates"]')  # a university's page has no histogram of universities


def test_names_in_a_chart_are_escaped():
    data = {"track_labels": {"x": "<script>alert(1)</script>"}, "universities": [], "tracks": [track("x", 1, 0)]}
    page = render(data, tenant="seu")
    assert not page.xpath("//script") and "<script>alert(1)</script>" in page.get_element_by_id("chart-orgs").text_content()
