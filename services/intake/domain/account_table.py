"""Import of people from Excel or CSV (a university's 院系 admins, the ministry's experts).

Columns 姓名, 邮箱, 角色, 部门, 组织, 工号; one row is one grant, so a person given two roles has two rows
(with the same name and e-mail). The org is named as in the org list (its full name; spaces and
full-/half-width ignored). 工号 (the staff number single sign-on may find the person by) is optional; a
person's rows give one staff number, and no two people of the file give the same. All rows or none:
every row is checked and every problem is reported with its row number, as the org import does; the
file limits are common.tables'. Whether a staff number is already another person's of the tenant is
the database's to say (operations/accounts.py), in the same all-or-nothing report.
Pure: no I/O besides reading the given bytes, no database.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from common.errors import InvalidInput, Unprocessable
from common.tables import header_key, open_rows
from services.intake.domain.orgs import org_name_key
from services.intake.domain.people import (
    Department,
    GrantRequest,
    OrgFact,
    Problem,
    Role,
    email_problem,
    grant_problems,
    name_problem,
    normalise_email,
    normalise_staff_no,
    staff_no_problem,
)

ERROR_CODE = "account_import_invalid"
MAX_DATA_ROWS = 5000
_HEADER_SEARCH_ROWS = 10
_WHAT = "人员名单"

# field -> (the header in the template, the headers accepted)
_COLUMNS = {
    "name": ("姓名", ("姓名", "名字", "name")),
    "email": ("邮箱", ("邮箱", "电子邮箱", "电子邮件", "email", "e-mail")),
    "role": ("角色", ("角色", "role")),
    "department": ("部门", ("部门", "department")),
    "org": ("组织", ("组织", "组织名称", "党组织", "org")),
    "staff_no": ("工号", ("工号", "职工号", "教工号", "人事编号", "staff_no", "staff number")),
}
_REQUIRED = ("name", "email", "role")
_FIELD_BY_HEADER = {header_key(alias): field for field, (_, aliases) in _COLUMNS.items() for alias in aliases}
_ROLE_BY_TEXT = {header_key(text): role for role in Role for text in (role.value, role.label)}
_ROLE_BY_TEXT.update({header_key("专家"): Role.EXPERT, header_key("管理员"): Role.OWNER})
_DEPARTMENT_BY_TEXT = {header_key(text): d for d in Department for text in (d.value, d.label, d.label.removeprefix("党委"))}
_DEPARTMENT_BY_TEXT[header_key("思想政治工作司")] = Department.SIZHENG


@dataclass(frozen=True)
class AccountRow:
    row: int  # as Excel numbers it
    name: str
    email: str  # normalised
    grant: GrantRequest  # its org_id is the org the row names, found by name
    staff_no: str | None = None  # normalised (people.normalise_staff_no); None when the row gives none


def parse_account_table(data: bytes, filename: str | None, content_type: str | None, *, tenant_kind: str,
                        tenant_name: str, orgs: list[OrgFact]) -> list[AccountRow]:
    """Every row, checked; or one `Unprocessable` (account_import_invalid) listing every problem by row."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidInput("人员名单文件内容应为字节串。", expected="bytes", found=type(data).__name__, field="data")
    by_name = {}
    for org in orgs:
        by_name.setdefault(org_name_key(org.name), org)
    with open_rows(bytes(data), filename, content_type, what=_WHAT, error_code=ERROR_CODE) as rows:
        header_row, columns = _locate_header(rows)
        records = []
        for number, cells in rows:
            values = {field: cells[i] if i < len(cells) else "" for field, i in columns.items()}
            if not any(values.values()):
                continue
            if len(records) >= MAX_DATA_ROWS:
                _fail_file("too_many_rows", f"人员名单超过 {MAX_DATA_ROWS} 行数据（第 {number} 行已是第 "
                           f"{MAX_DATA_ROWS + 1} 行）。请拆分为多个文件分批上传。",
                           expected=f"不超过 {MAX_DATA_ROWS} 行", found=number, row=number)
            records.append((number, values))
    if not records:
        _fail_file("empty_file", "人员名单只有表头，没有任何人员。请从表头下一行起填写后重新上传。",
                   expected="至少一行人员", found="0 行", row=header_row)
    out, problems = [], []
    first_name_of: dict[str, tuple[int, str]] = {}
    seen: dict[tuple, int] = {}
    staff_numbers = _StaffNumbers()
    for number, values in records:
        row, row_problems = _check_row(number, values, tenant_kind, tenant_name, by_name)
        problems += row_problems + _same_name(number, values, first_name_of) + staff_numbers.check(number, values)
        if row is None:
            continue
        problems += _not_twice(row, seen)
        out.append(row)
    if problems:
        rows_with = {p["row"] for p in problems}
        raise Unprocessable(f"人员名单有 {len(rows_with)} 行存在问题（共 {len(problems)} 处），未导入任何人员。"
                            "请按 details 逐行修改后重新上传。", code=ERROR_CODE, details=problems)
    return out


