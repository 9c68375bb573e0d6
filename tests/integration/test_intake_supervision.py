"""Supervision (督查, issue #15) over HTTP against a running intake with a real RabbitMQ, on SQLite and PostgreSQL:
people signed in (password, and the authenticator owners and department admins must enrol) see who in their scope
has not submitted, export it, and remind a track's list in one action; the ministry sees the universities that
have forwarded nothing.

武汉科技大学 routes 教育素材 and 成果宣传报道 to its 党委宣传部, the other tracks to 组织部; 东南大学 routes every
track to 组织部. The clock stands at 2020-06-12 while works are made, then moves past WUST's deadlines.
"""
from __future__ import annotations

import io
import re
from datetime import datetime

import eventlet
import pyotp
import requests
from openpyxl import load_workbook
from sqlalchemy import select as sql_select

from common import clock
from tests.conftest import wait_until
from tests.integration.test_intake_accounts import STRONG, audit, db, invitations_sent, invite, link_of, open_form, submit  # noqa: F401
from tests.integration.test_intake_api import intake, select  # noqa: F401  (fixture)
from tests.integration.test_intake_signin import enrol, post_form, sign_in
from tests.signin import form_token

HOSTILE = '=HYPERLINK("http://evil.example","点击")'
WUST_ORGS = (
    "名称,层级,上级组织,联系人,邮箱,电话\n"
    "资源与环境工程学院党委,二级党组织,,张老师,res@wust.test,027-68880001\n"
    "材料与冶金学院党委,二级党组织,,李老师,mat@wust.test,\n"
    f"马克思主义学院党委,二级党组织,,\"{HOSTILE.replace(chr(34), chr(34) * 2)}\",,\n"
    "资源学院教工党支部,党支部,资源与环境工程学院党委,,bres@wust.test,\n"
    "材料学院学生党支部,党支部,材料与冶金学院党委,,bmat@wust.test,\n"
).encode("utf-8")
MATERIAL_OPEN = datetime.fromisoformat("2020-09-10T10:00:00+08:00")
LATE = datetime.fromisoformat("2020-10-17T10:00:00+08:00")  # 教育素材 was due 10-15 23:59:59: 逾期 2 天


# --------------------------------------------------------------------------- helpers


def member(db, portal, email, *grants, name):  # noqa: F811
    """A person the portal's tenant invited, who set their password; their account id."""
    r = invite(portal, email, *grants, name=name)
    assert r.status_code in (200, 201), r.text
    if r.status_code == 201:
        url = link_of(invitations_sent(db, email)[-1])
        browser, page = open_form(url)
        assert submit(browser, url, STRONG, page=page).status_code == 200
    return r.json()["id"]


def signed_in(base, email) -> requests.Session:
    """Password, then (for owners and department admins) the authenticator enrolled on the spot."""
    web, r = sign_in(base, email)
    assert r.status_code == 303, r.text
    if r.headers["Location"] == "/account/second-factor":
        secret, page = enrol(web, base)
        r = post_form(web, f"{base}/account/second-factor", page, code=pyotp.TOTP(secret).now())
    assert r.status_code == 303 and r.headers["Location"] == "/", r.text
    return web


