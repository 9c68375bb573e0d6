"""Import of a university's party organisation list (组织名单) from Excel or CSV.

The organisation department (组织部) keeps its level-2 organisations (二级党组织)
and their branches (党支部) in a spreadsheet and uploads it. This module only
parses and validates; storing is the caller's job. The import is all or
nothing: either every row is good and `parse_org_table` returns the rows, or
it raises one `Unprocessable` whose `details` list every problem found, so the
user can fix the whole file in one go instead of one error per upload.

Pure functions: no I/O besides reading the given bytes, no database.
"""
from __future__ import annotations

import difflib
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, NoReturn

from common.errors import InvalidInput, Unprocessable
from common.tables import INVISIBLE, header_key, open_rows
from common.text import single_line_problem

# A university's party committee (学校党委) is an org too, the root of its tree, where a notice has it submit its
# own work (the plan's 学校党委书记 lecture); at most one per university, and nothing names it as a parent: level-2
# orgs hang directly under the university, as they always have.
ORG_LEVELS = ("university", "level2", "branch")

MAX_DATA_ROWS = 5000
MAX_NAME_LENGTH = 100
_MAX_SUGGESTIONS = 50
ERROR_CODE = "org_import_invalid"

# Titles such as 「XX大学基层党组织名单」 often sit above the header row, so the
# header is searched for among the first few non-blank rows.
_HEADER_SEARCH_ROWS = 10


_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")
_PHONE_RE = re.compile(r"^[0-9+\- ]{7,20}$")
_MIN_PHONE_DIGITS = 7


@dataclass(frozen=True)
class OrgRow:
    row: int  # row number as the user sees it in Excel; the header is row 1
    name: str
    level: str  # one of ORG_LEVELS
    parent_name: str | None  # spelled exactly as the parent's stored/imported name
    short_name: str | None
    code: str | None
    contact_name: str | None
    contact_email: str | None
    contact_phone: str | None


@dataclass(frozen=True)
class _Column:
    field: str  # OrgRow attribute
    label: str  # Chinese header used in the template and in messages
    aliases: tuple[str, ...]
    required: bool = False


_COLUMNS = (
    _Column("name", "名称", ("名称", "组织名称", "党组织名称", "name"), required=True),
    _Column("level", "层级", ("层级", "类型", "组织类型", "level"), required=True),
    _Column("parent_name", "上级组织", ("上级组织", "上级党组织", "parent")),
    _Column("short_name", "简称", ("简称", "short_name")),
    _Column("code", "编码", ("编码", "组织编码", "code")),
    _Column("contact_name", "联系人", ("联系人", "contact_name")),
    _Column("contact_email", "邮箱", ("邮箱", "电子邮箱", "contact_email")),
    _Column("contact_phone", "电话", ("电话", "联系电话", "contact_phone")),
)
_COLUMN_BY_FIELD = {c.field: c for c in _COLUMNS}
_FIELD_ORDER = {c.field: position for position, c in enumerate(_COLUMNS)}

_LEVEL_VALUES = {
    "university": ("学校党委", "高校党委", "校党委", "university"),
    "level2": ("二级党组织", "分党委", "党总支", "院系党委", "党工委", "直属党支部", "level2"),
    "branch": ("党支部", "支部", "branch"),
}
_TEMPLATE_LEVELS = ("学校党委", "二级党组织", "分党委", "党总支", "院系党委", "党工委", "直属党支部", "党支部")
_ALLOWED_LEVELS_TEXT = "、".join(v for values in _LEVEL_VALUES.values() for v in values)

_TEMPLATE_EXAMPLES = (
    ("计算机科学与技术学院党委", "二级党组织", "", "计算机学院党委", "0301",
     "张老师", "jsjdw@example.edu.cn", "027-68880000"),
    ("计算机科学与技术学院教工第一党支部", "党支部", "计算机科学与技术学院党委", "教工一支部",
     "030101", "李老师", "jg1zb@example.edu.cn", "13800000000"),
)


# --------------------------------------------------------------------------- #
# Public API
# --------------------------------------------------------------------------- #

