"""People and roles (services/intake/domain/people.py, account_table.py): grants, labels, passwords, e-mail,
invitation links, the account lifecycle and the list import. Pure: no database, no broker."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from common.errors import Unprocessable
from common.lifecycle import IllegalMove
from services.intake.domain import people
from services.intake.domain.account_table import parse_account_table
from services.intake.domain.lifecycles import ACCOUNT, AccountState
from services.intake.domain.people import Department, GrantRequest, OrgFact, Role

CSE = OrgFact("o-cse", "计算机科学与工程学院党委", "level2")
BRANCH = OrgFact("o-b1", "计算机科学与工程学院教工第一党支部", "branch")


def codes(problems):
    return [p.code for p in problems]


# --------------------------------------------------------------------------- roles and grants


def test_roles_and_departments_carry_their_chinese_labels():
    assert Role.labels() == {"owner": "单位管理员", "department_admin": "部门管理员", "org_admin": "组织管理员",
                             "expert": "评审专家", "viewer": "查看者"}
    assert Department.ORGANISATION.label == "党委组织部" and Department.PROPAGANDA.label == "党委宣传部"
    assert people.DEPARTMENT_TRACKS[Department.ORGANISATION] == ("lecture", "story", "meeting_report")
    assert people.DEPARTMENT_TRACKS[Department.PROPAGANDA] == ("material", "report")


@pytest.mark.parametrize("grant, kind, org", [
    (GrantRequest("owner"), "university", None),
    (GrantRequest("owner"), "ministry", None),
    (GrantRequest("department_admin", "organisation"), "university", None),
    (GrantRequest("department_admin", "propaganda"), "university", None),
    (GrantRequest("department_admin", "sizheng"), "ministry", None),
    (GrantRequest("org_admin", org_id="o-cse"), "university", CSE),
    (GrantRequest("org_admin", org_id="o-b1"), "university", BRANCH),  # a branch's admin: that branch
    (GrantRequest("expert"), "ministry", None),
    (GrantRequest("expert"), "university", None),
    (GrantRequest("viewer"), "ministry", None),
    (GrantRequest("viewer", org_id="o-cse"), "university", CSE),
])
def test_the_grants_that_make_sense_have_no_problem(grant, kind, org):
    assert people.grant_problems(grant, kind, "东南大学", org) == []


@pytest.mark.parametrize("grant, kind, org, expected", [
    (GrantRequest("admin"), "university", None, ["unknown_role"]),
    (GrantRequest("department_admin"), "university", None, ["department_required"]),
    (GrantRequest("department_admin", "sizheng"), "university", None, ["unknown_department"]),
    (GrantRequest("department_admin", "propaganda"), "ministry", None, ["unknown_department"]),
    (GrantRequest("owner", "propaganda"), "university", None, ["department_not_allowed"]),
    (GrantRequest("org_admin"), "university", None, ["org_required"]),
    (GrantRequest("org_admin", org_id="o-wust"), "university", None, ["org_not_found"]),
    (GrantRequest("org_admin", org_id="o-x"), "ministry", None, ["role_not_in_ministry"]),
    (GrantRequest("viewer", org_id="o-x"), "ministry", None, ["org_not_in_ministry"]),
    (GrantRequest("expert", "organisation", "o-cse"), "university", CSE, ["department_not_allowed", "org_not_allowed"]),
    (GrantRequest("department_admin", "organisation", "o-cse"), "university", CSE, ["org_not_allowed"]),
])
def test_every_problem_of_a_grant_is_reported_with_what_to_do(grant, kind, org, expected):
    problems = people.grant_problems(grant, kind, "东南大学", org, field="grants[0]")
    assert codes(problems) == expected
    for p in problems:
        assert p.field.startswith("grants[0].") and p.message and any("\u4e00" <= ch <= "\u9fff" for ch in p.message)
        assert set(p.as_detail()) == {"code", "field", "expected", "found", "message"}


def test_an_unknown_department_names_the_ones_of_that_tenant():
    [problem] = people.grant_problems(GrantRequest("department_admin", "finance"), "university", "东南大学", None)
    assert problem.expected == ["organisation", "propaganda"] and "党委组织部" in problem.message
    [problem] = people.grant_problems(GrantRequest("department_admin", "finance"), "ministry", "教育部思政司", None)
    assert problem.expected == ["sizheng"]


def test_a_grant_reads_with_its_scope():
    assert people.grant_label("department_admin", "propaganda") == "部门管理员（党委宣传部）"
    assert people.grant_label("org_admin", None, "计算机科学与工程学院党委") == "组织管理员（计算机科学与工程学院党委）"
    assert people.grant_label("department_admin", "sizheng") == "部门管理员（思政司）"
    assert people.grant_label("expert") == "评审专家" and people.grant_label("owner") == "单位管理员"


# --------------------------------------------------------------------------- e-mail and names


@pytest.mark.parametrize("raw, stored", [
    ("  Zhang.San@SEU.edu.cn ", "zhang.san@seu.edu.cn"),
    ("ｌｉ＠ｗｕｓｔ．ｅｄｕ．ｃｎ", "li@wust.edu.cn"),  # typed with a Chinese IME in full-width
])
def test_an_email_is_stored_trimmed_folded_and_in_lower_case(raw, stored):
    assert people.normalise_email(raw) == stored and people.email_problem(raw) is None


@pytest.mark.parametrize("raw, code", [("", "missing_email"), ("   ", "missing_email"), ("zhangsan", "invalid_email"),
                                       ("a@b", "invalid_email"), ("a@" + "b" * 250 + ".cn", "invalid_email")])
def test_a_bad_email_is_refused(raw, code):
    assert people.email_problem(raw).code == code


@pytest.mark.parametrize("name, code", [("", "missing_name"), ("  ", "missing_name"), ("张\n三", "multiline"),
                                        ("张" * 101, "name_too_long"), ("\u202e张三", "control_character")])
def test_a_bad_name_is_refused(name, code):
    assert people.name_problem(name).code == code
    assert people.name_problem("欧阳·娜娜") is None


# --------------------------------------------------------------------------- passwords


@pytest.mark.parametrize("password, expected", [
    ("short", ["password_too_short"]),
    ("123456789", ["password_too_short", "password_only_digits"]),
    ("13800138000", ["password_only_digits"]),
    ("x" * 129, ["password_too_long"]),
    ("zhangsan.seu", ["password_is_email"]),
    ("ZhangSan.SEU@seu.edu.cn", ["password_is_email"]),
    ("红旗飘飘党建引领2020", []),
    ("correct horse battery", []),
    ("x" * 128, []),
])
def test_the_password_policy_says_everything_that_is_wrong(password, expected):
    problems = people.password_problems(password, "zhangsan.seu@seu.edu.cn")
    assert codes(problems) == expected
    assert all(p.message for p in problems)


def test_the_confirmation_must_match():
    assert codes(people.password_problems("红旗飘飘党建引领2020", "a@b.cn", "红旗飘飘党建引领2021")) == ["password_mismatch"]
    assert people.password_problems("红旗飘飘党建引领2020", "a@b.cn", "红旗飘飘党建引领2020") == []


# --------------------------------------------------------------------------- invitation links and the lifecycle


@pytest.mark.parametrize("facts, code, status", [
    ({"found": False}, "invitation_not_found", 404),
    ({"found": True, "used": True}, "invitation_used", 410),
    ({"found": True, "replaced": True}, "invitation_replaced", 410),
    ({"found": True, "expired": True}, "invitation_expired", 410),
    ({"found": True, "expired": True, "disabled": True}, "account_disabled", 403),
])
def test_a_link_that_cannot_be_used_says_why_and_whom_to_ask(facts, code, status):
    refusal = people.invitation_refusal(**facts, inviter="东南大学")
    assert (refusal.code, refusal.status) == (code, status)
    assert facts == {"found": False} or "东南大学的单位管理员" in refusal.message
    assert people.invitation_refusal(found=True) is None


def test_an_account_is_invited_then_active_and_disabled_and_enabled_again():
    account = SimpleNamespace(state=None, activated_at=None)
    with pytest.raises(IllegalMove):
        ACCOUNT.move(account, AccountState.ACTIVE)  # every account starts invited
    ACCOUNT.move(account, AccountState.INVITED)
    ACCOUNT.move(account, AccountState.ACTIVE, at="t1")
    assert (account.state, account.activated_at) == ("active", "t1")
    with pytest.raises(IllegalMove):
        ACCOUNT.move(account, AccountState.INVITED)  # a person with a password is never invited again
    ACCOUNT.move(account, AccountState.DISABLED)
    ACCOUNT.move(account, AccountState.ACTIVE)
    assert AccountState.labels() == {"invited": "待设置密码", "active": "已启用", "disabled": "已停用"}


# --------------------------------------------------------------------------- the list import


def table(*rows: str) -> bytes:
    return ("\n".join(("姓名,邮箱,角色,部门,组织",) + rows) + "\n").encode("utf-8")


def parse(data: bytes, kind: str = "university"):
    return parse_account_table(data, "people.csv", "text/csv", tenant_kind=kind, tenant_name="东南大学",
                               orgs=[CSE, BRANCH])


def test_a_good_list_gives_one_row_per_grant():
    rows = parse(table("王宣传,WangXC@seu.edu.cn,部门管理员,宣传部,",
                       "李书记,li@seu.edu.cn,组织管理员,,计算机科学与工程学院党委",
                       "李书记,li@seu.edu.cn,查看者,,",
                       "赵专家,zhao@seu.edu.cn,专家,,"))
    assert [(r.row, r.email, r.grant) for r in rows] == [
        (2, "wangxc@seu.edu.cn", GrantRequest("department_admin", "propaganda")),
        (3, "li@seu.edu.cn", GrantRequest("org_admin", None, "o-cse")),
        (4, "li@seu.edu.cn", GrantRequest("viewer")),
        (5, "zhao@seu.edu.cn", GrantRequest("expert")),
    ]


def test_every_bad_row_is_reported_with_its_row_number_and_nothing_is_returned():
    with pytest.raises(Unprocessable) as caught:
        parse(table("王宣传,WangXC@seu.edu.cn,部门管理员,宣传部,",
                    ",bad-address,校长,,",
                    "李书记,li@seu.edu.cn,组织管理员,,机械学院",
                    "李四,li@seu.edu.cn,查看者,,",
                    "王宣传,wangxc@seu.edu.cn,部门管理员,党委宣传部,",
                    "孙,sun@seu.edu.cn,部门管理员,财务处,"))
    error = caught.value
    assert error.code == "account_import_invalid" and "未导入任何人员" in error.message
    found = {(d["row"], d["code"]) for d in error.details}
    assert found == {(3, "missing_name"), (3, "invalid_email"), (3, "unknown_role"), (4, "org_not_found"),
                     (5, "name_differs"), (6, "duplicate_grant"), (7, "unknown_department")}
    assert all(d["message"].startswith(f"第 {d['row']} 行") and d["column"] for d in error.details)


def test_a_list_without_its_columns_says_which_it_needs():
    with pytest.raises(Unprocessable) as caught:
        parse("名字,电话\n张三,123\n".encode())
    assert caught.value.details[0]["code"] == "missing_columns" and "邮箱" in caught.value.message


def test_the_ministry_list_takes_its_experts_and_its_department():
    rows = parse(table("钱专家,qian@whu.edu.cn,评审专家,,", "孙处长,sun@moe.edu.cn,部门管理员,思政司,"), kind="ministry")
    assert [r.grant for r in rows] == [GrantRequest("expert"), GrantRequest("department_admin", "sizheng")]
    with pytest.raises(Unprocessable) as caught:
        parse(table("周,zhou@moe.edu.cn,组织管理员,,计算机科学与工程学院党委"), kind="ministry")
    assert [d["code"] for d in caught.value.details] == ["role_not_in_ministry"]


# --------------------------------------------------------------------------- staff numbers (工号)


@pytest.mark.parametrize(("raw", "stored"), [
    ("2020001", "2020001"), ("  2020001\u3000", "2020001"), ("２０２０００１", "2020001"), ("T2020-01.a_b", "T2020-01.a_b"),
    ("t2020001", "t2020001"),  # case is kept: compared exactly, as the provider sends it
    ("1" * 64, "1" * 64), ("", None), ("   ", None), (None, None)])
def test_a_staff_number_is_trimmed_and_folded_and_kept_as_given(raw, stored):
    assert people.staff_no_problem(raw) is None
    assert people.normalise_staff_no(raw) == stored


@pytest.mark.parametrize(("raw", "code", "words"), [
    ("2020 001", "invalid_staff_no", "空格"),
    ("JS/2020", "invalid_staff_no", "“/”"),
    ("工号2020", "invalid_staff_no", "“工”"),
    ("2020001，2020002", "invalid_staff_no", "“,”"),  # a full-width comma is folded, then refused as a comma
    ("1" * 65, "staff_no_too_long", "65 个字符"),
    ("2020\n001", "multiline", "单行"),
    ("2020\u202e001", "control_character", "文字方向控制符"),
])
def test_a_bad_staff_number_says_what_was_expected_and_what_to_do(raw, code, words):
    problem = people.staff_no_problem(raw, field="grants.staff_no")
    assert problem is not None and (problem.code, problem.field) == (code, "grants.staff_no")
    assert words in problem.message and problem.expected
    assert problem.message.endswith("。") and ("请" in problem.message)


def staff_table(*rows: str) -> bytes:
    return ("\n".join(("姓名,邮箱,角色,部门,组织,工号",) + rows) + "\n").encode("utf-8")


def test_the_list_may_carry_staff_numbers_and_need_not():
    rows = parse(staff_table("王宣传,wang@seu.edu.cn,部门管理员,宣传部,,２０２０００１",
                             "李书记,li@seu.edu.cn,查看者,,,",
                             "李书记,li@seu.edu.cn,评审专家,,, T2020-02 ",
                             "赵专家,zhao@seu.edu.cn,专家,,,"))
    assert [(r.row, r.email, r.staff_no) for r in rows] == [
        (2, "wang@seu.edu.cn", "2020001"), (3, "li@seu.edu.cn", None), (4, "li@seu.edu.cn", "T2020-02"),
        (5, "zhao@seu.edu.cn", None)]
    assert [r.staff_no for r in parse(table("王宣传,wang@seu.edu.cn,查看者,,"))] == [None]  # no such column: none
    # the column is found by its other names too
    data = "姓名,邮箱,角色,职工号\n王宣传,wang@seu.edu.cn,查看者,2020001\n".encode()
    assert [r.staff_no for r in parse(data)] == ["2020001"]


def test_staff_numbers_in_the_list_are_one_per_person_and_one_person_each():
    with pytest.raises(Unprocessable) as caught:
        parse(staff_table("王宣传,wang@seu.edu.cn,部门管理员,宣传部,,2020001",
                          "王宣传,wang@seu.edu.cn,查看者,,,2020009",     # the same person, another number
                          "李书记,li@seu.edu.cn,查看者,,,2020001",        # another person, the same number
                          "赵专家,zhao@seu.edu.cn,专家,,,JS 03",          # not a staff number
                          "钱,bad-address,专家,,,2020001"))               # its address is the row's problem
    error = caught.value
    assert error.code == "account_import_invalid" and "未导入任何人员" in error.message
    found = {(d["row"], d["column"], d["code"]) for d in error.details}
    assert found == {(3, "工号", "staff_no_differs"), (4, "工号", "duplicate_staff_no"), (5, "工号", "invalid_staff_no"),
                     (6, "邮箱", "invalid_email")}
    by_row = {d["row"]: d for d in error.details if d["column"] == "工号"}
    assert (by_row[3]["expected"], by_row[3]["found"]) == ("2020001", "2020009") and "第 2 行" in by_row[3]["message"]
    assert by_row[4]["found"] == "2020001" and "wang@seu.edu.cn" in by_row[4]["message"]
    assert all(d["message"].startswith(f"第 {d['row']} 行「{d['column']}」") for d in error.details)


def test_a_list_without_its_columns_names_the_staff_number_as_optional():
    with pytest.raises(Unprocessable) as caught:
        parse("名字,工号\n张三,123\n".encode())
    assert "可选列为：部门、组织、工号" in caught.value.message