def _locate_header(rows) -> tuple[int, dict[str, int]]:
    scanned = 0
    first = None
    for number, cells in rows:
        if not any(cells):
            continue
        first = first or (number, cells)
        columns: dict[str, int] = {}
        for index, text in enumerate(cells):
            field = _FIELD_BY_HEADER.get(header_key(text))
            if field and field not in columns:
                columns[field] = index
        if all(f in columns for f in _REQUIRED):
            return number, columns
        scanned += 1
        if scanned >= _HEADER_SEARCH_ROWS:
            break
    if first is None:
        _fail_file("empty_file", "上传的人员名单中没有任何内容。请填写后重新上传。", expected="表头和人员", found="空表")
    number, cells = first
    found = [c for c in cells if c]
    _fail_file("missing_columns", f"人员名单表头缺少必填列。第 {number} 行读到的列为：{'、'.join(found) or '（无）'}；"
               "必填列为：姓名、邮箱、角色，可选列为：部门、组织、工号。请按模板的表头填写后重新上传。",
               expected=[label for label, _ in _COLUMNS.values()], found=found, row=number)


def _detail(row: int, column: str, problem: Problem) -> dict:
    return {"row": row, "column": _COLUMNS[column][0], "code": problem.code, "expected": problem.expected,
            "found": problem.found, "message": f"第 {row} 行「{_COLUMNS[column][0]}」：{problem.message}"}


def _check_row(number: int, values: dict[str, str], tenant_kind: str, tenant_name: str,
               orgs: dict[str, OrgFact]) -> tuple[AccountRow | None, list[dict]]:
    problems = []
    name = values.get("name", "")
    if (p := name_problem(name)) is not None:
        problems.append(_detail(number, "name", p))
    if (p := email_problem(values.get("email", ""))) is not None:
        problems.append(_detail(number, "email", p))
    if (p := staff_no_problem(values.get("staff_no", ""))) is not None:
        problems.append(_detail(number, "staff_no", p))
    role_text, department_text, org_text = values.get("role", ""), values.get("department", ""), values.get("org", "")
    role = _ROLE_BY_TEXT.get(header_key(role_text))
    department = _DEPARTMENT_BY_TEXT.get(header_key(department_text)) if department_text else None
    org = orgs.get(org_name_key(org_text)) if org_text else None
    if role is None:
        choices = "、".join(r.label for r in Role)
        problems.append(_detail(number, "role", Problem("unknown_role", "role", [r.label for r in Role], role_text,
                                                        f"“{role_text}”不是可识别的角色。请填写以下之一：{choices}。")))
    if department_text and department is None:
        problems.append(_detail(number, "department", Problem(
            "unknown_department", "department", [d.label for d in Department], department_text,
            f"“{department_text}”不是可识别的部门。请填写党委组织部、党委宣传部（高校）或思政司（教育部）。")))
    if org_text and org is None:
        problems.append(_detail(number, "org", Problem(
            "org_not_found", "org", f"{tenant_name}组织名单中的名称", org_text,
            f"在{tenant_name}的组织中找不到“{org_text}”。请填写与组织名单中“名称”一致的全称，或先导入该组织。")))
    if role is None or (department_text and department is None) or (org_text and org is None):
        return None, problems
    grant = GrantRequest(role.value, department.value if department else None, org.id if org else None)
    columns = {"role": "role", "department": "department", "org_id": "org"}
    for p in grant_problems(grant, tenant_kind, tenant_name, org):
        problems.append(_detail(number, columns[p.field.rsplit(".", 1)[-1]], p))
    if problems:
        return None, problems
    return AccountRow(number, name.strip(), normalise_email(values["email"]), grant,
                      normalise_staff_no(values.get("staff_no", ""))), []


