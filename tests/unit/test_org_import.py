"""Org list import: parsing XLSX/CSV and all-or-nothing validation.

Fixtures are built here with openpyxl / the csv module, never committed binaries,
so each test shows exactly which cells it feeds in.
"""
from __future__ import annotations

import csv
import io
import zipfile

import openpyxl
import pytest

from common.errors import InvalidInput, Unprocessable
from services.intake.domain.orgs import MAX_DATA_ROWS, ORG_LEVELS, OrgRow, org_name_key, parse_org_table, render_template_xlsx

HEADER = ["名称", "层级", "上级组织", "简称", "编码", "联系人", "邮箱", "电话"]
COLLEGE = "计算机科学与技术学院党委"
BRANCH = "计算机学院教工第一党支部"
GOOD_ROWS = [
    [COLLEGE, "院系党委", "", "计算机学院党委", "0301", "张老师", "jsj@example.edu.cn", "027-68880000"],
    [BRANCH, "党支部", COLLEGE, "教工一支部", "030101", "李老师", "", "13800000000"],
]


# --------------------------------------------------------------------------- #
# Fixture builders
# --------------------------------------------------------------------------- #

def make_xlsx(rows: list[list]) -> bytes:
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def make_csv(rows: list[list], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return text.getvalue().encode(encoding)


def table(*rows: list, header: list[str] = HEADER) -> bytes:
    """A CSV with the standard header; short rows are padded like Excel would."""
    return make_csv([header] + [list(r) + [""] * (len(header) - len(r)) for r in rows])


def details_of(data: bytes, **kwargs) -> list[dict]:
    with pytest.raises(Unprocessable) as caught:
        parse_org_table(data, **kwargs)
    assert caught.value.code == "org_import_invalid"
    assert caught.value.status == 422
    return caught.value.details


def only_problem(data: bytes, **kwargs) -> dict:
    details = details_of(data, **kwargs)
    assert len(details) == 1, details
    return details[0]


# --------------------------------------------------------------------------- #
# Happy paths: formats and encodings
# --------------------------------------------------------------------------- #

EXPECTED_GOOD = [
    OrgRow(2, COLLEGE, "level2", None, "计算机学院党委", "0301", "张老师", "jsj@example.edu.cn", "027-68880000"),
    OrgRow(3, BRANCH, "branch", COLLEGE, "教工一支部", "030101", "李老师", None, "13800000000"),
]


def test_xlsx_rows_are_parsed_with_excel_row_numbers():
    assert parse_org_table(make_xlsx([HEADER] + GOOD_ROWS)) == EXPECTED_GOOD


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_in_each_encoding_chinese_excel_writes(encoding):
    assert parse_org_table(make_csv([HEADER] + GOOD_ROWS, encoding)) == EXPECTED_GOOD


def test_tab_separated_text():
    assert parse_org_table(make_csv([HEADER] + GOOD_ROWS, "gb18030", "\t")) == EXPECTED_GOOD


def test_excel_unicode_text_export_utf16_with_tabs():
    assert parse_org_table(make_csv([HEADER] + GOOD_ROWS, "utf-16", "\t")) == EXPECTED_GOOD


def test_english_headers_ignore_case_and_spaces():
    header = [" Name", "LEVEL ", "Parent", "Short Name", "code", "contact_name", "Contact_Email", "contact phone"]
    assert parse_org_table(make_xlsx([header] + GOOD_ROWS)) == EXPECTED_GOOD


def test_alternative_chinese_headers_and_unknown_columns_ignored():
    header = ["序号", "党组织名称", "组织类型", "上级党组织", "备注", "组织编码", "电子邮箱", "联系电话"]
    data = make_xlsx([header,
                      [1, COLLEGE, "分党委", "", "随便写", "A1", "a@b.cn", "027 6888 0000"],
                      [2, BRANCH, "支部", COLLEGE, "", "A2", "", ""]])
    rows = parse_org_table(data)
    assert [(r.name, r.level, r.parent_name, r.code) for r in rows] == [
        (COLLEGE, "level2", None, "A1"), (BRANCH, "branch", COLLEGE, "A2")]
    assert rows[0].contact_phone == "027 6888 0000"


@pytest.mark.parametrize("value", ["二级党组织", "分党委", "党总支", "院系党委", "党工委", "直属党支部",
                                   "level2", "Level 2"])
def test_level2_spellings(value):
    [row] = parse_org_table(table([COLLEGE, value]))
    assert row.level == "level2" and row.level in ORG_LEVELS


@pytest.mark.parametrize("value", ["党支部", "支部", "branch", "Branch"])
def test_branch_spellings(value):
    rows = parse_org_table(table([COLLEGE, "分党委"], [BRANCH, value, COLLEGE]))
    assert rows[1].level == "branch"


def test_level2_rows_come_first_then_branches_in_file_order():
    data = table(["支部甲", "党支部", "学院乙党委"], ["学院甲党委", "分党委"],
                 ["支部乙", "党支部", "学院甲党委"], ["学院乙党委", "党总支"])
    rows = parse_org_table(data)
    assert [(r.row, r.name) for r in rows] == [
        (3, "学院甲党委"), (5, "学院乙党委"), (2, "支部甲"), (4, "支部乙")]


def test_cells_are_trimmed_and_invisible_characters_dropped():
    [row] = parse_org_table(table(["\u3000" + COLLEGE + "\u200b ", " 分党委 ", "", " 简称 "]))
    assert (row.name, row.short_name, row.code) == (COLLEGE, "简称", None)


def test_blank_rows_are_skipped_and_row_numbers_stay_those_of_excel():
    data = make_xlsx([HEADER, GOOD_ROWS[0], [], [None, "  "], GOOD_ROWS[1]])
    assert [r.row for r in parse_org_table(data)] == [2, 5]


def test_rows_with_only_unknown_columns_filled_are_blank():
    # Offices pre-number a 序号 column far beyond the data.
    header = ["序号"] + HEADER
    data = make_xlsx([header, [1] + GOOD_ROWS[0], [2] + GOOD_ROWS[1], [3], [4]])
    assert len(parse_org_table(data)) == 2


def test_title_row_above_the_header_is_tolerated():
    data = make_xlsx([["XX大学基层党组织名单"], HEADER] + GOOD_ROWS)
    assert [r.row for r in parse_org_table(data)] == [3, 4]


def test_parent_existing_only_in_database_is_accepted_and_spelled_as_stored():
    stored = "外国语学院党委（筹）"
    rows = parse_org_table(table([BRANCH, "党支部", " 外国语学院党委(筹) "]),
                           existing={stored: "level2"})
    assert rows == [OrgRow(2, BRANCH, "branch", stored, None, None, None, None, None)]


def test_parent_spelled_with_other_width_or_spaces_links_to_file_row():
    rows = parse_org_table(table(["外国语学院党委（筹）", "分党委"], [BRANCH, "党支部", "外国语学院 党委(筹)"]))
    assert rows[1].parent_name == "外国语学院党委（筹）"


def test_reimporting_known_orgs_with_same_level_is_fine():
    existing = {COLLEGE: "level2", BRANCH: "branch"}
    assert parse_org_table(make_xlsx([HEADER] + GOOD_ROWS), existing=existing) == EXPECTED_GOOD


# --------------------------------------------------------------------------- #
# Numbers from Excel cells
# --------------------------------------------------------------------------- #

def _xlsx_with_float_phone() -> bytes:
    """Excel sometimes stores a typed phone as 1.3871155658E10; openpyxl reads a float."""
    data = make_xlsx([HEADER, [COLLEGE, "分党委", "", "", 301, "", "", 13871155658]])
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            content = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert b"<v>13871155658</v>" in content
                content = content.replace(b"<v>13871155658</v>", b"<v>1.3871155658E10</v>")
                content = content.replace(b"<v>301</v>", b"<v>301.0</v>")
            dst.writestr(item, content)
    return out.getvalue()


def test_numbers_from_excel_cells_become_clean_strings():
    wb = openpyxl.load_workbook(io.BytesIO(_xlsx_with_float_phone()))
    assert isinstance(wb.active["H2"].value, float)  # the fixture really holds a float
    [row] = parse_org_table(_xlsx_with_float_phone())
    assert (row.contact_phone, row.code) == ("13871155658", "301")


def test_integer_cells_become_strings():
    [row] = parse_org_table(make_xlsx([HEADER, [COLLEGE, "分党委", "", "", 1, "", "", 13871155658]]))
    assert (row.code, row.contact_phone) == ("1", "13871155658")


def test_full_width_phone_and_email_are_folded():
    [row] = parse_org_table(table([COLLEGE, "分党委", "", "", "", "", "ｄｗ＠ｅｘａｍｐｌｅ．ｃｎ", "１３８００００００００"]))
    assert (row.contact_email, row.contact_phone) == ("dw@example.cn", "13800000000")


# --------------------------------------------------------------------------- #
# Row problems: one per code
# --------------------------------------------------------------------------- #

LONG_NAME = "党" * 101
ROW_PROBLEMS = {
    "missing_name": ([["", "分党委"]], None, "missing_value", 2, "名称"),
    "missing_level": ([[COLLEGE, ""]], None, "missing_value", 2, "层级"),
    "missing_parent": ([[COLLEGE, "分党委"], [BRANCH, "党支部", ""]], None, "missing_value", 3, "上级组织"),
    "unknown_level": ([[COLLEGE, "党委办公室"]], None, "unknown_level", 2, "层级"),
    "duplicate_name": ([[COLLEGE, "分党委"], ["计算机科学与技术 学院党委", "分党委"]], None,
                       "duplicate_name", 3, "名称"),
    "duplicate_code": ([[COLLEGE, "分党委", "", "", "A01"], ["外语学院党委", "分党委", "", "", "ａ01"]], None,
                       "duplicate_code", 3, "编码"),
    "parent_not_found": ([[COLLEGE, "分党委"], [BRANCH, "党支部", "数学学院党委"]], None,
                         "parent_not_found", 3, "上级组织"),
    "parent_is_branch_in_file": ([[COLLEGE, "分党委"], [BRANCH, "党支部", COLLEGE], ["第二支部", "党支部", BRANCH]],
                                 None, "parent_not_level2", 4, "上级组织"),
    "parent_is_branch_in_db": ([[BRANCH, "党支部", "老支部"]], {"老支部": "branch"},
                               "parent_not_level2", 2, "上级组织"),
    "level2_has_parent": ([[COLLEGE, "分党委", "学校党委"]], None, "level2_has_parent", 2, "上级组织"),
    "invalid_email": ([[COLLEGE, "分党委", "", "", "", "", "dangwei.example.cn"]], None, "invalid_email", 2, "邮箱"),
    "invalid_phone_sci": ([[COLLEGE, "分党委", "", "", "", "", "", "1.38712E+10"]], None, "invalid_phone", 2, "电话"),
    "invalid_phone_short": ([[COLLEGE, "分党委", "", "", "", "", "", "12345"]], None, "invalid_phone", 2, "电话"),
    "name_too_long": ([[LONG_NAME, "分党委"]], None, "name_too_long", 2, "名称"),
    "level_conflict": ([[COLLEGE, "党支部", "数学学院党委"]], {COLLEGE: "level2", "数学学院党委": "level2"},
                       "level_conflict", 2, "层级"),
}


@pytest.mark.parametrize("rows, existing, code, row, column", ROW_PROBLEMS.values(), ids=ROW_PROBLEMS.keys())
def test_each_row_problem_is_reported_with_row_and_column(rows, existing, code, row, column):
    problem = only_problem(table(*rows), existing=existing)
    assert (problem["code"], problem["row"], problem["column"]) == (code, row, column)
    assert set(problem) == {"row", "column", "code", "found", "expected", "message"}
    assert f"第{row}行" in problem["message"]


def test_column_is_reported_as_the_user_named_it():
    data = make_xlsx([["Name", "Level", "Parent"], [COLLEGE, "level2"], [BRANCH, "branch", "nowhere"]])
    problem = only_problem(data)
    assert (problem["row"], problem["column"], problem["found"]) == (3, "Parent", "nowhere")


def test_unknown_level_lists_allowed_values():
    problem = only_problem(table([COLLEGE, "党委"]))
    for allowed in ("二级党组织", "分党委", "党总支", "院系党委", "党工委", "直属党支部", "党支部"):
        assert allowed in problem["expected"] and allowed in problem["message"]
    assert problem["found"] == "党委"


def test_duplicate_name_points_at_first_occurrence():
    problem = only_problem(table([COLLEGE, "分党委"], ["x", "分党委"], [COLLEGE, "党总支"]))
    assert problem["row"] == 4 and "第2行" in problem["message"]


def test_parent_not_found_suggests_close_name():
    problem = only_problem(table([COLLEGE, "分党委"], [BRANCH, "党支部", "计算机科学与技术学院党季"]))
    assert f"是否应为「{COLLEGE}」？" in problem["message"]


def test_branch_under_parent_with_bad_level_is_not_blamed_twice():
    details = details_of(table([COLLEGE, "委员会"], [BRANCH, "党支部", COLLEGE]))
    assert [(d["row"], d["code"]) for d in details] == [(2, "unknown_level")]


def test_missing_parent_column_with_branches_is_one_problem():
    data = table([COLLEGE, "分党委"], [BRANCH, "党支部"], ["支部二", "党支部"], header=["名称", "层级"])
    problem = only_problem(data)
    assert (problem["code"], problem["row"], problem["expected"]) == ("missing_columns", 1, "上级组织")


def test_parent_column_is_optional_when_there_are_no_branches():
    assert parse_org_table(table([COLLEGE, "分党委"], header=["名称", "层级"]))[0].name == COLLEGE


def test_several_problems_are_all_reported_in_row_order_and_nothing_returned():
    data = make_xlsx([
        HEADER,
        [BRANCH, "党支部", "不存在的党委", "", "", "", "bad-email"],  # row 2: parent, email
        [COLLEGE, "分党委", "", "", "C1"],  # row 3: fine
        ["", "分党委"],  # row 4: missing name
        [],  # row 5: blank, skipped
        [COLLEGE, "党委会"],  # row 6: duplicate name, unknown level
        ["数学学院党委", "分党委", "", "", "c1", "", "", "call me"],  # row 7: dup code, phone
    ])
    with pytest.raises(Unprocessable) as caught:
        parse_org_table(data, filename="名单.xlsx")
    found = [(d["row"], d["column"], d["code"]) for d in caught.value.details]
    assert found == [
        (2, "上级组织", "parent_not_found"),
        (2, "邮箱", "invalid_email"),
        (4, "名称", "missing_value"),
        (6, "名称", "duplicate_name"),
        (6, "层级", "unknown_level"),
        (7, "编码", "duplicate_code"),
        (7, "电话", "invalid_phone"),
    ]
    assert caught.value.message.startswith("组织名单有4行存在问题（共7处），未导入任何数据。")
    body = caught.value.to_dict()["error"]
    assert body["code"] == "org_import_invalid" and len(body["details"]) == 7


# --------------------------------------------------------------------------- #
# File problems
# --------------------------------------------------------------------------- #

def test_missing_required_columns_names_found_and_expected():
    problem = only_problem(make_csv([["组织", "类别", "电话"], ["x", "y", "z"]]))
    assert problem["code"] == "missing_columns" and problem["row"] == 1
    assert problem["found"] == ["组织", "类别", "电话"]
    assert {"名称", "层级"} <= set(problem["expected"])
    assert "名称" in problem["message"] and "层级" in problem["message"] and "组织、类别、电话" in problem["message"]


def test_legacy_xls_is_refused_with_advice_to_save_as_xlsx():
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512
    problem = only_problem(data, filename="名单.xls", content_type="application/vnd.ms-excel")
    assert problem["code"] == "unsupported_format"
    # Not the generic "unreadable" message: the user must learn to re-save as .xlsx.
    assert "旧版 Excel（.xls）" in problem["message"] and "另存为” .xlsx" in problem["message"]
    assert "名单.xls" in problem["message"] and problem["found"].startswith(".xls")


def test_zip_that_is_not_a_workbook_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    assert only_problem(out.getvalue(), filename="a.docx")["code"] == "unsupported_format"


def test_binary_garbage_is_refused():
    assert only_problem(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")["code"] == "unsupported_format"


@pytest.mark.parametrize("data", [b"", b"  \r\n", b"\xef\xbb\xbf", make_xlsx([]), make_csv([[], ["", ""]])],
                         ids=["zero_bytes", "whitespace", "bom_only", "empty_sheet", "blank_rows"])
def test_empty_file_is_refused(data):
    assert only_problem(data)["code"] == "empty_file"


def test_header_without_data_is_refused_as_empty():
    problem = only_problem(make_xlsx([HEADER, [], []]))
    assert (problem["code"], problem["row"]) == ("empty_file", 1)


def _many_rows(count: int) -> list[list]:
    return [[f"学院{i}党委", "分党委"] for i in range(count)]


def test_5000_rows_are_accepted():
    assert len(parse_org_table(table(*_many_rows(MAX_DATA_ROWS)))) == MAX_DATA_ROWS == 5000


def test_5001_rows_are_refused_saying_so():
    problem = only_problem(table(*_many_rows(MAX_DATA_ROWS + 1)))
    assert (problem["code"], problem["row"]) == ("too_many_rows", 5002)
    assert "5000" in problem["message"]


def test_5001_rows_in_xlsx_are_refused():
    assert only_problem(make_xlsx([HEADER] + _many_rows(MAX_DATA_ROWS + 1)))["code"] == "too_many_rows"


def test_non_bytes_input_is_a_caller_error():
    with pytest.raises(InvalidInput):
        parse_org_table("名称,层级\n")


# --------------------------------------------------------------------------- #
# Template and helpers
# --------------------------------------------------------------------------- #

def test_template_has_chinese_header_and_examples_that_import_cleanly():
    data = render_template_xlsx()
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert [c.value for c in sheet[1]] == HEADER
    rows = parse_org_table(data)
    assert [r.level for r in rows] == ["level2", "branch"]
    assert rows[1].parent_name == rows[0].name


def test_name_key_folds_width_case_and_spaces():
    assert org_name_key(" ＭＢＡ 教育中心（党总支）") == org_name_key("mba教育中心(党总支)")