def parse_org_table(
    data: bytes,
    filename: str | None = None,
    content_type: str | None = None,
    existing: dict[str, str] | None = None,
) -> list[OrgRow]:
    """Parse and fully validate an uploaded org list.

    `existing` maps names of orgs already stored for this university to their
    level, so that branches may name a parent imported earlier.
    `filename` / `content_type` only enrich messages: the format is detected
    from the content, because browsers and portals label uploads unreliably.

    Returns the university's own row first, then level2 rows, then branches, each in file order, so that the
    caller can insert parents before children. Raises `Unprocessable` with
    code ``org_import_invalid`` and one entry per problem in ``details``.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidInput("组织名单文件内容应为字节串。", expected="bytes",
                           found=type(data).__name__, field="data")
    data = bytes(data)
    with _open_rows(data, filename, content_type) as rows:
        header_row, columns = _locate_header(rows)
        records = _read_records(rows, columns)
    if not records:
        _fail_file("empty_file", "组织名单只有表头，没有任何组织数据。请从第2行起填写组织后重新上传。",
                   expected="至少一行组织数据", found="0行", row=header_row)
    rows_out, problems = _validate(records, columns, header_row, _normalise_existing(existing))
    if problems:
        _fail_rows(problems)
    return [r for level in ORG_LEVELS for r in rows_out if r.level == level]


def render_template_xlsx() -> bytes:
    """The blank list admins download: Chinese header and two example rows."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = "组织名单"  # first sheet: the one parse_org_table reads
    ws.append([c.label for c in _COLUMNS])
    for example in _TEMPLATE_EXAMPLES:
        ws.append(list(example))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGH", (36, 14, 30, 16, 12, 12, 28, 18)):
        ws.column_dimensions[letter].width = width
        # Text format keeps leading zeros of codes and long phone numbers intact.
        ws.column_dimensions[letter].number_format = "@"
    # A drop-down in the level column prevents most unknown_level errors.
    levels = DataValidation(type="list", allow_blank=True, formula1=f'"{",".join(_TEMPLATE_LEVELS)}"')
    levels.add(f"B2:B{MAX_DATA_ROWS + 1}")
    ws.add_data_validation(levels)
    _add_instructions(wb.create_sheet("填写说明"))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------- #
# Reading: bytes -> (row number, cell texts)
# --------------------------------------------------------------------------- #

Rows = Iterator[tuple[int, list[str]]]


def _open_rows(data: bytes, filename: str | None, content_type: str | None):
    return open_rows(data, filename, content_type, what="组织名单", error_code=ERROR_CODE)


# --------------------------------------------------------------------------- #
# Header and records
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class _Found:
    index: int  # position in the row
    header: str  # as written in the file, to point the user at their own column




_FIELD_BY_HEADER = {header_key(a): c.field for c in _COLUMNS for a in c.aliases}
_LEVEL_BY_VALUE = {header_key(v): level for level, vs in _LEVEL_VALUES.items() for v in vs}


def _match_columns(cells: list[str]) -> dict[str, _Found]:
    columns: dict[str, _Found] = {}
    for index, text in enumerate(cells):
        field = _FIELD_BY_HEADER.get(header_key(text))
        if field and field not in columns:  # a repeated header: the first one wins
            columns[field] = _Found(index, text)
    return columns


def _locate_header(rows: Rows) -> tuple[int, dict[str, _Found]]:
    """Consume rows up to and including the header; return its number and columns."""
    first: tuple[int, list[str]] | None = None
    scanned = 0
    for number, cells in rows:
        if not any(cells):
            continue
        first = first or (number, cells)
        columns = _match_columns(cells)
        if all(c.field in columns for c in _COLUMNS if c.required):
            return number, columns
        scanned += 1
        if scanned >= _HEADER_SEARCH_ROWS:
            break
    if first is None:
        _fail_file("empty_file", "上传的组织名单中没有任何内容。请填写组织名单后重新上传。",
                   expected="包含表头和组织数据的表格", found="空表")
    _fail_missing_columns(*first)


