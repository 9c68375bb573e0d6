"""The portal API (services/intake/openapi.yaml) as Python calls: one method per operation a portal needs."""
from __future__ import annotations

import time
import uuid

import requests

from .errors import ApiError, RateLimited, ServerError, error_from
from .uploads import upload_file

RETRIES = 4  # attempts after the first, for a dropped connection, a 5xx or a 429
BACKOFF = 1.0  # seconds before the first retry, doubled each time (unless Retry-After says otherwise)
RETRY_AFTER_CAP = 120.0
PER_PAGE = 200  # the most the API pages by


class Client:
    """`Client("https://siyige.example.edu.cn", "sk_…")`. Every call carries the key; every POST an
    Idempotency-Key, the same one on each retry, so a retried POST never creates or submits twice."""

    def __init__(self, base_url: str, key: str, *, timeout: float = 60.0, retries: int = RETRIES,
                 backoff: float = BACKOFF, session: requests.Session | None = None):
        self.base = base_url.rstrip("/")
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.http = session or requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"
        self.http.headers.setdefault("User-Agent", "siyige-client/1.0")

    # ------------------------------------------------------------------ transport

    def request(self, method: str, path: str, *, json=None, params=None, idempotency_key: str | None = None,
                absolute: bool = False):
        """One API call, retried after a dropped connection, a 5xx or a 429; the answer's JSON, or a typed error."""
        headers = {}
        if method == "POST":
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        url = path if absolute else self.base + path
        attempt = 0
        while True:
            try:
                r = self.http.request(method, url, json=json, params=params, headers=headers, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout):
                if attempt >= self.retries:
                    raise
                self._pause(attempt, None)
                attempt += 1
                continue
            if r.status_code < 400:
                return r.json() if r.content else {}
            error = error_from(r.status_code, _json_or_none(r))
            if isinstance(error, RateLimited):
                error.retry_after = _retry_after(r)
            if not isinstance(error, (ServerError, RateLimited)) or attempt >= self.retries:
                raise error
            self._pause(attempt, _retry_after(r))
            attempt += 1

    def _pause(self, attempt: int, retry_after: float | None):
        time.sleep(min(retry_after, RETRY_AFTER_CAP) if retry_after is not None else self.backoff * 2 ** attempt)

    def get(self, path, **params):
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None} or None)

    def post(self, path, body=None, *, idempotency_key=None):
        return self.request("POST", path, json=body, idempotency_key=idempotency_key)

    def pages(self, path, **params):
        """Every item of a paged list, page after page."""
        page = 1
        while True:
            answer = self.get(path, page=page, per_page=PER_PAGE, **params)
            yield from answer["items"]
            if page * answer.get("per_page", PER_PAGE) >= answer.get("total", 0) or not answer["items"]:
                return
            page += 1

    # ------------------------------------------------------------------ tenant, campaigns, orgs

    def me(self) -> dict:
        return self.get("/api/v1/me")

    def campaigns(self) -> list[dict]:
        return self.get("/api/v1/campaigns")["items"]

    def campaign(self, campaign_id: str) -> dict:
        return self.get(f"/api/v1/campaigns/{campaign_id}")

    def orgs(self, *, level=None, parent_id=None, q=None) -> list[dict]:
        return list(self.pages("/api/v1/orgs", level=level, parent_id=parent_id, q=q))

    def org(self, org_id: str) -> dict:
        return self.get(f"/api/v1/orgs/{org_id}")

    # ------------------------------------------------------------------ works

    def create_submission(self, campaign_id: str, track: str, org_id: str, fields: dict | None = None, *,
                          idempotency_key: str | None = None) -> dict:
        body = {"campaign_id": campaign_id, "track": track, "org_id": org_id, "fields": fields or {}}
        return self.post("/api/v1/submissions", body, idempotency_key=idempotency_key)

    def update_submission(self, submission_id: str, fields: dict) -> dict:
        return self.request("PATCH", f"/api/v1/submissions/{submission_id}", json={"fields": fields})

    def submission(self, submission_id: str) -> dict:
        return self.get(f"/api/v1/submissions/{submission_id}")

    def submissions(self, *, campaign_id=None, track=None, org_id=None, state=None, stage=None, q=None) -> list[dict]:
        return list(self.pages("/api/v1/submissions", campaign_id=campaign_id, track=track, org_id=org_id,
                               state=state, stage=stage, q=q))

    def submit(self, submission_id: str, stage: str | None = None, *, idempotency_key: str | None = None) -> dict:
        return self.post(f"/api/v1/submissions/{submission_id}/submit", {"stage": stage} if stage else None,
                         idempotency_key=idempotency_key)

    def withdraw(self, submission_id: str, *, idempotency_key: str | None = None) -> dict:
        return self.post(f"/api/v1/submissions/{submission_id}/withdraw", idempotency_key=idempotency_key)

    def receipts(self, submission_id: str) -> list[dict]:
        return self.get(f"/api/v1/submissions/{submission_id}/receipts")["items"]

    # ------------------------------------------------------------------ files

    def register_file(self, submission_id: str, kind: str, filename: str, size: int, sha256: str,
                      content_type: str | None = None, *, idempotency_key: str | None = None) -> dict:
        """The upload ticket: `file`, and `upload` (where to PUT the bytes)."""
        body = {"kind": kind, "filename": filename, "size": size, "sha256": sha256}
        if content_type:
            body["content_type"] = content_type
        return self.post(f"/api/v1/submissions/{submission_id}/files", body, idempotency_key=idempotency_key)

    def complete_file(self, file_id: str, parts: list[dict] | None = None, *, idempotency_key: str | None = None) -> dict:
        return self.post(f"/api/v1/files/{file_id}/complete", {"parts": parts} if parts is not None else None,
                         idempotency_key=idempotency_key)

    def file(self, file_id: str) -> dict:
        return self.get(f"/api/v1/files/{file_id}")

    def delete_file(self, file_id: str) -> dict:
        return self.request("DELETE", f"/api/v1/files/{file_id}")

    def upload_file(self, submission_id: str, kind: str, path, content_type: str | None = None, progress=None,
                    *, idempotency_key: str | None = None, digest: tuple[str, int] | None = None, opener=open) -> dict:
        """Hash, register, send and confirm one file; the stored file. See `uploads.upload_file`."""
        return upload_file(self, submission_id, kind, path, content_type=content_type, progress=progress,
                           idempotency_key=idempotency_key, digest=digest, opener=opener)

    def wait_for_check(self, file_id: str, timeout: float = 600.0, interval: float = 2.0, webhook=None) -> dict:
        """Poll the file until media has judged it (`check.verdict` set); the file. TimeoutError past `timeout`.
        With a `webhooks.CheckReceiver`, its `file_checked` delivery ends each pause early, and the pauses grow
        longer (the delivery, not the polling, is then what is waited for)."""
        deadline = time.monotonic() + timeout
        pause = interval * (10 if webhook else 1)
        while True:
            f = self.file(file_id)
            if (f.get("check") or {}).get("verdict"):
                return f
            if time.monotonic() >= deadline:
                raise TimeoutError(f"文件 {f.get('name', file_id)} 在 {timeout:g} 秒内没有检测结果。")
            left = min(pause, max(0.0, deadline - time.monotonic()))
            if webhook is None:
                time.sleep(left)
            elif webhook.wait(file_id, left):
                webhook, pause = None, interval  # heard: intake has the verdict by now or very soon; poll as before


def _json_or_none(r):
    try:
        return r.json()
    except ValueError:
        return None


def _retry_after(r) -> float | None:
    try:
        return max(0.0, float(r.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


__all__ = ["ApiError", "Client"]