def _same_name(number: int, values: dict[str, str], first_name_of: dict[str, tuple[int, str]]) -> list[dict]:
    """One person per e-mail: each of their rows has the same name (rows with other problems count too)."""
    name, email = values.get("name", "").strip(), normalise_email(values.get("email", ""))
    if not name or email_problem(email) is not None:
        return []
    first = first_name_of.setdefault(email, (number, name))
    if first[1] == name:
        return []
    return [_detail(number, "name", Problem(
        "name_differs", "name", first[1], name,
        f"邮箱 {email} 在第 {first[0]} 行的姓名是“{first[1]}”，本行却是“{name}”。"
        "一个邮箱只对应一个人：请统一姓名，或改正邮箱。"))]


class _StaffNumbers:
    """One staff number per person, one person per staff number, across the file's rows (rows with other
    problems count too, so a file is corrected in one go). A row without one gives none: a person's other
    rows may carry it."""

    def __init__(self) -> None:
        self.of_email: dict[str, tuple[int, str]] = {}  # e-mail -> (first row, its staff number)
        self.of_number: dict[str, tuple[int, str]] = {}  # staff number -> (first row, its e-mail)

    def check(self, number: int, values: dict[str, str]) -> list[dict]:
        staff_no, email = values.get("staff_no", ""), normalise_email(values.get("email", ""))
        if staff_no_problem(staff_no) is not None or email_problem(email) is not None:
            return []
        staff_no = normalise_staff_no(staff_no)
        if staff_no is None:
            return []
        first = self.of_email.setdefault(email, (number, staff_no))
        if first[1] != staff_no:
            return [_detail(number, "staff_no", Problem(
                "staff_no_differs", "staff_no", first[1], staff_no,
                f"邮箱 {email} 在第 {first[0]} 行的工号是“{first[1]}”，本行却是“{staff_no}”。"
                "一个人只有一个工号：请统一为人事系统中的工号，或改正邮箱。"))]
        holder = self.of_number.setdefault(staff_no, (number, email))
        if holder[1] != email:
            return [_detail(number, "staff_no", Problem(
                "duplicate_staff_no", "staff_no", "每个工号只属于一人", staff_no,
                f"工号“{staff_no}”在第 {holder[0]} 行已是 {holder[1]} 的，本行却给了 {email}。"
                "一个工号只属于一人：请核对两行中哪一行填错了，改正后重新上传。"))]
        return []


def _not_twice(row: AccountRow, seen: dict[tuple, int]) -> list[dict]:
    key = (row.email, row.grant)
    if key in seen:
        return [_detail(row.row, "role", Problem(
            "duplicate_grant", "role", "每人每个角色只出现一次", row.grant.role,
            f"本行与第 {seen[key]} 行是同一人的同一角色和范围。请删除重复的行。"))]
    seen[key] = row.row
    return []


def _fail_file(code: str, message: str, *, expected, found, row: int | None = None) -> NoReturn:
    detail = {"row": row, "column": None, "code": code, "found": found, "expected": expected, "message": message}
    raise Unprocessable(message, code=ERROR_CODE, expected=expected, found=found, details=[detail])