def _read_records(rows: Rows, columns: dict[str, _Found]) -> list[tuple[int, dict[str, str]]]:
    records = []
    for number, cells in rows:
        values = {field: (cells[f.index] if f.index < len(cells) else "")
                  for field, f in columns.items()}
        # Rows empty in every known column are padding (pre-numbered 序号, formatting).
        if not any(values.values()):
            continue
        if len(records) >= MAX_DATA_ROWS:
            _fail_file("too_many_rows",
                       f"组织名单超过{MAX_DATA_ROWS}行数据（第{number}行已是第{MAX_DATA_ROWS + 1}行），"
                       f"一次最多导入{MAX_DATA_ROWS}行。"
                       "请拆分为多个文件分批上传。",
                       expected=f"不超过{MAX_DATA_ROWS}行", found=f"超过{MAX_DATA_ROWS}行", row=number)
        records.append((number, values))
    return records


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #

def org_name_key(name: str) -> str:
    """Identity of a name: full-/half-width folded, no whitespace, case-folded."""
    folded = unicodedata.normalize("NFKC", name.translate(INVISIBLE)).casefold()
    return re.sub(r"\s+", "", folded)


def _normalise_existing(existing: dict[str, str] | None) -> dict[str, tuple[str, str]]:
    """name key -> (stored name, level)."""
    return {org_name_key(name): (name, level) for name, level in (existing or {}).items()}


class _Checker:
    """Collects problems for one file; one function per rule keeps each rule short."""

    def __init__(self, columns: dict[str, _Found], existing: dict[str, tuple[str, str]]):
        self.columns = columns
        self.existing = existing
        self._problems: list[tuple[tuple[int, int, int], dict]] = []
        self.first_row_by_name: dict[str, tuple[int, str, str | None]] = {}  # key -> (row, name, level)
        self.first_row_by_code: dict[str, int] = {}
        self.parent_spelling: dict[int, str] = {}  # row -> parent name as stored/imported
        self.suggestions: dict[str, str] = {}  # mistyped parent key -> hint
        self._level2: dict[str, str] | None = None

    def level2_spellings(self) -> dict[str, str]:
        """name key -> spelling of every level2 org, in the file or stored."""
        if self._level2 is None:
            self._level2 = {k: name for k, (_, name, level) in self.first_row_by_name.items()
                            if level == "level2"}
            for k, (name, level) in self.existing.items():
                if level == "level2":
                    self._level2.setdefault(k, name)
        return self._level2

    def add(self, row: int | None, field: str | None, code: str, found: Any, expected: Any, message: str):
        detail = {
            "row": row,
            "column": self.header(field) if field else None,
            "code": code,
            "found": found,
            "expected": expected,
            "message": message,
        }
        order = _FIELD_ORDER.get(field, -1)
        self._problems.append(((row or 0, order, len(self._problems)), detail))

    @property
    def problems(self) -> list[dict]:
        # Parent problems are found in a second pass; report in reading order.
        return [detail for _, detail in sorted(self._problems, key=lambda p: p[0])]

    def header(self, field: str) -> str:
        found = self.columns.get(field)
        return found.header if found else _COLUMN_BY_FIELD[field].label

    def where(self, row: int, field: str) -> str:
        return f"第{row}行「{self.header(field)}」"


def _validate(records, columns, header_row, existing) -> tuple[list[OrgRow], list[dict]]:
    check = _Checker(columns, existing)
    parsed = [_check_row(check, number, values) for number, values in records]
    _check_parents(check, parsed, header_row)
    # Spell parents exactly as their own row / the stored org, so the caller can
    # link by plain equality even if the user typed “（” instead of “(”.
    parsed = [replace(r, parent_name=check.parent_spelling.get(r.row, r.parent_name)) for r in parsed]
    return parsed, check.problems


# Columns that hold one line of text: names end up in mail subjects, round titles and spreadsheets.
_SINGLE_LINE_COLUMNS = ("name", "parent_name", "short_name", "code", "contact_name")


