"""Tables people keep in Excel: reading .xlsx, or CSV in UTF-8, GB18030 or UTF-16; writing cells.

Offices upload lists (组织名单, 评审专家名单) from Excel or WPS. This module turns the
bytes into (Excel row number, trimmed cell texts), refusing what it cannot read
with a Chinese message naming the list (`what`) and what to do. Pure: no I/O
besides reading the given bytes.

Every workbook the platform writes makes its cells with `xlsx_cell`, so no exported title,
name or comment is ever a formula and no character in one can break an export.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, NoReturn

from common.archives import ZipLimits, measure_zip
from common.errors import PayloadTooLarge, Unprocessable

_XLSX_MAGIC = b"PK\x03\x04"
# An org list of 5,000 rows is about 3 MB of XML unzipped, and pictures in a workbook do not
# compress: 50 MB unzipped, or a ratio past 100 once over 5 MB, is no list (a 1.1 MB workbook
# whose sharedStrings.xml inflates to 1 GB is refused before openpyxl opens it).
TABLE_ZIP_LIMITS = ZipLimits(max_uncompressed=50 * 1024 * 1024, max_ratio=100, min_ratio_bytes=5 * 1024 * 1024,
                             max_entries=1000)
# Rows as the sheet numbers them (blank ones too: a formatted sheet can run to row 1,048,576) and
# columns read; our lists have 5–8 columns and at most 5,000 data rows.
MAX_SHEET_ROWS = 20_000
MAX_COLUMNS = 100
# Legacy .xls/.et, and password-protected .xlsx (an OLE container too).
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def header_key(text: str) -> str:
    """Users write “组织 名称”, “Name”, “short name”, “名称*” for required columns."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s_\-*]", "", folded)


def _fail(what: str, error_code: str, code: str, message: str, *, expected: Any, found: Any,
          row: int | None = None) -> NoReturn:
    """A problem with the file as a whole, in the same shape as row problems."""
    detail = {"row": row, "column": None, "code": code, "found": found, "expected": expected, "message": message}
    raise Unprocessable(message, code=error_code, expected=expected, found=found, details=[detail])


def _describe(filename: str | None) -> str:
    return f"文件「{filename}」" if filename else "上传的文件"


def _found_format(kind: str, filename: str | None, content_type: str | None) -> str:
    parts = [kind] + [p for p in (filename, content_type) if p]
    return "，".join(parts)


Rows = Iterator[tuple[int, list[str]]]


@contextmanager
def open_rows(data: bytes, filename: str | None, content_type: str | None, *, what: str,
              error_code: str) -> Iterator[Rows]:
    """Yield an iterator of (Excel row number, trimmed cell texts)."""
    if not data.strip():
        _fail(what, error_code, "empty_file", f"上传的{what}文件是空的。请填写{what}后重新上传。",
                   expected="包含表头和组织数据的 .xlsx 或 .csv 文件", found="空文件")
    if data.startswith(_OLE_MAGIC):
        _fail(what, error_code, "unsupported_format",
                   f"{_describe(filename)}是旧版 Excel（.xls）、WPS（.et）或设置了密码的文件，无法读取。"
                   "请在 Excel 或 WPS 中取消密码并“另存为” .xlsx 格式后重新上传。",
                   expected=".xlsx 或 .csv", found=_found_format(".xls/.et", filename, content_type))
    if data.startswith(_XLSX_MAGIC):
        with _xlsx_rows(data, filename, content_type, what, error_code) as rows:
            yield rows
    else:
        yield _capped(_csv_rows(_decode_text(data, filename, content_type, what, error_code), what, error_code),
                      what, error_code)


