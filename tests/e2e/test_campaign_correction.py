"""A correction of the ministry's campaign reaches the universities' copies, across the running platform (issue #16).

All four services as processes. The ministry corrects 四个一 2020 through intake's API: the story gets a 字数
limit and a new name. 东南大学's copy, which overrode neither, follows with a version of its own; notify's
progress rows for 东南大学 take the new name from the copy; a story submitted before the correction keeps its
receipt and is flagged with the new limit, never reopened.
"""
import copy

import requests

from common.campaign import load_builtin_definitions
from tests.e2e.test_round_trip import platform, poll  # noqa: F401  (fixture)

NEW_LABEL = "战疫故事汇（更正）"


def api(platform, key):  # noqa: F811
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {key}"
    return f"http://127.0.0.1:{platform['ports']['intake']}/api/v1", http


def test_a_correction_reaches_the_universitys_copy_its_services_and_its_submitted_works(platform):  # noqa: F811
    base, seu = api(platform, platform["key"])
    _, ministry = api(platform, platform["ministry_key"])
    csv = "名称,层级,上级组织,邮箱\n计算机科学与工程学院党委,二级党组织,,cse@demo.local\n".encode()
    assert seu.post(f"{base}/orgs/import", data=csv, headers={"Content-Type": "text/csv"}).status_code == 200
    org = seu.get(f"{base}/orgs").json()["items"][0]["id"]
    long_story = "党员冲在前面，守护师生平安。" * 20  # 280 字
    work = seu.post(f"{base}/submissions", json={
        "campaign_id": "siyige-2020-seu", "track": "story", "org_id": org,
        "fields": {"title": "计算机学院党委战疫故事", "text": long_story}}).json()
    receipt = seu.post(f"{base}/submissions/{work['id']}/submit").json()["receipt_no"]
    assert receipt

    corrected = copy.deepcopy(load_builtin_definitions()["siyige-2020"].raw)
    corrected["tracks"]["story"]["label"] = NEW_LABEL
    text = next(f for f in corrected["tracks"]["story"]["fields"] if f["key"] == "text")
    text["max_chars"] = 200
    r = ministry.post(f"{base}/campaigns/siyige-2020/versions",
                      json={"definition": corrected, "change_note": "故事正文限 200 字"})
    assert r.status_code in (200, 201), r.text
    assert r.json()["version"] == 2

    # intake: 东南大学's copy followed, with a version and a note of its own
    mine = seu.get(f"{base}/campaigns/siyige-2020-seu").json()
    assert mine["version"] == 2 and mine["change_note"].startswith("随上级活动更正")
    assert mine["tracks"]["story"]["label"] == NEW_LABEL
    # the work keeps its receipt and is flagged, naming the new limit
    now = seu.get(f"{base}/submissions/{work['id']}").json()
    assert (now["state"], now["receipt_no"]) == ("submitted", receipt)
    [flag] = now["rule_flags"]
    assert flag["code"] == "text_too_long" and "200" in flag["message"]

    # notify: the copy's new version reached it (its progress rows name the track as the copy now does)
    feed = f"http://127.0.0.1:{platform['ports']['notify']}/api/v1/feed/progress"

    def story_labels():
        rows = seu.get(feed, params={"limit": 100}, timeout=5).json()["items"]
        return {row["track_label"] for row in rows if row["track"] == "story"}

    poll(lambda: story_labels() == {NEW_LABEL}, timeout=30)  # times out while notify still has version 1
