"""Content types of submitted files (issue #14, item 1): what may be declared, what is served, and how.

Pure rules (common.filetypes, intake's check, media's determined type) and the file response itself
(common.files.serve) on a folder store with a real WSGI request.
"""
from __future__ import annotations

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from common import filetypes
from common.errors import DomainError
from common.files import FILE_CSP, FileLinks, allow_files_origin, serve
from common.objectstore import FolderStore
from services.intake.domain.filetype import check_declared_type
from services.media import contenttype

DOCX = filetypes.DOCX
# What a browser would run or render as a page, in the spellings an attacker would try.
ACTIVE = ["text/html", "TEXT/HTML; charset=utf-8", "application/xhtml+xml", "image/svg+xml", "text/xml",
          "application/xml", "text/javascript", "application/javascript", "application/x-shockwave-flash",
          "text/html;", " text/html ", "multipart/x-mixed-replace", "application/pdf+html"]


@pytest.mark.parametrize("kind", ["video", "image", "audio", "document", "subtitle"])
@pytest.mark.parametrize("declared", ACTIVE)
def test_no_kind_may_be_declared_as_something_a_browser_runs(kind, declared):
    assert not filetypes.may_declare(kind, declared)
    with pytest.raises(DomainError) as err:
        check_declared_type(kind, declared)
    e = err.value
    assert (e.status, e.code, e.field, e.found) == (422, "content_type_not_allowed", "content_type", declared)
    assert filetypes.GENERIC in e.expected and "请按文件的实际格式填写" in e.message


@pytest.mark.parametrize("kind, declared", [
    ("video", "video/mp4"), ("video", "video/x-m4v"), ("video", "VIDEO/QuickTime"), ("audio", "audio/x-wav"),
    ("image", "image/jpeg"), ("image", "image/png"), ("document", "application/pdf"), ("document", DOCX),
    ("document", "application/msword"), ("subtitle", "text/vtt"), ("subtitle", "application/x-subrip"),
    ("subtitle", "text/plain"), ("document", None), ("document", ""), ("video", "application/octet-stream"),
])
def test_the_types_portals_send_for_each_kind_are_accepted(kind, declared):
    assert filetypes.may_declare(kind, declared)
    check_declared_type(kind, declared)


@pytest.mark.parametrize("kind, declared", [
    ("document", "video/mp4"), ("video", "application/pdf"), ("image", "video/mp4"), ("audio", "image/png"),
    ("subtitle", DOCX), ("video", "video/"), ("document", "text/plain"),
])
def test_a_type_of_another_kind_is_refused(kind, declared):
    with pytest.raises(DomainError, match="与文件种类"):
        check_declared_type(kind, declared)


@pytest.mark.parametrize("declared, determined, contradicts", [
    ("text/html", DOCX, True), ("video/mp4", "application/pdf", True), ("image/jpeg", "video/mp4", True),
    ("application/octet-stream", DOCX, False), (None, "video/mp4", False), ("application/zip", DOCX, False),
    ("video/quicktime", "video/mp4", False), ("text/plain", "text/x-ssa", False), ("audio/mpeg", "audio/mp4", False),
    ("application/pdf", None, False),
])
def test_media_flags_a_declared_type_of_another_kind_than_the_content(declared, determined, contradicts):
    found = contenttype.mismatch("document", declared, determined)
    assert (found is not None) is contradicts
    if found:
        assert found["rule"] == "content_type_mismatch" and found["severity"] == "error"
        assert found["expected"] == determined and "声明的类型必须与文件内容一致" in found["message"]


@pytest.mark.parametrize("kind, facts, expected", [
    ("video", {"container": "mp4"}, "video/mp4"), ("video", {"container": "mkv"}, "video/x-matroska"),
    ("audio", {"format": "wav"}, "audio/wav"), ("audio", {"format": "mp3"}, "audio/mpeg"),
    ("image", {"format": "png"}, "image/png"), ("document", {"format": "docx"}, DOCX),
    ("document", {"format": "pdf"}, "application/pdf"), ("subtitle", {"format": "ass"}, "text/x-ssa"),
    ("document", {"format": "doc"}, None), ("video", {}, None),
])
def test_the_determined_type_comes_from_the_facts_read_in_the_content(kind, facts, expected):
    assert contenttype.of_original(kind, facts) == expected


@pytest.mark.parametrize("ctype, served, inline", [
    ("video/mp4", "video/mp4", True), ("image/png", "image/png", True), ("application/pdf", "application/pdf", True),
    ("audio/mpeg", "audio/mpeg", True), (DOCX, DOCX, False), ("text/vtt", "text/vtt", False),
    ("text/html", filetypes.GENERIC, False), ("image/svg+xml", filetypes.GENERIC, False),
    ("application/xhtml+xml", filetypes.GENERIC, False), ("", filetypes.GENERIC, False),
    ("Video/MP4; codecs=avc1", "video/mp4", True),
])
def test_only_pictures_sound_video_and_pdf_are_inline_and_no_page_type_is_ever_served(ctype, served, inline):
    assert filetypes.served_as(ctype) == (served, inline)


