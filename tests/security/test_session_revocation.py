"""Sessions end when they should, at once and on every replica (issue #14, item 9).

Sessions were signed cookies with nothing kept on the server: a signed-out cookie, a
cookie opened with a key intake has since revoked, and a removed reviewer's cookie all
kept working for up to 8 hours. Now a session is a row in the service's database that
the cookie names; signing out, `api_key_revoked` and removing a reviewer delete rows.
Each test keeps the old cookie (as an attacker who copied it would) and replays it.
"""
import re

import requests
from sqlalchemy import select

from common.auth import hash_key
from common.events import make_event
from tests.conftest import wait_until
from tests.integration.test_notify_service import key_events, publish as publish_intake, smtp  # noqa: F401
from tests.integration.test_review_service import ADMIN_KEY, INTAKE, admin, csrf, publish, review, story, the_round  # noqa: F401  (fixture)
from tests.signin import redeem, sign_in, staffed_round


def replay(cookies: requests.cookies.RequestsCookieJar) -> requests.Session:
    """A fresh client carrying copies of these cookies: what someone who copied them could do."""
    web = requests.Session()
    for c in cookies:
        web.cookies.set(c.name, c.value)
    return web


def signed_out(r: requests.Response) -> bool:
    return r.status_code == 401 and "尚未登录或登录已失效" in r.text and 'name="api_key"' in r.text


def test_signing_out_ends_the_session_on_every_replica(review, make_config, start_service, sqlite_url):  # noqa: F811
    from services.review.service import ReviewService

    base, store = review["base"], review["store"]
    # a second replica: same database, same secret, its own port
    other = make_config("review", DATABASE_URL=sqlite_url, WEB_SECRET="test-secret", AMQP_URI=review["amqp"])
    start_service(ReviewService, other)
    replica = f"http://{other['WEB_SERVER_ADDRESS']}"
    publish(review["amqp"], INTAKE, story("o-cse", 1), story("o-me", 1))
    round_id = wait_until(lambda: the_round(store), timeout=20, what="the round")

    web = admin(base)
    copied = replay(web.cookies)
    assert copied.get(f"{replica}/rounds/{round_id}").status_code == 200  # the other replica knows the session
    token = csrf(web.get(f"{base}/rounds/{round_id}").text)
    assert web.post(f"{base}/sign-out", data={"csrf_token": token}, allow_redirects=False).status_code == 303
    for where in (replica, base):
        assert signed_out(copied.get(f"{where}/rounds/{round_id}")), where
    r = copied.post(f"{replica}/rounds/{round_id}/close", data={"csrf_token": token}, allow_redirects=False)
    assert signed_out(r)
    assert "评分中" in admin(base).get(f"{base}/rounds/{round_id}").text  # nothing was closed


def test_revoking_the_key_ends_every_session_opened_with_it(review):  # noqa: F811
    base, store = review["base"], review["store"]
    publish(review["amqp"], INTAKE, story("o-cse", 1), story("o-me", 1))
    round_id = wait_until(lambda: the_round(store), timeout=20, what="the round")
    first, second = admin(base), admin(base)  # two browsers signed in with the same key
    other_university = admin(base, "sk_review_admin_wust")
    for web in (first, second):
        assert web.get(f"{base}/rounds/{round_id}").status_code == 200

    publish(review["amqp"], INTAKE, make_event("api_key_revoked", "seu", {"key_hash": hash_key(ADMIN_KEY)}))
    from services.review.models import ApiKeyCopy

    def revoked():
        with store.transaction() as s:
            return s.get(ApiKeyCopy, hash_key(ADMIN_KEY)).revoked

    wait_until(revoked, timeout=20, what="the revocation handled")
    for web in (first, second):
        assert signed_out(web.get(f"{base}/rounds/{round_id}"))
        assert signed_out(web.get(f"{base}/rounds/{round_id}/export.xlsx"))
    assert sign_in(base, ADMIN_KEY)[1].status_code == 401  # and the key opens no new one
    assert other_university.get(f"{base}/").status_code == 200  # another key's session is untouched


def test_removing_a_reviewer_ends_their_session_and_hands_their_open_works_on(review):  # noqa: F811
    base, store = review["base"], review["store"]
    staffed = staffed_round(review, reviewers=2)
    web, token, round_id = staffed["admin"], staffed["token"], staffed["round_id"]
    invites = {i["email"]: i for i in staffed["invites"]}
    leaving = invites["e0@example.edu.cn"]
    expert, r = redeem(leaving["sign_in_url"])
    assert r.status_code == 303
    works = set(re.findall(r'href="/works/([0-9a-f]{32})"', expert.get(f"{base}/queue").text))
    assert works
    copied = replay(expert.cookies)

    r = web.post(f"{base}/rounds/{round_id}/reviewers/{leaving['reviewer_id']}/remove", data={"csrf_token": token})
    assert r.status_code == 200 and "（已移出）" in r.text
    assert f"已将该专家移出本轮，其登录已失效；未提交的作品 {len(works)} 件已改派给其他专家，0 件暂无可改派的专家" in r.text
    for client in (expert, copied):
        assert signed_out(client.get(f"{base}/queue"))
        assert signed_out(client.get(f"{base}/works/{next(iter(works))}"))
        page_token = csrf(web.get(f"{base}/rounds/{round_id}").text)  # any token: the session is gone first
        assert signed_out(client.post(f"{base}/works/{next(iter(works))}/score", data={
            "csrf_token": page_token, "action": "submit", "mark_thought": "9", "mark_appeal": "9", "mark_form": "9"},
            allow_redirects=False))
    # their works went to the colleague who stays
    from services.review.models import Assignment

    with store.transaction() as s:
        staying = invites["e1@example.edu.cn"]["reviewer_id"]
        holders = {a.submission_id: a.reviewer_id for a in s.scalars(
            select(Assignment).where(Assignment.round_id == round_id, Assignment.state == "assigned"))}
    assert set(holders.values()) == {staying} and len(holders) == 2


def test_revoking_the_key_signs_the_dashboard_out_too(make_config, start_service, sqlite_url, smtp):  # noqa: F811
    from common.db import Store
    from services.notify.models import ApiKeyCopy
    from services.notify.service import NotifyService

    config = make_config("notify", DATABASE_URL=sqlite_url, MAIL_URL=f"smtp://127.0.0.1:{smtp.port}")
    start_service(NotifyService, config)
    base, store = "http://" + config["WEB_SERVER_ADDRESS"], Store(sqlite_url)
    publish_intake(config["AMQP_URI"], key_events("seu", "university", "东南大学", "sk_seu_board"))

    def key_copy(revoked):
        with store.transaction() as s:
            row = s.get(ApiKeyCopy, hash_key("sk_seu_board"))
            return row is not None and row.revoked == revoked

    wait_until(lambda: key_copy(False), timeout=20, what="the key copy")
    web, r = sign_in(base, "sk_seu_board")
    assert r.status_code == 303 and web.get(f"{base}/dashboard").status_code == 200
    copied = replay(web.cookies)
    publish_intake(config["AMQP_URI"], make_event("api_key_revoked", "seu", {"key_hash": hash_key("sk_seu_board")}))
    wait_until(lambda: key_copy(True), timeout=20, what="the revocation handled")
    for client in (web, copied):
        for path in ("/dashboard", "/library", "/library/casebook.docx"):
            r = client.get(base + path, allow_redirects=False)
            assert r.status_code == 401 and 'name="api_key"' in r.text, (path, r.status_code)
