"""No submitted byte acts in a browser through a file's declared type (issue #14, item 1).

The attack: a .docx that passes the media check, declared `text/html`, carrying an uncompressed zip
entry with a <script>; served inline under the declared type, it ran on the review origin. Now:
- intake refuses a declared type that cannot be true for the file's kind (HTTP, real intake);
- media fails a file whose declared type contradicts its content (real media service, RabbitMQ);
- review and notify serve files only under the type media determined, documents as attachments,
  PDF inline with a sandbox CSP, every file response with nosniff (real services over HTTP);
- Debian's chromium opens every file link a reviewer has and no script runs.
"""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

import pytest
import requests
from kombu import Connection, Exchange, Queue

from common import clock
from common.events import make_event
from common.filetypes import DOCX
from common.objectstore import FolderStore
from tests.conftest import ROOT, wait_until
from tests.integration.test_review_service import ADMIN_KEY, INTAKE, publish, review  # noqa: F401  (fixture)
from tests.media_fixtures import XSS_PAYLOAD, make_document_docx_html, make_document_pdf
from tests.security.test_reviewer_metadata import checked_files, reviewer_of_the_round

PAGE_TYPES = ("text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml")


# --------------------------------------------------------------------------- intake: the claim at registration


@pytest.fixture
def intake(sqlite_url, make_config, start_service):
    from tests.integration.test_intake_api import start_intake

    yield start_intake(sqlite_url, make_config, start_service)
    clock.set_start(None)


@pytest.mark.parametrize("kind, declared", [("document", "text/html"), ("document", "application/xhtml+xml"),
                                            ("image", "image/svg+xml"), ("video", "text/html; charset=utf-8"),
                                            ("document", "video/mp4"), ("audio", "application/javascript")])
