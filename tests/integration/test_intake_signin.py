"""Signing in on intake's pages (issue #15): password, the second factor, e-mailed links, signing out, and the
hand-on to review and notify, as a browser does it, against a running intake with a real RabbitMQ."""
from __future__ import annotations

import re
import time

import pyotp
import pytest
import requests
from sqlalchemy import select

from common import handoff
from common.web import web_secret
from tests.integration.test_intake_accounts import STRONG, db, invitations_sent, invite, link_of, open_form, submit  # noqa: F401
from tests.integration.test_intake_api import intake  # noqa: F401  (fixture)
from tests.signin import form_token


def events(db, name, email=None):  # noqa: F811
    from services.intake.models import OutboxMessage

    with db.transaction() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.event_type == name)
                               .order_by(OutboxMessage.id)).all()
        found = [r.envelope for r in rows]
    return [e for e in found if email is None or e["data"].get("email") == email]


def person(intake, db, email, *grants, name="王宣传"):  # noqa: F811
    """An invited person who set their password through the invitation page; their account id."""
    r = invite(intake["seu"], email, *grants, name=name)
    assert r.status_code == 201, r.text
    url = link_of(invitations_sent(db, email)[-1])
    browser, page = open_form(url)
    assert submit(browser, url, STRONG, page=page).status_code == 200
    return r.json()["id"]


def sign_in(base, email, password=STRONG, web=None, to=None):
    web = web or requests.Session()
    page = web.get(f"{base}/sign-in" + (f"?to={to}" if to else ""), timeout=10)
    data = {"csrf_token": form_token(page.text), "email": email, "password": password}
    if to:
        data["to"] = to
    return web, web.post(f"{base}/sign-in", data=data, allow_redirects=False, timeout=30)


def post_form(web, url, page_html, **fields):
    return web.post(url, data={"csrf_token": form_token(page_html), **fields}, allow_redirects=False, timeout=30)


def signed_in_as(web, base) -> str | None:
    """The name the home page greets, or None when it sends the visitor to sign in."""
    r = web.get(f"{base}/", allow_redirects=False, timeout=10)
    if r.status_code != 200:
        assert r.status_code == 303 and r.headers["Location"] == "/sign-in", r.status_code
        return None
    return re.search(r"<h1>(.*?)</h1>", r.text).group(1)


def enrol(web, base) -> str:
    """Set up the authenticator on the enrolment page; its secret."""
    page = web.get(f"{base}/account/second-factor", timeout=10)
    assert page.status_code == 200 and "<svg" in page.text, page.text[:300]
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page.text).group(1)
    assert pyotp.TOTP(secret).provisioning_uri("x", issuer_name="x").startswith("otpauth://totp/")
    return secret, page.text


def test_an_expert_signs_in_with_a_password_is_handed_on_and_signing_out_ends_it_everywhere(intake, db):  # noqa: F811
    base = intake["base"]
    account_id = person(intake, db, "qian@seu.edu.cn", {"role": "expert"}, name="钱专家")
    web, r = sign_in(base, "QIAN@seu.edu.cn ")
    assert r.status_code == 303 and r.headers["Location"] == "/", r.text
    assert signed_in_as(web, base) == "钱专家"
    home = web.get(f"{base}/", timeout=10).text
    assert 'href="/supervision"' not in home and 'href="/audit"' not in home  # an expert chases nobody
    cookie = web.cookies.get("intake_session")
    assert cookie and "钱" not in cookie  # a signed random id, nothing of the person

    # the hand-on page carries a ticket for review only, with the person's grants, posted to review's sign-in
    page = web.get(f"{base}/go/review", timeout=10)
    assert page.status_code == 200 and intake["config"]["REVIEW_PUBLIC_URL"] + "/sign-in/ticket" in page.text
    ticket = re.search(r'name="ticket" value="([^"]+)"', page.text).group(1)
    secret = web_secret(intake["config"])
    held = handoff.read_ticket(secret, "review", ticket)
    assert held["account_id"] == account_id and held["email"] == "qian@seu.edu.cn"
    assert [(g["tenant"], g["role"]) for g in held["grants"]] == [("seu", "expert")]
    assert handoff.read_ticket(secret, "notify", ticket) is None  # a ticket for review opens nothing at notify
    assert web.get(f"{base}/go/elsewhere", timeout=10).status_code == 404

    # signing out: the session ends here, and review and notify are told to end theirs
    home = web.get(f"{base}/", timeout=10)
    r = post_form(web, f"{base}/sign-out", home.text)
    assert r.status_code == 303 and r.headers["Location"] == "/sign-in"
    assert signed_in_as(requests.Session(), base) is None
    web.cookies.set("intake_session", cookie)  # the old cookie, kept by someone: it opens nothing now
    assert signed_in_as(web, base) is None
    [ended] = events(db, "account_sessions_ended")
    assert ended["data"]["account_id"] == account_id and ended["data"]["reason"] == "signed_out"
    assert ended["data"]["intake_session"] == held["session"]
    actions = [e["action"] for e in intake["seu"]("GET", "/api/v1/audit").json()["items"]
               if e["action"].startswith("account.")]  # the fixture's org list and the seed's campaigns are logged too
    assert actions[:2] == ["account.signed_out", "account.signed_in"]


