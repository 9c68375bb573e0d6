"""People's staff numbers (工号) over HTTP (issue #15): given at invitation, in the list import and by PATCH, unique
among the home tenant's people, the home tenant's alone to see and change, shown on the person's pages; against a
running intake with a real RabbitMQ, on SQLite and PostgreSQL. Single sign-on by staff number: test_intake_sso.py."""
from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.integration.test_intake_accounts import STRONG, db, invitations_sent, invite, link_of, open_form, submit  # noqa: F401  (fixture)
from tests.integration.test_intake_api import error_of, intake  # noqa: F401  (fixture)
from tests.integration.test_intake_signin import sign_in

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def staff_log(portal) -> list[dict]:
    """The log's staff-number rows, newest first."""
    r = portal("GET", "/api/v1/audit", params={"action": "account.staff_no_changed", "per_page": 200})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def found(portal, q) -> list[dict]:
    return portal("GET", "/api/v1/accounts", params={"q": q}).json()["items"]


def patch(portal, account_id, staff_no):
    return portal("PATCH", f"/api/v1/accounts/{account_id}", json={"staff_no": staff_no})


# --------------------------------------------------------------------------- inviting


def test_a_staff_number_given_at_invitation_is_the_home_tenants_and_the_person_sees_it(intake, db):  # noqa: F811
    seu, ministry, base = intake["seu"], intake["ministry"], intake["base"]
    r = invite(seu, "wang@seu.edu.cn", {"role": "viewer"}, name="王老师", staff_no=" ２０２０００１ ")
    assert r.status_code == 201, r.text
    wang = r.json()
    assert wang["staff_no"] == "2020001"  # trimmed, full-width folded
    assert [p["id"] for p in found(seu, "2020001")] == [wang["id"]] == [p["id"] for p in found(seu, "20200")]
    [row] = staff_log(seu)
    assert (row["object_id"], row["detail"], row["action_label"]) == (
        wang["id"], {"staff_no": "2020001", "previous_staff_no": None}, "登记或修改工号")

    # another tenant that gives the person a role neither sees the number nor finds them by it
    r = invite(ministry, "wang@seu.edu.cn", {"role": "expert"}, name="王老师")
    assert r.status_code == 200 and r.json()["staff_no"] is None
    assert ministry("GET", f"/api/v1/accounts/{wang['id']}").json()["staff_no"] is None
    assert found(ministry, "2020001") == [] and "2020001" not in ministry("GET", "/api/v1/accounts").text

    # the person sees their own: on the invitation page and, signed in, on their home page
    url = link_of(invitations_sent(db, "wang@seu.edu.cn")[-1])
    browser, page = open_form(url)
    assert page.status_code == 200 and "工号 2020001" in page.text
    assert submit(browser, url, STRONG, page=page).status_code == 200
    web, r = sign_in(base, "wang@seu.edu.cn")
    assert r.status_code == 303 and r.headers["Location"] == "/", r.text[:300]
    home = web.get(f"{base}/", timeout=10)
    assert home.status_code == 200 and "工号 2020001" in home.text