def _check_row(check: _Checker, row: int, values: dict[str, str]) -> OrgRow:
    for field in _SINGLE_LINE_COLUMNS:
        line = single_line_problem(values.get(field, ""), check.where(row, field))
        if line is not None:
            check.add(row, field, line.code, line.found, line.expected, line.message)
    name = values.get("name", "")
    level = _check_level(check, row, values.get("level", ""))
    if not name:
        check.add(row, "name", "missing_value", "", "组织名称（必填）",
                  f"{check.where(row, 'name')}为空。每一行都必须填写组织的全称，请补填或删除该行。")
    else:
        _check_name(check, row, name, level)
    code = values.get("code") or None
    if code:
        _check_code(check, row, code)
    email = _fold(values.get("contact_email", "")) or None
    if email:
        _check_email(check, row, email)
    phone = _fold(values.get("contact_phone", "")) or None
    if phone:
        _check_phone(check, row, phone)
    return OrgRow(row=row, name=name, level=level or "", parent_name=values.get("parent_name") or None,
                  short_name=values.get("short_name") or None, code=code,
                  contact_name=values.get("contact_name") or None,
                  contact_email=email, contact_phone=phone)


def _fold(text: str) -> str:
    # Chinese IMEs produce full-width digits and ＠; store the half-width form.
    return unicodedata.normalize("NFKC", text).strip()


def _check_level(check: _Checker, row: int, text: str) -> str | None:
    if not text:
        check.add(row, "level", "missing_value", "", _ALLOWED_LEVELS_TEXT,
                  f"{check.where(row, 'level')}为空。请填写以下之一：{_ALLOWED_LEVELS_TEXT}。")
        return None
    level = _LEVEL_BY_VALUE.get(header_key(text))
    if level is None:
        check.add(row, "level", "unknown_level", text, _ALLOWED_LEVELS_TEXT,
                  f"{check.where(row, 'level')}填写的「{text}」不是可识别的层级。"
                  f"请改为以下之一：{_ALLOWED_LEVELS_TEXT}。")
    return level


def _check_name(check: _Checker, row: int, name: str, level: str | None) -> None:
    if len(name) > MAX_NAME_LENGTH:
        check.add(row, "name", "name_too_long", name, f"不超过{MAX_NAME_LENGTH}个字",
                  f"{check.where(row, 'name')}有{len(name)}个字，超过{MAX_NAME_LENGTH}个字的上限。"
                  "请核对是否误粘贴了多余内容，或改用规范的简短全称。")
    key = org_name_key(name)
    first = check.first_row_by_name.get(key)
    if first:
        check.add(row, "name", "duplicate_name", name, "名单内组织名称不重复",
                  f"{check.where(row, 'name')}「{name}」与第{first[0]}行「{first[1]}」重复"
                  "（忽略空格和全角/半角差异后相同）。每个组织只能出现一次，请删除重复行或改正名称。")
    else:
        check.first_row_by_name[key] = (row, name, level)
    stored = check.existing.get(key)
    if stored and level and stored[1] != level:
        check.add(row, "level", "level_conflict", _level_label(level), _level_label(stored[1]),
                  f"第{row}行「{name}」在系统中已登记为{_level_label(stored[1])}，"
                  f"本名单却填写为{_level_label(level)}。层级不能通过导入修改：请改回"
                  f"{_level_label(stored[1])}；如确需调整，请联系管理员处理。")


def _check_code(check: _Checker, row: int, code: str) -> None:
    key = org_name_key(code)
    first = check.first_row_by_code.get(key)
    if first:
        check.add(row, "code", "duplicate_code", code, "名单内组织编码不重复",
                  f"{check.where(row, 'code')}「{code}」与第{first}行的编码重复。"
                  "每个组织的编码必须唯一，请改正其中一行，或留空。")
    else:
        check.first_row_by_code[key] = row


def is_email(text: str) -> bool:
    """An e-mail address as the org list (and the accounts, domain/people.py) accept it, once folded."""
    return bool(_EMAIL_RE.match(text))


