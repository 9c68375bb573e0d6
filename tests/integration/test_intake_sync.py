"""A portal mirrors its university's works (issue #20): `updated_since` and a cursor on the lists, every change of a
work moving its `updated_at`, the check's facts on its files, every moment in one form (Beijing time with offset),
and a deadline of a date that ends with that date."""
import hashlib
import re
from datetime import datetime, timedelta

import requests

from common import clock
from common.locale import beijing_iso
from tests.conftest import wait_until
from tests.integration.test_intake_api import announce_check, error_of, intake, select  # noqa: F401  (the fixture)

STORY = ("siyige-2020-seu", "story", "计算机科学与工程学院党委")
TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\+08:00$")
LOOKS_LIKE_A_MOMENT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}")


def mirror(portal, path="/api/v1/submissions", per_page=50, **params):
    """Read a list as a mirroring portal does: from `updated_since` or a cursor, page after page while `has_more`;
    the items in the order read, and the cursor to start from next time."""
    params = {"per_page": per_page, **params}
    items = []
    while True:
        r = portal("GET", path, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "per_page", "has_more", "next_cursor"}, body
        items += body["items"]
        params = {"per_page": per_page, "cursor": body["next_cursor"]}
        if not body["has_more"]:
            return items, body["next_cursor"]


def upload(portal, submission_id, kind, name, data, content_type, complete=True):
    """Register a file, PUT its bytes and confirm it (unless `complete` is false); its id."""
    r = portal("POST", f"/api/v1/submissions/{submission_id}/files", json={
        "kind": kind, "filename": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        "content_type": content_type})
    assert r.status_code == 201, r.text
    file_id = r.json()["file"]["id"]
    assert requests.put(r.json()["upload"]["url"], data=data, timeout=30).ok
    if complete:
        assert portal("POST", f"/api/v1/files/{file_id}/complete").json()["state"] == "stored"
    return file_id


def later(seconds=30):
    """Move the platform clock on, and the moment (as a portal would write it) the next change is after."""
    clock.set_start(clock.now() + timedelta(seconds=seconds))
    return beijing_iso(clock.now())


def changed_since(portal, moment) -> list[str]:
    return [w["id"] for w in mirror(portal, updated_since=moment)[0]]


def test_a_cursor_reads_every_work_once_in_change_order_and_then_only_what_changed(intake):
    seu = intake["seu"]
    works = [seu.draft(*STORY, title=f"故事{n}", text="党员冲在前面。")["id"] for n in range(5)]
    items, cursor = mirror(seu, per_page=2, updated_since="2000-01-01T00:00:00+08:00")
    assert [w["id"] for w in items] == works  # oldest change first, each once, across three pages
    assert all(TIMESTAMP.match(w["updated_at"]) for w in items)
    clock.set_start(clock.now() + timedelta(minutes=10))  # past the two minutes a last page's cursor stays behind
    items, cursor = mirror(seu, cursor=cursor)
    assert [w["id"] for w in items] == works  # those two minutes are given again: a slow transaction is not missed
    assert mirror(seu, cursor=cursor)[0] == []  # now nothing changed
    assert seu("PATCH", f"/api/v1/submissions/{works[1]}", json={"fields": {"text": "改过的故事。"}}).ok
    items, _ = mirror(seu, cursor=cursor)
    assert [w["id"] for w in items] == [works[1]] and items[0]["fields"]["text"] == "改过的故事。"
    # the filters of the list apply; the classic page still works, newest first
    assert mirror(seu, cursor=cursor, track="lecture")[0] == []
    page = seu("GET", "/api/v1/submissions", params={"per_page": 2, "page": 2}).json()
    assert (page["total"], [w["id"] for w in page["items"]]) == (5, [works[2], works[1]])


def test_works_changed_in_the_same_second_all_come(intake):
    """Four works stamped with one moment (the clock held still): a page boundary inside that moment loses none,
    and `updated_since` equal to the moment (inclusive) gives them all."""
    seu = intake["seu"]
    still = datetime.fromisoformat("2020-06-13T10:00:00+08:00")
    works = []
    for n in range(4):
        clock.set_start(still)
        works.append(seu.draft(*STORY, title=f"同一秒{n}", text="故事。")["id"])
    by_second = {w["id"]: w["updated_at"] for w in mirror(seu, per_page=1, updated_since="2020-06-13T10:00:00+08:00")[0]}
    assert set(by_second) == set(works) and set(by_second.values()) == {"2020-06-13T10:00:00+08:00"}


