"""Signed tokens, sessions and CSRF tokens (common/web.py): they expire, and a changed byte is refused."""
import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from common.errors import DomainError
from common.web import SESSION_COOKIE, Sessions, Signer

SECRET = b"s" * 32


def test_a_signed_token_expires_and_cannot_be_altered_or_reused_for_another_purpose():
    signer = Signer(SECRET, "file")
    token = signer.sign({"k": "derived/seu/f1/review.jpg"}, ttl_s=900, now=1_000_000)
    assert signer.unsign(token, now=1_000_899)["k"] == "derived/seu/f1/review.jpg"
    assert signer.unsign(token, now=1_000_901) is None  # expired
    data, mac = token.split(".")
    assert signer.unsign(data[:-2] + ("AA" if data[-2:] != "AA" else "BB") + "." + mac, now=1_000_000) is None
    assert Signer(SECRET, "session").unsign(token, now=1_000_000) is None  # a file link is not a session
    assert Signer(b"t" * 32, "file").unsign(token, now=1_000_000) is None  # another secret
    assert signer.unsign("garbage", now=1_000_000) is None and signer.unsign("", now=1_000_000) is None


def request_with(cookie: str, form: dict | None = None) -> Request:
    builder = EnvironBuilder(method="POST", data=form or {}, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
    return Request(builder.get_environ())


def test_a_session_cookie_is_http_only_same_site_and_expires():
    sessions = Sessions(SECRET, ttl_s=60)
    response = Response()
    session = sessions.start(response, role="admin", tenant="seu")
    header = response.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Max-Age=60" in header
    cookie = header.split(";")[0].split("=", 1)[1]
    assert sessions.read(request_with(cookie))["tenant"] == "seu"
    assert Sessions(SECRET, ttl_s=60)._signer.unsign(cookie, now=10**12) is None  # expired later on
    assert session["sid"] and sessions.read(request_with(cookie + "x")) is None


def test_the_csrf_token_belongs_to_one_session():
    sessions = Sessions(SECRET)
    a, b = {"sid": "a" * 32}, {"sid": "b" * 32}
    assert sessions.csrf_token(a) != sessions.csrf_token(b)
    sessions.check_csrf(request_with("x", {"csrf_token": sessions.csrf_token(a)}), a)
    for sent in ({}, {"csrf_token": sessions.csrf_token(b)}, {"csrf_token": "0" * 64}):
        with pytest.raises(DomainError) as refused:
            sessions.check_csrf(request_with("x", sent), a)
        assert refused.value.status == 403 and refused.value.code == "csrf_failed"