def _check_email(check: _Checker, row: int, email: str) -> None:
    if not is_email(email):
        check.add(row, "contact_email", "invalid_email", email, "电子邮箱，如 dangwei@example.edu.cn",
                  f"{check.where(row, 'contact_email')}填写的「{email}」不是有效的电子邮箱地址。"
                  "请填写形如 dangwei@example.edu.cn 的地址，或留空。")


def _check_phone(check: _Checker, row: int, phone: str) -> None:
    digits = sum(ch.isdigit() for ch in phone)
    if not _PHONE_RE.match(phone) or digits < _MIN_PHONE_DIGITS:
        check.add(row, "contact_phone", "invalid_phone", phone,
                  "7–20位，仅含数字、短横线、空格或+，如 027-68880000 或 13800000000",
                  f"{check.where(row, 'contact_phone')}填写的「{phone}」不是有效的电话号码。"
                  "电话应为7–20位，只含数字、短横线（-）、空格或+。"
                  "如果 Excel 把号码显示成了 1.38E+10 这样的科学计数法，请把该列设为“文本”格式后重新输入号码。")


def _level_label(level: str) -> str:
    return {"university": "学校党委", "level2": "二级党组织", "branch": "党支部"}.get(level, level)


def _check_parents(check: _Checker, parsed: list[OrgRow], header_row: int) -> None:
    branches = [r for r in parsed if r.level == "branch"]
    if branches and "parent_name" not in check.columns:
        # One message for the missing column rather than one per branch row.
        check.add(header_row, None, "missing_columns", _found_headers(check.columns),
                  "上级组织", "名单中有党支部，但表头缺少「上级组织」列。"
                  "请增加「上级组织」列，为每个党支部填写其所属二级党组织的名称。")
        return
    _check_one_university(check, parsed)
    for r in parsed:
        if r.level == "university" and r.parent_name:
            check.add(r.row, "parent_name", "university_has_parent", r.parent_name, "空",
                      f"{check.where(r.row, 'parent_name')}填写了「{r.parent_name}」，但本行是学校党委，"
                      "学校党委是本校组织的最上一级，不填上级组织。请清空该单元格；如本行其实是二级党组织或党支部，请改正层级。")
        if r.level == "level2" and r.parent_name:
            check.add(r.row, "parent_name", "level2_has_parent", r.parent_name, "空",
                      f"{check.where(r.row, 'parent_name')}填写了「{r.parent_name}」，但本行是二级党组织，"
                      "二级党组织直接隶属于学校党委，不填上级组织。请清空该单元格；如本行其实是党支部，请改正层级。")
    for r in branches:
        _check_parent(check, r)


def _check_one_university(check: _Checker, parsed: list[OrgRow]) -> None:
    """A university has one party committee: one row of level university, in the file and the system together."""
    rows = [r for r in parsed if r.level == "university"]
    stored = next((name for name, level in check.existing.values() if level == "university"), None)
    for position, r in enumerate(rows):
        if position > 0:
            other, where = rows[0].name, f"本名单第{rows[0].row}行"
        elif stored is not None and org_name_key(stored) != org_name_key(r.name):
            other, where = stored, "系统中已登记"
        else:
            continue
        check.add(r.row, "level", "second_university_org", _level_label("university"), "每校一个学校党委",
                  f"第{r.row}行「{r.name}」填写为学校党委，但{where}的「{other}」已是学校党委，每所高校只有一个学校党委。"
                  "请核对层级：院系党委等请填“二级党组织”。")


