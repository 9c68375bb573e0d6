"""People signed in on the platform open notify's pages, and notify mails them their sign-in and reset links (issue #15).

Against a real RabbitMQ, notify started by the fixtures and a real SMTP server. Tickets are minted as intake
mints them (common.handoff, with notify's WEB_SECRET) and posted the way intake's page posts them.
"""
import mailbox
import re
import time
from email.header import decode_header, make_header

import pytest
import requests

from common import handoff
from common.events import make_event
from common.web import web_secret
from tests import signin
from tests.conftest import wait_until
from tests.integration.test_notify_dashboard import two_universities
from tests.integration.test_notify_service import notify, publish, smtp  # noqa: F401  (fixtures)

MINISTRY = {"tenant": "ministry", "tenant_kind": "ministry", "tenant_name": "教育部思想政治工作司"}
SEU = {"tenant": "seu", "tenant_kind": "university", "tenant_name": "东南大学"}
WUST = {"tenant": "wust", "tenant_kind": "university", "tenant_name": "武汉科技大学"}
SUBMITTED = re.compile(r"<b>(\d+)</b>件作品已提交")


def grant(where: dict, role: str, department=None, org_id=None) -> dict:
    return {**where, "role": role, "department": department, "org_id": org_id}


def ticket(config, grants, *, account="a-1", service="notify", intake_session="s" * 64, name="王老师") -> str:
    return handoff.issue_ticket(web_secret(config), service, account_id=account, name=name,
                                email=f"{account}@seu.edu.cn", grants=grants, session=intake_session,
                                session_expires=time.time() + 3600)


def hand_over(base, token, origin=None) -> tuple[requests.Session, requests.Response]:
    """Post the ticket as intake's page does (no Origin header: no browser page; or intake's origin)."""
    web = requests.Session()
    headers = {"Origin": origin} if origin else {}
    r = web.post(f"{base}/sign-in/ticket", data={handoff.TICKET_FIELD: token}, headers=headers,
                 allow_redirects=False, timeout=10)
    return web, r


def submitted_works(html: str) -> int:
    return int(SUBMITTED.search(html).group(1))


