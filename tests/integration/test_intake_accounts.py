"""People over HTTP (issue #15, first part): invitations, grants, the invitation page and the audit log,
against a running intake with a real RabbitMQ, on SQLite and PostgreSQL."""
from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import select, text

from common import clock
from common.db import Store
from tests.integration.test_intake_api import error_of, intake  # noqa: F401  (fixture)
from tests.signin import form_token

STRONG = "红旗飘飘党建引领2020"


@pytest.fixture
def db(intake):  # noqa: F811
    store = Store(intake["config"]["DATABASE_URL"])
    yield store
    store.dispose()


def invitations_sent(db, email=None):
    """The `account_invited` events intake wrote to its outbox, oldest first."""
    from services.intake.models import OutboxMessage

    with db.transaction() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.event_type == "account_invited")
                               .order_by(OutboxMessage.id)).all()
        events = [r.envelope for r in rows]
    return [e for e in events if email is None or e["data"]["email"] == email]


def link_of(event) -> str:
    return event["data"]["accept_url"]


def invite(portal, email, *grants, name="王宣传", staff_no=None, **kw):
    body = {"name": name, "email": email, "grants": list(grants)}
    if staff_no is not None:
        body["staff_no"] = staff_no
    return portal("POST", "/api/v1/accounts", json=body, **kw)


def open_form(url):
    """A browser opening the e-mailed link: the page, and the session that holds its pre-session cookie."""
    browser = requests.Session()
    page = browser.get(url, timeout=10)
    return browser, page


def submit(browser, url, password, confirmation=None, token=None, page=None):
    token = token if token is not None else form_token(page.text)
    return browser.post(url, data={"csrf_token": token, "password": password,
                                   "password_confirmation": password if confirmation is None else confirmation},
                        timeout=30)


def audit(portal, **params):
    r = portal("GET", "/api/v1/audit", params=params)
    assert r.status_code == 200, r.text
    return r.json()


PEOPLE_ACTIONS = ("account.", "accounts.", "grant.", "invitation.")


def people_log(portal, **params) -> list[dict]:
    """The log's rows about people, newest first (the fixture's org list and the seed's campaigns leave rows too)."""
    return [e for e in audit(portal, per_page=200, **params)["items"] if e["action"].startswith(PEOPLE_ACTIONS)]


# --------------------------------------------------------------------------- invite and accept


def test_an_invited_person_sets_a_password_through_the_page_once(intake, db):  # noqa: F811
    seu, base = intake["seu"], intake["base"]
    org = seu.org_id("计算机科学与工程学院党委")
    r = invite(seu, "WangXC@SEU.edu.cn", {"role": "department_admin", "department": "propaganda"},
               {"role": "org_admin", "org_id": org})
    assert r.status_code == 201, r.text
    account = r.json()
    assert account["email"] == "wangxc@seu.edu.cn" and account["state"] == "invited" and account["invitation_sent"]
    assert "accept_url" not in r.text and "/invitations/" not in r.text  # the link goes only to the mailbox

    [event] = invitations_sent(db)
    data = event["data"]
    assert event["tenant"] == "seu" and event["type"] == "account_invited"
    assert (data["account_id"], data["name"], data["email"], data["tenant_name"]) == (
        account["id"], "王宣传", "wangxc@seu.edu.cn", "东南大学")
    assert data["roles"] == ["部门管理员（党委宣传部）", "组织管理员（计算机科学与工程学院党委）"]
    url = link_of(event)
    assert url.startswith(base + "/invitations/")
    expires = datetime.fromisoformat(data["link_expires_at"])
    assert timedelta(days=6, hours=23) < expires - clock.now() <= timedelta(days=7)

    browser, page = open_form(url)
    assert page.status_code == 200 and "王宣传" in page.text and "wangxc@seu.edu.cn" in page.text
    browser.get(url, timeout=10)  # opening it again (a mail scanner, a second look) changes nothing
    assert seu("GET", f"/api/v1/accounts/{account['id']}").json()["state"] == "invited"

    # without the form's token: refused, nothing set
    r = submit(requests.Session(), url, STRONG, token="")
    assert r.status_code == 403 and "表单已过期" in r.text
    # the policy, every problem at once, in Chinese; nothing set
    r = submit(browser, url, "12345", "123456", page=page)
    assert r.status_code == 400
    for words in ("至少需要 10 个", "不能全是数字", "两次输入的密码不一致"):
        assert words in r.text
    r = submit(browser, url, "WangXC", page=page)
    assert r.status_code == 400 and "邮箱地址或其 @ 前面的部分" in r.text
    assert seu("GET", f"/api/v1/accounts/{account['id']}").json()["state"] == "invited"

    r = submit(browser, url, STRONG, page=page)
    assert r.status_code == 200 and "密码已设置" in r.text
    after = seu("GET", f"/api/v1/accounts/{account['id']}").json()
    assert after["state"] == "active" and after["activated_at"].endswith("+08:00")
    from services.intake.models import Account
    from services.intake.passwords import verify_password

    with db.transaction() as session:
        stored = session.get(Account, account["id"]).password_hash
    assert stored.startswith("$argon2id$") and STRONG not in stored and verify_password(stored, STRONG)

    # single use: the page and a second submission both say so
    again = browser.get(url, timeout=10)
    assert again.status_code == 410 and "已经使用过" in again.text and "东南大学的单位管理员" in again.text
    r = submit(browser, url, "另一个足够长的密码abc", page=page)  # the form read before, sent again
    assert r.status_code == 410
    with db.transaction() as session:
        assert session.get(Account, account["id"]).password_hash == stored

    actions = [e["action"] for e in people_log(seu)]
    assert actions == ["invitation.accepted", "account.invited", "grant.added", "grant.added"]