def test_every_change_of_a_work_moves_its_updated_at(intake):
    seu = intake["seu"]
    work = seu.draft(*STORY, title="计算机学院党委战疫故事", text="疫情之中，党员冲在前面。")["id"]
    other = seu.draft(*STORY, title="不动的故事", text="故事。")["id"]

    def moved(action):
        since = later()
        action()
        assert changed_since(seu, since) == [work], action.__name__

    def edit():
        assert seu("PATCH", f"/api/v1/submissions/{work}", json={"fields": {"text": "改过的故事。"}}).ok

    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    ids = {}

    def register():
        r = seu("POST", f"/api/v1/submissions/{work}/files", json={
            "kind": "image", "filename": "合影.png", "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "content_type": "image/png"})
        assert r.status_code == 201, r.text
        ids["file"], ids["url"] = r.json()["file"]["id"], r.json()["upload"]["url"]

    def receive():
        assert requests.put(ids["url"], data=data, timeout=30).ok

    def complete():
        assert seu("POST", f"/api/v1/files/{ids['file']}/complete").json()["state"] == "stored"

    def checked():
        announce_check(intake, ids["file"], work, "passed", checked_at=later(1),
                       facts={"format": "png", "width": 1920, "height": 1080, "keywords": ["不给门户"]})

    def submit():
        assert seu("POST", f"/api/v1/submissions/{work}/submit").status_code == 200

    def register_spare():
        r = seu("POST", f"/api/v1/submissions/{work}/files", json={
            "kind": "image", "filename": "备用.png", "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "content_type": "image/png"})
        ids["spare"] = r.json()["file"]["id"]

    def remove():
        assert seu("DELETE", f"/api/v1/files/{ids['spare']}").ok

    def withdraw():
        assert seu("POST", f"/api/v1/submissions/{work}/withdraw").json()["state"] == "withdrawn"

    for action in (edit, register, receive, complete, checked, register_spare, remove, submit, withdraw):
        moved(action)
    assert other in changed_since(seu, "2020-06-12T09:00:00+08:00")  # created at the start, never since


def test_a_forward_moves_updated_at(intake):
    seu = intake["seu"]
    work = seu.draft(*STORY, title="计算机学院党委战疫故事", text="疫情之中，党员冲在前面。")["id"]
    assert seu("POST", f"/api/v1/submissions/{work}/submit").ok
    since = later()
    select(intake, [work])  # the university's round sends it to the ministry
    wait_until(lambda: seu("GET", f"/api/v1/submissions/{work}").json()["forwarded_to"] == "ministry",
               what="the work forwarded")
    items, _ = mirror(seu, updated_since=since)
    assert [w["id"] for w in items] == [work] and TIMESTAMP.match(items[0]["forwarded_at"])


def test_a_file_answers_its_checks_facts(intake):
    seu = intake["seu"]
    work = seu.draft("siyige-2020-seu", "lecture", "计算机科学与工程学院党委", title="让党旗在防控疫情斗争第一线高高飘扬",
                     lecturers=["王书记"], planned_date="2020-07-01", theme="让党旗在防控疫情斗争第一线高高飘扬")
    file_id = upload(seu, work["id"], "video", "党课.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 400,
                     "video/mp4")
    before = seu("GET", f"/api/v1/files/{file_id}").json()["check"]
    assert before == {"verdict": None, "findings": [], "facts": {}, "checked_at": None}
    # as media's check_video reports them (services/media/probe.header_facts and checker.subtitle_facts)
    announce_check(intake, file_id, work["id"], "warnings", [{"rule": "subtitles", "severity": "warning",
                                                              "message": "建议配字幕。"}], facts={
        "container": "mp4", "duration_s": 1012.5, "width": 1920, "height": 1080, "frame_rate": 25.0,
        "video_codec": "h264", "audio_codec": "aac", "subtitle_codecs": ["mov_text"], "has_subtitles": True,
        "subtitle_source": "embedded", "subtitle_coverage": 0.82, "keywords": ["疫情"], "integrity": {"packets": 9},
        "content_type": "video/mp4", "complete": True, "bit_rate": None})
    check = seu("GET", f"/api/v1/files/{file_id}").json()["check"]
    assert check["facts"] == {
        "container": "mp4", "duration_s": 1012.5, "width": 1920, "height": 1080, "resolution": "1920x1080",
        "frame_rate": 25.0, "codecs": {"video": "h264", "audio": "aac", "subtitles": ["mov_text"]},
        "has_subtitles": True, "subtitle_source": "embedded", "subtitle_coverage": 0.82, "content_type": "video/mp4",
        "complete": True}
    assert check["checked_at"] == "2020-06-12T09:05:00+08:00"
    inside = seu("GET", f"/api/v1/submissions/{work['id']}").json()["files"]
    assert [f["check"]["facts"]["resolution"] for f in inside] == ["1920x1080"]
    doc = seu.draft(*STORY, title="案例材料", text="故事。")
    doc_id = upload(seu, doc["id"], "document", "案例.pdf", b"%PDF-1.7\n" + bytes(300), "application/pdf")
    announce_check(intake, doc_id, doc["id"], "passed", facts={"format": "pdf", "pages": 12, "pages_estimated": False,
                                                              "text_chars": 5000})
    facts = seu("GET", f"/api/v1/files/{doc_id}").json()["check"]["facts"]
    assert facts == {"format": "pdf", "pages": 12, "pages_estimated": False}


def test_mirroring_queries_are_checked(intake):
    seu = intake["seu"]
    for bad in ("2020-07-14", "2020-07-14T23:59:59", "yesterday", "2020-07-14T23:59:59 08:00"):
        body = error_of(seu("GET", "/api/v1/submissions", params={"updated_since": bad}), 400, "invalid_query")
        assert body["field"] == "updated_since" and "2020-07-14T23:59:59+08:00" in body["message"]
    assert "%2B" in error_of(seu("GET", "/api/v1/submissions", params={"updated_since": "2020-07-14T23:59:59 08:00"}),
                             400, "invalid_query")["message"]
    assert error_of(seu("GET", "/api/v1/orgs", params={"cursor": "bm90IGEgY3Vyc29y"}), 400,
                    "invalid_query")["field"] == "cursor"
    body = error_of(seu("GET", "/api/v1/submissions", params={"updated_since": "2020-07-14T23:59:59+08:00", "page": 2}),
                    400, "invalid_query")
    assert body["field"] == "page" and "next_cursor" in body["message"]
    error_of(seu("GET", "/api/v1/extensions", params={"page": 1}), 400, "invalid_query")  # extensions have no pages
    assert seu("GET", "/api/v1/submissions", params={"updated_since": "2020-07-14T15:59:59Z"}).ok


def test_orgs_and_extensions_mirror_too(intake):
    seu = intake["seu"]
    orgs, cursor = mirror(seu, "/api/v1/orgs", per_page=2, updated_since="2000-01-01T00:00:00+08:00")
    assert len(orgs) == len({o["id"] for o in orgs}) == 3 and all(TIMESTAMP.match(o["updated_at"]) for o in orgs)
    work = seu.draft("siyige-2020-seu", "lecture", "机械工程学院党委", title="党课", lecturers=["张书记"],
                     planned_date="2020-07-10")
    since = later()
    r = seu("POST", "/api/v1/extensions", json={
        "campaign_id": "siyige-2020-seu", "track": "lecture", "stage": "registration", "org_id": work["org_id"],
        "until": "2020-06-16T18:00:00+08:00", "reason": "书记出差"})
    assert r.status_code == 201, r.text
    assert r.json()["until"] == "2020-06-16T18:00:00+08:00"
    items, _ = mirror(seu, "/api/v1/extensions", updated_since=since)
    assert [e["id"] for e in items] == [r.json()["id"]]
    assert mirror(seu, "/api/v1/extensions", updated_since=later())[0] == []
    assert seu("GET", "/api/v1/extensions").json() == {"items": items}  # without mirroring: the whole list, as before


def walk(value, path=""):
    """Every string of a JSON answer that reads as a moment, with where it is."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for n, v in enumerate(value):
            yield from walk(v, f"{path}[{n}]")
    elif isinstance(value, str) and LOOKS_LIKE_A_MOMENT.match(value):
        yield path, value


def test_every_moment_a_portal_reads_is_beijing_time_with_its_offset(intake):
    seu = intake["seu"]
    work = seu.draft(*STORY, title="计算机学院党委战疫故事", text="疫情之中，党员冲在前面。")
    file_id = upload(seu, work["id"], "image", "合影.png", b"\x89PNG\r\n\x1a\n" + bytes(400), "image/png")
    announce_check(intake, file_id, work["id"], "passed", facts={"width": 800, "height": 600})
    assert seu("POST", f"/api/v1/submissions/{work['id']}/submit").ok
    pending = upload(seu, work["id"], "image", "第二张.png", b"\x89PNG\r\n\x1a\n" + bytes(100), "image/png",
                     complete=False)
    org_id = work["org_id"]
    assert seu("POST", "/api/v1/extensions", json={
        "campaign_id": "siyige-2020-seu", "track": "story", "stage": "submission", "org_id": org_id,
        "until": "2020-07-21T10:00:00Z", "reason": "补交"}).status_code == 201
    late = seu.draft("siyige-2020-seu", "lecture", "机械工程学院党委", title="党课", lecturers=["张书记"],
                     planned_date="2020-07-10")
    answers = {}
    clock.set_start(datetime.fromisoformat("2020-06-15T12:00:30+08:00"))
    answers["deadline_passed"] = seu("POST", f"/api/v1/submissions/{late['id']}/submit").json()
    assert answers["deadline_passed"]["error"]["code"] == "deadline_passed"
    for path, params in (
            ("/api/v1/campaigns", None), ("/api/v1/campaigns/siyige-2020-seu", None), ("/api/v1/orgs", None),
            (f"/api/v1/orgs/{org_id}", None), ("/api/v1/submissions", None),
            ("/api/v1/submissions", {"updated_since": "2000-01-01T00:00:00+08:00"}),
            (f"/api/v1/submissions/{work['id']}", None), (f"/api/v1/submissions/{work['id']}/receipts", None),
            (f"/api/v1/files/{file_id}", None), (f"/api/v1/files/{pending}", None), ("/api/v1/extensions", None),
            ("/api/v1/keys", None), ("/api/v1/accounts", None), ("/api/v1/audit", None), ("/api/v1/sso", None)):
        r = seu("GET", path, params=params)
        assert r.status_code == 200, (path, r.text)
        answers[f"{path} {params or ''}"] = r.json()
    moments = [(where, path, value) for where, answer in answers.items() for path, value in walk(answer)]
    assert len(moments) > 20  # the walk sees the answers' moments
    wrong = [m for m in moments if not TIMESTAMP.match(m[2])]
    assert wrong == []


def test_a_deadline_of_a_date_ends_with_that_date_in_beijing_time(intake):
    """SEU's stories are due at level 2 on 2020-07-20 (a date): a submit at 23:59:59 Beijing time that day is on
    time, one at 00:00:00 on the 21st is late."""
    seu = intake["seu"]
    on_time = seu.draft(*STORY, title="计算机学院党委战疫故事", text="疫情之中，党员冲在前面。")
    too_late = seu.draft("siyige-2020-seu", "story", "机械工程学院党委", title="机械学院党委战疫故事", text="故事。")
    seu("GET", f"/api/v1/submissions/{on_time['id']}")  # the connections warm: the submit below runs within its second
    for _ in range(3):  # the platform's clock runs on from the moment set: a submit slower than a second is tried again
        clock.set_start(datetime.fromisoformat("2020-07-20T23:59:59+08:00"))
        r = seu("POST", f"/api/v1/submissions/{on_time['id']}/submit")
        if r.status_code == 200 or not r.json()["error"]["found"].startswith("2020-07-21T00:00:0"):
            break
    assert r.status_code == 200, r.text
    assert r.json()["submitted_at"] == "2020-07-20T23:59:59+08:00" and r.json()["receipt_no"].startswith("SEU-20200720-")
    clock.set_start(datetime.fromisoformat("2020-07-21T00:00:00+08:00"))
    body = error_of(seu("POST", f"/api/v1/submissions/{too_late['id']}/submit"), 409, "deadline_passed")
    assert (body["expected"], body["found"]) == ("2020-07-20T23:59:59+08:00", "2020-07-21T00:00:00+08:00")
    assert "2020年07月20日 23:59" in body["message"]