def test_a_wrong_password_and_an_unknown_address_read_the_same_and_tries_are_limited(intake, db):  # noqa: F811
    base = intake["base"]
    person(intake, db, "sun@seu.edu.cn", {"role": "viewer"})
    _, wrong = sign_in(base, "sun@seu.edu.cn", "not the password at all")
    _, unknown = sign_in(base, "nobody@seu.edu.cn", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    message = re.compile(r'role="alert">(.*?)</p>')
    assert message.search(wrong.text).group(1) == message.search(unknown.text).group(1)
    for _ in range(9):
        sign_in(base, "sun@seu.edu.cn", "wrong again, wrong again")
    _, locked = sign_in(base, "sun@seu.edu.cn")  # the right password waits too: else a guesser learns it
    assert locked.status_code == 429 and "秒后再试" in locked.text and int(locked.headers["Retry-After"]) > 0
    # a sign-in POST without its own form's token is refused before the password is looked at (login CSRF)
    r = requests.post(f"{base}/sign-in", data={"email": "x@seu.edu.cn", "password": STRONG}, timeout=10)
    assert r.status_code == 403


def test_a_department_admin_must_enrol_a_second_factor_and_give_a_code_each_time(intake, db):  # noqa: F811
    base = intake["base"]
    person(intake, db, "xc@seu.edu.cn", {"role": "department_admin", "department": "propaganda"})
    web, r = sign_in(base, "xc@seu.edu.cn", to="notify")
    assert r.status_code == 303 and r.headers["Location"] == "/account/second-factor"
    assert signed_in_as(web, base) is None  # half-way: the home page is not theirs yet
    assert web.get(f"{base}/go/notify", allow_redirects=False, timeout=10).status_code == 403
    secret, page = enrol(web, base)
    assert post_form(web, f"{base}/account/second-factor", page, code="000000").status_code == 401
    assert "6 位数字" in post_form(web, f"{base}/account/second-factor", page, code="12ab").text
    code = pyotp.TOTP(secret).now()
    r = post_form(web, f"{base}/account/second-factor", page, code=f"{code[:3]} {code[3:]}")  # as the app shows it
    assert r.status_code == 303 and r.headers["Location"] == "/go/notify"  # on to where they were going
    assert signed_in_as(web, base) == "王宣传"
    home = web.get(f"{base}/", timeout=10).text
    assert "已启用" in home and 'href="/supervision"' in home and 'href="/audit"' not in home  # links by role
    again = web.get(f"{base}/account/second-factor", timeout=10)  # the authenticator in use is never shown again
    assert again.status_code == 409 and secret not in again.text and "<svg" not in again.text
    assert post_form(web, f"{base}/account/second-factor", home, code=pyotp.TOTP(secret).now()).status_code == 409
    from services.intake.models import Account

    with db.transaction() as session:  # sealed at rest: the database alone gives nobody the codes
        stored = session.scalar(select(Account.totp_secret).where(Account.email == "xc@seu.edu.cn"))
    assert stored and secret not in stored

    # next time: password, then a code; the code just used does not work twice
    web2, r = sign_in(base, "xc@seu.edu.cn")
    assert r.status_code == 303 and r.headers["Location"] == "/sign-in/code"
    page = web2.get(f"{base}/sign-in/code", timeout=10)
    assert post_form(web2, f"{base}/sign-in/code", page.text, code=code).status_code == 401
    later = pyotp.TOTP(secret).at(time.time() + 30)  # the next step: accepted, phone clocks drift
    r = post_form(web2, f"{base}/sign-in/code", page.text, code=later)
    assert r.status_code == 303 and r.headers["Location"] == "/"
    assert signed_in_as(web2, base) == "王宣传"
    actions = [e["action"] for e in intake["seu"]("GET", "/api/v1/audit").json()["items"]
               if e["action"].startswith("account.")]  # the fixture's org list and the seed's campaigns are logged too
    assert actions[:3] == ["account.signed_in", "account.signed_in", "account.second_factor_enrolled"]


def test_a_forgotten_password_is_reset_by_mail_and_every_session_ends(intake, db):  # noqa: F811
    base = intake["base"]
    account_id = person(intake, db, "li@seu.edu.cn", {"role": "viewer"}, name="李老师")
    old_web, _ = sign_in(base, "li@seu.edu.cn")
    assert signed_in_as(old_web, base) == "李老师"

    answers = []
    for email in ("li@seu.edu.cn", "stranger@seu.edu.cn"):
        web = requests.Session()
        page = web.get(f"{base}/password-reset", timeout=10)
        answers.append(post_form(web, f"{base}/password-reset", page.text, email=email))
    assert answers[0].status_code == answers[1].status_code == 200
    assert answers[0].text.replace("li@", "X@") == answers[1].text.replace("stranger@", "X@")  # tells no one who exists
    [mail] = events(db, "account_link_requested")
    assert mail["data"]["purpose"] == "password_reset" and mail["data"]["account_id"] == account_id
    url = mail["data"]["url"]
    assert url.startswith(base + "/password-reset/")

    web = requests.Session()
    page = web.get(url, timeout=10)
    assert page.status_code == 200 and "李老师" in page.text
    r = post_form(web, url, page.text, password="1234567890", password_confirmation="1234567890")
    assert r.status_code == 400 and "不能全是数字" in r.text
    new = "新的密码也要足够长2021"
    r = post_form(web, url, page.text, password=new, password_confirmation=new)
    assert r.status_code == 200 and "新密码已设置" in r.text
    assert signed_in_as(old_web, base) is None  # the session opened with the old password ended
    [ended] = events(db, "account_sessions_ended")
    assert ended["data"] == {"account_id": account_id, "reason": "password_changed", "intake_session": None}
    assert sign_in(base, "li@seu.edu.cn")[1].status_code == 401
    assert sign_in(base, "li@seu.edu.cn", new)[1].status_code == 303
    again = web.get(url, timeout=10)
    assert again.status_code == 410 and "已经使用过" in again.text


def test_an_expert_signs_in_by_an_emailed_link_once_and_links_are_not_sent_without_limit(intake, db):  # noqa: F811
    base = intake["base"]
    person(intake, db, "zhao@seu.edu.cn", {"role": "expert"}, name="赵专家")
    person(intake, db, "boss@seu.edu.cn", {"role": "owner"}, name="周书记")

    def ask(email):
        web = requests.Session()
        page = web.get(f"{base}/sign-in/link", timeout=10)
        return post_form(web, f"{base}/sign-in/link", page.text, email=email)

    assert ask("zhao@seu.edu.cn").status_code == 200
    [first] = events(db, "account_link_requested", "zhao@seu.edu.cn")
    assert first["data"]["purpose"] == "sign_in" and first["data"]["requested_from"] == "127.0.0.1"
    assert ask("zhao@seu.edu.cn").status_code == 200
    older, newer = (e["data"]["url"] for e in events(db, "account_link_requested", "zhao@seu.edu.cn"))

    web = requests.Session()
    replaced = web.get(older, timeout=10)
    assert replaced.status_code == 410 and "更新的邮件取代" in replaced.text
    page = web.get(newer, timeout=10)
    assert page.status_code == 200 and signed_in_as(web, base) is None  # opening the link changes nothing
    r = post_form(web, newer, page.text)
    assert r.status_code == 303 and r.headers["Location"] == "/" and signed_in_as(web, base) == "赵专家"
    assert post_form(requests.Session(), newer, page.text).status_code in (403, 410)  # used up

    # a third and fourth request in a quarter of an hour: the page reads the same, no more mail
    assert ask("zhao@seu.edu.cn").status_code == 200
    assert ask("zhao@seu.edu.cn").status_code == 200
    assert len(events(db, "account_link_requested", "zhao@seu.edu.cn")) == 3

    # an owner's link still asks for the second factor (a mailbox alone does not open a university)
    ask("boss@seu.edu.cn")
    url = events(db, "account_link_requested", "boss@seu.edu.cn")[-1]["data"]["url"]
    web = requests.Session()
    page = web.get(url, timeout=10)
    r = post_form(web, url, page.text)
    assert r.status_code == 303 and r.headers["Location"] == "/account/second-factor"


def test_removing_a_grant_or_disabling_the_account_ends_the_persons_session(intake, db):  # noqa: F811
    base, seu = intake["base"], intake["seu"]
    account_id = person(intake, db, "wu@seu.edu.cn", {"role": "viewer"}, {"role": "expert"}, name="吴老师")
    web, _ = sign_in(base, "wu@seu.edu.cn")
    assert signed_in_as(web, base) == "吴老师"
    grant = seu("GET", f"/api/v1/accounts/{account_id}").json()["grants"][0]["id"]
    assert seu("DELETE", f"/api/v1/accounts/{account_id}/grants/{grant}").status_code == 200
    assert signed_in_as(web, base) is None
    web, _ = sign_in(base, "wu@seu.edu.cn")
    assert signed_in_as(web, base) == "吴老师"
    assert seu("POST", f"/api/v1/accounts/{account_id}/disable").status_code == 200
    assert signed_in_as(web, base) is None
    assert sign_in(base, "wu@seu.edu.cn")[1].status_code == 401  # and cannot sign in again
    reasons = [e["data"]["reason"] for e in events(db, "account_sessions_ended")]
    assert reasons == ["grant_removed", "disabled"]


@pytest.mark.parametrize("path", ["/", "/go/review", "/account/second-factor", "/sign-in/code"])
def test_pages_for_the_signed_in_refuse_a_stranger(intake, path):  # noqa: F811
    r = requests.get(intake["base"] + path, allow_redirects=False, timeout=10)
    assert r.status_code in (303, 401), r.status_code
    assert r.headers.get("Location") == "/sign-in"


def test_a_lost_phone_the_home_tenant_clears_the_authenticator_and_a_new_one_is_enrolled(intake, db):  # noqa: F811
    base, seu = intake["base"], intake["seu"]
    account_id = person(intake, db, "zheng@seu.edu.cn", {"role": "owner"}, name="郑书记")
    web, _ = sign_in(base, "zheng@seu.edu.cn")
    old, page = enrol(web, base)
    assert post_form(web, f"{base}/account/second-factor", page, code=pyotp.TOTP(old).now()).status_code == 303
    assert signed_in_as(web, base) == "郑书记"
    r = intake["wust"]("POST", f"/api/v1/accounts/{account_id}/second-factor/reset")
    assert r.status_code == 404  # not WUST's person
    r = seu("POST", f"/api/v1/accounts/{account_id}/second-factor/reset")
    assert r.status_code == 200, r.text
    assert signed_in_as(web, base) is None  # every session ended with it
    web, r = sign_in(base, "zheng@seu.edu.cn")
    assert r.headers["Location"] == "/account/second-factor"  # an owner enrols a new one first
    new, _ = enrol(web, base)
    assert new != old
    reasons = [e["data"]["reason"] for e in events(db, "account_sessions_ended")]
    assert reasons[-1] == "second_factor_changed"
    actions = [e["action"] for e in seu("GET", "/api/v1/audit", params={"action": "account.second_factor_reset"})
               .json()["items"]]
    assert actions == ["account.second_factor_reset"]
