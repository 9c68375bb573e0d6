"""The review UI in a real browser: Debian's chromium, headless, driven by Playwright.

All four services run as processes (the end-to-end fixture). A portal submits a
lecture video; an admin sets up the round in the browser; the reviewer signs in
with the link notify e-mailed, watches and seeks the video, scores from the
keyboard and submits; the admin closes, ranks and selects; intake forwards the
work to the ministry and notify's forwarded feed serves its file.
"""
import hashlib
import json
import mailbox
import os
import re
import subprocess
import sys
from email.header import decode_header, make_header

import requests

from tests.conftest import ROOT
from tests.e2e.test_round_trip import platform, poll  # noqa: F401  (the fixture)
from tests.signin import redeem


def drive(*args) -> dict:
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "browser" / "drive_review.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def mails(data):
    box = mailbox.Maildir(data / "mailbox", create=False)
    return [{"to": m["To"], "subject": str(make_header(decode_header(m["Subject"]))),
             "body": m.get_payload(decode=True).decode("utf-8")} for m in box]


def submit_lecture(base, http, video: bytes) -> dict:
    csv = ("名称,层级,上级组织,邮箱\n计算机科学与工程学院党委,二级党组织,,cse@demo.local\n").encode()
    assert http.post(f"{base}/orgs/import", data=csv, headers={"Content-Type": "text/csv"}).status_code == 200
    org = http.get(f"{base}/orgs").json()["items"][0]["id"]
    work = http.post(f"{base}/submissions", json={
        "campaign_id": "siyige-2020-seu", "track": "lecture", "org_id": org,
        "fields": {"title": "让党旗在防控疫情斗争第一线高高飘扬", "lecturers": ["王书记"], "planned_date": "2020-07-01",
                   "theme": "让党旗在防控疫情斗争第一线高高飘扬",
                   "outline": "计算机科学与工程学院党委<script>alert('x')</script>的战疫故事"}}).json()
    assert http.post(f"{base}/submissions/{work['id']}/submit").status_code == 200
    ticket = http.post(f"{base}/submissions/{work['id']}/files", json={
        "kind": "video", "filename": "王书记-计算机学院微党课.mp4", "size": len(video),
        "sha256": hashlib.sha256(video).hexdigest(), "content_type": "video/mp4"}).json()
    assert requests.put(ticket["upload"]["url"], data=video, timeout=30).status_code == 200
    file_id = ticket["file"]["id"]
    http.post(f"{base}/files/{file_id}/complete")
    poll(lambda: http.get(f"{base}/files/{file_id}").json()["check"]["verdict"] == "passed", timeout=90)
    return http.post(f"{base}/submissions/{work['id']}/submit").json()