def test_registration_refuses_a_declared_type_that_cannot_be_true(intake, kind, declared):
    seu = intake["seu"]
    work = seu.draft("siyige-2020-seu", "material", "机械工程学院党委", title="战疫素材", form="article")
    data = XSS_PAYLOAD  # nothing of it may be stored
    r = seu("POST", f"/api/v1/submissions/{work['id']}/files", json={
        "kind": kind, "filename": "材料.docx", "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        "content_type": declared})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["code"], error["field"], error["found"]) == ("content_type_not_allowed", "content_type", declared)
    assert "application/octet-stream" in error["expected"] and "请按文件的实际格式填写" in error["message"]
    assert seu("GET", f"/api/v1/submissions/{work['id']}").json()["files"] == []
    accepted = seu("POST", f"/api/v1/submissions/{work['id']}/files", json={
        "kind": "document", "filename": "材料.pdf", "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        "content_type": "application/pdf"})
    assert accepted.status_code == 201, accepted.text


# --------------------------------------------------------------------------- media: the claim against the content


def test_media_fails_a_file_whose_declared_type_contradicts_its_content(make_config, start_service, tmp_path):
    from services.media.service import MediaService

    config = make_config("media")
    start_service(MediaService, config)
    path = make_document_docx_html(tmp_path)
    FolderStore(tmp_path / "data" / "objects").put_file("seu/f-html", str(path))
    conn = Connection(config["AMQP_URI"])
    checked = Queue("probe-checked", Exchange("media.events", type="topic", durable=True), routing_key="file_checked")
    bound = checked.bind(conn.channel())
    bound.declare()
    publish(config["AMQP_URI"], INTAKE, make_event("file_uploaded", "seu", {
        "file_id": "f" * 32, "submission_id": "s" * 32, "campaign_id": "siyige-2020-seu", "track": "material",
        "kind": "document", "object_key": "seu/f-html", "size": path.stat().st_size, "sha256": "0" * 64,
        "content_type": "text/html", "original_name": "讲稿.docx", "org_id": "o-cse"}))
    message = wait_until(lambda: bound.get(no_ack=True), timeout=60, what="media's file_checked")
    conn.release()
    data = message.payload["data"]
    assert data["verdict"] == "failed"
    mismatch = next(f for f in data["findings"] if f["rule"] == "content_type_mismatch")
    assert (mismatch["severity"], mismatch["expected"], mismatch["actual"]) == ("error", DOCX, "text/html")
    assert data["facts"]["content_type"] == DOCX and "text/html" in mismatch["message"]


# --------------------------------------------------------------------------- serving: review, notify, chromium


def forwarded_event(files: list[dict]):
    return make_event("submission_forwarded", "seu", {
        "submission_id": "w" * 32, "campaign_id": "siyige-2020-seu", "track": "story", "org_id": "o-cse",
        "org_name": "计算机科学与工程学院党委", "org_level": "level2", "from_level": "level2", "to_level": "university",
        "title": "战疫故事", "receipt_no": "SEU-1", "forwarded_at": "2020-07-20T02:00:00+00:00",
        "fields": {"title": "战疫故事"}, "files": files, "tenant_name": "东南大学", "root_campaign_id": "siyige-2020"})


def file_headers_are_safe(r: requests.Response) -> str:
    """The served type, after checking what every file response must carry."""
    assert r.status_code == 200, r.status_code
    ctype = r.headers["Content-Type"].split(";")[0]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    csp = r.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp
    assert ctype not in PAGE_TYPES
    return ctype


def test_files_are_served_as_media_determined_and_no_script_runs_in_chromium(review, make_config, start_service,
                                                                            tmp_path):  # noqa: F811
    from services.media.service import MediaService
    from services.notify.service import NotifyService

    start_service(MediaService, make_config("media", DATABASE_URL=f"sqlite:///{tmp_path / 'media.db'}"))
    notify_config = make_config("notify", DATABASE_URL=f"sqlite:///{tmp_path / 'notify.db'}")
    start_service(NotifyService, notify_config)
    base, store = review["base"], review["store"]
    objects = FolderStore(review["objects"])
    html_docx, pdf = make_document_docx_html(tmp_path), make_document_pdf(tmp_path)
    assert XSS_PAYLOAD in html_docx.read_bytes()  # stored uncompressed: a browser sniffing it finds HTML
    files = [("f-docx", html_docx, "application/octet-stream"), ("f-pdf", pdf, "application/pdf")]
    uploads = []
    for n, (name, path, declared) in enumerate(files):
        objects.put_file(f"seu/{name}", str(path))
        uploads.append(make_event("file_uploaded", "seu", {
            "file_id": f"{n + 1:032d}", "submission_id": "s-o-cse-1", "campaign_id": "siyige-2020-seu",
            "track": "story", "kind": "document", "object_key": f"seu/{name}", "size": path.stat().st_size,
            "sha256": "0" * 64, "content_type": declared, "original_name": path.name, "org_id": "o-cse"}))
    publish(review["amqp"], INTAKE, *uploads)
    wait_until(lambda: len(checked_files(store)) == len(uploads), timeout=120, what="media's checks in review")
    # Review: the work's documents, as a reviewer's session fetches them.
    reviewer = reviewer_of_the_round(review, [u.data["file_id"] for u in uploads])
    works = re.findall(r'href="(/works/[0-9a-f]{32})"', reviewer.get(f"{base}/queue").text)
    work_url = next(base + w for w in dict.fromkeys(works) if "文档1" in reviewer.get(base + w).text)
    page = reviewer.get(work_url).text
    served = {}
    for href in re.findall(r'href="(/files/[^"]+)"', page):
        r = reviewer.get(base + href)
        served[file_headers_are_safe(r)] = r
    assert set(served) == {DOCX, "application/pdf"}
    assert served[DOCX].headers["Content-Disposition"].startswith("attachment; filename*=UTF-8''")
    assert served[DOCX].headers["Content-Disposition"].endswith(".docx")
    assert XSS_PAYLOAD not in served[DOCX].content  # media's copy: every entry compressed again
    assert served["application/pdf"].headers["Content-Disposition"].startswith("inline")

    # Notify: the forwarded work's files, declared text/html in the event (as a file registered before
    # intake checked the claim would be), served under media's type; a file media never typed is opaque.
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
    feed = f"http://{notify_config['WEB_SERVER_ADDRESS']}/api/v1/feed/forwarded"

    def typed():
        from sqlalchemy import create_engine, text

        engine = create_engine(notify_config["DATABASE_URL"])
        with engine.connect() as c:
            rows = c.execute(text("select count(*) from files where content_type is not null")).scalar()
        engine.dispose()
        return rows == len(uploads)

    wait_until(typed, timeout=60, what="notify's copies of media's types")
    publish(review["amqp"], INTAKE, forwarded_event([
        {"file_id": u.data["file_id"], "kind": "document", "object_key": u.data["object_key"], "size": u.data["size"],
         "content_type": "text/html"} for u in uploads] + [
        {"file_id": "9" * 32, "kind": "document", "object_key": "seu/f-docx", "size": 1, "content_type": "text/html"}]))
    item = wait_until(lambda: (r := http.get(feed, timeout=10)).ok and r.json()["items"] and r.json()["items"][0],
                      timeout=30, what="the forwarded work in notify's feed")
    types = {f["file_id"]: f["content_type"] for f in item["files"]}
    assert types == {uploads[0].data["file_id"]: DOCX, uploads[1].data["file_id"]: "application/pdf",
                     "9" * 32: "application/octet-stream"}
    for f in item["files"]:
        r = requests.get(f["url"], timeout=10)
        assert file_headers_are_safe(r) == f["content_type"]
        inline = f["content_type"] == "application/pdf"
        assert r.headers["Content-Disposition"].startswith("inline" if inline else "attachment"), f

    # Chromium: the reviewer's browser (their session's cookies) clicks and opens every file link.
    cookies = [{"name": c.name, "value": c.value, "url": base} for c in reviewer.cookies]
    done = subprocess.run([sys.executable, "-m", "tests.security.browse_files", json.dumps(cookies),
                           work_url, XSS_PAYLOAD.decode()], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["control_title"] == "XSS-RAN", "the payload runs when a browser renders it as a page"
    assert len(seen["files"]) == 2, seen
    docx = next(f for f in seen["files"] if f["name"].endswith(".docx"))
    assert docx["outcome"] == "download" and docx["suggested"].endswith(".docx"), docx
    shown = next(f for f in seen["files"] if f["name"].endswith(".pdf"))
    # the sandbox CSP does not stop chromium's PDF viewer: the pages are drawn (a blocked page is one colour)
    assert shown["outcome"] == "shown" and shown["colours"] > 20, shown
    assert not seen["script_ran"] and not seen["dialogs"] and not seen["requests_after"], seen
    print(json.dumps(seen["files"], ensure_ascii=False))  # what chromium did with each link, for the reader
