"""Webhook signing, verification and retry schedule (pure functions)."""
import hashlib
import hmac
import itertools
import random

import pytest

from services.notify import webhooks

BODY = '{"event":"submission.submitted","tenant":"seu","title":"战疫故事汇"}'.encode()
SECRET = "s3cr3t-of-the-seu-portal"
NOW = 1_594_692_000  # 2020-07-14 10:00 Beijing


def headers(body=BODY, secret=SECRET, now=NOW):
    return webhooks.signature_headers(body, secret, now, "dlv-0001", "submission.submitted")


# --------------------------------------------------------------------------- sign


def test_sign_known_answer():
    expected = hmac.new(SECRET.encode(), b"1594692000." + BODY, hashlib.sha256).hexdigest()
    assert webhooks.sign(BODY, SECRET, NOW) == expected


def test_sign_fixed_vector():
    # Written out so a change of the scheme (separator, order, encoding) shows up.
    expected = hmac.new(b"key", b"0.{}", hashlib.sha256).hexdigest()
    assert webhooks.sign(b"{}", "key", 0) == expected


def test_sign_depends_on_timestamp_body_and_secret():
    base = webhooks.sign(BODY, SECRET, NOW)
    assert webhooks.sign(BODY, SECRET, NOW + 1) != base
    assert webhooks.sign(BODY + b" ", SECRET, NOW) != base
    assert webhooks.sign(BODY, SECRET + "x", NOW) != base


@pytest.mark.parametrize("body", ["{}", None])
def test_sign_wants_raw_bytes(body):
    with pytest.raises(TypeError):
        webhooks.sign(body, SECRET, NOW)


def test_sign_refuses_empty_secret():
    with pytest.raises(ValueError):
        webhooks.sign(BODY, "", NOW)


def test_signature_headers():
    h = headers()
    assert h == {
        "X-Siyige-Timestamp": "1594692000",
        "X-Siyige-Signature": "v1=" + webhooks.sign(BODY, SECRET, NOW),
        "X-Siyige-Delivery": "dlv-0001",
        "X-Siyige-Event": "submission.submitted",
        "Content-Type": "application/json",
    }


# --------------------------------------------------------------------------- verify


def test_verify_accepts_fresh_signature():
    webhooks.verify(BODY, headers(), SECRET, NOW)


@pytest.mark.parametrize("delta", [-300, -1, 1, 300])
def test_verify_accepts_within_tolerance(delta):
    webhooks.verify(BODY, headers(), SECRET, NOW + delta)


def test_verify_accepts_lower_case_header_names():
    lowered = {k.lower(): v for k, v in headers().items()}
    webhooks.verify(BODY, lowered, SECRET, NOW)


def test_verify_accepts_any_of_several_signatures_during_rotation():
    h = headers()
    old = webhooks.sign(BODY, "old-secret", NOW)
    h["X-Siyige-Signature"] = f"v1={old}, {h['X-Siyige-Signature']}"
    webhooks.verify(BODY, h, SECRET, NOW)
    webhooks.verify(BODY, h, "old-secret", NOW)


@pytest.mark.parametrize("body", [BODY + b" ", BODY.replace(b"seu", b"sjt"), b"", BODY[:-1]])
def test_verify_rejects_tampered_body(body):
    with pytest.raises(ValueError, match="signature mismatch"):
        webhooks.verify(body, headers(), SECRET, NOW)


def test_verify_rejects_wrong_secret():
    with pytest.raises(ValueError, match="signature mismatch"):
        webhooks.verify(BODY, headers(), "another-tenant-secret", NOW)


def test_verify_rejects_changed_timestamp_header():
    h = headers()
    h["X-Siyige-Timestamp"] = str(NOW + 10)  # a replayer freshening the timestamp
    with pytest.raises(ValueError, match="signature mismatch"):
        webhooks.verify(BODY, h, SECRET, NOW + 10)


@pytest.mark.parametrize("later", [301, 3600, 86400 * 30])
def test_verify_rejects_stale_timestamp(later):
    with pytest.raises(ValueError, match="too old"):
        webhooks.verify(BODY, headers(), SECRET, NOW + later)


@pytest.mark.parametrize("earlier", [301, 3600])
def test_verify_rejects_future_timestamp(earlier):
    with pytest.raises(ValueError, match="future"):
        webhooks.verify(BODY, headers(), SECRET, NOW - earlier)


def test_verify_custom_tolerance():
    webhooks.verify(BODY, headers(), SECRET, NOW + 500, tolerance_s=600)
    with pytest.raises(ValueError, match="too old"):
        webhooks.verify(BODY, headers(), SECRET, NOW + 61, tolerance_s=60)


@pytest.mark.parametrize("drop", ["X-Siyige-Timestamp", "X-Siyige-Signature"])
def test_verify_rejects_missing_headers(drop):
    h = headers()
    del h[drop]
    with pytest.raises(ValueError, match=f"missing header.*{drop}"):
        webhooks.verify(BODY, h, SECRET, NOW)