def test_a_bad_or_taken_staff_number_is_refused_at_invitation_and_nothing_is_done(intake, db):  # noqa: F811
    seu, ministry = intake["seu"], intake["ministry"]
    body = error_of(invite(seu, "not-an-address", {"role": "viewer"}, staff_no="2020 001"), 422, "invitation_invalid")
    assert {(d["field"], d["code"]) for d in body["details"]} == {("email", "invalid_email"),
                                                                  ("staff_no", "invalid_staff_no")}
    staff = next(d for d in body["details"] if d["field"] == "staff_no")
    assert staff["found"] == "2020 001" and "空格" in staff["message"] and "字母、数字和 - _ ." in staff["expected"]
    assert error_of(invite(seu, "a@seu.edu.cn", {"role": "viewer"}, staff_no="1" * 65), 422,
                    "invitation_invalid")["details"][0]["code"] == "staff_no_too_long"
    error_of(invite(seu, "a@seu.edu.cn", {"role": "viewer"}, staff_no="1" * 201), 400, "validation_failed")
    assert seu("GET", "/api/v1/accounts").json()["total"] == 0 and invitations_sent(db) == []

    a = invite(seu, "a@seu.edu.cn", {"role": "viewer"}, name="甲老师", staff_no="2020001").json()
    # another person with the same number: 409 naming who holds it (the caller's own person), nothing created
    taken = error_of(invite(seu, "b@seu.edu.cn", {"role": "viewer"}, name="乙老师", staff_no="2020001"),
                     409, "staff_no_taken")
    assert "甲老师" in taken["message"] and "a@seu.edu.cn" in taken["message"] and taken["found"] == "2020001"
    assert taken["details"] == [{"account_id": a["id"], "name": "甲老师", "email": "a@seu.edu.cn"}]
    assert found(seu, "b@seu.edu.cn") == [] and invitations_sent(db, "b@seu.edu.cn") == []
    # the same number is matched exactly, case included: "t1" is not "T1"
    assert invite(seu, "t1@seu.edu.cn", {"role": "viewer"}, staff_no="T1").status_code == 201
    assert invite(seu, "t2@seu.edu.cn", {"role": "viewer"}, staff_no="t1").status_code == 201

    # an existing account of the tenant: the same number is fine, another is changed only by PATCH
    assert invite(seu, "a@seu.edu.cn", {"role": "expert"}, staff_no="2020001").status_code == 200
    differs = error_of(invite(seu, "a@seu.edu.cn", {"role": "org_admin", "org_id": seu.org_id("计算机科学与工程学院党委")},
                              staff_no="2020002"), 409, "staff_no_differs")
    assert differs["expected"] == "2020001" and "PATCH" in differs["message"]
    assert [g["role"] for g in found(seu, "a@seu.edu.cn")[0]["grants"]] == ["viewer", "expert"]  # nothing added
    # one without a number gets it
    c = invite(seu, "c@seu.edu.cn", {"role": "viewer"}, name="丙老师").json()
    assert c["staff_no"] is None
    assert invite(seu, "c@seu.edu.cn", {"role": "viewer"}, staff_no="2020003").json()["staff_no"] == "2020003"
    # another tenant cannot give a university's person a number
    refused = error_of(invite(ministry, "a@seu.edu.cn", {"role": "expert"}, staff_no="M001"), 403, "not_home_tenant")
    assert "其他单位" in refused["message"]
    assert found(ministry, "a@seu.edu.cn") == []  # not even the grant was given
    assert seu("GET", f"/api/v1/accounts/{a['id']}").json()["staff_no"] == "2020001"


def test_two_people_given_one_staff_number_at_once_one_gets_it(intake, db):  # noqa: F811
    seu = intake["seu"]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda n: invite(seu, f"same{n}@seu.edu.cn", {"role": "viewer"}, staff_no="2020077"),
                                range(2)))
    assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
    assert len(found(seu, "2020077")) == 1 and seu("GET", "/api/v1/accounts").json()["total"] == 1


# --------------------------------------------------------------------------- PATCH


def test_the_owner_records_changes_and_clears_a_staff_number_and_the_log_says_so(intake, db):  # noqa: F811
    seu, wust, ministry = intake["seu"], intake["wust"], intake["ministry"]
    a = invite(seu, "a@seu.edu.cn", {"role": "viewer"}, name="甲老师", staff_no="2020001").json()
    b = invite(seu, "b@seu.edu.cn", {"role": "viewer"}, name="乙老师").json()
    taken = error_of(patch(seu, b["id"], "2020001"), 409, "staff_no_taken")
    assert "甲老师" in taken["message"] and taken["details"][0]["account_id"] == a["id"]
    assert seu("GET", f"/api/v1/accounts/{b['id']}").json()["staff_no"] is None

    r = patch(seu, a["id"], " T-2020.01 ")
    assert r.status_code == 200 and r.json()["staff_no"] == "T-2020.01" and r.json()["grants"], r.text
    assert patch(seu, b["id"], "2020001").json()["staff_no"] == "2020001"  # free now
    assert patch(seu, b["id"], "2020001").status_code == 200  # the same again: nothing changes, nothing logged
    assert patch(seu, a["id"], None).json()["staff_no"] is None
    assert patch(seu, a["id"], "").json()["staff_no"] is None  # blank clears too; it was clear: not logged
    log = staff_log(seu)
    assert [(e["object_id"], e["detail"]) for e in log] == [
        (a["id"], {"staff_no": None, "previous_staff_no": "T-2020.01"}),
        (b["id"], {"staff_no": "2020001", "previous_staff_no": None}),
        (a["id"], {"staff_no": "T-2020.01", "previous_staff_no": "2020001"}),
        (a["id"], {"staff_no": "2020001", "previous_staff_no": None}),  # at invitation
    ]
    assert log[0]["actor"].startswith("key:sk_")

    bad = error_of(patch(seu, a["id"], "工号1"), 422, "account_invalid")
    assert bad["details"][0]["code"] == "invalid_staff_no" and "请按人事系统中的工号填写" in bad["message"]
    error_of(seu("PATCH", f"/api/v1/accounts/{a['id']}", json={}), 400, "validation_failed")
    error_of(seu("PATCH", f"/api/v1/accounts/{a['id']}", json={"staff_no": "1", "name": "改名"}), 400,
             "validation_failed")
    # only the home tenant: one that gave a role is refused, one that did not does not see the person
    assert invite(ministry, "b@seu.edu.cn", {"role": "expert"}).status_code == 200
    error_of(patch(ministry, b["id"], "M001"), 403, "not_home_tenant")
    error_of(patch(wust, b["id"], "W001"), 404, "account_not_found")
    error_of(patch(seu, "0" * 32, "2020009"), 404, "account_not_found")
    assert seu("GET", f"/api/v1/accounts/{b['id']}").json()["staff_no"] == "2020001" and len(staff_log(seu)) == 4
    assert staff_log(ministry) == staff_log(wust) == []
    # without a key, the key is checked before the body
    r = requests.patch(f"{intake['base']}/api/v1/accounts/{a['id']}", json={"staff_no": "x y"}, timeout=10)
    error_of(r, 401, "missing_api_key")


