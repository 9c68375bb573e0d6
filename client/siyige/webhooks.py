"""Hearing check results by webhook instead of only polling: a small receiver for notify's signed deliveries
(`file_checked`), for a portal that runs the client on a machine notify can reach. The portal subscribes its URL at
notify (`POST /api/v1/webhooks`, README "Webhooks"); the receiver checks each delivery's signature and time, then
wakes whoever waits for that file. Polling stays the authority: a delivery only ends a wait early."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_S = 300  # notify's rule: refuse a timestamp more than 5 minutes off (a captured delivery replayed later)
MAX_BODY = 1024 * 1024


def authentic(body: bytes, timestamp: str | None, signature: str | None, secret: str, now: float | None = None) -> bool:
    """Notify's signature: `v1=` hex HMAC-SHA256 of "<timestamp>." + the raw body (several, comma-separated, while a
    secret is rotated), with a timestamp within 5 minutes of this clock."""
    if not timestamp or not signature or not timestamp.isascii() or not timestamp.isdigit():
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    given = [p.strip()[3:] for p in signature.split(",") if p.strip().startswith("v1=")]
    if not any(hmac.compare_digest(expected, g) for g in given):
        return False
    return abs((time.time() if now is None else now) - int(timestamp)) <= TOLERANCE_S


class CheckReceiver:
    """`with CheckReceiver(secret, port=8080) as hooks: client.wait_for_check(file_id, webhook=hooks)`."""

    def __init__(self, secret: str, host: str = "0.0.0.0", port: int = 0):
        self.secret, self.verdicts, self.changed = secret, {}, threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, MAX_BODY))
                ok = length <= MAX_BODY and authentic(body, self.headers.get("X-Siyige-Timestamp"),
                                                      self.headers.get("X-Siyige-Signature"), receiver.secret)
                self.send_response(204 if ok else 401)
                self.end_headers()
                if ok:
                    receiver.heard(body)

            def log_message(self, *args):  # the progress line is the client's output, not an access log
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def heard(self, body: bytes):
        try:
            event = json.loads(body)
        except ValueError:
            return
        data = event.get("data") or {} if isinstance(event, dict) else {}
        if event.get("type") == "file_checked" and data.get("file_id"):
            with self.changed:
                self.verdicts[data["file_id"]] = data
                self.changed.notify_all()

    def wait(self, file_id: str, seconds: float) -> dict | None:
        """The delivery for `file_id` if one arrives within `seconds`."""
        with self.changed:
            self.changed.wait_for(lambda: file_id in self.verdicts, timeout=seconds)
            return self.verdicts.get(file_id)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
