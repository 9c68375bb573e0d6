"""Signed webhooks to university portals: signing, verification, retry schedule.

What portal developers are told (and what `verify` does):

* Every delivery is an HTTP POST with a JSON body and these headers::

      X-Siyige-Timestamp: 1594692000          (Unix seconds when we signed it)
      X-Siyige-Signature: v1=<hex>            (HMAC-SHA256, see below)
      X-Siyige-Delivery:  <delivery id>       (the same on every retry and replay)
      X-Siyige-Event:     submission_submitted
      Content-Type:       application/json

* The events a portal may subscribe to, each about its own university only
  (the body's `tenant` is always the subscribing university; portal.py builds
  those that are not delivered as published): `submission_submitted`,
  `submission_withdrawn`, `extension_granted`, `file_checked`,
  `selection_result` (one per work), `campaign_published` (its audience's),
  `deadline_reminder`. Another name is refused: 422 `unknown_event_type`.

* The signature is ``hex(HMAC-SHA256(secret, f"{timestamp}." + raw_body))``
  with the subscription's secret. Compute it over the raw bytes you received,
  before any JSON parsing: re-serialising changes bytes and breaks it.
* Compare in constant time, and refuse a timestamp more than 5 minutes from
  your clock: signing the timestamp with the body is what stops a captured
  request from being replayed later.
* Within those 5 minutes, and on our retries, the same delivery can arrive
  more than once: process idempotently by `X-Siyige-Delivery`. An admin's
  replay re-sends a logged delivery under its original id with a fresh
  timestamp and signature, to be used after your side lost or failed it.
* `X-Siyige-Signature` may carry several comma-separated `v1=` values (while a
  secret is being rotated); accept the request if any of them matches.
* The timestamp is real time (Unix seconds), also when the platform runs on a
  rehearsal clock (`PLATFORM_CLOCK_START`).
* The receiver must be reachable on a public address, on port 80, 443, 8080 or
  8443, without `user:pass@` in the URL (destinations.py; the operator's
  `WEBHOOK_ALLOW_HOSTS` lets receivers on premises through). Answer within 10
  seconds, status line included: a delivery that takes longer counts as failed
  and is retried. Only your status code is kept, never your response body.
"""
from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from collections.abc import Mapping

SIGNATURE_SCHEME = "v1"
TIMESTAMP_HEADER = "X-Siyige-Timestamp"
SIGNATURE_HEADER = "X-Siyige-Signature"
DELIVERY_HEADER = "X-Siyige-Delivery"
EVENT_HEADER = "X-Siyige-Event"
DEFAULT_TOLERANCE_S = 300

# Retry schedule. With 12 attempts the uncapped ceilings before attempts 2..12
# are 10 s, 20 s, ... 10 240 s: at most ~5.7 h of retries in total, and the
# 6 h cap only binds for attempt numbers beyond MAX_ATTEMPTS (e.g. replays
# that keep counting). Longer outages are what the admin's replay is for.
BASE_DELAY_S = 10.0
BACKOFF_FACTOR = 2
MAX_DELAY_S = 6 * 3600.0
MAX_ATTEMPTS = 12

_default_rng = random.SystemRandom()


def _check_body(body: bytes) -> bytes:
    if not isinstance(body, (bytes, bytearray, memoryview)):
        # A str would have to be encoded by us, and a receiver that signs the
        # bytes it actually got could then disagree: insist on the raw bytes.
        raise TypeError(f"body must be the raw request bytes, got {type(body).__name__}")
    return bytes(body)


