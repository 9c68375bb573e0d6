"""The reviewer list (评审专家名单) an office uploads from Excel or CSV.

Columns: 姓名, 邮箱 (required), 所在高校, 所在单位, 研究方向 (optional; 研究方向 may
list several keywords separated by 、，,；; or spaces). All rows or none: any
problem refuses the whole list, and every problem is reported with its row.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from common.errors import InvalidInput, Unprocessable
from common.tables import header_key, open_rows
from common.text import single_line_problem

ERROR_CODE = "reviewer_import_invalid"
MAX_ROWS = 2000
_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")
_KEYWORD_SPLIT = re.compile(r"[、，,；;\s/]+")
_COLUMNS = {  # field -> accepted headers
    "name": ("姓名", "专家姓名", "name"),
    "email": ("邮箱", "电子邮箱", "email", "e-mail", "邮件"),
    "university": ("所在高校", "高校", "学校", "university"),
    "org": ("所在单位", "单位", "所在党组织", "org", "organisation"),
    "expertise": ("研究方向", "专长", "擅长领域", "expertise", "keywords"),
}
_LABELS = {"name": "姓名", "email": "邮箱", "university": "所在高校", "org": "所在单位", "expertise": "研究方向"}
_BY_HEADER = {header_key(h): field for field, hs in _COLUMNS.items() for h in hs}


@dataclass(frozen=True)
class ReviewerRow:
    row: int
    name: str
    email: str
    university: str = ""
    org: str = ""
    expertise: tuple[str, ...] = ()


def check_reviewer(name: str, email: str, row: int | None = None, university: str = "", org: str = "") -> list[dict]:
    problems = []
    where = f"第{row}行：" if row else ""
    for column, value in (("姓名", name), ("所在高校", university), ("所在单位", org)):
        # names go into sign-in mails and the round's lists: one line each, nothing that reorders text
        line = single_line_problem(value.strip(), f"{where}「{column}」")  # stored trimmed
        if line is not None:
            problems.append({"row": row, "column": column, "code": line.code, "found": line.found,
                             "expected": line.expected, "message": line.message})
    if not name.strip() or len(name) > 100:
        problems.append({"row": row, "column": "姓名", "code": "invalid_name", "found": name,
                         "expected": "1–100 个字", "message": f"{where}姓名应为 1–100 个字，收到的是“{name}”。"})
    if not _EMAIL.match(email.strip()):
        problems.append({"row": row, "column": "邮箱", "code": "invalid_email", "found": email,
                         "expected": "如 wang@example.edu.cn",
                         "message": f"{where}邮箱“{email}”格式不正确，应如 wang@example.edu.cn；登录链接会发到这个邮箱。"})
    return problems


def keywords(text: str) -> tuple[str, ...]:
    return tuple(k for k in _KEYWORD_SPLIT.split(text.strip()) if k)


def one_reviewer(name: str, email: str, university: str = "", org: str = "", expertise: str = "") -> ReviewerRow:
    """A reviewer typed into the admin's form."""
    problems = check_reviewer(name, email, None, university, org)
    if problems:
        first = problems[0]
        raise InvalidInput(first["message"], code=first["code"], field=first["column"], expected=first["expected"],
                           found=first["found"], details=problems)
    return ReviewerRow(0, name.strip(), email.strip().lower(), university.strip(), org.strip(), keywords(expertise))


def parse_reviewer_table(data: bytes, filename: str | None = None, content_type: str | None = None) -> list[ReviewerRow]:
    with open_rows(data, filename, content_type, what="评审专家名单", error_code=ERROR_CODE) as rows:
        columns: dict[str, int] = {}
        records: list[ReviewerRow] = []
        problems: list[dict] = []
        seen: dict[str, int] = {}
        for number, cells in rows:
            if not columns:
                columns = _header(cells)
                if not columns and any(cells) and number >= 10:
                    break  # no header in the first rows: not a reviewer list
                continue
            values = {f: (cells[i] if i < len(cells) else "") for f, i in columns.items()}
            if not any(values.values()):
                continue
            if len(records) >= MAX_ROWS:
                problems.append({"row": number, "column": None, "code": "too_many_rows", "found": number,
                                 "expected": MAX_ROWS, "message": f"名单最多 {MAX_ROWS} 行，请拆分后分批导入。"})
                break
            name, email = values.get("name", ""), values.get("email", "").lower()
            problems += _row_problems(number, name, email, values, seen)
            seen.setdefault(email, number)
            records.append(ReviewerRow(number, name.strip(), email, values.get("university", ""),
                                       values.get("org", ""), keywords(values.get("expertise", ""))))
    _refuse_unless_clean(columns, records, problems)
    return records


def _header(cells: list[str]) -> dict[str, int]:
    """{field: column} when the row is the list's header (it names at least 姓名 and 邮箱), else {}."""
    found = {_BY_HEADER[header_key(c)]: i for i, c in reversed(list(enumerate(cells))) if header_key(c) in _BY_HEADER}
    return found if "name" in found and "email" in found else {}


def _row_problems(number: int, name: str, email: str, values: dict[str, str], seen: dict[str, int]) -> list[dict]:
    problems = check_reviewer(name, email, number, values.get("university", ""), values.get("org", ""))
    if not problems and email in seen:
        problems.append({"row": number, "column": "邮箱", "code": "duplicate_email", "found": email,
                         "expected": "每位专家一行",
                         "message": f"第{number}行：邮箱 {email} 与第{seen[email]}行重复。每位专家只填一行。"})
    return problems


def _refuse_unless_clean(columns: dict[str, int], records: list[ReviewerRow], problems: list[dict]) -> None:
    """All rows or none: no header, no reviewer or any problem refuses the whole list."""
    if not columns:
        expected = "、".join(f"{_LABELS[f]}（{'/'.join(hs)}）" for f, hs in _COLUMNS.items())
        raise Unprocessable(f"评审专家名单中没有找到表头：至少需要“姓名”和“邮箱”两列。可用的列：{expected}。",
                            code=ERROR_CODE, expected=["姓名", "邮箱"], found="无表头",
                            details=[{"row": None, "column": None, "code": "missing_columns", "message": "缺少表头"}])
    if not records and not problems:
        raise Unprocessable("评审专家名单只有表头，没有专家。请填写后重新上传。", code=ERROR_CODE,
                            expected="至少一位专家", found="0 行", details=[])
    if problems:
        first = problems[0]["message"]
        summary = first if len(problems) == 1 else f"评审专家名单有 {len(problems)} 处问题，未导入任何一行。第一处：{first}"
        raise Unprocessable(summary, code=ERROR_CODE, found=len(problems), details=problems)
