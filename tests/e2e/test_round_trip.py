"""All four services as processes, driven only through HTTP as a university portal would."""
import hashlib
import mailbox
import time
from email.header import decode_header, make_header

import pytest
import requests

from tests.platform import running_platform
from tests.signin import sign_in


def poll(fn, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.fixture
def platform(tmp_path, amqp_uri):
    with running_platform(tmp_path, amqp_uri, {"seu": "东南大学"}) as running:
        yield {**running, "key": running["keys"]["seu"]}


def review_works(port: int, key: str) -> dict[str, int]:
    """Works per review round, as a university admin signed in to the review UI sees them."""
    import re

    web, _ = sign_in(f"http://127.0.0.1:{port}", key)
    html = web.get(f"http://127.0.0.1:{port}/", timeout=5).text
    return {title: int(n) for title, n in re.findall(r'<a href="/rounds/[0-9a-f]+">([^<]+)</a></td><td>(\d+)</td>', html)}


def test_submit_check_review_notify_round_trip(platform):
    base = f"http://127.0.0.1:{platform['ports']['intake']}/api/v1"
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {platform['key']}"
    csv = ("名称,层级,上级组织,邮箱\n计算机科学与工程学院党委,二级党组织,,cse@demo.local\n").encode()
    assert http.post(f"{base}/orgs/import", data=csv, headers={"Content-Type": "text/csv"}).status_code == 200
    org = http.get(f"{base}/orgs").json()["items"][0]["id"]

    work = http.post(f"{base}/submissions", json={
        "campaign_id": "siyige-2020-seu", "track": "lecture", "org_id": org,
        "fields": {"title": "让党旗在防控疫情斗争第一线高高飘扬", "lecturers": ["王书记"], "planned_date": "2020-07-01",
                   "theme": "让党旗在防控疫情斗争第一线高高飘扬"}}).json()
    assert http.post(f"{base}/submissions/{work['id']}/submit").json()["stage"] == "registration"

    from tests import media_fixtures

    video = media_fixtures.make_lecture_ok(platform["logs"]).read_bytes()
    ticket = http.post(f"{base}/submissions/{work['id']}/files", json={
        "kind": "video", "filename": "微党课.mp4", "size": len(video),
        "sha256": hashlib.sha256(video).hexdigest(), "content_type": "video/mp4"}).json()
    assert requests.put(ticket["upload"]["url"], data=video, timeout=30).status_code == 200
    file_id = ticket["file"]["id"]
    assert http.post(f"{base}/files/{file_id}/complete").json()["state"] == "stored"

    # intake -> media (file_uploaded) -> intake (file_checked)
    checked = poll(lambda: http.get(f"{base}/files/{file_id}").json()["check"]["verdict"], timeout=60)
    assert checked == "passed", http.get(f"{base}/files/{file_id}").json()["check"]

    done = http.post(f"{base}/submissions/{work['id']}/submit").json()
    assert done["complete"] is True

    # intake -> review (submission_submitted)
    rounds = lambda: review_works(platform["ports"]["review"], platform["key"])  # noqa: E731
    poll(lambda: rounds().get("东南大学 · 专题微党课 · 校级评审") == 1)

    # intake -> notify: receipt e-mails in the mailbox, progress in the ministry's feed
    feed = f"http://127.0.0.1:{platform['ports']['notify']}/api/v1/feed/progress"

    def row(track):
        items = http.get(feed, params={"limit": 100}, timeout=5).json()["items"]
        latest = {}
        for item in items:  # one row per key, at its newest change
            latest[(item["track"], item["level"])] = item
        return latest.get((track, "level2"))

    lecture = poll(lambda: (r := row("lecture")) and r["works"]["submitted"] == 1 and r)
    assert (lecture["tenant"], lecture["orgs_expected"], lecture["orgs_submitted"]) == ("seu", 1, 1)
    assert requests.get(feed, timeout=5).json()["error"]["code"] == "missing_api_key"
    box = mailbox.Maildir(platform["data"] / "mailbox", create=False)

    def work_mails():  # the org imported after the campaign went out is also told of it (【活动通知】): not counted here
        subjects = sorted(str(make_header(decode_header(m["Subject"]))) for m in box)
        about_the_work = [s for s in subjects if not s.startswith("【活动通知】")]
        return about_the_work if len(about_the_work) == 2 else None

    subjects = poll(work_mails)
    assert all(done["title"] in s for s in subjects)
    assert any(done["receipt_no"] in s for s in subjects)

    # a story submitted, then withdrawn before its deadline: review and the feed follow
    story = http.post(f"{base}/submissions", json={
        "campaign_id": "siyige-2020-seu", "track": "story", "org_id": org,
        "fields": {"title": "计算机学院党委战疫故事", "text": "党员冲在抗疫第一线。"}}).json()
    assert http.post(f"{base}/submissions/{story['id']}/submit").status_code == 200
    poll(lambda: rounds().get("东南大学 · 战疫故事汇 · 校级评审") == 1)
    assert http.post(f"{base}/submissions/{story['id']}/withdraw").json()["state"] == "withdrawn"
    poll(lambda: rounds().get("东南大学 · 战疫故事汇 · 校级评审") == 0)
    story = poll(lambda: (r := row("story")) and r["works"]["withdrawn"] == 1 and r)
    assert story["works"]["submitted"] == 0 and story["orgs_submitted"] == 0