def _check_secret(secret: str) -> bytes:
    if not isinstance(secret, str) or not secret:
        raise ValueError("secret must be a non-empty string")
    return secret.encode("utf-8")


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """Lower-case hex HMAC-SHA256 of ``f"{timestamp}.".encode() + body``."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise TypeError(f"timestamp must be an int (Unix seconds), got {timestamp!r}")
    message = f"{timestamp}.".encode("ascii") + _check_body(body)
    return hmac.new(_check_secret(secret), message, hashlib.sha256).hexdigest()


def signature_headers(body: bytes, secret: str, now: int, delivery_id: str, event_type: str) -> dict:
    """The headers of one delivery attempt; `now` is signed, so compute them per attempt."""
    return {
        TIMESTAMP_HEADER: str(now),
        SIGNATURE_HEADER: f"{SIGNATURE_SCHEME}={sign(body, secret, now)}",
        DELIVERY_HEADER: delivery_id,
        EVENT_HEADER: event_type,
        "Content-Type": "application/json",
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # HTTP header names are case-insensitive and frameworks differ in how they
    # spell them (Flask keeps case, Django/ASGI lower-case them).
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted:
            # A blank value counts as absent: some proxies keep the name and drop the value.
            return value.strip() if isinstance(value, str) and value.strip() else None
    return None


def verify(body: bytes, headers: Mapping[str, str], secret: str, now: int,
           tolerance_s: int = DEFAULT_TOLERANCE_S) -> None:
    """Return if the delivery is authentic and fresh; raise ValueError saying why not.

    The signature is checked before the time window, so "outside the
    tolerance" is only ever said of a genuine request: a replay or a clock
    that is off, not a forgery.
    """
    body = _check_body(body)
    missing = [h for h in (TIMESTAMP_HEADER, SIGNATURE_HEADER) if not _header(headers, h)]
    if missing:
        raise ValueError(f"missing header(s): {', '.join(missing)}")
    raw_ts = _header(headers, TIMESTAMP_HEADER)
    # Digits only: int() would also take "+1", " 1", "1_000" and non-ASCII
    # digits, which would sign differently from what a receiver reads.
    if not (raw_ts.isascii() and raw_ts.isdigit()) or len(raw_ts) > 12:
        raise ValueError(f"{TIMESTAMP_HEADER} must be Unix seconds as an integer, got {raw_ts[:40]!r}")
    timestamp = int(raw_ts)
    candidates = []
    for part in _header(headers, SIGNATURE_HEADER).split(","):
        scheme, sep, value = part.strip().partition("=")
        if sep and scheme == SIGNATURE_SCHEME and value:
            candidates.append(value.strip())
    if not candidates:
        raise ValueError(f"{SIGNATURE_HEADER} has no '{SIGNATURE_SCHEME}=<hex>' signature")
    expected = sign(body, secret, timestamp)
    # compare_digest on ASCII bytes: constant time, and no TypeError on
    # non-ASCII input an attacker might send.
    if not any(hmac.compare_digest(expected.encode("ascii"), c.lower().encode("utf-8")) for c in candidates):
        raise ValueError("signature mismatch: wrong secret, or the body was changed after signing")
    age = now - timestamp
    if age > tolerance_s:
        raise ValueError(f"timestamp too old: signed {age} s ago, tolerance is {tolerance_s} s (possible replay)")
    if age < -tolerance_s:
        raise ValueError(f"timestamp in the future: {-age} s ahead, tolerance is {tolerance_s} s (check clocks)")


def backoff_ceiling(attempt: int) -> float:
    """The upper bound of the wait after failed attempt number `attempt` (1-based)."""
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise ValueError(f"attempt must be an int >= 1, got {attempt!r}")
    # Clamp the exponent: 2 ** attempt as a float overflows for large attempt
    # numbers, and anything past 2 ** 32 is far beyond the cap anyway.
    exponent = min(attempt - 1, 32)
    return min(MAX_DELAY_S, BASE_DELAY_S * BACKOFF_FACTOR ** exponent)


def next_attempt_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 = the first try).

    "Full jitter": uniform in [0, ceiling]. Spreading retries over the whole
    window keeps the deliveries that failed together (a portal that went down)
    from all hitting it again in the same second when it comes back. Pass a
    seeded `random.Random` for a reproducible schedule (tests, simulations).
    """
    ceiling = backoff_ceiling(attempt)
    return (rng if rng is not None else _default_rng).uniform(0.0, ceiling)


def is_exhausted(attempt: int) -> bool:
    """True when `attempt` attempts have been made and no further one is due."""
    return attempt >= MAX_ATTEMPTS


def new_secret() -> str:
    """A fresh per-subscription signing secret: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)