def _check_zip(data: bytes, filename: str | None, what: str) -> None:
    """Measure the workbook from its zip directory before anything inflates (common/archives.py)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            size = measure_zip(zf)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        return  # not a readable zip: load_workbook says so in its own words below
    if size.exceeds(TABLE_ZIP_LIMITS):
        limit = TABLE_ZIP_LIMITS.max_uncompressed // (1024 * 1024)
        message = (f"{_describe(filename)}解压后有 {size.uncompressed / 1024 / 1024:.0f} MB"
                   f"（压缩比 {size.ratio:.0f} 倍，{size.entries} 个部件），超出{what}的上限（解压后 {limit} MB、"
                   f"压缩比 {TABLE_ZIP_LIMITS.max_ratio:.0f} 倍），不像正常的{what}，未读取。"
                   f"请用 Excel 或 WPS 打开后只保留{what}一张表，另存为 .xlsx（或 CSV）后重新上传。")
        detail = {"row": None, "column": None, "code": "spreadsheet_too_large", "message": message,
                  "found": size.uncompressed, "expected": TABLE_ZIP_LIMITS.max_uncompressed}
        raise PayloadTooLarge(message, code="spreadsheet_too_large", expected=TABLE_ZIP_LIMITS.max_uncompressed,
                              found=size.uncompressed, details=[detail])


def _capped(rows: Rows, what: str, error_code: str) -> Rows:
    """Rows as read, refused past MAX_SHEET_ROWS rows or MAX_COLUMNS columns with the row named."""
    for number, cells in rows:
        if number > MAX_SHEET_ROWS:
            _fail(what, error_code, "too_many_rows",
                  f"{what}超过 {MAX_SHEET_ROWS} 行（含空行；第 {number} 行还有内容或格式）。"
                  f"请删除多余的行（包括只设了格式的空行），或拆分为多个文件后分批上传。",
                  expected=f"不超过 {MAX_SHEET_ROWS} 行", found=f"第 {number} 行", row=number)
        if len(cells) > MAX_COLUMNS and any(cells[MAX_COLUMNS:]):
            _fail(what, error_code, "too_many_columns",
                  f"{what}第 {number} 行超过 {MAX_COLUMNS} 列。请只保留模板中的列（多余的列请删除）后重新上传。",
                  expected=f"不超过 {MAX_COLUMNS} 列", found=f"多于 {MAX_COLUMNS} 列", row=number)
        yield number, cells[:MAX_COLUMNS]


@contextmanager
def _xlsx_rows(data: bytes, filename: str | None, content_type: str | None, what: str,
               error_code: str) -> Iterator[Rows]:
    from openpyxl import load_workbook

    _check_zip(data, filename, what)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for a zip that isn't a workbook
        _fail(what, error_code, "unsupported_format",
                   f"{_describe(filename)}是压缩文件，但不是有效的 Excel .xlsx 工作簿（可能已损坏，或是 .docx/.zip 等）。"
                   f"请用 Excel 或 WPS 打开{what}并另存为 .xlsx 后重新上传。",
                   expected=".xlsx 或 .csv", found=_found_format("zip", filename, content_type))
    try:
        ws = wb.worksheets[0]  # the first sheet, not the active one: predictable for users
        ws.reset_dimensions()  # some generators write a wrong <dimension>; don't trust it
        # openpyxl fills skipped rows, so enumeration gives the Excel row number. max_col bounds each row:
        # without it a single cell in column XFD widens its row to 16,384 values.
        yield _capped(((n, [cell_text(v) for v in values])
                       for n, values in enumerate(ws.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1), start=1)),
                      what, error_code)
    finally:
        wb.close()


def _decode_text(data: bytes, filename: str | None, content_type: str | None, what: str, error_code: str) -> str:
    """UTF-8 (with or without BOM), else GB18030, which Chinese Excel writes."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's “Unicode 文本” export: UTF-16 with BOM, tab-separated.
        return data.decode("utf-16")
    if b"\x00" not in data:
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                continue
    _fail(what, error_code, "unsupported_format",
               f"无法识别{_describe(filename)}的格式：它既不是 Excel .xlsx，也不是 UTF-8 或 GBK/GB18030 编码的 CSV 文本。"
               f"请用{what}模板填写，保存为 .xlsx（或 CSV UTF-8）后重新上传。",
               expected=".xlsx 或 .csv", found=_found_format("未知", filename, content_type))


def _csv_rows(text: str, what: str, error_code: str) -> Rows:
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        # A record, not a physical line, is one row once Excel opens the CSV.
        for number, record in enumerate(reader, start=1):
            yield number, [cell_text(v) for v in record]
    except csv.Error as exc:
        _fail(what, error_code, "unsupported_format",
                   f"CSV 文件第{reader.line_num}行无法解析（{exc}）。请用 Excel 打开后另存为 .xlsx 再上传。",
                   expected="规范的 CSV 文件", found=str(exc))


def _sniff_delimiter(text: str) -> str:
    # Only comma and tab occur in practice (Excel “CSV” and “文本文件(制表符分隔)”).
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    return "\t" if first_line.count("\t") > first_line.count(",") else ","


def cell_text(value: Any) -> str:
    """Cell value -> trimmed text; Excel numbers lose their spurious '.0'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        # Phones and codes typed into numeric cells arrive as 13871155658.0.
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).translate(INVISIBLE).strip()




# --------------------------------------------------------------------------- writing

# What makes Excel, WPS and LibreOffice take a typed cell for a formula (or a DDE call): a text
# starting with one of these is marked "quote prefix", so it stays text even when someone edits it.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
# Characters XML 1.0 forbids (openpyxl raises on them, so one "\x07" in a title made a whole export
# answer 500), lone surrogates, and the two non-characters.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
CELL_LIMIT = 32_767  # characters Excel shows in one cell; a longer cell makes it "repair" the file


def xlsx_text(value: Any) -> str:
    """Text a workbook can hold: what XML forbids dropped, cut to what Excel shows."""
    text = _XML_ILLEGAL.sub("", str(value))
    return text if len(text) <= CELL_LIMIT else text[:CELL_LIMIT - 1] + "…"


def xlsx_cell(ws, value: Any, *, font=None, number_format: str | None = None, alignment=None):
    """One cell for `ws.append`, in every XLSX the platform writes (normal or write-only sheets).

    Text always stays text: openpyxl stores any string starting with "=" as a formula, and the
    ministry's exports hold every university's titles, names and comments, so a title like
    `=HYPERLINK("http://…","点击查看")` would run in the ministry's Excel. Numbers, dates and
    empty cells pass as they are.
    """
    from openpyxl.cell import WriteOnlyCell

    if value is None or isinstance(value, (bool, int, float, date, datetime)):
        cell = WriteOnlyCell(ws, value=value)
    else:
        text = xlsx_text(value)
        cell = WriteOnlyCell(ws, value=None)
        cell.value = text
        cell.data_type = "s"  # after the value: assigning it would make "=…" a formula again
        if text.startswith(_FORMULA_START):
            cell.quotePrefix = True
    if font is not None:
        cell.font = font
    if number_format is not None:
        cell.number_format = number_format
    if alignment is not None:
        cell.alignment = alignment
    return cell