def tracks(html: str) -> dict[str, dict[str, list[str]]]:
    """Per track section: the org ids of its rows, each with its cells' text."""
    found = {}
    for key, body in re.findall(r'<section class="track" id="track-(\w+)">(.*?)</section>', html, re.S):
        found[key] = {org: [re.sub(r"<[^>]+>", " ", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
                      for org, row in re.findall(r'<tr class="behind" data-org="([^"]+)">(.*?)</tr>', body, re.S)}
    return found


def remind(web, base, page_html, **fields):
    return web.post(f"{base}/supervision/remind", data={"csrf_token": form_token(page_html), **fields},
                    allow_redirects=False, timeout=30)


def reminders_sent(db):  # noqa: F811
    from services.intake.models import OutboxMessage

    with db.transaction() as session:
        return [r.envelope for r in session.scalars(sql_select(OutboxMessage).where(
            OutboxMessage.event_type == "supervision_reminded").order_by(OutboxMessage.id))]


def reminded_rows(portal):
    return audit(portal, action="supervision.reminded", per_page=200)["items"]


def wust_with_works(intake):  # noqa: F811
    """WUST's colleges and branches with contacts; 资源 has submitted its 教育素材, 材料 has a draft of one."""
    wust = intake["wust"]
    r = wust("POST", "/api/v1/orgs/import", data=WUST_ORGS, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    done = wust.draft("siyige-2020-wust", "material", "资源与环境工程学院党委", title="资源与环境工程学院党委战疫素材",
                      form="article")
    made_at = clock.now()
    clock.set_start(MATERIAL_OPEN)  # the collection takes submissions from 9/1 (「秋季开学后」)
    assert wust("POST", f"/api/v1/submissions/{done['id']}/submit").status_code == 200
    clock.set_start(made_at)
    wust.draft("siyige-2020-wust", "material", "材料与冶金学院党委", title="材料与冶金学院党委战疫素材", form="media")
    return {name: wust.org_id(name) for name in ("资源与环境工程学院党委", "材料与冶金学院党委", "马克思主义学院党委",
                                                 "资源学院教工党支部", "材料学院学生党支部")}


# --------------------------------------------------------------------------- a department admin


def test_a_propaganda_admin_sees_only_its_tracks_and_a_double_click_reminds_once(intake, db):  # noqa: F811
    wust, base = intake["wust"], intake["base"]
    ids = wust_with_works(intake)
    account = member(db, wust, "xc@wust.edu.cn", {"role": "department_admin", "department": "propaganda"},
                     name="王宣传")
    web = signed_in(base, "xc@wust.edu.cn")
    clock.set_start(LATE)

    page = web.get(f"{base}/supervision", timeout=30)
    assert page.status_code == 200, page.text
    assert "督查 · 武汉科技大学" in page.text and "部门管理员（党委宣传部）" in page.text
    shown = tracks(page.text)
    assert list(shown) == ["material", "report"]  # 宣传部's tracks in WUST's campaign, nothing of 组织部's
    material = shown["material"]
    assert set(material) == {ids["材料与冶金学院党委"], ids["马克思主义学院党委"]}  # 资源 submitted
    late = material[ids["材料与冶金学院党委"]]
    assert late[0] == "材料与冶金学院党委" and "李老师" in late[1] and "mat@wust.test" in late[1]
    assert re.fullmatch(r"2020-06-12 \d\d:\d\d", late[2])  # last activity, Beijing time
    assert late[3] == "已创建草稿，尚未提交" and late[4] == "提交素材：2020-10-15 23:59" and late[5] == "逾期 2 天"
    assert material[ids["马克思主义学院党委"]][3] == "尚未创建作品"
    assert "应提交 3 个组织，已提交 1 个，未提交 <strong>2</strong> 个" in page.text
    # a track of 组织部's, asked for by name: not theirs
    assert web.get(f"{base}/supervision", params={"track": "lecture"}, timeout=10).status_code == 404
    assert remind(web, base, page.text, track="lecture", campaign_id="siyige-2020-wust").status_code == 404

    # a double click: two posts of the same form at once, then a third after the answer
    fields = {"tenant": "wust", "campaign_id": "wust.siyige-2020-wust", "track": "material", "shown_track": ""}
    pool = eventlet.GreenPool()
    answers = list(pool.imap(lambda _: remind(web, base, page.text, **fields), range(2)))
    answers.append(remind(web, base, page.text, **fields))
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text[:300] for a in answers]
    said = sorted(re.search(r'<p class="reminded">(.*?)</p>', a.text).group(1) for a in answers)
    assert said == ["已向 0 个组织发送“教育素材”的督办提醒邮件。"] * 2 + ["已向 1 个组织发送“教育素材”的督办提醒邮件。"]
    assert all("马克思主义学院党委" in a.text and "没有联系邮箱" in a.text for a in answers if "已向 1 个" in a.text)
    assert sum("今天已经提醒过" in a.text for a in answers) == 2

    [event] = reminders_sent(db)
    assert event["tenant"] == "wust"
    data = event["data"]
    assert (data["campaign_id"], data["track"], data["track_label"]) == ("wust.siyige-2020-wust", "material", "教育素材")
    assert data["asked_by"] == {"account_id": account, "name": "王宣传", "email": "xc@wust.edu.cn",
                                "role": "部门管理员（党委宣传部）"}
    assert data["recipients"] == [{
        "org_id": ids["材料与冶金学院党委"], "name": "材料与冶金学院党委", "level": "level2",
        "contact_email": "mat@wust.test", "contact_name": "李老师", "stage": "submission", "stage_label": "提交素材",
        "deadline": "2020-10-15T23:59:59+08:00", "days_late": 2}]
    [row] = reminded_rows(wust)
    assert (row["actor"], row["object_type"], row["object_id"], row["address"]) == (
        f"account:{account} (王宣传)", "campaign", "wust.siyige-2020-wust", "127.0.0.1")
    assert row["detail"] == {"track": "material", "count": 1} and row["action_label"] == "发送督办提醒"

    # the next day the same list may be reminded again
    clock.set_start(clock.now() + (LATE.replace(day=18) - LATE))
    again = web.get(f"{base}/supervision", timeout=30)
    assert "已向 1 个组织" in remind(web, base, again.text, **fields).text
    assert [e["data"]["recipients"][0]["days_late"] for e in reminders_sent(db)] == [2, 3]
    # a form without the page's token changes nothing
    forged = web.post(f"{base}/supervision/remind", data=fields, allow_redirects=False, timeout=10)
    assert forged.status_code == 403 and len(reminders_sent(db)) == 2


# --------------------------------------------------------------------------- an org admin, a viewer, others


def test_an_org_admin_sees_and_reminds_only_its_subtree(intake, db):  # noqa: F811
    wust, base = intake["wust"], intake["base"]
    ids = wust_with_works(intake)
    member(db, wust, "res@wust.edu.cn", {"role": "org_admin", "org_id": ids["资源与环境工程学院党委"]}, name="赵书记")
    web = signed_in(base, "res@wust.edu.cn")
    clock.set_start(LATE)
    page = web.get(f"{base}/supervision", timeout=30)
    shown = tracks(page.text)
    # every track, its orgs only; WUST's own register last
    assert list(shown) == ["lecture", "story", "meeting_report", "material", "report", "firewall"]
    assert set(shown["lecture"]) == {ids["资源与环境工程学院党委"], ids["资源学院教工党支部"]}
    assert set(shown["story"]) == {ids["资源与环境工程学院党委"]}
    assert set(shown["meeting_report"]) == {ids["资源与环境工程学院党委"]}  # WUST's colleges file it for their branches
    assert shown["material"] == {}  # its college submitted
    # a register with no date: no one is late, but the page lists who has registered nothing yet
    assert set(shown["firewall"]) == {ids["资源与环境工程学院党委"], ids["资源学院教工党支部"]}
    assert "登记：未设截止时间" in page.text
    assert not any(name in page.text for name in ("材料与冶金学院党委", "材料学院学生党支部", "马克思主义学院党委"))
    r = remind(web, base, page.text, tenant="wust", campaign_id="siyige-2020-wust", track="lecture")
    assert r.status_code == 200 and "已向 2 个组织" in r.text
    [event] = reminders_sent(db)
    assert {x["org_id"] for x in event["data"]["recipients"]} == {ids["资源与环境工程学院党委"], ids["资源学院教工党支部"]}
    assert event["data"]["asked_by"]["role"] == "组织管理员（资源与环境工程学院党委）"


def test_a_viewer_reads_and_exports_but_may_not_remind_and_other_tenants_answer_404(intake, db):  # noqa: F811
    wust, base = intake["wust"], intake["base"]
    ids = wust_with_works(intake)
    member(db, wust, "kan@wust.edu.cn", {"role": "viewer"}, name="钱查看")
    web = signed_in(base, "kan@wust.edu.cn")
    clock.set_start(LATE)
    page = web.get(f"{base}/supervision", timeout=30)
    assert page.status_code == 200 and 'action="/supervision/remind"' not in page.text
    assert "查看者（只读）" in page.text
    assert len(tracks(page.text)) == 6  # the ministry's five and WUST's own register
    home = web.get(f"{base}/", timeout=10).text  # the page has no form to remind with: the session's token from home
    r = remind(web, base, home, tenant="wust", campaign_id="siyige-2020-wust", track="material")
    assert r.status_code == 403 and "只有查看权限" in r.text
    assert reminders_sent(db) == [] and reminded_rows(wust) == []

    # the export: the same rows, opened by openpyxl; a contact's name that looks like a formula stays text
    export = web.get(f"{base}/supervision.xlsx", params={"track": "material"}, timeout=30)
    assert export.status_code == 200 and export.headers["Content-Disposition"].startswith("attachment;")
    sheet = load_workbook(io.BytesIO(export.content))["督查名单"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][0].startswith("武汉科技大学 督查名单") and rows[1][:3] == ["赛道", "层级", "组织"]
    by_org = {row[2]: row for row in rows[2:]}
    assert set(by_org) == {"材料与冶金学院党委", "马克思主义学院党委"}
    assert by_org["材料与冶金学院党委"][4:] == ["mat@wust.test", None, "已创建草稿，尚未提交", "提交素材",
                                         datetime(2020, 10, 15, 23, 59, 59), 2, by_org["材料与冶金学院党委"][10]]
    assert isinstance(by_org["材料与冶金学院党委"][10], datetime)
    cells = {c.value: c for row in sheet.iter_rows(min_row=3) for c in row}
    assert cells[HOSTILE].data_type == "s"  # text, not a formula
    everything = load_workbook(io.BytesIO(web.get(f"{base}/supervision.xlsx", timeout=30).content))["督查名单"]
    assert {row[0].value for row in everything.iter_rows(min_row=3)} == {
        "专题微党课", "战疫故事汇", "组织生活会情况", "教育素材", "成果宣传报道", "红色防火墙台账"}

    # another university, or none such: 404 alike; not signed in: 401; no supervising grant: 403
    answers = [web.get(f"{base}{path}", params={"tenant": tenant}, timeout=10)
               for path in ("/supervision", "/supervision.xlsx") for tenant in ("seu", "nowhere")]
    assert [a.status_code for a in answers] == [404] * 4
    assert answers[0].text.replace("seu", "X") == answers[1].text.replace("nowhere", "X")
    assert web.get(f"{base}/supervision", params={"campaign_id": "seu.siyige-2020-seu"}, timeout=10).status_code == 404
    assert requests.get(f"{base}/supervision", allow_redirects=False, timeout=10).status_code == 401
    assert requests.post(f"{base}/supervision/remind", allow_redirects=False, timeout=10).status_code == 401
    member(db, wust, "zj@wust.edu.cn", {"role": "expert"}, name="孙专家")
    expert = signed_in(base, "zj@wust.edu.cn")
    r = expert.get(f"{base}/supervision", timeout=10)
    assert r.status_code == 403 and "督查页面" in r.text
    assert ids  # the orgs exist: the 403 is the grant's, not an empty university's


def test_a_person_of_two_universities_picks_one_and_each_campaigns_routing_holds(intake, db):  # noqa: F811
    seu, wust, base = intake["seu"], intake["wust"], intake["base"]
    wust_with_works(intake)
    member(db, seu, "two@wust.edu.cn", {"role": "department_admin", "department": "propaganda"}, name="周宣传")
    member(db, wust, "two@wust.edu.cn", {"role": "department_admin", "department": "propaganda"}, name="周宣传")
    web = signed_in(base, "two@wust.edu.cn")
    page = web.get(f"{base}/supervision", timeout=30)
    # 东南大学 first (its grant came first); it routes every track to 组织部: nothing for 宣传部 to chase there
    assert "督查 · 东南大学" in page.text and tracks(page.text) == {} and "没有您可督查的赛道" in page.text
    assert 'href="/supervision?tenant=wust"' in page.text
    page = web.get(f"{base}/supervision", params={"tenant": "wust"}, timeout=30)
    assert list(tracks(page.text)) == ["material", "report"]


# --------------------------------------------------------------------------- the ministry


def test_the_ministry_sees_which_universities_forwarded_nothing_and_reminds_their_offices(intake, db):  # noqa: F811
    from services.intake.models import Tenant

    seu, ministry, base = intake["seu"], intake["ministry"], intake["base"]
    with db.transaction() as session:
        session.get(Tenant, "wust").contact_email = "wustzzb@wust.test"
    work = seu.draft("siyige-2020-seu", "story", "计算机科学与工程学院党委", title="计算机学院党委战疫故事",
                     text="党员冲在前面。")
    assert seu("POST", f"/api/v1/submissions/{work['id']}/submit").status_code == 200
    select(intake, [work["id"]])
    wait_until(lambda: seu("GET", f"/api/v1/submissions/{work['id']}").json()["forwarded_to"] == "ministry",
               what="the story forwarded to the ministry")
    member(db, ministry, "kan@moe.edu.cn", {"role": "viewer"}, name="吴司员")
    account = member(db, ministry, "sz@moe.edu.cn", {"role": "department_admin", "department": "sizheng"},
                     name="郑处长")
    clock.set_start(datetime.fromisoformat("2020-08-02T09:00:00+08:00"))

    viewer = signed_in(base, "kan@moe.edu.cn")
    page = viewer.get(f"{base}/supervision", timeout=30)
    assert page.status_code == 200 and "督查 · 教育部思政司" in page.text and "尚未向教育部报送任何作品的高校" in page.text
    shown = tracks(page.text)
    assert list(shown) == ["lecture", "story", "material"]  # the tracks it expects by a deadline
    assert set(shown["story"]) == {"wust"} and set(shown["lecture"]) == {"seu", "wust"}
    wust_row = shown["story"]["wust"]
    assert wust_row[0] == "武汉科技大学" and "wustzzb@wust.test" in wust_row[1]
    assert wust_row[3] == "尚未向教育部报送作品（校内已提交 0 件）" and wust_row[5] == "逾期 2 天"
    assert "校内已提交 1 件" not in page.text  # SEU's forwarded story took it off the list
    assert 'action="/supervision/remind"' not in page.text
    assert viewer.get(f"{base}/supervision", params={"tenant": "seu"}, timeout=10).status_code == 404

    admin = signed_in(base, "sz@moe.edu.cn")
    page = admin.get(f"{base}/supervision", params={"track": "story"}, timeout=30)
    assert list(tracks(page.text)) == ["story"]
    r = remind(admin, base, page.text, tenant="ministry", campaign_id="siyige-2020", track="story", shown_track="story")
    assert r.status_code == 200 and "已向 1 个高校发送“战疫故事汇”的督办提醒邮件。" in r.text
    assert list(tracks(r.text)) == ["story"]  # the page as it was
    r = remind(admin, base, page.text, tenant="ministry", campaign_id="siyige-2020", track="lecture")
    assert "已向 1 个高校" in r.text and "东南大学" in r.text and "没有联系邮箱" in r.text  # SEU has no address
    story, lecture = reminders_sent(db)
    assert story["tenant"] == "ministry" and story["data"]["asked_by"]["account_id"] == account
    assert story["data"]["recipients"] == [{
        "org_id": "wust", "name": "武汉科技大学", "level": "university", "contact_email": "wustzzb@wust.test",
        "contact_name": None, "stage": "submission", "stage_label": "提交作品", "deadline": "2020-07-31T23:59:59+08:00",
        "days_late": 2}]
    assert [x["org_id"] for x in lecture["data"]["recipients"]] == ["wust"]
    assert [row["detail"] for row in reminded_rows(ministry)] == [{"track": "lecture", "count": 1},
                                                                   {"track": "story", "count": 1}]
