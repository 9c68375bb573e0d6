"""Intake's audit log of every change (issue #15), and its page for owners, over HTTP against a running intake
with a real RabbitMQ (review's selections and media's checks arrive through it), on SQLite and PostgreSQL.

Each change made through the API leaves exactly its row, named by the key that made it; a selection review
confirmed is named `service:review`, a reopening media's newer check caused `service:media`; reads leave none.
The page `/audit` and its export `/audit.xlsx` are a tenant's owners' only: others get 403, a tenant the
owner does not own 404.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
from collections import Counter

import pyotp
import requests
from openpyxl import load_workbook

from services.intake.operations.audit import MEDIA, OPERATOR, REVIEW
from tests.conftest import wait_until
from tests.integration.test_intake_accounts import audit, db, invite  # noqa: F401  (fixture)
from tests.integration.test_intake_api import announce_check, error_of, intake, select  # noqa: F401  (fixture)
from tests.integration.test_intake_signin import enrol, person, post_form, sign_in

HOSTILE = '=HYPERLINK("http://evil.example","点击查看")<script>alert(1)</script>'
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def log(portal, **params) -> list[dict]:
    """The tenant's whole log through the API, newest first."""
    return audit(portal, per_page=200, **params)["items"]


def only(rows, action, object_id=None):
    """The one row of `action` (on `object_id`): there must be exactly one."""
    found = [e for e in rows if e["action"] == action and (object_id is None or e["object_id"] == object_id)]
    assert len(found) == 1, (action, object_id, found)
    return found[0]


def story(portal, org, title, text="党员冲在前面，守护校园平安。"):
    return portal.draft("siyige-2020-seu", "story", org, title=title, text=text)["id"]


def submit(portal, sid):
    r = portal("POST", f"/api/v1/submissions/{sid}/submit")
    assert r.status_code == 200, r.text
    return r.json()


def register_image(portal, sid, name="战疫照片.png"):
    r = portal("POST", f"/api/v1/submissions/{sid}/files", json={
        "kind": "image", "filename": name, "size": len(PNG), "sha256": hashlib.sha256(PNG).hexdigest(),
        "content_type": "image/png"})
    assert r.status_code == 201, r.text
    return r.json()


def owner_signed_in(base, email) -> requests.Session:
    """A person with an owner grant signs in: password, then the authenticator they must enrol first."""
    web, r = sign_in(base, email)
    assert r.status_code == 303 and r.headers["Location"] == "/account/second-factor", r.text
    secret, page = enrol(web, base)
    r = post_form(web, f"{base}/account/second-factor", page, code=pyotp.TOTP(secret).now())
    assert r.status_code == 303 and r.headers["Location"] == "/", r.text
    return web


def entries(html: str) -> list[list[str]]:
    """The rows of the page's table, as cell texts (still HTML-escaped)."""
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r'<tr class="entry">(.*?)</tr>', html)]


# --------------------------------------------------------------------------- every change, its row