def test_verify_rejects_no_headers():
    with pytest.raises(ValueError, match="missing header"):
        webhooks.verify(BODY, {}, SECRET, NOW)


@pytest.mark.parametrize("value", ["", "   "])
def test_verify_rejects_empty_header_as_missing(value):
    h = headers()
    h["X-Siyige-Signature"] = value
    with pytest.raises(ValueError, match="missing header"):
        webhooks.verify(BODY, h, SECRET, NOW)


@pytest.mark.parametrize("ts", ["abc", "-5", "+1594692000", "1594692000.0", "١٥٩٤٦٩٢٠٠٠", "9" * 40])
def test_verify_rejects_malformed_timestamp(ts):
    h = headers()
    h["X-Siyige-Timestamp"] = ts
    with pytest.raises(ValueError, match="Unix seconds"):
        webhooks.verify(BODY, h, SECRET, NOW)


@pytest.mark.parametrize("sig", ["deadbeef", "v0=abc", "v1=", "sha256=abc"])
def test_verify_rejects_malformed_signature_header(sig):
    h = headers()
    h["X-Siyige-Signature"] = sig
    with pytest.raises(ValueError, match="no 'v1=<hex>'"):
        webhooks.verify(BODY, h, SECRET, NOW)


@pytest.mark.parametrize("sig", ["v1=" + "0" * 64, "v1=不是十六进制", "v1=" + "a" * 1000])
def test_verify_rejects_wrong_or_garbage_signature(sig):
    h = headers()
    h["X-Siyige-Signature"] = sig
    with pytest.raises(ValueError, match="signature mismatch"):
        webhooks.verify(BODY, h, SECRET, NOW)


def test_verify_checks_signature_before_time():
    # A forged request is called a forgery even when its timestamp is also old.
    h = headers()
    with pytest.raises(ValueError, match="signature mismatch"):
        webhooks.verify(BODY + b"x", h, SECRET, NOW + 10_000)


# --------------------------------------------------------------------------- backoff


def test_backoff_ceiling_grows_by_factor_two_and_caps():
    ceilings = [webhooks.backoff_ceiling(a) for a in range(1, 20)]
    assert ceilings[:4] == [10, 20, 40, 80]
    assert all(b == min(2 * a, 6 * 3600) for a, b in itertools.pairwise(ceilings))
    assert ceilings[-1] == 6 * 3600
    assert webhooks.backoff_ceiling(10_000) == 6 * 3600  # no float overflow


@pytest.mark.parametrize("attempt", range(1, 25))
def test_jitter_within_bounds(attempt):
    rng = random.Random(attempt)
    ceiling = webhooks.backoff_ceiling(attempt)
    for _ in range(200):
        assert 0 <= webhooks.next_attempt_delay(attempt, rng) <= ceiling <= 6 * 3600


def test_delays_grow_on_average():
    rng = random.Random(7)
    means = [sum(webhooks.next_attempt_delay(a, rng) for _ in range(2000)) / 2000 for a in range(1, 12)]
    assert all(b > a for a, b in itertools.pairwise(means))
    assert means[0] == pytest.approx(5, rel=0.1)  # full jitter: half the ceiling on average


def test_jitter_is_deterministic_with_a_seeded_random():
    first = [webhooks.next_attempt_delay(a, random.Random(42)) for a in range(1, 13)]
    second = [webhooks.next_attempt_delay(a, random.Random(42)) for a in range(1, 13)]
    assert first == second
    rng1, rng2 = random.Random(1), random.Random(1)
    assert [webhooks.next_attempt_delay(3, rng1) for _ in range(5)] == \
           [webhooks.next_attempt_delay(3, rng2) for _ in range(5)]
    assert webhooks.next_attempt_delay(5, random.Random(1)) != webhooks.next_attempt_delay(5, random.Random(2))


def test_jitter_without_rng_still_within_bounds():
    assert 0 <= webhooks.next_attempt_delay(3) <= 40


@pytest.mark.parametrize("attempt", [0, -1, True, 1.0])
def test_backoff_refuses_bad_attempt(attempt):
    with pytest.raises(ValueError):
        webhooks.next_attempt_delay(attempt, random.Random(0))


def test_exhaustion():
    assert webhooks.MAX_ATTEMPTS == 12
    assert not any(webhooks.is_exhausted(a) for a in range(12))
    assert webhooks.is_exhausted(12) and webhooks.is_exhausted(13)


# --------------------------------------------------------------------------- secrets


def test_new_secret():
    secrets = {webhooks.new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for s in secrets:
        assert len(s) == 43  # 32 bytes, base64url without padding
        assert set(s) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    s = next(iter(secrets))
    webhooks.verify(BODY, headers(secret=s), s, NOW)