# --------------------------------------------------------------------------- the list import


def upload(portal, data: bytes, content_type: str = "text/csv"):
    return portal("POST", "/api/v1/accounts/import", data=data, headers={"Content-Type": content_type})


def test_the_list_import_takes_staff_numbers_all_or_nothing(intake, db):  # noqa: F811
    seu, wust = intake["seu"], intake["wust"]
    a = invite(seu, "a@seu.edu.cn", {"role": "viewer"}, name="甲老师", staff_no="2020001").json()
    c = invite(seu, "c@seu.edu.cn", {"role": "viewer"}, name="丙老师").json()
    assert invite(wust, "w@wust.edu.cn", {"role": "viewer"}, name="武老师").status_code == 201
    sent = len(invitations_sent(db))

    # within the file: one number per person, one person per number
    body = error_of(upload(seu, "姓名,邮箱,角色,工号\n丁,d@seu.edu.cn,查看者,2020005\n戊,e@seu.edu.cn,查看者,2020005\n"
                                "丁,d@seu.edu.cn,评审专家,2020006\n".encode()), 422, "account_import_invalid")
    assert [(d["row"], d["column"], d["code"]) for d in body["details"]] == [
        (3, "工号", "duplicate_staff_no"), (4, "工号", "staff_no_differs")]
    # against the tenant's people: held by another, another than the account's own, another tenant's person
    body = error_of(upload(seu, "姓名,邮箱,角色,工号\n丁,d@seu.edu.cn,查看者,2020001\n甲老师,a@seu.edu.cn,评审专家,2020099\n"
                                "武老师,w@wust.edu.cn,评审专家,W01\n己,f@seu.edu.cn,查看者,2020010\n".encode()),
                    422, "account_import_invalid")
    details = {d["row"]: d for d in body["details"]}
    assert {r: (d["column"], d["code"]) for r, d in details.items()} == {
        2: ("工号", "staff_no_taken"), 3: ("工号", "staff_no_differs"), 4: ("工号", "not_home_tenant")}
    assert "甲老师" in details[2]["message"] and details[2]["found"] == "2020001"
    assert (details[3]["expected"], details[3]["found"]) == ("2020001", "2020099")
    assert all(d["message"].startswith(f"第 {d['row']} 行「工号」") and d["expected"] for d in details.values())
    assert "未导入任何人员" in body["message"]
    # nothing at all happened: not even the good row's person
    assert found(seu, "f@seu.edu.cn") == [] and len(invitations_sent(db)) == sent
    assert [e["object_id"] for e in staff_log(seu)] == [a["id"]]

    from openpyxl import Workbook

    wb = Workbook()
    for row in (("姓名", "邮箱", "角色", "部门", "组织", "工号"),
                ("丁老师", "d@seu.edu.cn", "查看者", "", "", 2020011),  # a number cell, as Excel keeps digits
                ("丁老师", "d@seu.edu.cn", "评审专家", "", "", None),
                ("丙老师", "c@seu.edu.cn", "评审专家", "", "", "2020013"),  # has none yet: gets it
                ("甲老师", "a@seu.edu.cn", "评审专家", "", "", "2020001"),  # the number they have
                ("武老师", "w@wust.edu.cn", "评审专家", "", "", "")):  # another tenant's person, no number
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    r = upload(seu, out.getvalue(), XLSX)
    assert r.status_code == 200, r.text
    assert r.json() == {"rows": 5, "people": 4, "created": 1, "existing": 3, "grants_added": 5, "invited": 4}
    numbers = {p["email"]: p["staff_no"] for p in seu("GET", "/api/v1/accounts").json()["items"]}
    assert numbers == {"d@seu.edu.cn": "2020011", "c@seu.edu.cn": "2020013", "a@seu.edu.cn": "2020001",
                       "w@wust.edu.cn": None}
    assert {e["object_id"] for e in staff_log(seu)} == {a["id"], c["id"], found(seu, "d@seu.edu.cn")[0]["id"]}
