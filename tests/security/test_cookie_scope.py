"""Review's sessions are not notify's, nor the other way round (issue #14, item 10).

Browsers scope cookies by host, not port: on one host, notify receives review's cookies.
Both used the cookie name `session` and one signing key, so a reviewer's session opened
notify's case collection downloads, and `/dashboard` and `/library` answered 500 (KeyError).
Now each service has its own cookie names and keys derived per service and purpose, its
sessions live in its own database, and every page checks the role it needs.

Here both services run on 127.0.0.1 with the same WEB_SECRET (as compose and the embedded
default configure them), and every route of each is called with the other's cookies, as a
browser would send them, and renamed to the service's own cookie name, as an attacker could.

Since people sign in on intake (issue #15), intake's `intake_session` reaches review and notify the same
way, and theirs reach intake: none opens anything on another service, and a ticket intake hands on to one
service opens nothing at the other.
"""
import re

import requests

from tests.conftest import wait_until
from tests.integration.test_notify_service import smtp  # noqa: F401  (fixture)
from tests.integration.test_review_service import ADMIN_KEY, csrf, review  # noqa: F401  (fixture)
from tests.security.test_reviewer_blind import REVIEW_ACCESS
from tests.security.test_tenant_isolation import NOTIFY_ACCESS, routes
from tests.signin import redeem, sign_in, staffed_round

DUMMIES = {"token": "x", "path:name": "x", "sub_id": "0" * 32, "delivery_id": "0" * 32, "round_id": "0" * 32,
           "assignment_id": "0" * 32, "reviewer_id": "0" * 32}


def filled(url: str, ids: dict) -> str:
    for name, value in ids.items():
        url = url.replace(f"<string:{name}>", value).replace(f"<{name}>", value)
    return url


def as_own_cookie(cookies, service: str) -> dict:
    """Each foreign cookie value under this service's own session cookie name."""
    return [{f"{service}_session": c.value} for c in cookies]


def refused(r: requests.Response) -> bool:
    return 400 <= r.status_code < 500  # 401/403/404, or the body refused before the key (415 on a bare POST)


def start_notify(make_config, start_service, sqlite_url, smtp, **overrides):  # noqa: F811
    from services.notify.service import NotifyService

    config = make_config("notify", DATABASE_URL=sqlite_url.replace("service.db", "notify.db"), WEB_SECRET="test-secret",
                         MAIL_URL=f"smtp://127.0.0.1:{smtp.port}", **overrides)
    container = start_service(NotifyService, config)
    return container, "http://" + config["WEB_SERVER_ADDRESS"]


def review_browsers(review):  # noqa: F811
    """A review admin's and a reviewer's browsers, each signed in."""
    base = review["base"]
    staffed = staffed_round(review)
    web, round_id = staffed["admin"], staffed["round_id"]
    expert, r = redeem(staffed["invites"][0]["sign_in_url"])
    assert r.status_code == 303 and expert.get(f"{base}/queue").status_code == 200
    return web, expert, round_id


def test_review_cookies_open_nothing_on_notify(review, make_config, start_service, sqlite_url, smtp):  # noqa: F811
    notify, base = start_notify(make_config, start_service, sqlite_url, smtp)
    missing = routes(notify) - set(NOTIFY_ACCESS)
    assert not missing, f"classify these notify routes in NOTIFY_ACCESS: {sorted(missing)}"
    admin_browser, reviewer_browser, _ = review_browsers(review)
    # notify knows the review admin's key too (it is the university's API key): only cookies are on trial here
    wait_until(lambda: sign_in(base, ADMIN_KEY)[1].status_code == 303, timeout=20, what="notify's key copy")

    jars = [dict(b.cookies) for b in (admin_browser, reviewer_browser)]
    jars += as_own_cookie(admin_browser.cookies, "notify") + as_own_cookie(reviewer_browser.cookies, "notify")
    for cookies in jars:
        for (method, url), access in sorted(NOTIFY_ACCESS.items()):
            path = filled(url, DUMMIES)
            r = requests.request(method, base + path, cookies=cookies, allow_redirects=False, timeout=30)
            assert r.status_code < 500, (method, path, r.status_code, r.text[:300])
            if access == "public":
                continue
            assert refused(r), (cookies.keys(), method, path, r.status_code)
            if not path.startswith("/api/") and method == "GET" and access != "capability":
                # the page answers with the sign-in form, not an error page (and never the page itself)
                assert r.status_code == 401 and 'name="api_key"' in r.text, (path, r.text[:300])