def test_every_change_through_the_api_leaves_exactly_its_row(intake, db):  # noqa: F811
    seu, wust = intake["seu"], intake["wust"]
    key = f"key:{seu.key[:10]}"
    cse, me = "计算机科学与工程学院党委", "机械工程学院党委"

    # the fixture imported the org list through the API; the operator's command line published the campaign
    imported = only(log(seu), "orgs.imported")
    assert (imported["actor"], imported["object_type"], imported["object_id"], imported["address"]) == (
        key, "orgs", None, "127.0.0.1")
    assert imported["detail"] == {"filename": None, "created": 3, "updated": 0, "total": 3}
    seeded = only(log(seu), "campaign.published")
    assert (seeded["actor"], seeded["object_id"]) == (OPERATOR, "seu.siyige-2020-seu")

    # a campaign published through the API
    from common.campaign import load_builtin_definitions

    raw = json.loads(json.dumps(load_builtin_definitions()["siyige-2020-seu"].raw, default=str))
    raw["id"] = "siyige-2020-seu-v2"
    r = seu("POST", "/api/v1/campaigns", json=raw)
    assert r.status_code == 201, r.text
    published = only(log(seu), "campaign.published", "seu.siyige-2020-seu-v2")
    assert published["actor"] == key and published["detail"]["derives_from"] == "siyige-2020"

    # an extension
    r = seu("POST", "/api/v1/extensions", json={
        "campaign_id": "siyige-2020-seu", "track": "lecture", "stage": "registration", "org_id": seu.org_id(me),
        "until": "2020-06-16T18:00:00+08:00", "reason": "书记出差"})
    assert r.status_code == 201, r.text
    granted = only(log(seu), "extension.granted", r.json()["id"])
    assert granted["actor"] == key and granted["detail"]["org_name"] == me
    assert (granted["detail"]["stage"], granted["detail"]["until"]) == ("registration", "2020-06-16T18:00:00+08:00")

    # a work: created, edited, its photo registered and stored, submitted; media's newer check fails the photo
    # (the work reopens, by media), and the photo is deleted
    a = story(seu, cse, HOSTILE)
    assert seu("PATCH", f"/api/v1/submissions/{a}", json={"fields": {"text": "改过的故事。"}}).status_code == 200
    ticket = register_image(seu, a)
    photo = ticket["file"]["id"]
    assert requests.put(ticket["upload"]["url"], data=PNG, timeout=30).status_code == 200
    assert seu("POST", f"/api/v1/files/{photo}/complete").json()["state"] == "stored"
    announce_check(intake, photo, a, "passed")
    receipt = submit(seu, a)["receipt_no"]
    announce_check(intake, photo, a, "failed", [{"rule": "format", "severity": "error", "message": "格式不符。"}],
                   checked_at="2020-06-12T01:10:00+00:00")
    wait_until(lambda: [e for e in log(seu) if e["action"] == "submission.reopened"], what="media's reopening")
    assert seu("DELETE", f"/api/v1/files/{photo}").status_code == 200

    # another: submitted, then withdrawn
    b = story(seu, me, "机械学院党委战疫故事")
    submit(seu, b)
    assert seu("POST", f"/api/v1/submissions/{b}/withdraw").json()["state"] == "withdrawn"
    # another: submitted, then a file added to its submitted stage reopens it (by the key)
    e = story(seu, me, "机械学院党委战疫故事二")
    voided = submit(seu, e)["receipt_no"]
    added = register_image(seu, e)
    assert added["reopened"]["voided_receipts"] == [voided]
    # another: submitted, and review's confirmed selection forwards it (the event is delivered twice)
    c = story(seu, cse, "计算机学院党委战疫故事")
    submit(seu, c)
    select(intake, [c])
    wait_until(lambda: seu("GET", f"/api/v1/submissions/{c}").json()["forwarded_to"] == "ministry", what="forwarded")
    wait_until(lambda: [e for e in log(seu) if e["action"] == "selection.forwarded"], what="the selection's row")

    # reads leave nothing
    before = audit(seu)["total"]
    for path in ("/api/v1/campaigns", "/api/v1/orgs", "/api/v1/submissions", f"/api/v1/submissions/{a}",
                 f"/api/v1/submissions/{a}/receipts", "/api/v1/extensions", "/api/v1/audit", "/api/v1/me"):
        assert seu("GET", path).status_code == 200, path
    assert audit(seu)["total"] == before

    rows = log(seu)
    assert Counter(e["action"] for e in rows) == {
        "orgs.imported": 1, "campaign.published": 2, "extension.granted": 1, "submission.created": 4,
        "submission.updated": 1, "file.added": 2, "file.stored": 1, "submission.submitted": 4,
        "submission.reopened": 2, "file.deleted": 1, "submission.withdrawn": 1, "selection.forwarded": 1}
    assert {e["actor"] for e in rows} == {key, OPERATOR, MEDIA, REVIEW}

    created = only(rows, "submission.created", a)
    assert created["actor"] == key and created["object_type"] == "submission" and created["address"] == "127.0.0.1"
    assert {k: created["detail"][k] for k in ("title", "track", "org_name", "stage", "receipt_no")} == {
        "title": HOSTILE[:59] + "…", "track": "story", "org_name": cse, "stage": None, "receipt_no": None}
    assert only(rows, "submission.updated", a)["detail"]["fields"] == ["text"]
    submitted = only(rows, "submission.submitted", a)
    assert (submitted["actor"], submitted["detail"]["stage"], submitted["detail"]["receipt_no"]) == (
        key, "submission", receipt)
    by_media = only(rows, "submission.reopened", a)
    assert (by_media["actor"], by_media["address"]) == (MEDIA, None)
    assert (by_media["detail"]["reason"], by_media["detail"]["file_id"], by_media["detail"]["voided_receipts"]) == (
        "file_check_failed", photo, [receipt])
    for action in ("file.added", "file.stored", "file.deleted"):
        row = only(rows, action, photo)
        assert row["actor"] == key and row["object_type"] == "file"
        assert (row["detail"]["submission_id"], row["detail"]["kind"], row["detail"]["name"]) == (a, "image", "战疫照片.png")
    withdrawn = only(rows, "submission.withdrawn", b)
    assert withdrawn["actor"] == key and withdrawn["detail"]["receipt_no"]
    by_key = only(rows, "submission.reopened", e)
    assert by_key["actor"] == key and by_key["detail"]["reason"] == "file_added"
    assert by_key["detail"]["voided_receipts"] == [voided] and by_key["detail"]["file_id"] == added["file"]["id"]
    forwarded = only(rows, "selection.forwarded")
    assert (forwarded["actor"], forwarded["object_type"], forwarded["object_id"], forwarded["address"]) == (
        REVIEW, "round", "rd-1", None)
    assert forwarded["detail"] == {"track": "story", "level": "university", "to_level": "ministry",
                                   "submission_ids": [c]}
    # rows are small: ids and a few fields, never a work's text
    assert all(len(json.dumps(e["detail"], ensure_ascii=False)) < 600 for e in rows)
    assert all("改过的故事" not in json.dumps(e["detail"], ensure_ascii=False) for e in rows)
    # a university's log holds only its own changes
    assert {e["action"] for e in log(wust)} == {"orgs.imported", "campaign.published"}
    assert [e["action"] for e in audit(seu, action="file.stored")["items"]] == ["file.stored"]