def test_an_expired_link_and_an_unknown_one_are_refused(intake, db):  # noqa: F811
    seu = intake["seu"]
    assert invite(seu, "zhao@seu.edu.cn", {"role": "expert"}, name="赵专家").status_code == 201
    url = link_of(invitations_sent(db)[0])
    browser, page = open_form(url)
    assert page.status_code == 200
    clock.set_start(clock.now() + timedelta(days=7, minutes=1))
    r = submit(browser, url, STRONG, page=page)
    assert r.status_code == 410 and "已过期" in r.text and "东南大学的单位管理员重新发送邀请" in r.text
    assert browser.get(url, timeout=10).status_code == 410
    unknown = requests.get(intake["base"] + "/invitations/not-a-real-token", timeout=10)
    assert unknown.status_code == 404 and "邀请链接无效" in unknown.text


def test_a_link_is_guessed_only_a_few_times(intake, db):  # noqa: F811
    assert invite(intake["seu"], "he@seu.edu.cn", {"role": "expert"}, name="何专家").status_code == 201
    url = link_of(invitations_sent(db)[0])
    browser, page = open_form(url)  # a real form: its pre-session cookie and token
    guess = intake["base"] + "/invitations/guess"
    statuses = [submit(browser, guess, STRONG, page=page).status_code for _ in range(12)]
    assert statuses[:10] == [404] * 10 and statuses[10:] == [429, 429]
    assert submit(browser, url, STRONG, page=page).status_code == 200  # the real link is another subject


def test_inviting_again_sends_a_fresh_link_and_voids_the_old_one(intake, db):  # noqa: F811
    seu = intake["seu"]
    assert invite(seu, "li@seu.edu.cn", {"role": "viewer"}, name="李书记").status_code == 201
    r = invite(seu, "LI@seu.edu.cn", {"role": "viewer"}, name="别的名字")
    assert r.status_code == 200 and r.json()["name"] == "李书记" and r.json()["invitation_sent"]
    old, new = (link_of(e) for e in invitations_sent(db, "li@seu.edu.cn"))
    assert old != new
    r = requests.get(old, timeout=10)
    assert r.status_code == 410 and "最新一封邀请邮件" in r.text
    browser, page = open_form(new)
    assert submit(browser, new, STRONG, page=page).status_code == 200
    assert [g["role"] for g in seu("GET", "/api/v1/accounts", params={"q": "li@"}).json()["items"][0]["grants"]] == [
        "viewer"]  # the second invitation's grant was already held: not twice


# --------------------------------------------------------------------------- grants, refusals, tenants


def test_a_bad_invitation_gets_every_problem_and_nothing_is_done(intake, db):  # noqa: F811
    seu = intake["seu"]
    r = invite(seu, "someone", {"role": "department_admin", "department": "sizheng"},
               {"role": "org_admin", "org_id": "0" * 32}, {"role": "expert", "department": "organisation"}, name="")
    body = error_of(r, 422, "invitation_invalid")
    assert {(d["field"], d["code"]) for d in body["details"]} == {
        ("name", "missing_name"), ("email", "invalid_email"), ("grants[0].department", "unknown_department"),
        ("grants[1].org_id", "org_not_found"), ("grants[2].department", "department_not_allowed")}
    error_of(invite(seu, "x@seu.edu.cn", {"role": "admin"}), 400, "validation_failed")
    error_of(seu("POST", "/api/v1/accounts", data=b"{", headers={"Content-Type": "application/json"}), 400,
             "malformed_json")
    assert seu("GET", "/api/v1/accounts").json()["total"] == 0 and invitations_sent(db) == []
    assert people_log(seu) == []