def test_notify_cookies_open_nothing_on_review(review, make_config, start_service, sqlite_url, smtp):  # noqa: F811
    _, notify_base = start_notify(make_config, start_service, sqlite_url, smtp)
    missing = routes(review["container"]) - set(REVIEW_ACCESS)
    assert not missing, f"classify these review routes in REVIEW_ACCESS: {sorted(missing)}"
    admin_browser, reviewer_browser, round_id = review_browsers(review)
    board, r = wait_until(lambda: (x := sign_in(notify_base, ADMIN_KEY))[1].status_code == 303 and x, timeout=20,
                          what="notify's key copy")
    assert board.get(f"{notify_base}/dashboard").status_code == 200
    queue = reviewer_browser.get(f"{review['base']}/queue").text
    ids = {**DUMMIES, "round_id": round_id,
           "assignment_id": re.search(r'href="/works/([0-9a-f]{32})"', queue).group(1)}

    jars = [dict(board.cookies)] + as_own_cookie(board.cookies, "review")
    for cookies in jars:
        for (method, url), access in sorted(REVIEW_ACCESS.items()):
            path = filled(url, ids)
            r = requests.request(method, review["base"] + path, cookies=cookies, data={"csrf_token": "0" * 64},
                                 allow_redirects=False, timeout=30)
            assert r.status_code < 500, (method, path, r.status_code, r.text[:300])
            if access == "public" or path == "/":
                continue  # "/" sends a visitor without a session to the sign-in page (303)
            assert refused(r), (cookies.keys(), method, path, r.status_code)
            if method == "GET" and not path.startswith("/files/"):
                assert r.status_code == 401 and 'name="api_key"' in r.text, (path, r.text[:300])
    # the real sessions still work where they belong
    assert admin_browser.get(f"{review['base']}/rounds/{round_id}").status_code == 200
    assert reviewer_browser.get(f"{review['base']}/queue").status_code == 200


def test_each_review_page_wants_its_own_role(review):  # noqa: F811
    admin_browser, reviewer_browser, round_id = review_browsers(review)
    base = review["base"]
    queue = reviewer_browser.get(f"{base}/queue").text
    ids = {**DUMMIES, "round_id": round_id,
           "assignment_id": re.search(r'href="/works/([0-9a-f]{32})"', queue).group(1)}
    for (method, url), access in sorted(REVIEW_ACCESS.items()):
        if access not in ("admin", "reviewer") or url in ("/", "/sign-out", "/files/<string:token>"):
            continue
        wrong = reviewer_browser if access == "admin" else admin_browser
        page = wrong.get(f"{base}/queue" if wrong is reviewer_browser else f"{base}/rounds/{round_id}").text
        r = wrong.request(method, base + filled(url, ids), data={"csrf_token": csrf(page)}, allow_redirects=False,
                          timeout=30)
        # told what their own role is for (评审专家: their tasks; 管理员: the rounds), with the sign-in form below
        told = "您以评审专家身份登录" if wrong is reviewer_browser else "您以管理员身份"
        assert r.status_code == 403 and told in r.text and 'name="api_key"' in r.text, (method, url, r.status_code)


# --------------------------------------------------------------------------- intake's cookie, and theirs on intake


