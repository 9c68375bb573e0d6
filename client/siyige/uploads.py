"""Sending a file's bytes: hashed while read, then a streamed PUT that resumes after a dropped connection (folder
store), or S3's parts one by one, each retried alone; then the confirmation (size and SHA-256 checked there)."""
from __future__ import annotations

import hashlib
import os
import time
import uuid

import requests

from .errors import ApiError, Conflict, error_from

CHUNK = 1024 * 1024
ATTEMPTS = 6  # tries per PUT (whole file, rest of it, or one part) before the upload is given up
PAUSE = 1.0


def sha256_of(path, opener=open, progress=None) -> tuple[str, int]:
    """The file's SHA-256 and size, read in chunks so a 2 GB video never sits in memory."""
    digest, size = hashlib.sha256(), 0
    with opener(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if progress:
                progress(size, None)
    return digest.hexdigest(), size


class _Slice:
    """`length` bytes of an open file from its current position, as a request body: requests reads `__len__` for
    Content-Length (a generator would be sent chunked) and http.client calls `read`."""

    def __init__(self, f, length: int, sent_before: int, total: int, progress):
        self.f, self.left, self.sent, self.total, self.progress = f, length, sent_before, total, progress

    def __len__(self):
        return self.left

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        chunk = self.f.read(min(n, CHUNK)) if n else b""
        self.left -= len(chunk)
        self.sent += len(chunk)
        if self.progress and chunk:
            self.progress(self.sent, self.total)
        return chunk


def _answer(r: requests.Response) -> dict:
    try:
        body = r.json()
    except ValueError:
        body = None
    if r.status_code >= 400:
        raise error_from(r.status_code, body)
    return body or {}


def upload_file(client, submission_id: str, kind: str, path, *, content_type=None, progress=None,
                idempotency_key=None, digest=None, opener=open) -> dict:
    """Hash, register, send and confirm `path` as a file of `kind`; the stored file (GET /files/{id}).
    `progress(sent, total)` hears each chunk. With `idempotency_key`, a second run of the same upload gets the same
    ticket back, and goes on from the bytes the first run left on the server. `digest` (SHA-256, size) spares a
    second reading of a file the caller hashed already."""
    sha, size = digest or sha256_of(path, opener)
    key = idempotency_key or str(uuid.uuid4())
    ticket = client.register_file(submission_id, kind, os.path.basename(str(path)), size, sha, content_type,
                                  idempotency_key=key)
    file_id, upload = ticket["file"]["id"], ticket["upload"]
    current = client.file(file_id)
    if current["state"] == "stored":
        return current  # a run before this one finished it
    parts = None
    if upload.get("multipart"):
        parts = _put_parts(upload["multipart"], path, size, opener, progress)
    elif "/api/v1/uploads/" in upload["url"]:
        _put_resumable(upload, path, size, opener, progress)
    else:
        _put_once(upload, path, size, opener, progress)
    return client.complete_file(file_id, parts, idempotency_key=f"{key}-complete")


def _received(url: str) -> dict:
    # the upload URL is its own authority (a token, like a presigned URL): the API key is not sent there
    return _answer(requests.get(url, timeout=30))


def _put_resumable(upload: dict, path, size: int, opener, progress) -> None:
    """The folder store: PUT the file; after a drop, ask how much arrived and PUT the rest with Content-Range."""
    url, headers = upload["url"], dict(upload.get("headers") or {})
    offset, failures = None, 0
    while True:
        try:
            if offset is None:  # at the start, and after a drop: what the server kept
                state = _received(url)
                if state.get("state") != "pending":
                    return  # the whole file has arrived (in an earlier run, or as the connection dropped)
                offset = state["received"]
            extra = {"Content-Range": f"bytes {offset}-{size - 1}/{size}"} if offset else {}
            with opener(path, "rb") as f:
                f.seek(offset)
                r = requests.put(url, data=_Slice(f, size - offset, offset, size, progress),
                                 headers={"Content-Type": "application/octet-stream", **headers, **extra}, timeout=300)
            state = _answer(r)
            if r.status_code == 200:
                return
            offset = state["received"]  # 202: kept, some bytes still missing
        except Conflict as exc:
            if exc.code == "upload_offset_mismatch" and isinstance(exc.expected, int):
                offset = exc.expected
            elif exc.code == "upload_in_progress":
                offset = None  # the dropped request is still being wound up on the server: wait, then ask again
            else:
                raise
            failures = _wait(failures, exc)
        except (requests.ConnectionError, requests.Timeout, OSError) as exc:
            failures = _wait(failures, exc)
            offset = None


def _wait(failures: int, exc: Exception) -> int:
    if failures + 1 >= ATTEMPTS:
        raise exc
    time.sleep(PAUSE * 2 ** failures)
    return failures + 1


def _put_once(upload: dict, path, size: int, opener, progress) -> None:
    """S3, one presigned PUT: nothing is kept of a dropped one, so it starts again."""
    failures = 0
    while True:
        try:
            with opener(path, "rb") as f:
                _answer(requests.put(upload["url"], data=_Slice(f, size, 0, size, progress),
                                     headers=upload.get("headers") or {}, timeout=300))
            return
        except (requests.ConnectionError, requests.Timeout, OSError) as exc:
            failures = _wait(failures, exc)


def _put_parts(multipart: dict, path, size: int, opener, progress) -> list[dict]:
    """S3 multipart: each part to its own URL, a failed part retried alone; the parts' ETags for the confirmation."""
    part_size, done, etags = multipart.get("part_size"), 0, []
    for part in sorted(multipart["parts"], key=lambda p: p["part_number"]):
        start = (part["part_number"] - 1) * part_size if part_size else done
        length = part.get("size") or min(part_size, size - start)
        failures = 0
        while True:
            try:
                with opener(path, "rb") as f:
                    f.seek(start)
                    r = requests.put(part["url"], data=_Slice(f, length, start, size, progress), timeout=300)
                _answer(r)
                break
            except (requests.ConnectionError, requests.Timeout, OSError, ApiError) as exc:
                if isinstance(exc, ApiError) and exc.status and exc.status < 500:
                    raise
                failures = _wait(failures, exc)
        etags.append({"part_number": part["part_number"], "etag": r.headers["ETag"]})
        done = start + length
    return etags
