"""The ministry's dashboard over HTTP: sign-in with a key, what each caller sees, the charts' data."""
import gzip
import re

import lxml.html
import requests

from common.events import make_event
from tests import signin
from tests.conftest import wait_until
from tests.integration.test_notify_service import ORGS, key_events, notify, publish, seu_campaign, smtp, story_submitted  # noqa: F401  (fixtures)


def wust_events():
    from common.campaign import campaign_event_data, load_builtin_definitions

    campaign = make_event("campaign_published", "wust",
                          campaign_event_data(load_builtin_definitions()["siyige-2020-wust"]))
    orgs = make_event("orgs_imported", "wust", {"orgs": [
        {"org_id": "w-1", "name": "资源与环境工程学院党委", "level": "level2", "parent_id": None}]})
    return campaign, orgs


def sign_in(base, key):
    return signin.sign_in(base, key)


def two_universities(*more) -> list:
    """The events that give notify the ministry, 东南大学 and 武汉科技大学 (keys, the 2020 campaign and each copy,
    orgs) and one story submitted at 东南大学; then `more`."""
    from common.campaign import campaign_event_data, load_builtin_definitions

    ministry_campaign = make_event("campaign_published", "ministry",
                                   campaign_event_data(load_builtin_definitions()["siyige-2020"]))
    return [key_events("ministry", "ministry", "教育部思政司", "sk_ministry"),
            key_events("seu", "university", "东南大学", "sk_seu"), key_events("wust", "university", "武汉科技大学", "sk_wust"),
            ministry_campaign, seu_campaign(), *wust_events(), ORGS, story_submitted(), *more]


def test_the_dashboard_for_the_ministry_and_for_a_university(notify):  # noqa: F811
    base = "http://" + notify["container"].config["WEB_SERVER_ADDRESS"]
    # 同济 joined but has imported no org list: no row expects anything of it, yet it is the furthest behind
    tongji = make_event("tenant_registered", "tongji", {"name": "同济大学", "kind": "university", "contact_email": None})
    publish(notify["amqp"], *two_universities(tongji))

    assert requests.get(f"{base}/dashboard", allow_redirects=False, timeout=10).headers["Location"] == "/sign-in?next=/dashboard"
    web, r = sign_in(base, "sk_wrong")
    assert r.status_code == 401 and "密钥无效" in r.text and "notify_session" not in r.cookies
    web, r = sign_in(base, "sk_ministry")
    assert r.status_code == 303 and r.headers["Location"] == "/dashboard" and "notify_session" in r.cookies

    def page():
        html = web.get(f"{base}/dashboard", timeout=10).text
        return html if "1</b>件作品已提交" in html else None

    html = wait_until(page, timeout=20, what="the submitted story on the dashboard")
    headers = web.get(f"{base}/dashboard", timeout=10).headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    # No script at all: the charts are drawn on the server, so the page shows them with scripts off too.
    assert "<script" not in html
    assert "东南大学" in html and "武汉科技大学" in html
    # the charts are drawn on the server, as HTML: a row per track, its label beside its bars
    page_tree = lxml.html.fromstring(html)

    def drawn(chart: str) -> dict[str, dict[str, int]]:
        return {row.find_class("bar-label")[0].text_content(): {
            seg.get("data-series"): int(seg.get("data-value")) for seg in row.find_class("seg")}
            for row in page_tree.get_element_by_id(chart).find_class("bar-row")}

    assert drawn("chart-orgs")["战疫故事汇"]["submitted"] == 1 and drawn("chart-works")["战疫故事汇"]["submitted"] == 1
    histogram = [sum(row.values()) for row in drawn("chart-rates").values()]
    assert sum(histogram) == 2  # two universities drawn
    # Both under 10 % (one org in one track of SEU; nothing of WUST), and the same numbers as text.
    # The ministry ranks by org × track slots, and says so: SEU's 3 colleges in 5 tracks owe 15, 1 came in
    assert histogram[0] == 2 and "个组织·赛道已提交" in html
    rates = re.search(r'<table class="list" id="rates">(.*?)</table>', html, re.S).group(1)
    assert re.findall(r"<td>(\d+)</td>", rates) == [str(n) for n in histogram]
    laggards = re.search(r'<table class="list" id="laggards">(.*?)</table>', html, re.S).group(1)
    assert laggards.index("武汉科技大学") < laggards.index("东南大学")  # nothing submitted yet: first
    assert laggards.index("同济大学") < laggards.index("武汉科技大学") and "尚未导入组织名单" in laggards
    # Filters: the ministry's campaign (the universities' copies derive from it) and a track.
    lecture = web.get(f"{base}/dashboard", params={"campaign": "siyige-2020", "track": "lecture"}, timeout=10).text
    assert "0</b>件作品已提交" in lecture

    # A university sees itself only.
    seu, _ = sign_in(base, "sk_seu")
    own = seu.get(f"{base}/dashboard", timeout=10).text
    assert "东南大学进度" in own and "武汉科技大学" not in own and 'id="laggards"' not in own
    # a university counts its orgs, each once however many tracks expect it: 1 of its 3 colleges submitted
    assert "<b>1</b> / 3 个组织已提交" in own

    css = requests.get(f"{base}/static/site.css", headers={"Accept-Encoding": "identity"}, timeout=10)
    assert css.status_code == 200 and "text/css" in css.headers["Content-Type"] and ".bar-label" in css.text
    assert "Content-Encoding" not in css.headers and int(css.headers["Content-Length"]) == len(css.content)
    # a browser takes gzip: the same bytes, compressed on the wire (requests unpacks them; raw is what was sent)
    zipped = requests.get(f"{base}/static/site.css", headers={"Accept-Encoding": "gzip"}, timeout=10, stream=True)
    wire = zipped.raw.read(decode_content=False)
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["Vary"] == "Accept-Encoding"
    assert int(zipped.headers["Content-Length"]) == len(wire) < len(css.content)
    assert gzip.decompress(wire) == css.content
    held = requests.get(f"{base}/static/site.css", headers={"Accept-Encoding": "gzip",
                                                            "If-None-Match": zipped.headers["ETag"]}, timeout=10)
    assert held.status_code == 304 and not held.content
    assert requests.get(f"{base}/static/../service.py", timeout=10).status_code == 404
    assert web.post(f"{base}/sign-out", timeout=10).status_code == 403  # no CSRF token
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)
    assert web.post(f"{base}/sign-out", data={"csrf_token": token}, allow_redirects=False,
                    timeout=10).status_code == 303