def tracks_shown(html: str) -> list[str]:
    table = re.search(r'<table class="list" id="tracks">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return re.findall(r"<tr><td>([^<]*)</td>", table)


def wust_story():
    return make_event("submission_submitted", "wust", {
        "submission_id": "s-w-1", "campaign_id": "siyige-2020-wust", "track": "story", "stage": "submission",
        "final_stage": True, "org_id": "w-1", "org_name": "资源与环境工程学院党委", "org_level": "level2",
        "title": "资环学院战疫故事", "receipt_no": "WUST-00001", "submitted_at": "2020-07-14T02:00:00+00:00",
        "file_ids": [], "contact_email": "w1@demo.local"})


@pytest.fixture
def progress(notify):  # noqa: F811
    """Two universities with campaigns and orgs, one story submitted at each; notify's base URL."""
    base = "http://" + notify["container"].config["WEB_SERVER_ADDRESS"]
    publish(notify["amqp"], *two_universities(wust_story()))
    web, r = hand_over(base, ticket(notify["container"].config, [grant(MINISTRY, "viewer")], account="a-wait"))
    assert r.status_code == 303, r.text
    wait_until(lambda: submitted_works(web.get(f"{base}/dashboard", timeout=10).text) == 2, timeout=20,
               what="both stories on the ministry's dashboard")
    return {**notify, "base": base, "config": notify["container"].config}


def test_the_ministrys_viewer_sees_every_university_and_a_universitys_people_only_theirs(progress):
    base, config = progress["base"], progress["config"]
    web, r = hand_over(base, ticket(config, [grant(MINISTRY, "viewer")]))
    assert r.status_code == 303 and r.headers["Location"] == "/dashboard" and "notify_session" in r.cookies
    html = web.get(f"{base}/dashboard", timeout=10).text
    assert "全国高校进度" in html and "东南大学" in html and "武汉科技大学" in html and 'id="laggards"' in html
    assert "王老师" in html  # the person is named in the page's header
    assert web.get(f"{base}/library", timeout=10).status_code == 200

    for role in ("owner", "viewer"):
        own, r = hand_over(base, ticket(config, [grant(SEU, role), grant(WUST, "expert")]))
        assert r.status_code == 303, r.text
        html = own.get(f"{base}/dashboard", timeout=10).text
        assert "东南大学进度" in html and "武汉科技大学" not in html and 'id="laggards"' not in html
        assert submitted_works(html) == 1  # SEU's story, not WUST's
        # a university they hold no grant in (an expert's grant shows no progress) is refused, not shown
        other = own.get(f"{base}/dashboard", params={"university": "wust"}, timeout=10)
        assert other.status_code == 403 and "武汉科技大学进度" not in other.text and "只能查看：东南大学" in other.text


def test_a_key_still_signs_in_as_its_university_or_the_ministry(progress):
    base = progress["base"]
    ministry, r = signin.sign_in(base, "sk_ministry")
    assert r.status_code == 303 and submitted_works(ministry.get(f"{base}/dashboard", timeout=10).text) == 2
    seu, r = signin.sign_in(base, "sk_seu")
    html = seu.get(f"{base}/dashboard", timeout=10).text
    assert "东南大学进度" in html and "武汉科技大学" not in html and submitted_works(html) == 1
    assert '<select name="university">' not in html
    assert seu.get(f"{base}/dashboard", params={"university": "seu"}, timeout=10).status_code == 200
    assert seu.get(f"{base}/dashboard", params={"university": "wust"}, timeout=10).status_code == 403


def test_a_department_admin_sees_the_tracks_its_university_routes_to_its_department(progress):
    base, config = progress["base"], progress["config"]
    web, _ = hand_over(base, ticket(config, [grant(WUST, "department_admin", department="propaganda")]))
    html = web.get(f"{base}/dashboard", timeout=10).text
    assert "武汉科技大学党委宣传部进度" in html
    assert submitted_works(html) == 0  # WUST's story goes to its 组织部
    shown = tracks_shown(html)
    assert len(shown) == 2 and not any("故事" in t or "党课" in t for t in shown), shown
    assert 'value="story"' not in html  # nor does the track menu offer them

    web, _ = hand_over(base, ticket(config, [grant(WUST, "department_admin", department="organisation")]))
    html = web.get(f"{base}/dashboard", timeout=10).text
    assert "武汉科技大学党委组织部进度" in html and submitted_works(html) == 1
    # the ministry's three 组织部 tracks and WUST's own register, by their Chinese names
    assert sorted(tracks_shown(html)) == sorted(["专题微党课", "战疫故事汇", "组织生活会情况", "红色防火墙台账"])
    # SEU routes every track to its 组织部: its 宣传部 sees no track at all
    web, _ = hand_over(base, ticket(config, [grant(SEU, "department_admin", department="propaganda")]))
    html = web.get(f"{base}/dashboard", timeout=10).text
    assert "东南大学党委宣传部进度" in html and submitted_works(html) == 0 and tracks_shown(html) == []


def test_someone_with_two_universities_sees_the_first_and_switches_only_between_them(progress):
    base, config = progress["base"], progress["config"]
    web, _ = hand_over(base, ticket(config, [grant(WUST, "viewer"), grant(SEU, "department_admin", "organisation")]))
    html = web.get(f"{base}/dashboard", timeout=10).text
    assert "武汉科技大学进度" in html and '<select name="university">' in html and submitted_works(html) == 1
    seu = web.get(f"{base}/dashboard", params={"university": "seu"}, timeout=10).text
    assert "东南大学党委组织部进度" in seu and submitted_works(seu) == 1
    assert web.get(f"{base}/dashboard", params={"university": "pku"}, timeout=10).status_code == 403


@pytest.mark.parametrize("grants", [
    [grant(SEU, "expert")],
    [grant(MINISTRY, "expert")],
    [grant(SEU, "org_admin", org_id="o-cse")],  # progress is not counted per org: left out, not shown the university
    [grant(SEU, "viewer", org_id="o-cse")],
    [],
], ids=["expert", "ministry-expert", "org-admin", "org-viewer", "no-grants"])
def test_experts_and_people_without_a_grant_for_progress_get_403(progress, grants):
    base, config = progress["base"], progress["config"]
    web, r = hand_over(base, ticket(config, grants))
    assert r.status_code == 403 and "没有可用的角色" in r.text and "notify_session" not in r.cookies
    assert web.get(f"{base}/dashboard", allow_redirects=False, timeout=10).status_code == 401


def test_a_ticket_opens_one_session_for_notify_only_and_only_from_intakes_pages(progress):
    base, config = progress["base"], progress["config"]
    viewer = [grant(SEU, "viewer")]
    # a ticket minted for review opens nothing here
    web, r = hand_over(base, ticket(config, viewer, service="review"))
    assert r.status_code == 401 and "登录凭据无效" in r.text and "notify_session" not in r.cookies
    assert web.get(f"{base}/dashboard", allow_redirects=False, timeout=10).status_code == 401

    # from another site: refused before it is read, so the ticket is still good from intake's page
    token = ticket(config, viewer)
    web, r = hand_over(base, token, origin="https://evil.example")
    assert r.status_code == 403 and "notify_session" not in r.cookies
    web, r = hand_over(base, token, origin=config["INTAKE_PUBLIC_URL"])
    assert r.status_code == 303 and web.get(f"{base}/dashboard", timeout=10).status_code == 200
    # used once
    again, r = hand_over(base, token)
    assert r.status_code == 403 and "已使用过" in r.text and "notify_session" not in r.cookies


def test_account_sessions_ended_closes_the_persons_pages_here(progress):
    base, config = progress["base"], progress["config"]
    viewer = [grant(SEU, "viewer")]
    laptop, _ = hand_over(base, ticket(config, viewer, account="a-7", intake_session="L" * 64))
    phone, _ = hand_over(base, ticket(config, viewer, account="a-7", intake_session="P" * 64))
    colleague, _ = hand_over(base, ticket(config, viewer, account="a-8", intake_session="C" * 64))

    def status(web):
        return web.get(f"{base}/dashboard", allow_redirects=False, timeout=10).status_code

    assert [status(w) for w in (laptop, phone, colleague)] == [200, 200, 200]
    # signed out on the laptop: that session only
    publish(progress["amqp"], make_event("account_sessions_ended", "seu", {
        "account_id": "a-7", "reason": "signed_out", "intake_session": "L" * 64}))
    wait_until(lambda: status(laptop) == 401, timeout=20, what="the laptop's session ended")
    assert status(phone) == 200 and status(colleague) == 200
    # the account disabled: every session of it
    publish(progress["amqp"], make_event("account_sessions_ended", "seu", {"account_id": "a-7", "reason": "disabled"}))
    wait_until(lambda: status(phone) == 401, timeout=20, what="the phone's session ended")
    assert status(colleague) == 200


# --------------------------------------------------------------------------- the link mails


def received(smtp) -> list[dict]:  # noqa: F811
    box = mailbox.Maildir(smtp.maildir, create=True)
    return [{"to": m["To"], "subject": str(make_header(decode_header(m["Subject"]))), "headers": [k.lower() for k in m],
             "body": m.get_payload(decode=True).decode("utf-8")} for m in box]


def link_requested(purpose: str, name="李华", email="lihua@seu.edu.cn", url="http://localhost:8000/sign-in/link/tok-1",
                   requested_from="203.0.113.7"):
    return make_event("account_link_requested", "seu", {
        "account_id": "a-1", "name": name, "email": email, "purpose": purpose, "url": url,
        "link_expires_at": "2020-07-28T08:00:00+00:00", "requested_from": requested_from})


def test_the_sign_in_and_password_reset_links_are_mailed_once_each(notify, smtp):  # noqa: F811
    smtp.start()
    sign_in = link_requested("sign_in")
    reset = link_requested("password_reset", url="http://localhost:8000/password-reset/tok-2", requested_from=None)
    publish(notify["amqp"], sign_in, sign_in, reset, reset)  # each delivered twice: mailed once
    got = wait_until(lambda: (m := received(smtp)) and len(m) >= 2 and m, timeout=30, what="the two link mails")
    link = next(m for m in got if "平台登录链接" in m["subject"])
    assert link["to"] == "lihua@seu.edu.cn" and "李华" in link["subject"]
    assert "http://localhost:8000/sign-in/link/tok-1" in link["body"] and "2020年07月28日 16:00" in link["body"]
    assert "北京时间" in link["body"] and "使用一次" in link["body"] and "203.0.113.7" in link["body"]
    assert "请忽略本邮件" in link["body"]
    new_password = next(m for m in got if "重设密码" in m["subject"])
    assert "http://localhost:8000/password-reset/tok-2" in new_password["body"]
    assert "2020年07月28日 16:00" in new_password["body"] and "使用一次" in new_password["body"]
    assert "请忽略本邮件" in new_password["body"] and "未记录" in new_password["body"]  # no address was recorded
    assert "tok-1" not in new_password["body"]
    time.sleep(1)
    assert len(received(smtp)) == 2


@pytest.mark.parametrize("purpose", ["sign_in", "password_reset"])
def test_a_name_with_a_line_separator_makes_no_second_header_in_a_link_mail(notify, smtp, purpose):  # noqa: F811
    smtp.start()
    for n, sep in enumerate(("\r\n", "\u2028", "\x85")):
        publish(notify["amqp"], link_requested(purpose, name=f"王五{sep}Bcc: victim@example.com",
                                               email=f"wangwu{n}@seu.edu.cn"))
    got = wait_until(lambda: (m := received(smtp)) and len(m) == 3 and m, timeout=30, what="three link mails")
    for mail in got:
        assert len(mail["subject"].splitlines()) == 1 and "王五 Bcc: victim@example.com" in mail["subject"]
        assert not {"bcc", "cc"} & set(mail["headers"]), mail["headers"]
        assert mail["to"].startswith("wangwu")


def test_the_sign_in_page_links_to_signing_in_on_the_platform(notify):  # noqa: F811
    config = notify["container"].config
    html = requests.get(f"http://{config['WEB_SERVER_ADDRESS']}/sign-in", timeout=10).text
    assert f'<a href="{config["INTAKE_PUBLIC_URL"]}/sign-in?to=notify">使用平台账号登录</a>' in html
    assert 'name="api_key"' in html  # a key still signs in