def test_grants_are_added_and_removed_and_the_audit_log_says_who_did_what(intake):  # noqa: F811
    seu = intake["seu"]
    account = invite(seu, "sun@seu.edu.cn", {"role": "viewer"}, name="孙部长").json()
    r = seu("POST", f"/api/v1/accounts/{account['id']}/grants", json={"role": "department_admin",
                                                                      "department": "organisation"},
            headers={"Idempotency-Key": "g-1"})
    assert r.status_code == 201, r.text
    again = seu("POST", f"/api/v1/accounts/{account['id']}/grants", json={"role": "department_admin",
                                                                          "department": "organisation"},
                headers={"Idempotency-Key": "g-1"})
    assert again.status_code == 201 and again.json() == r.json()  # a retry: the first answer, nothing more
    error_of(seu("POST", f"/api/v1/accounts/{account['id']}/grants", json={"role": "department_admin",
                                                                           "department": "organisation"}),
             409, "grant_exists")
    labels = {g["label"]: g["id"] for g in r.json()["grants"]}
    assert set(labels) == {"查看者", "部门管理员（党委组织部）"}
    r = seu("DELETE", f"/api/v1/accounts/{account['id']}/grants/{labels['查看者']}")
    assert r.status_code == 200 and [g["label"] for g in r.json()["grants"]] == ["部门管理员（党委组织部）"]
    error_of(seu("DELETE", f"/api/v1/accounts/{account['id']}/grants/{labels['查看者']}"), 404, "grant_not_found")

    assert seu("POST", f"/api/v1/accounts/{account['id']}/disable").json()["state"] == "disabled"
    error_of(invite(seu, "sun@seu.edu.cn", {"role": "expert"}), 409, "account_disabled")
    assert seu("POST", f"/api/v1/accounts/{account['id']}/enable").json()["state"] == "invited"

    log = people_log(seu)
    assert [e["action"] for e in log] == ["account.enabled", "account.disabled", "grant.removed",
                                                    "grant.added", "account.invited", "grant.added"]
    newest = log[0]
    assert newest["actor"].startswith("key:sk_") and newest["address"] == "127.0.0.1"
    assert newest["at"].endswith("+08:00") and newest["action_label"] == "启用账号"
    assert newest["object_type"] == "account" and newest["object_id"] == account["id"]
    removed = audit(seu, action="grant.removed")
    assert removed["total"] == 1 and removed["items"][0]["detail"]["label"] == "查看者"
    assert audit(seu, since="2000-01-01T00:00:00+08:00", until="2000-01-02T00:00:00+08:00")["total"] == 0
    assert len(people_log(seu, since=log[-1]["at"])) == 6
    assert audit(seu, per_page=2)["items"] == audit(seu, per_page=200)["items"][:2]
    error_of(seu("GET", "/api/v1/audit", params={"since": "yesterday"}), 400, "invalid_query")
    error_of(seu("GET", "/api/v1/audit", params={"action": "grant.deleted"}), 400, "invalid_query")
    # the log has no way to change it
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        error_of(seu(method, "/api/v1/audit"), 405, "method_not_allowed")


def test_another_universitys_people_are_not_found_and_not_changed(intake):  # noqa: F811
    seu, wust = intake["seu"], intake["wust"]
    account = invite(seu, "zhou@seu.edu.cn", {"role": "viewer"}, name="周老师").json()
    grant = account["grants"][0]["id"]
    for method, path in (("GET", ""), ("POST", "/grants"), ("DELETE", f"/grants/{grant}"), ("POST", "/disable"),
                         ("POST", "/enable")):
        kw = {"json": {"role": "expert"}} if path == "/grants" else {}
        seen = wust(method, f"/api/v1/accounts/{account['id']}{path}", **kw)
        missing = wust(method, f"/api/v1/accounts/{'0' * 32}{path}", **kw)
        error_of(seen, 404, "account_not_found")
        error_of(missing, 404, "account_not_found")
        assert seen.json()["error"]["message"].replace(account["id"], "0" * 32) == missing.json()["error"]["message"]
    assert wust("GET", "/api/v1/accounts").json()["total"] == 0
    assert people_log(wust) == []
    # an org of 东南大学 reads, for 武汉科技大学, exactly as an org that does not exist
    org = seu.org_id("计算机科学与工程学院党委")
    foreign = error_of(invite(wust, "x@wust.edu.cn", {"role": "org_admin", "org_id": org}), 422, "invitation_invalid")
    assert [d["code"] for d in foreign["details"]] == ["org_not_found"] and "东南大学" not in str(foreign)
    after = seu("GET", f"/api/v1/accounts/{account['id']}").json()
    assert after["state"] == "invited" and [g["id"] for g in after["grants"]] == [grant]


