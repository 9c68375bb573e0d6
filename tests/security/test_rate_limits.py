"""Rate limits on sign-in and upload (issue #7, issue #14 item 12): guessing keys or sign-in links, and flooding uploads,
are refused with 429, a Retry-After and a Chinese message; limits come from the service config."""
import hashlib

import pytest
import requests
from sqlalchemy import func, select

from common import clock
from common.db import Store
from tests.conftest import wait_until
from tests.integration.test_intake_api import start_intake
from tests.integration.test_notify_service import key_events, publish, smtp  # noqa: F401  (fixture)
from tests.signin import redeem, sign_in


@pytest.fixture
def limited_intake(sqlite_url, make_config, start_service):
    yield start_intake(sqlite_url, make_config, start_service, RATE_BAD_KEYS="3", RATE_UPLOADS="2")
    clock.set_start(None)


def test_a_client_that_keeps_sending_wrong_keys_is_told_to_wait(limited_intake):
    base, seu = limited_intake["base"], limited_intake["seu"]
    for n in range(3):
        r = requests.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer sk_guess_{n}"}, timeout=10)
        assert r.status_code == 401
    r = requests.get(f"{base}/api/v1/me", headers={"Authorization": "Bearer sk_guess_4"}, timeout=10)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 200
    error = r.json()["error"]
    assert error["code"] == "too_many_requests" and "秒后再试" in error["message"]
    # from that address even a right key waits: answering it would tell a guesser which key is right
    assert seu("GET", "/api/v1/me").status_code == 429


def test_upload_registrations_per_university_are_limited(limited_intake):
    seu, wust = limited_intake["seu"], limited_intake["wust"]
    work = seu.draft("siyige-2020-seu", "lecture", "机械工程学院党委", title="题目", lecturers=["张书记"])
    data = b"\x00\x00\x00\x18ftypmp42" + bytes(200)
    body = {"kind": "video", "filename": "党课.mp4", "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "content_type": "video/mp4"}
    for _ in range(2):
        assert seu("POST", f"/api/v1/submissions/{work['id']}/files", json=body).status_code == 201
    r = seu("POST", f"/api/v1/submissions/{work['id']}/files", json=body)
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_requests" and "Retry-After" in r.headers
    assert "登记上传文件过于频繁" in r.json()["error"]["message"]
    # another university has its own allowance
    other = wust.draft("siyige-2020-wust", "lecture", "资源与环境工程学院党委", title="题目", lecturers=["李书记"])
    assert wust("POST", f"/api/v1/submissions/{other['id']}/files", json=body).status_code == 201


@pytest.fixture
def limited_notify(make_config, start_service, sqlite_url, smtp):  # noqa: F811
    from services.notify.models import ApiKeyCopy
    from services.notify.service import NotifyService

    config = make_config("notify", DATABASE_URL=sqlite_url, MAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
                         RATE_FAILED_SIGN_INS="2", RATE_FAILED_SIGN_INS_PER_ADDRESS="5", RATE_BAD_KEYS="3")
    start_service(NotifyService, config)
    base = "http://" + config["WEB_SERVER_ADDRESS"]
    publish(config["AMQP_URI"], key_events("seu", "university", "东南大学", "sk_seu_right"),
            key_events("wust", "university", "武汉科技大学", "sk_wust_right"))
    store = Store(sqlite_url)

    def copies():  # read from the database: asking the API would count as wrong keys until they arrive
        with store.transaction() as s:
            return s.scalar(select(func.count()).select_from(ApiKeyCopy)) == 2

    wait_until(copies, timeout=20, what="the key copies")
    return base


def test_failed_sign_ins_lock_out_the_key_prefix_but_not_everyone_behind_the_address(limited_notify):
    base = limited_notify
    assert sign_in(base, "sk_seu_right")[1].status_code == 303
    for n in range(2):  # the same prefix as 东南大学's key (its first 10 characters): someone guessing it
        assert sign_in(base, f"sk_seu_rigX{n}")[1].status_code == 401
    _, r = sign_in(base, "sk_seu_right")
    assert r.status_code == 429 and "登录失败次数过多" in r.text and int(r.headers["Retry-After"]) > 0
    assert "notify_session" not in r.cookies
    # A campus behind one NAT address: another university's officer there still signs in.
    assert sign_in(base, "sk_wust_right")[1].status_code == 303


def test_the_address_has_a_higher_limit_of_its_own(limited_notify):
    base = limited_notify
    for n in range(5):  # five different wrong keys: no prefix reaches its limit, the address does
        assert sign_in(base, f"sk_typo_{n}_long")[1].status_code == 401
    _, r = sign_in(base, "sk_wust_right")
    assert r.status_code == 429 and "登录失败次数过多" in r.text


def test_notifys_api_tells_a_client_sending_wrong_keys_to_wait(limited_notify):
    base = limited_notify
    feed = f"{base}/api/v1/feed/progress"
    for n in range(3):
        r = requests.get(feed, headers={"Authorization": f"Bearer sk_guess_{n}"}, timeout=10)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    r = requests.get(feed, headers={"Authorization": "Bearer sk_guess_4"}, timeout=10)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 200
    assert r.json()["error"]["code"] == "too_many_requests" and "秒后再试" in r.json()["error"]["message"]
    # from that address even a right key waits: answering it would tell a guesser which key is right
    assert requests.get(feed, headers={"Authorization": "Bearer sk_seu_right"}, timeout=10).status_code == 429


def test_guessing_reviewer_sign_in_links_is_refused_per_link_and_per_address(make_config, start_service, sqlite_url):
    from services.review.service import ReviewService

    config = make_config("review", DATABASE_URL=sqlite_url, WEB_SECRET="test-secret",
                         RATE_FAILED_SIGN_INS="2", RATE_FAILED_SIGN_INS_PER_ADDRESS="6")
    start_service(ReviewService, config)
    base = "http://" + config["WEB_SERVER_ADDRESS"]
    for _ in range(2):  # one link tried again and again (a forwarded, used-up link)
        assert redeem(f"{base}/sign-in/used-link")[1].status_code == 401
    _, r = redeem(f"{base}/sign-in/used-link")
    assert r.status_code == 429 and "登录失败次数过多" in r.text and "Retry-After" in r.headers
    for n in range(4):  # other links from the same address: up to the address's own limit (6)
        assert redeem(f"{base}/sign-in/guess{n:04d}")[1].status_code == 401, n
    _, r = redeem(f"{base}/sign-in/guess9999")
    assert r.status_code == 429 and "登录失败次数过多" in r.text