def _check_parent(check: _Checker, r: OrgRow) -> None:
    where = check.where(r.row, "parent_name")
    if not r.parent_name:
        check.add(r.row, "parent_name", "missing_value", "", "所属二级党组织的名称",
                  f"{where}为空。党支部必须填写所属二级党组织的名称。")
        return
    key = org_name_key(r.parent_name)
    in_file = check.first_row_by_name.get(key)
    stored = check.existing.get(key)
    if in_file:
        parent_row, spelling, level = in_file
        if level is None:
            return  # the parent row's own level problem is already reported
        parent_level, source = level, f"本名单第{parent_row}行"
    elif stored:
        (spelling, parent_level), source = stored, "系统中已有的组织"
    else:
        check.add(r.row, "parent_name", "parent_not_found", r.parent_name, "本名单或系统中已有的二级党组织名称",
                  f"{where}填写的「{r.parent_name}」在本名单和系统中都找不到。{_suggest(check, key)}"
                  "请填写所属二级党组织的全称（须与该组织的「名称」完全一致），或在本名单中增加该二级党组织。")
        return
    if parent_level != "level2":
        check.add(r.row, "parent_name", "parent_not_level2", r.parent_name, "二级党组织",
                  f"{where}填写的「{r.parent_name}」是{source}，层级为{_level_label(parent_level)}，"
                  "而党支部的上级必须是二级党组织（分党委、党总支、院系党委、党工委等）。请改为所属二级党组织的名称。")
    else:
        check.parent_spelling[r.row] = spelling


def _suggest(check: _Checker, key: str) -> str:
    """A 'did you mean' hint: typos in long Chinese names are the usual cause.

    Fuzzy matching costs O(candidates) per lookup, so it is memoised per typo and
    capped: a file where thousands of parents are wrong needs no more hints.
    """
    if key not in check.suggestions and len(check.suggestions) < _MAX_SUGGESTIONS:
        candidates = check.level2_spellings()
        close = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.6)
        check.suggestions[key] = f"是否应为「{candidates[close[0]]}」？" if close else ""
    return check.suggestions.get(key, "")


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #

def _fail_rows(problems: list[dict]) -> NoReturn:
    rows = {p["row"] for p in problems}
    raise Unprocessable(
        f"组织名单有{len(rows)}行存在问题（共{len(problems)}处），未导入任何数据。"
        "请按 details 逐行修改后重新上传。",
        code=ERROR_CODE, details=problems)


def _fail_file(code: str, message: str, *, expected: Any, found: Any, row: int | None = None) -> NoReturn:
    """A problem with the file as a whole; same shape as row problems for portals."""
    detail = {"row": row, "column": None, "code": code, "found": found,
              "expected": expected, "message": message}
    raise Unprocessable(message, code=ERROR_CODE, expected=expected, found=found, details=[detail])


def _fail_missing_columns(row: int, cells: list[str]) -> NoReturn:
    columns = _match_columns(cells)
    missing = [c.label for c in _COLUMNS if c.required and c.field not in columns]
    found = [text for text in cells if text]
    expected = "、".join(f"{c.label}（{'/'.join(c.aliases)}）" for c in _COLUMNS if c.required)
    _fail_file("missing_columns",
               f"组织名单表头缺少必填列：{'、'.join(missing)}。第{row}行读到的列为："
               f"{'、'.join(found) or '（无）'}；必填列为：{expected}，"
               f"可选列为：{'、'.join(c.label for c in _COLUMNS if not c.required)}。"
               "请使用组织名单模板的表头后重新上传。",
               expected=[c.label for c in _COLUMNS], found=found, row=row)


def _found_headers(columns: dict[str, _Found]) -> list[str]:
    return [f.header for f in sorted(columns.values(), key=lambda f: f.index)]




def _add_instructions(ws) -> None:
    lines = (
        "填写说明",
        "1. 请在“组织名单”工作表中填写，第1行为表头，不要修改表头；示例行请替换为本校数据。",
        "2. 名称、层级为必填；党支部必须填写上级组织，且须与其所属二级党组织的“名称”完全一致。",
        f"3. 层级可填：{_ALLOWED_LEVELS_TEXT}。",
        "4. 二级党组织的“上级组织”留空。名称不超过100个字，名称和编码在名单内不能重复。",
        "5. 电话为7–20位，只含数字、短横线、空格或+；邮箱如 dangwei@example.edu.cn。",
        f"6. 一次最多导入{MAX_DATA_ROWS}行。任一行有问题时整份名单都不会导入，请按提示逐行修改后重新上传。",
    )
    for line in lines:
        ws.append([line])
    ws.column_dimensions["A"].width = 100