@pytest.fixture
def store(tmp_path):
    store = FolderStore(tmp_path / "objects")
    path = store.local_path("seu/f1")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK\x03\x04<html><script>alert(1)</script></html>")
    return store


def get(path="/files/x", headers=None):
    return Request(EnvironBuilder(path=path, headers=headers or {}).get_environ())


@pytest.mark.parametrize("ctype, disposition, served", [
    ("text/html", "attachment", "application/octet-stream"), (DOCX, "attachment", DOCX),
    ("application/pdf", "inline", "application/pdf"), ("video/mp4", "inline", "video/mp4"),
])
def test_every_file_response_has_nosniff_and_a_sandbox_csp(store, ctype, disposition, served):
    response = serve(store, "seu/f1", "文档1.docx", ctype, get(), 900)
    response.direct_passthrough = False
    assert response.mimetype == served
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == FILE_CSP
    assert "sandbox" in FILE_CSP and "default-src 'none'" in FILE_CSP
    assert response.headers["Content-Disposition"].startswith(f"{disposition}; filename*=UTF-8''")
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_ranges_are_still_answered(store):
    response = serve(store, "seu/f1", "视频1.mp4", "video/mp4", get(headers={"Range": "bytes=0-3"}), 900)
    response.direct_passthrough = False
    assert response.status_code == 206 and response.get_data() == b"PK\x03\x04"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_link_is_signed_over_its_type_and_a_foreign_or_non_ascii_token_is_404(store):
    links = FileLinks(b"secret")
    url = links.url("seu/f1", "文档1.docx", "text/html")
    token = url.rsplit("/", 1)[1]
    response = links.response(store, token, get())
    assert response.mimetype == "application/octet-stream"  # even a caller that signed text/html
    for bad in (token[:-2] + "xx", "x" + token, "评审.abc", ""):
        with pytest.raises(DomainError) as err:
            links.response(store, bad, get())
        assert err.value.status == 404 and err.value.code == "file_link_expired"


def test_files_on_another_origin_and_the_pages_csp_allows_only_that_one_for_media():
    from werkzeug.wrappers import Response

    links = FileLinks(b"secret", "https://files.review.example.edu.cn/")
    assert links.url("k", "n", "video/mp4").startswith("https://files.review.example.edu.cn/files/")
    page = Response("", headers={"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                                                            "media-src 'self'; script-src 'self'"})
    csp = allow_files_origin(page, links).headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://files.review.example.edu.cn" in csp
    assert "media-src 'self' https://files.review.example.edu.cn" in csp
    assert csp.count("files.review.example.edu.cn") == 2 and csp.endswith("script-src 'self'")
    same_host = Response("", headers={"Content-Security-Policy": "default-src 'self'"})
    assert allow_files_origin(same_host, FileLinks(b"s")).headers["Content-Security-Policy"] == "default-src 'self'"


def test_on_s3_the_presigned_link_carries_the_safe_type_and_disposition_too():
    class S3:  # records what common.files asks the object store to answer with
        kind = "s3"

        def download_url(self, key, name, content_type, ttl_s, disposition=None):
            self.asked = (key, content_type, disposition)
            return "https://s3.example/bucket/k?signed"

    store = S3()
    response = serve(store, "seu/f1", "文档1.docx", "text/html", get(), 900)
    assert response.status_code == 302 and response.headers["Location"] == "https://s3.example/bucket/k?signed"
    assert store.asked == ("seu/f1", "application/octet-stream", "attachment; filename*=UTF-8''%E6%96%87%E6%A1%A31.docx")
    assert response.headers["X-Content-Type-Options"] == "nosniff" and response.headers["Content-Security-Policy"] == FILE_CSP


def test_on_s3_the_pages_csp_allows_the_buckets_public_endpoint_the_file_links_redirect_to():
    """CSP checks a redirect's target: with `img-src 'self'` the reviewer's pictures and videos, which
    answer with a redirect to the bucket, would not load on S3 (compose and production)."""
    from werkzeug.wrappers import Response

    from common.objectstore import S3Store

    store = S3Store("siyige", "http://minio:9000", "us-east-1", "https://files.example.edu.cn:9000")
    assert store.public_origin == "https://files.example.edu.cn:9000"
    page = Response("", headers={"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                                                            "media-src 'self'; script-src 'self'"})
    csp = allow_files_origin(page, FileLinks(b"s"), store).headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://files.example.edu.cn:9000" in csp
    assert "media-src 'self' https://files.example.edu.cn:9000" in csp
    assert "script-src 'self'" in csp and csp.count("files.example.edu.cn") == 2