def test_a_retried_or_refused_change_leaves_no_second_row(intake):  # noqa: F811
    seu = intake["seu"]
    org = seu.org_id("机械工程学院党委")
    body = {"campaign_id": "siyige-2020-seu", "track": "story", "org_id": org,
            "fields": {"title": "机械学院故事", "text": "故事。"}}
    first = seu("POST", "/api/v1/submissions", json=body, headers={"Idempotency-Key": "audit-1"})
    again = seu("POST", "/api/v1/submissions", json=body, headers={"Idempotency-Key": "audit-1"})
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    error_of(seu("POST", "/api/v1/submissions", json={**body, "track": "poetry"}), 422, "unknown_track")
    sid = first.json()["id"]
    submit(seu, sid)
    error_of(seu("POST", f"/api/v1/submissions/{sid}/submit"), 409, "already_submitted")
    rows = log(seu)
    assert [e["object_id"] for e in rows if e["action"] == "submission.created"] == [sid]
    assert [e["object_id"] for e in rows if e["action"] == "submission.submitted"] == [sid]


# --------------------------------------------------------------------------- the page and its export


def test_an_owner_reads_the_log_filtered_and_exports_it(intake, db):  # noqa: F811
    seu, base = intake["seu"], intake["base"]
    hostile = story(seu, "计算机科学与工程学院党委", HOSTILE)
    submit(seu, hostile)
    person(intake, db, "zhou@seu.edu.cn", {"role": "owner"}, name="周书记")
    web = owner_signed_in(base, "zhou@seu.edu.cn")
    total = audit(seu)["total"]

    page = web.get(f"{base}/audit", timeout=10)
    assert page.status_code == 200 and "审计日志 · 东南大学" in page.text
    rows = entries(page.text)
    assert len(rows) == total  # fewer than a page
    # newest first; the owner's own sign-in among them, in Beijing time (the test's clock stands at 09:00 there)
    assert [row[0] for row in rows] == sorted((row[0] for row in rows), reverse=True)
    [signed_in] = [row for row in rows if row[2] == "登录"]
    assert signed_in[1].startswith("account:") and "周书记" in signed_in[1]
    assert re.fullmatch(r"2020-06-12 09:\d\d:\d\d", signed_in[0]) and signed_in[6] == "127.0.0.1"
    # people's text is escaped, never markup
    assert "&lt;script&gt;alert(1)" in page.text and "<script>alert" not in page.text

    # filtered by action, and by days (Beijing time, both ends included)
    page = web.get(f"{base}/audit", params={"action": "submission.submitted"}, timeout=10)
    [row] = entries(page.text)
    assert row[2] == "提交作品" and row[3] == f"作品 {hostile}" and row[1] == f"key:{seu.key[:10]}"
    # (the fixture's seed writes its rows before it sets the clock back to 2020: they fall on another day)
    on_the_day = audit(seu, since="2020-06-12T00:00:00+08:00", until="2020-06-13T00:00:00+08:00")["total"]
    assert on_the_day >= 7  # at least the work's two rows and the owner's five
    page = web.get(f"{base}/audit", params={"since": "2020-06-12", "until": "2020-06-12"}, timeout=10)
    assert len(entries(page.text)) == on_the_day and f"共 {on_the_day} 条" in page.text
    assert all(row[0].startswith("2020-06-12 ") for row in entries(page.text))
    page = web.get(f"{base}/audit", params={"since": "2020-06-11", "until": "2020-06-11"}, timeout=10)
    assert entries(page.text) == [] and "没有符合条件的记录" in page.text
    bad = web.get(f"{base}/audit", params={"since": "2020/06/12"}, timeout=10)
    assert bad.status_code == 400 and "起始日期应为日期，格式如 2020-06-12，实际为“2020/06/12”" in bad.text
    assert web.get(f"{base}/audit", params={"action": "grant.deleted"}, timeout=10).status_code == 400
    assert web.get(f"{base}/audit", params={"page": "x"}, timeout=10).status_code == 400
    assert entries(web.get(f"{base}/audit", params={"page": "2"}, timeout=10).text) == []

    # the export: the same filtered rows, as a workbook whose cells are text, never formulas
    r = web.get(f"{base}/audit.xlsx", params={"action": "submission.created"}, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert re.fullmatch(r"attachment; filename=audit-seu-\d{8}-\d{4}\.xlsx", r.headers["Content-Disposition"])
    sheet = load_workbook(io.BytesIO(r.content))["审计日志"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert "东南大学" in values[0][0] and "新建作品" in values[0][0]
    assert values[1][:5] == ["时间（北京时间）", "操作人", "操作", "操作代码", "对象"]
    api_rows = audit(seu, action="submission.created")["items"]
    assert [v[3] for v in values[2:]] == [e["action"] for e in api_rows] == ["submission.created"]
    name = list(sheet.iter_rows(min_row=3))[0][5]
    assert name.value == HOSTILE[:59] + "…" and name.data_type == "s" and name.quotePrefix
    everything = load_workbook(io.BytesIO(web.get(f"{base}/audit.xlsx", timeout=30).content))["审计日志"]
    assert everything.max_row == 2 + total
    bad = web.get(f"{base}/audit.xlsx", params={"until": "tomorrow"}, timeout=10)
    assert bad.status_code == 400 and "截止日期应为日期" in bad.text

    # reading the log, on the page or exported, writes nothing to it
    assert audit(seu)["total"] == total


def test_only_owners_read_the_log_and_only_of_their_own_tenants(intake, db):  # noqa: F811
    seu, wust, base = intake["seu"], intake["wust"], intake["base"]
    # not signed in: the sign-in page
    assert requests.get(f"{base}/audit", allow_redirects=False, timeout=10).status_code == 401
    assert requests.get(f"{base}/audit.xlsx", allow_redirects=False, timeout=10).status_code == 401

    # a viewer is signed in, but is no owner
    person(intake, db, "sun@seu.edu.cn", {"role": "viewer"}, name="孙老师")
    viewer, r = sign_in(base, "sun@seu.edu.cn")
    assert r.status_code == 303 and r.headers["Location"] == "/"
    for path in ("/audit", "/audit.xlsx", "/audit?tenant=seu"):
        r = viewer.get(base + path, timeout=10)
        assert r.status_code == 403 and "只有单位管理员可以查看" in r.text, path

    # an owner of two universities: 东南大学 made them one, 武汉科技大学 too
    person(intake, db, "qian@seu.edu.cn", {"role": "owner"}, name="钱处长")
    r = invite(wust, "qian@seu.edu.cn", {"role": "owner"}, name="钱处长")
    assert r.status_code == 200, r.text
    half_way, r = sign_in(base, "qian@seu.edu.cn")  # the password, no code yet: nothing opens
    assert half_way.get(f"{base}/audit", timeout=10).status_code == 403
    web = owner_signed_in(base, "qian@seu.edu.cn")

    page = web.get(f"{base}/audit", timeout=10)
    assert page.status_code == 200 and "审计日志 · 东南大学" in page.text and 'href="/audit?tenant=wust"' in page.text
    assert f"key:{wust.key[:10]}" not in page.text
    page = web.get(f"{base}/audit", params={"tenant": "wust"}, timeout=10)
    assert page.status_code == 200 and "审计日志 · 武汉科技大学" in page.text
    actors = {row[1] for row in entries(page.text)}
    assert f"key:{wust.key[:10]}" in actors and f"key:{seu.key[:10]}" not in actors
    assert {row[2] for row in entries(page.text)} >= {"导入组织名单", "授予角色"}
    export = load_workbook(io.BytesIO(web.get(f"{base}/audit.xlsx", params={"tenant": "wust"}, timeout=30).content))
    assert {row[1].value for row in export["审计日志"].iter_rows(min_row=3)} == {
        f"key:{wust.key[:10]}", OPERATOR, *(a for a in actors if a.startswith("account:"))}

    # a tenant they do not own, or none such: 404, the same either way
    answers = [web.get(f"{base}{path}", params={"tenant": tenant}, timeout=10)
               for path in ("/audit", "/audit.xlsx") for tenant in ("ministry", "nowhere")]
    assert [a.status_code for a in answers] == [404] * 4
    assert answers[0].text.replace("ministry", "X") == answers[1].text.replace("nowhere", "X")


def test_a_key_with_admin_exports_the_log_and_a_portal_key_cannot(intake):  # noqa: F811
    from tests.integration.test_intake_api import Portal

    seu = intake["seu"]
    seu.draft("siyige-2020-seu", "story", "计算机科学与工程学院党委", title="=HYPERLINK(\"http://x\")")
    r = seu("GET", "/api/v1/audit.xlsx", params={"action": "submission.created"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(r.content)).active
    cells = [c.value for row in sheet.iter_rows() for c in row if c.value is not None]
    assert any("新建作品" in str(v) for v in cells)
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)  # the title stays text
    error_of(seu("GET", "/api/v1/audit.xlsx", params={"action": "no.such"}), 400, "invalid_query")
    portal = Portal(intake["base"], seu("POST", "/api/v1/keys", json={"label": "门户", "scopes": ["submit"]}).json()["key"])
    error_of(portal("GET", "/api/v1/audit.xlsx"), 403, "key_scope")