def test_the_ministry_invites_a_universitys_member_as_expert(intake, db):  # noqa: F811
    seu, ministry = intake["seu"], intake["ministry"]
    member = invite(seu, "qian@seu.edu.cn", {"role": "viewer"}, name="钱教授").json()
    r = invite(ministry, "Qian@SEU.edu.cn", {"role": "expert"}, name="钱教授")
    assert r.status_code == 200, r.text
    expert = r.json()
    assert expert["id"] == member["id"] and expert["home_tenant"] == "seu"
    assert [g["label"] for g in expert["grants"]] == ["评审专家"]  # the ministry sees its own grant only
    assert [g["label"] for g in seu("GET", f"/api/v1/accounts/{member['id']}").json()["grants"]] == ["查看者"]
    latest = invitations_sent(db, "qian@seu.edu.cn")[-1]
    assert latest["tenant"] == "ministry" and latest["data"]["tenant_name"] == "教育部思政司"
    assert latest["data"]["roles"] == ["评审专家"]
    error_of(ministry("POST", f"/api/v1/accounts/{member['id']}/disable"), 403, "not_home_tenant")
    # the ministry's own officers: 思政司
    r = invite(ministry, "officer@moe.edu.cn", {"role": "department_admin", "department": "sizheng"}, name="孙处长")
    assert r.status_code == 201 and r.json()["grants"][0]["label"] == "部门管理员（思政司）"
    assert {e["action"] for e in people_log(ministry)} == {"account.invited", "grant.added"}


# --------------------------------------------------------------------------- the list import


def people_csv(*rows):
    return ("\n".join(("姓名,邮箱,角色,部门,组织",) + rows) + "\n").encode("utf-8")


def test_a_list_with_a_bad_row_creates_nothing_and_a_good_one_invites_everyone(intake, db):  # noqa: F811
    seu = intake["seu"]
    bad = people_csv("王宣传,wang@seu.edu.cn,部门管理员,党委宣传部,", "李书记,li@seu.edu.cn,组织管理员,,不存在的学院党委")
    body = error_of(seu("POST", "/api/v1/accounts/import", data=bad, headers={"Content-Type": "text/csv"}),
                    422, "account_import_invalid")
    assert [(d["row"], d["code"]) for d in body["details"]] == [(3, "org_not_found")]
    assert seu("GET", "/api/v1/accounts").json()["total"] == 0 and invitations_sent(db) == []

    from openpyxl import Workbook

    wb = Workbook()
    for row in (("姓名", "邮箱", "角色", "部门", "组织"), ("王宣传", "wang@seu.edu.cn", "部门管理员", "党委宣传部", ""),
                ("李书记", "li@seu.edu.cn", "组织管理员", "", "计算机科学与工程学院党委"),
                ("李书记", "li@seu.edu.cn", "查看者", "", "")):
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    r = seu("POST", "/api/v1/accounts/import", params={"filename": "院系管理员.xlsx"}, data=out.getvalue(),
            headers={"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    assert r.status_code == 200, r.text
    assert r.json() == {"rows": 3, "people": 2, "created": 2, "existing": 0, "grants_added": 3, "invited": 2}
    assert {e["data"]["email"] for e in invitations_sent(db)} == {"wang@seu.edu.cn", "li@seu.edu.cn"}
    imported = audit(seu, action="accounts.imported")["items"][0]
    assert imported["detail"]["filename"] == "院系管理员.xlsx" and imported["detail"]["people"] == 2


def test_the_audit_log_refuses_changes_in_the_database_too(intake, db):  # noqa: F811
    seu = intake["seu"]
    invite(seu, "wu@seu.edu.cn", {"role": "expert"}, name="吴专家")
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), db.transaction() as session:
            session.execute(text(statement))
    assert len(people_log(seu)) == 2