def test_a_reviewer_scores_in_the_browser_and_the_admin_selects(platform, monkeypatch):  # noqa: F811
    from tests import media_fixtures

    # the phone's view of each page and the round's record land beside the logs (KEEP_SCREENSHOTS: a folder of yours)
    monkeypatch.setenv("SCREENSHOTS", os.environ.get("KEEP_SCREENSHOTS") or str(platform["logs"]))

    ports, data = platform["ports"], platform["data"]
    intake = f"http://127.0.0.1:{ports['intake']}/api/v1"
    review = f"http://localhost:{ports['review']}"  # the host of the e-mailed links
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {platform['key']}"
    video = media_fixtures.make_lecture_ok(platform["logs"]).read_bytes()
    work = submit_lecture(intake, http, video)
    assert work["complete"] is True

    setup = drive("admin-setup", review, platform["key"], "first")
    assert setup["reviewers"] == 1
    invite = poll(lambda: [m for m in mails(data) if "评审邀请" in m["subject"]], timeout=30)[0]
    assert invite["to"] == "wang.expert@example.edu.cn"
    link = re.search(r"http://\S+/sign-in/\S+", invite["body"]).group(0)

    seen = drive("reviewer", review, link)
    assert seen["done"] == "1" and seen["total"] == "85.50"  # (9·40 + 8.5·30 + 8·30) / 10
    assert seen["duration"] > 1 and seen["comment_escaped"]
    for page in (seen["queue_html"], seen["work_html"]):  # blind, and escaped
        for secret in ("王书记", "计算机科学与工程学院", "计算机学院", "东南大学", ".mp4\"", "<script>alert"):
            assert secret not in page, secret
    assert "〔已隐去〕" in seen["work_html"] and "&lt;script&gt;" in seen["work_html"]
    # on a 390 px phone: nothing wider than the screen, the rubric under the work at the screen's width
    phone = seen["phone"]
    assert phone["screen"] == 390 and phone["page_width"] <= 390, phone
    assert phone["rubric_below"] is True and phone["rubric_width"] >= 340, phone
    # The link was used: it cannot sign anyone in again.
    assert redeem(link)[1].status_code == 401

    chosen = drive("admin-select", review, platform["key"], "first")
    assert chosen["rows"] == 1 and chosen["first_checked"]

    # intake forwards the selected work to the ministry; notify lists it with a link to its file.
    feed = f"http://127.0.0.1:{ports['notify']}/api/v1/feed/forwarded"
    item = poll(lambda: (items := http.get(feed, timeout=5).json()["items"]) and items[0], timeout=30)
    assert (item["submission_id"], item["to_level"], item["tenant_name"]) == (work["id"], "ministry", "东南大学")
    got = requests.get(item["files"][0]["url"].replace("localhost", "127.0.0.1"), timeout=30)
    assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == hashlib.sha256(video).hexdigest()
    ranged = requests.get(item["files"][0]["url"].replace("localhost", "127.0.0.1"),
                          headers={"Range": "bytes=0-99"}, timeout=30)
    assert ranged.status_code == 206 and len(ranged.content) == 100
    # the university's round after its work went up: the office's record as confirmed, not emptied (item 1)
    record = drive("round-record", review, platform["key"], "first")
    assert (record["rows"], record["rank"], record["ticked"], record["confirmed"]) == (1, "1", True, 1), record
    assert record["phone"]["page_width"] <= 390, record["phone"]
    result = poll(lambda: [m for m in mails(data) if "评审结果" in m["subject"]], timeout=30)[0]
    assert result["to"] == "cse@demo.local" and "入选" in result["subject"]
    atom = http.get(feed + ".atom", timeout=10)
    assert atom.status_code == 200 and 'rel="enclosure"' in atom.text and "东南大学" in atom.text
    import io

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(http.get(feed + ".xlsx", timeout=10).content))["报送作品"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][0] == "东南大学" and rows[1][2] == "专题微党课" and "/files/" in rows[1][-1]


def test_the_dashboard_draws_its_charts_in_the_browser(platform, monkeypatch):  # noqa: F811
    from tests.signin import sign_in

    monkeypatch.setenv("SCREENSHOTS", str(platform["logs"]))
    # an org list, so each track expects an org: the orgs chart has rows (the works chart, none: 「暂无数据」)
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {platform['key']}"
    csv = "名称,层级,上级组织,邮箱\n计算机科学与工程学院党委,二级党组织,,cse@demo.local\n".encode()
    intake = f"http://127.0.0.1:{platform['ports']['intake']}/api/v1"
    assert http.post(f"{intake}/orgs/import", data=csv, headers={"Content-Type": "text/csv"}).status_code == 200
    notify = f"http://127.0.0.1:{platform['ports']['notify']}"
    web, _ = sign_in(notify, platform["key"])
    poll(lambda: "bar-row" in web.get(f"{notify}/dashboard", timeout=10).text, timeout=30)
    drawn = drive("dashboard", f"http://localhost:{platform['ports']['notify']}", platform["key"])
    assert drawn["charts"] >= 2 and {x["text"] for x in drawn["labels"]} >= {"专题微党课", "战疫故事汇"}, repr(drawn)
    assert drawn["empty"] >= 1  # nothing submitted yet: the works chart says so instead of drawing bare axes
    # no chart label is cut or runs into its bars, on a desktop's width or a phone's
    assert not [x for x in drawn["labels"] + drawn["phone_labels"] if x["cut"] or x["overlaps"]], repr(drawn)
    # on a 390 px phone each chart is as wide as the screen allows and the page no wider than it
    phone = drawn["phone"]
    assert phone["page_width"] <= 390 and phone["charts"] and all(330 <= w <= 390 for w in phone["charts"]), repr(phone)