def test_intakes_cookie_opens_nothing_on_review_or_notify_and_theirs_nothing_on_intake(
        review, make_config, start_service, sqlite_url, smtp):  # noqa: F811
    """One host, three services: the person's intake session on review's and notify's routes, their sessions
    (a key's, a reviewer's link, a person's from intake's ticket) on intake's; a ticket for one opens nothing at the
    other. Each is the browser's cookie as sent, and renamed to the receiving service's own cookie name."""
    from common import clock
    from common.db import Store
    from tests.integration.test_intake_api import start_intake
    from tests.security.test_role_walk import (
        INTAKE_API,
        INTAKE_API_DEFAULT,
        INTAKE_WALK,
        answer_of,
        intake_member,
        matches,
        page_routes,
    )

    notify, notify_base = start_notify(make_config, start_service, sqlite_url, smtp, RATE_BAD_KEYS="100000")
    intake_url = sqlite_url.replace("service.db", "intake.db")
    # one address makes every call: the limit on calls with a wrong key (test_rate_limits) would answer 429 instead
    intake = start_intake(intake_url, make_config, start_service, WEB_SECRET="test-secret", RATE_BAD_KEYS="100000",
                          REVIEW_PUBLIC_URL=review["base"], NOTIFY_PUBLIC_URL=notify_base)
    db = Store(intake_url)
    try:
        base = intake["base"]
        owner = intake_member(intake, db, "owner")["web"]  # 东南大学's 单位管理员, password and authenticator
        assert owner.get(f"{base}/", allow_redirects=False, timeout=10).status_code == 200

        # a ticket for review opens review, and nothing at notify; one for notify the reverse
        tickets = {to: re.search(r'name="ticket" value="([^"]+)"', owner.get(f"{base}/go/{to}", timeout=10).text).group(1)
                   for to in ("review", "notify")}
        for ticket_for, elsewhere in (("review", notify_base), ("notify", review["base"])):
            r = requests.post(f"{elsewhere}/sign-in/ticket", data={"ticket": tickets[ticket_for]}, allow_redirects=False,
                              timeout=10)
            assert r.status_code == 401 and "登录凭据无效" in r.text and "_session=" not in r.headers.get("Set-Cookie", ""), \
                (ticket_for, elsewhere, r.status_code)
        review_person, notify_person = requests.Session(), requests.Session()
        r = review_person.post(f"{review['base']}/sign-in/ticket", data={"ticket": tickets["review"]},
                               allow_redirects=False, timeout=10)
        assert r.status_code == 303 and review_person.get(f"{review['base']}/", timeout=10).status_code == 200
        r = notify_person.post(f"{notify_base}/sign-in/ticket", data={"ticket": tickets["notify"]},
                               allow_redirects=False, timeout=10)
        assert r.status_code == 303 and notify_person.get(f"{notify_base}/dashboard", timeout=10).status_code == 200

        # intake's cookies on every route of review and notify that needs a session or a key
        intake_jars = [dict(owner.cookies), *as_own_cookie(owner.cookies, "review"), *as_own_cookie(owner.cookies, "notify")]
        assert any("intake_session" in jar for jar in intake_jars)
        for service_base, access, reached in ((review["base"], REVIEW_ACCESS, routes(review["container"])),
                                              (notify_base, NOTIFY_ACCESS, routes(notify))):
            assert reached <= set(access), f"classify: {sorted(reached - set(access))}"
            for cookies in intake_jars:
                for (method, url), kind in sorted(access.items()):
                    if kind == "public":
                        continue
                    path = filled(url, DUMMIES)
                    r = requests.request(method, service_base + path, cookies=cookies, data={"csrf_token": "0" * 64},
                                         allow_redirects=False, timeout=30)
                    assert r.status_code < 500 and (refused(r) or (path, r.status_code) == ("/", 303)), \
                        (sorted(cookies), method, path, r.status_code)
                    if method == "GET" and path == "/":
                        assert r.headers["Location"] == "/sign-in"
                    elif method == "GET" and not path.startswith(("/api/", "/files/")):
                        assert r.status_code == 401 and 'name="api_key"' in r.text, (path, r.status_code)

        # review's and notify's cookies on every intake route that needs a session or a key: as without any cookie
        admin_browser, reviewer_browser, _ = review_browsers(review)
        board, r = wait_until(lambda: (x := sign_in(notify_base, ADMIN_KEY))[1].status_code == 303 and x, timeout=20,
                              what="notify's key copy")
        theirs = [admin_browser, reviewer_browser, review_person, board, notify_person]
        jars = [dict(b.cookies) for b in theirs] + [jar for b in theirs for jar in as_own_cookie(b.cookies, "intake")]
        pages = page_routes(intake["container"])
        expected = {route: row["anonymous"] for route, row in INTAKE_WALK.items()}
        expected.update({route: INTAKE_API.get(route, INTAKE_API_DEFAULT)["anonymous"]
                         for route in routes(intake["container"]) - pages})
        assert set(expected) == routes(intake["container"]), "classify every intake route in test_role_walk"
        guarded = {route: answer for route, answer in expected.items() if answer in ("401", "303 /sign-in", "401 key")}
        assert len(guarded) > 40, sorted(guarded)
        for cookies in jars:
            for (method, url), anonymous in sorted(guarded.items()):
                path, verb = re.sub(r"<(?:string|path):\w+>", "0" * 32, url), method.split(",")[0]
                body = {} if verb == "GET" else {"json": {}} if url.startswith("/api/") else {"data": {"csrf_token": "0" * 64}}
                r = requests.request(verb, base + path, cookies=cookies, allow_redirects=False, timeout=30, **body)
                assert matches(answer_of(r), anonymous), (sorted(cookies), verb, path, answer_of(r), anonymous, r.text[:200])
        # every session still works where it belongs
        assert owner.get(f"{base}/", allow_redirects=False, timeout=10).status_code == 200
        assert review_person.get(f"{review['base']}/", timeout=10).status_code == 200
        assert notify_person.get(f"{notify_base}/dashboard", timeout=10).status_code == 200
    finally:
        db.dispose()
        clock.set_start(None)
