"""Uploads to the folder store resume after a dropped connection (issue #20: a branch secretary's phone between
two cells): the bytes that arrived stay, `GET` on the upload URL says how many, and a PUT with `Content-Range` sends
the rest. A wrong byte anywhere is still refused at the end; a resume from the wrong place, a malformed range and a
second writer at the same time are refused with what to do."""
from __future__ import annotations

import hashlib
import os
import socket
import time
from urllib.parse import urlsplit

import requests

from tests.conftest import wait_until
from tests.integration.test_intake_api import error_of, intake  # noqa: F401  (a fixture)

MB = 1024 * 1024


def _ticket(env, data: bytes, sha: str | None = None) -> dict:
    seu = env["seu"]
    work = seu.draft("siyige-2020-seu", "lecture", "计算机科学与工程学院党委", title="续传测试", lecturers=["李书记"])
    r = seu("POST", f"/api/v1/submissions/{work['id']}/files", json={
        "kind": "video", "filename": "续传测试.mp4", "size": len(data), "sha256": sha or hashlib.sha256(data).hexdigest(),
        "content_type": "video/mp4"})
    assert r.status_code == 201, r.text
    return r.json()


def _start_put(url: str, total: int, first: bytes) -> socket.socket:
    """A PUT announcing `total` bytes that sends only `first`, its connection left open (the caller drops it)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    sock.sendall(f"PUT {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/octet-stream\r\n"
                 f"Content-Length: {total}\r\n\r\n".encode() + first)
    return sock


def _received(url: str) -> int:
    r = requests.get(url, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["received"]


def test_an_upload_cut_off_goes_on_from_where_it_stopped(intake):  # noqa: F811
    data = os.urandom(3 * MB + 123)
    ticket = _ticket(intake, data)
    url, file_id = ticket["upload"]["url"], ticket["file"]["id"]
    assert _received(url) == 0
    sock = _start_put(url, len(data), data[:MB])
    time.sleep(0.3)
    sock.close()  # the phone loses its connection a third of the way
    wait_until(lambda: _received(url) == MB, what="intake keeps the megabyte that arrived")
    # resuming from elsewhere is refused, saying where to resume from
    r = requests.put(url, data=data[10:], headers={"Content-Range": f"bytes 10-{len(data) - 1}/{len(data)}"}, timeout=30)
    assert error_of(r, 409, "upload_offset_mismatch")["expected"] == MB
    for bad in ("bytes 0-5/10", f"bytes {MB}-{len(data)}/{len(data)}", "bytes=1-2/3", f"bytes {MB}-{len(data) - 1}/*"):
        error_of(requests.put(url, data=b"x", headers={"Content-Range": bad}, timeout=10), 400, "invalid_content_range")
    assert _received(url) == MB  # refusals change nothing
    r = requests.put(url, data=data[MB:], headers={"Content-Range": f"bytes {MB}-{len(data) - 1}/{len(data)}"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["sha256"] == hashlib.sha256(data).hexdigest() and r.json()["state"] == "received"
    r = intake["seu"]("POST", f"/api/v1/files/{file_id}/complete")
    assert r.status_code == 200 and r.json()["state"] == "stored", r.text


def test_a_resumed_upload_with_a_wrong_byte_is_refused_and_nothing_kept(intake):  # noqa: F811
    data = os.urandom(2 * MB)
    ticket = _ticket(intake, data)
    url = ticket["upload"]["url"]
    sock = _start_put(url, len(data), data[:MB])
    time.sleep(0.3)
    sock.close()
    wait_until(lambda: _received(url) == MB, what="the first half kept")
    rest = bytearray(data[MB:])
    rest[-1] ^= 0xFF
    r = requests.put(url, data=bytes(rest), headers={"Content-Range": f"bytes {MB}-{len(data) - 1}/{len(data)}"},
                     timeout=30)
    assert r.status_code == 422 and r.json()["error"]["code"] == "checksum_mismatch", r.text
    assert _received(url) == 0  # nothing of the wrong file stays: start again
    r = intake["seu"]("POST", f"/api/v1/files/{ticket['file']['id']}/complete")
    assert r.status_code == 409 and r.json()["error"]["code"] == "upload_missing", r.text


def test_a_second_writer_waits_for_the_first(intake):  # noqa: F811
    data = os.urandom(3 * MB)
    url = _ticket(intake, data)["upload"]["url"]
    sock = _start_put(url, len(data), data[:3 * MB // 2])  # intake writes a megabyte at a time
    try:
        wait_until(lambda: _received(url) == MB, what="the first PUT is writing")
        r = requests.put(url, data=data, timeout=30)
        error_of(r, 409, "upload_in_progress")
    finally:
        sock.close()
    wait_until(lambda: _received(url) == 3 * MB // 2, what="the first PUT's bytes kept")
    r = requests.put(url, data=data, timeout=30)  # starting again from byte 0 is always allowed
    assert r.status_code == 200, r.text
