"""Sign-in forms and every other POST of the pages come from our own pages (issue #14, item 12).

Login CSRF: a page elsewhere could post the attacker's key (or a reviewer link of the
attacker's) to our sign-in forms from a victim's browser; the victim then works, unaware,
in the attacker's session. The sign-in forms now carry a token bound to a pre-session
cookie that only their own page sets, and every state-changing POST is refused when the
browser says (Origin, else Referer) that it comes from another site.
"""
import requests

from tests.conftest import wait_until
from tests.integration.test_notify_service import key_events, publish as publish_intake, smtp  # noqa: F401
from tests.integration.test_review_service import ADMIN_KEY, INTAKE, csrf, publish, review, story, the_round  # noqa: F401  (fixture)
from tests.signin import form_token, redeem, sign_in, staffed_round

EVIL = "https://evil.example"


def test_a_sign_in_without_its_forms_token_is_refused_and_checks_no_key(review):  # noqa: F811
    base = review["base"]
    for data in ({"api_key": ADMIN_KEY}, {"api_key": ADMIN_KEY, "csrf_token": "0" * 64},
                 {"api_key": ADMIN_KEY, "csrf_token": "令牌"}):
        r = requests.post(f"{base}/sign-in", data=data, allow_redirects=False, timeout=10)
        assert r.status_code == 403 and "登录表单已过期或不是从本页提交的" in r.text
        assert "review_session" not in r.cookies
    # the attacker's own form token, posted from the victim's browser (which has no such cookie)
    attacker = requests.Session()
    token = form_token(attacker.get(f"{base}/sign-in", timeout=10).text)
    victim = requests.Session()
    victim.get(f"{base}/sign-in", timeout=10)  # the victim has a pre-session cookie of their own
    r = victim.post(f"{base}/sign-in", data={"api_key": ADMIN_KEY, "csrf_token": token}, allow_redirects=False)
    assert r.status_code == 403 and "review_session" not in r.cookies
    # refused before the key was looked at: none of these counted as a failed sign-in (the limit is 10)
    for _ in range(12):
        requests.post(f"{base}/sign-in", data={"api_key": "sk_review_wrong"}, timeout=10)
    assert sign_in(base, ADMIN_KEY)[1].status_code == 303


def test_a_reviewer_link_needs_its_pages_token_and_stays_usable_when_refused(review):  # noqa: F811
    base = review["base"]
    link = staffed_round(review, works=("o-cse",))["invites"][0]["sign_in_url"]
    r = requests.post(link, allow_redirects=False, timeout=10)  # an attacker's page posting the link
    assert r.status_code == 403 and "review_session" not in r.cookies and "进入评审" in r.text
    expert, r = redeem(link)  # the link was not used up by the refused attempt
    assert r.status_code == 303 and expert.get(f"{base}/queue").status_code == 200


def test_posts_from_another_sites_pages_are_refused(review):  # noqa: F811
    base, store = review["base"], review["store"]
    publish(review["amqp"], INTAKE, story("o-cse", 1))
    round_id = wait_until(lambda: the_round(store), timeout=20, what="the round")

    form = requests.Session()
    token = form_token(form.get(f"{base}/sign-in", timeout=10).text)
    for headers in ({"Origin": EVIL}, {"Origin": "null"}, {"Referer": f"{EVIL}/page.html"}):
        r = form.post(f"{base}/sign-in", data={"api_key": ADMIN_KEY, "csrf_token": token}, headers=headers,
                      allow_redirects=False, timeout=10)
        assert r.status_code == 403 and "请求来自其他网站" in r.text and "review_session" not in r.cookies, headers
    r = form.post(f"{base}/sign-in", data={"api_key": ADMIN_KEY, "csrf_token": token}, headers={"Origin": base},
                  allow_redirects=False, timeout=10)
    assert r.status_code == 303  # from our own page, as a browser sends it

    page_token = csrf(form.get(f"{base}/rounds/{round_id}").text)
    for path in (f"/rounds/{round_id}/close", "/sign-out"):
        r = form.post(base + path, data={"csrf_token": page_token}, headers={"Origin": EVIL}, allow_redirects=False)
        assert r.status_code == 403 and "请求来自其他网站" in r.text, path
    assert "评分中" in form.get(f"{base}/rounds/{round_id}").text  # still signed in, the round still open


def test_notifys_sign_in_form_has_its_token_and_its_origin_checked(make_config, start_service, sqlite_url,
                                                                   smtp):  # noqa: F811
    from services.notify.service import NotifyService

    config = make_config("notify", DATABASE_URL=sqlite_url, MAIL_URL=f"smtp://127.0.0.1:{smtp.port}")
    start_service(NotifyService, config)
    base = "http://" + config["WEB_SERVER_ADDRESS"]
    publish_intake(config["AMQP_URI"], key_events("seu", "university", "东南大学", "sk_seu_board"))
    wait_until(lambda: sign_in(base, "sk_seu_board")[1].status_code == 303, timeout=20, what="the key copy")
    r = requests.post(f"{base}/sign-in", data={"api_key": "sk_seu_board"}, allow_redirects=False, timeout=10)
    assert r.status_code == 403 and "notify_session" not in r.cookies and 'name="api_key"' in r.text
    web = requests.Session()
    token = form_token(web.get(f"{base}/sign-in", timeout=10).text)
    r = web.post(f"{base}/sign-in", data={"api_key": "sk_seu_board", "csrf_token": token},
                 headers={"Origin": EVIL}, allow_redirects=False, timeout=10)
    assert r.status_code == 403 and "请求来自其他网站" in r.text and "notify_session" not in r.cookies
