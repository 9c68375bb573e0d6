"""Signed tokens, sessions and CSRF tokens (common/web.py): they expire, a changed byte is refused,
a session lives in the database, and each service's cookies and keys are its own."""
import pytest
from sqlalchemy.orm import declarative_base
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from common.auth import same_secret
from common.db import Store
from common.errors import DomainError
from common.web import Sessions, Signer, end_sessions, session_model

SECRET = b"s" * 32
Base = declarative_base()
WebSession = session_model(Base)


@pytest.fixture
def store(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'sessions.db'}")
    Base.metadata.create_all(store.engine)
    yield store
    store.dispose()


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


@pytest.mark.parametrize("mac", ["签名", "é" * 27, "\ud800" * 27, "\x00", "a" * 10_000])
def test_a_signature_that_is_not_ascii_is_refused_not_an_error(mac):
    # hmac.compare_digest raises TypeError on non-ASCII str: /files/<token> answered 500 (issue #14 item 11)
    signer = Signer(SECRET, "file")
    data = signer.sign({"k": "x"}, ttl_s=900).split(".")[0]
    assert signer.unsign(f"{data}.{mac}") is None


def test_one_safe_comparison_for_every_secret_a_client_sends():
    assert same_secret("abc", "abc") and same_secret(b"abc", "abc")
    for sent in ("abd", "", None, "令牌", "\ud800", "ab", "abc\x00"):
        assert not same_secret(sent, "abc")


def request_with(cookies: dict, form: dict | None = None, method: str = "POST") -> Request:
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    builder = EnvironBuilder(method=method, data=form or {}, headers={"Cookie": header} if header else {})
    return Request(builder.get_environ())


def cookie_of(response: Response, name: str) -> str:
    for header in response.headers.getlist("Set-Cookie"):
        key, _, rest = header.partition("=")
        if key == name:
            return rest.split(";")[0]
    raise AssertionError(f"no {name} cookie in {response.headers.getlist('Set-Cookie')}")


def test_a_session_is_a_row_named_by_a_signed_id_in_an_http_only_cookie(store):
    sessions = Sessions(SECRET, "review", WebSession, ttl_s=60)
    response = Response()
    with store.transaction() as s:
        opened = sessions.open(s, response, role="admin", principal="keyhash-1", tenant="seu", kind="university")
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("review_session="))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Max-Age=60" in header
    cookie = cookie_of(response, "review_session")
    with store.transaction() as s:
        row = s.execute(WebSession.__table__.select()).one()
        assert row.principal == "keyhash-1" and opened["sid"] not in str(tuple(row))  # only its hash is kept
        current = sessions.current(s, request_with({"review_session": cookie}))
        assert current["tenant"] == "seu" and current["role"] == "admin" and current["kind"] == "university"
        assert sessions.current(s, request_with({"review_session": cookie + "x"})) is None
        assert sessions.current(s, request_with({})) is None
        # signing out deletes the row: the same cookie opens nothing any more
        sessions.close(s, current, Response())
        assert sessions.current(s, request_with({"review_session": cookie})) is None


def test_ending_a_principals_sessions_ends_each_of_them_and_no_other(store):
    sessions = Sessions(SECRET, "notify", WebSession)
    cookies = []
    with store.transaction() as s:
        for principal in ("revoked-key", "revoked-key", "other-key"):
            response = Response()
            sessions.open(s, response, role="university", principal=principal, tenant="seu")
            cookies.append(cookie_of(response, "notify_session"))
    with store.transaction() as s:
        assert end_sessions(s, WebSession, "revoked-key") == 2
    with store.transaction() as s:
        alive = [sessions.current(s, request_with({"notify_session": c})) is not None for c in cookies]
    assert alive == [False, False, True]


def test_another_services_cookie_is_not_a_session_here_even_on_the_same_host_and_secret(store):
    review, notify = Sessions(SECRET, "review", WebSession), Sessions(SECRET, "notify", WebSession)
    response = Response()
    with store.transaction() as s:
        review.open(s, response, role="reviewer", principal="r-1")
    cookie = cookie_of(response, "review_session")
    with store.transaction() as s:
        # not under notify's name, and not under its key either (even renamed, even with the row present)
        assert notify.current(s, request_with({"review_session": cookie})) is None
        assert notify.current(s, request_with({"notify_session": cookie})) is None
        assert review.current(s, request_with({"review_session": cookie})) is not None


def test_the_csrf_token_belongs_to_one_session_of_one_service():
    sessions = Sessions(SECRET, "review", WebSession)
    a, b = {"sid": "a" * 32}, {"sid": "b" * 32}
    assert sessions.csrf_token(a) != sessions.csrf_token(b)
    assert Sessions(SECRET, "notify", WebSession).csrf_token(a) != sessions.csrf_token(a)
    sessions.check_csrf(request_with({}, {"csrf_token": sessions.csrf_token(a)}), a)
    for sent in ({}, {"csrf_token": sessions.csrf_token(b)}, {"csrf_token": "0" * 64}, {"csrf_token": "令牌"},
                 {"csrf_token": "é" * 64}):
        with pytest.raises(DomainError) as refused:
            sessions.check_csrf(request_with({}, sent), a)
        assert refused.value.status == 403 and refused.value.code == "csrf_failed"


def test_a_sign_in_form_needs_the_token_its_own_pre_session_cookie_was_issued_with():
    sessions = Sessions(SECRET, "review", WebSession)
    nonce, token = sessions.pre_session(None)
    response = Response()
    sessions.set_pre_session(response, nonce)
    cookie = cookie_of(response, "review_presession")
    assert "HttpOnly" in response.headers["Set-Cookie"] and "SameSite=Lax" in response.headers["Set-Cookie"]
    sessions.check_pre_session(request_with({"review_presession": cookie}, {"csrf_token": token}))
    assert sessions.pre_session(request_with({"review_presession": cookie}, method="GET")) == (nonce, token)
    other_nonce, other_token = sessions.pre_session(None)
    for cookies, form in (({}, {"csrf_token": token}),  # an attacker's page: no cookie of the victim's
                          ({"review_presession": cookie}, {}),
                          ({"review_presession": cookie}, {"csrf_token": other_token}),  # the attacker's own token
                          ({"review_presession": cookie}, {"csrf_token": "令牌"}),
                          ({"notify_presession": cookie}, {"csrf_token": token})):
        with pytest.raises(DomainError) as refused:
            sessions.check_pre_session(request_with(cookies, form))
        assert refused.value.status == 403 and refused.value.code == "csrf_failed"
    # notify's pre-session cookie and token are not review's
    with pytest.raises(DomainError):
        Sessions(SECRET, "notify", WebSession).check_pre_session(
            request_with({"notify_presession": cookie}, {"csrf_token": token}))
