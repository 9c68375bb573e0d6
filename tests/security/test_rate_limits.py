"""Rate limits on sign-in and upload (issue #7): guessing keys or sign-in links, and flooding uploads,
are refused with 429, a Retry-After and a Chinese message; limits come from the service config."""
import hashlib

import pytest
import requests

from common import clock
from tests.integration.test_intake_api import start_intake
from tests.integration.test_notify_dashboard import sign_in
from tests.integration.test_notify_service import key_events, publish, smtp  # noqa: F401  (fixture)
from tests.conftest import wait_until


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


def test_failed_sign_ins_lock_the_address_out_for_a_while(make_config, start_service, sqlite_url, smtp):  # noqa: F811
    from services.notify.service import NotifyService

    config = make_config("notify", DATABASE_URL=sqlite_url, MAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
                         RATE_FAILED_SIGN_INS="2")
    container = start_service(NotifyService, config)
    base = "http://" + container.config["WEB_SERVER_ADDRESS"]
    publish(config["AMQP_URI"], key_events("seu", "university", "东南大学", "sk_seu_right"))
    wait_until(lambda: requests.get(f"{base}/api/v1/feed/progress", headers={"Authorization": "Bearer sk_seu_right"},
                                    timeout=10).status_code == 200, timeout=20, what="the key copy")
    assert sign_in(base, "sk_seu_right")[1].status_code == 303
    for n in range(2):
        assert sign_in(base, f"sk_wrong_{n}")[1].status_code == 401
    _, r = sign_in(base, "sk_seu_right")
    assert r.status_code == 429 and "登录失败次数过多" in r.text and int(r.headers["Retry-After"]) > 0
    assert "session" not in r.cookies


def test_guessing_reviewer_sign_in_links_is_refused_after_ten_tries(make_config, start_service, sqlite_url):
    from services.review.service import ReviewService

    config = make_config("review", DATABASE_URL=sqlite_url, WEB_SECRET="test-secret")
    container = start_service(ReviewService, config)
    base = "http://" + container.config["WEB_SERVER_ADDRESS"]
    for n in range(10):  # the default: 10 failures per address per 5 minutes
        r = requests.post(f"{base}/sign-in/guess{n:04d}", allow_redirects=False, timeout=10)
        assert r.status_code == 401, r.status_code  # unknown link
    r = requests.post(f"{base}/sign-in/guess9999", allow_redirects=False, timeout=10)
    assert r.status_code == 429 and "登录失败次数过多" in r.text and "Retry-After" in r.headers
