"""The ministry's progress feed in three shapes: paged JSON, Atom, XLSX.

Pure functions over the plain progress rows `readmodel.row_json` produces::

    {"tenant": "seu", "tenant_name": "东南大学", "campaign_id": "siyige-2020-seu",
     "track": "story", "track_label": "战疫故事汇", "level": "level2",
     "orgs_expected": 30, "orgs_submitted": 12,
     "works": {"submitted": 14, "withdrawn": 1, "forwarded": 0},
     "updated_at": "2020-07-14T02:00:00+00:00", "seq": 42}

`seq` is a change number: every time a row is recomputed it gets the next
value of one global counter, so "everything with seq > N" is exactly what
changed since a client last saw N. The cursor below is that N, wrapped.

Optional keys are used when present: `campaign_title` (shown instead of the
campaign id) and `works["in_progress"]`.
"""
from __future__ import annotations

import base64
import binascii
import io
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NoReturn
from urllib.parse import quote

from common.errors import InvalidInput
from common.locale import BEIJING, LEVEL_LABELS, beijing_minute
from common.tables import xlsx_cell, xlsx_text

# Repeated here rather than imported from the intake service: notify keeps
# its own copies of what it needs and never imports another service's code.

# --------------------------------------------------------------------------- #
# Cursor and paging
# --------------------------------------------------------------------------- #

_CURSOR_PREFIX = "v1:"
# seq is a PostgreSQL bigint; a larger number would pass here and fail in the
# query as a 500, so it is refused as a bad cursor instead.
_MAX_SEQ = 2**63 - 1
# "v1:" + 19 digits is 22 bytes, 32 base64 characters; anything much longer is
# not ours and is refused before decoding any of it.
_MAX_CURSOR_LEN = 64
DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def encode_cursor(seq: int) -> str:
    """An opaque, URL-safe cursor meaning "rows changed after change number `seq`".

    It is opaque (not a bare number) so that clients store and echo it rather
    than compute with it, which leaves us free to change what it holds: the
    "v1:" prefix is there for that day.
    """
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= _MAX_SEQ:
        raise ValueError(f"seq must be an int in [0, {_MAX_SEQ}], got {seq!r}")
    raw = f"{_CURSOR_PREFIX}{seq}".encode("ascii")
    # Padding is stripped: "=" would need escaping in a query string.
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(s: str | None) -> int:
    """The change number in a cursor from `encode_cursor`; None means "from the start" (0).

    Only the exact spelling `encode_cursor` produces is accepted (no padding,
    no leading zeros, no signs), so each position has one cursor and a
    hand-edited one fails loudly instead of silently skipping rows.
    """
    if s is None:
        return 0
    if not isinstance(s, str) or not s or len(s) > _MAX_CURSOR_LEN or not re.fullmatch(r"[A-Za-z0-9_-]+", s):
        _bad_cursor(s)
    try:
        raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        _bad_cursor(s)
    if not raw.startswith(_CURSOR_PREFIX) or not re.fullmatch(r"0|[1-9][0-9]*", raw[len(_CURSOR_PREFIX):]):
        _bad_cursor(s)
    seq = int(raw[len(_CURSOR_PREFIX):])
    if seq > _MAX_SEQ or encode_cursor(seq) != s:
        # The second test catches non-canonical base64 (other trailing bits).
        _bad_cursor(s)
    return seq


def _bad_cursor(s: Any) -> NoReturn:
    shown = s if isinstance(s, str) and len(s) <= _MAX_CURSOR_LEN else f"{str(s)[:_MAX_CURSOR_LEN]}…"
    raise InvalidInput(
        "游标（cursor）无效：它应是上一次响应中 next_cursor 的原值，请勿修改。"
        "如需从头获取全部数据，请不带 cursor 参数重新请求。",
        code="invalid_cursor", field="cursor", expected="上一次响应返回的 next_cursor", found=shown)


def parse_limit(raw: Any, *, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    """The page size from a query parameter; absent means `default`."""
    if raw is None or raw == "":
        return default
    text = str(raw).strip()
    if not re.fullmatch(r"[0-9]{1,6}", text) or not 1 <= int(text) <= maximum:
        raise InvalidInput(f"每页条数（limit）应为 1 到 {maximum} 之间的整数，收到的是“{str(raw)[:20]}”。",
                           code="invalid_limit", field="limit", expected=f"1–{maximum}", found=str(raw)[:20])
    return int(text)


def page(rows_after_cursor: list[dict], limit: int, *, cursor: str | None = None) -> dict:
    """One page of the change feed.

    Contract for the caller (the query): pass the rows with `seq` greater than
    the decoded incoming cursor, sorted by `seq` ascending, and fetch
    `limit + 1` of them; the extra row is how `has_more` is known without a
    second query. Pass the incoming `cursor` too, so an empty page can hand it
    back unchanged.

    Contract for the client: store `next_cursor`; ask again with it, now or
    later, and get only rows that changed since (a row that changed again
    comes back with its new figures and a higher seq, so the newest copy of a
    row wins). While `has_more` is true, ask again at once. An empty page means
    nothing has changed yet: keep the same cursor and poll later.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive int, got {limit!r}")
    items = rows_after_cursor[:limit]
    if items:
        next_cursor = encode_cursor(items[-1]["seq"])
    else:
        next_cursor = cursor if cursor is not None else encode_cursor(0)
    return {"items": items, "next_cursor": next_cursor, "has_more": len(rows_after_cursor) > limit}


# --------------------------------------------------------------------------- #
# Shared helpers
# --------------------------------------------------------------------------- #


def submission_rate(row: dict) -> float | None:
    """Share of expected orgs that submitted, 0..1 (may exceed 1 when the org
    list shrank after submissions); None when no org is expected, as "0 %"
    would read as "nobody submitted" and is wrong."""
    expected = row.get("orgs_expected") or 0
    if expected <= 0:
        return None
    return (row.get("orgs_submitted") or 0) / expected


def _aware(value: str | datetime, what: str) -> datetime:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None or when.utcoffset() is None:
        # A naive time is ambiguous by 8 hours between UTC and Beijing; guessing
        # would publish wrong times to the ministry without anyone noticing.
        raise ValueError(f"{what} must carry a UTC offset, got {value!r}")
    return when


def _beijing_text(value: str | datetime) -> str:
    return beijing_minute(_aware(value, "updated_at"))


def _rfc3339(value: str | datetime, what: str) -> str:
    return _aware(value, what).astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _works(row: dict) -> dict:
    return row.get("works") or {}


def _campaign_name(row: dict) -> str:
    return row.get("campaign_title") or row.get("campaign_id") or ""


def _level_label(level: str) -> str:
    return LEVEL_LABELS.get(level, level)


def _percent_text(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


# XML 1.0 forbids most C0 controls, lone surrogates and U+FFFE/FFFF; ElementTree
# writes them unescaped and the result does not parse. Names come from
# university admins' spreadsheets, so they are dropped rather than trusted.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(value: Any) -> str:
    return _XML_ILLEGAL.sub("", str(value))


# --------------------------------------------------------------------------- #
# Atom
# --------------------------------------------------------------------------- #

ATOM_NS = "http://www.w3.org/2005/Atom"
TAG_AUTHORITY = "tag:siyige.platform,2020:"
FEED_TITLE = "高校基层党组织活动进度（教育部思政司）"
FEED_AUTHOR = "四个一行动平台"


def _sub(parent: ET.Element, tag: str, text: Any = None, **attrib: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: _xml_text(v) for k, v in attrib.items()})
    if text is not None:
        el.text = _xml_text(text)
    return el


def _tag_part(value: Any) -> str:
    # Keys are slugs today, but a tag URI must stay a valid URI whatever a
    # tenant chooses; "/" is escaped too since it separates the parts.
    return quote(str(value), safe="-._~")


def entry_id(row: dict) -> str:
    """A stable id per row *version*: a newer seq is a new entry, so readers
    show each change instead of overwriting the previous one."""
    parts = (row["tenant"], row["campaign_id"], row["track"], row["level"], row["seq"])
    return TAG_AUTHORITY + "progress/" + "/".join(_tag_part(p) for p in parts)


def entry_title(row: dict) -> str:
    # The level is in the title because one track is often submitted at two
    # levels, and the two entries would otherwise read the same.
    return (f"{row.get('tenant_name') or row['tenant']} · {row.get('track_label') or row['track']}"
            f"（{_level_label(row['level'])}）：{row.get('orgs_submitted', 0)}/{row.get('orgs_expected', 0)}"
            " 个组织已提交")


def entry_summary(row: dict) -> str:
    works = _works(row)
    in_progress = f"，未完成 {works['in_progress']} 件" if works.get("in_progress") else ""
    return (f"活动：{_campaign_name(row)}；赛道：{row.get('track_label') or row['track']}；"
            f"层级：{_level_label(row['level'])}。"
            f"应交组织 {row.get('orgs_expected', 0)} 个，已提交 {row.get('orgs_submitted', 0)} 个"
            f"（提交率 {_percent_text(submission_rate(row))}）。"
            f"作品：已提交 {works.get('submitted', 0)} 件{in_progress}，已撤回 {works.get('withdrawn', 0)} 件，"
            f"已报送教育部 {works.get('forwarded', 0)} 件。"
            f"更新于 {_beijing_text(row['updated_at'])}（北京时间）。")


def progress_atom(rows: Iterable[dict], feed_url: str, updated: datetime) -> bytes:
    """An Atom 1.0 feed (RFC 4287), UTF-8, one entry per progress row.

    Built with ElementTree so every text and attribute is escaped by the
    serializer; nothing is concatenated into markup by hand.
    """
    # Elements are built unqualified under a literal xmlns attribute: the
    # output is plain <feed xmlns="...">, and nothing touches ElementTree's
    # process-wide prefix registry (its default_namespace option refuses
    # Atom's unqualified attributes such as rel and href).
    feed = ET.Element("feed", {"xmlns": ATOM_NS, "{http://www.w3.org/XML/1998/namespace}lang": "zh-CN"})
    _sub(feed, "id", TAG_AUTHORITY + "progress")
    _sub(feed, "title", FEED_TITLE)
    _sub(feed, "updated", _rfc3339(updated, "updated"))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=feed_url)
    # A feed-level author satisfies RFC 4287's "every entry has an author".
    _sub(_sub(feed, "author"), "name", FEED_AUTHOR)
    _sub(feed, "generator", FEED_AUTHOR)
    for row in rows:
        entry = _sub(feed, "entry")
        _sub(entry, "id", entry_id(row))
        _sub(entry, "title", entry_title(row))
        _sub(entry, "updated", _rfc3339(row["updated_at"], "updated_at"))
        _sub(entry, "category", term=row["track"], label=row.get("track_label") or row["track"])
        _sub(entry, "content", entry_summary(row), type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


# --------------------------------------------------------------------------- #
# XLSX
# --------------------------------------------------------------------------- #

XLSX_HEADER = ("高校", "活动", "赛道", "层级", "应交组织数", "已交组织数", "提交率",
               "已提交作品", "已撤回", "已报送", "更新时间")
XLSX_EXPLANATIONS = (
    ("高校", "提交作品的高校党委（租户）。"),
    ("活动", "活动名称；各高校按教育部活动派生自己的版本，因此同一活动可能以不同名称出现。"),
    ("赛道", "活动中的作品类别，如专题微党课、战疫故事汇、教育素材。"),
    ("层级", "提交作品的组织层级：二级党组织或党支部。"),
    ("应交组织数", "该高校登记在册、该层级应提交作品的组织数。"),
    ("已交组织数", "至少有一件作品处于“已提交”状态的组织数（撤回后不再计入）。"),
    ("提交率", "已交组织数 ÷ 应交组织数。应交组织数为 0 时留空；组织名单在提交后缩减时可能超过 100%。"),
    ("已提交作品", "当前处于“已提交”状态、材料齐全的作品件数。"),
    ("已撤回", "提交后又被撤回的作品件数。"),
    ("已报送", "高校择优后报送教育部的作品件数。"),
    ("更新时间", "该行数据最近一次变化的时间，北京时间（UTC+8）。"),
)
_PERCENT_FORMAT = "0.0%"
_TIME_FORMAT = "yyyy-mm-dd hh:mm"


def _display_width(text: str) -> int:
    # Excel column width counts Latin characters; a Han character takes about two.
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _xlsx_row(row: dict) -> list[Any]:
    works = _works(row)
    beijing = _aware(row["updated_at"], "updated_at").astimezone(BEIJING).replace(tzinfo=None)
    return [
        xlsx_text(row.get("tenant_name") or row["tenant"]),
        xlsx_text(_campaign_name(row)),
        xlsx_text(row.get("track_label") or row["track"]),
        xlsx_text(_level_label(row["level"])),
        row.get("orgs_expected", 0),
        row.get("orgs_submitted", 0),
        submission_rate(row),
        works.get("submitted", 0),
        works.get("withdrawn", 0),
        works.get("forwarded", 0),
        beijing,  # Excel has no time zones: the cell holds Beijing wall-clock time
    ]


def progress_xlsx(rows: Iterable[dict]) -> bytes:
    """The progress table as an Excel workbook: sheet "进度" and an explanation sheet "说明"."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "进度"
    ws.append(list(XLSX_HEADER))
    widths = [_display_width(h) for h in XLSX_HEADER]
    count = 0
    formats = {6: _PERCENT_FORMAT, 10: _TIME_FORMAT}
    for row in rows:
        values = _xlsx_row(row)
        # xlsx_cell: a name like "=HYPERLINK(...)" stays text in the ministry's Excel
        ws.append([xlsx_cell(ws, v, number_format=formats.get(col)) for col, v in enumerate(values)])
        count += 1
        for col, value in enumerate(values):
            if isinstance(value, str):
                widths[col] = max(widths[col], _display_width(value))
    widths[10] = max(widths[10], len("2020-07-14 10:00"))
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center")
    for col, width in enumerate(widths, start=1):
        # +2 for the filter drop-down button; capped so a long name cannot
        # push the figures off screen.
        ws.column_dimensions[get_column_letter(col)].width = min(width + 2, 60)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(XLSX_HEADER))}{count + 1}"

    notes = wb.create_sheet("说明")
    notes.append(["列", "含义"])
    for name, text in XLSX_EXPLANATIONS:
        notes.append([name, text])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    notes.column_dimensions["A"].width = 14
    notes.column_dimensions["B"].width = 90
    for (cell,) in notes.iter_rows(min_row=2, min_col=2, max_col=2):
        cell.alignment = Alignment(wrap_text=True, vertical="top")

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------- #
# Forwarded works (择优报送): Atom and XLSX
# --------------------------------------------------------------------------- #

FORWARDED_HEADER = ("高校", "活动", "赛道", "作品名称", "报送单位", "回执编号", "报送时间", "关键词", "文件")


def forwarded_atom(items: Iterable[dict], feed_url: str, updated: datetime, track_labels: dict[str, str]) -> bytes:
    """One entry per forwarded work, with a link to each of its files."""
    feed = ET.Element("feed", {"xmlns": ATOM_NS, "{http://www.w3.org/XML/1998/namespace}lang": "zh-CN"})
    _sub(feed, "id", TAG_AUTHORITY + "forwarded")
    _sub(feed, "title", "报送作品")
    _sub(feed, "updated", _rfc3339(updated, "updated"))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=feed_url)
    _sub(_sub(feed, "author"), "name", FEED_AUTHOR)
    for item in items:
        entry = _sub(feed, "entry")
        _sub(entry, "id", TAG_AUTHORITY + "forwarded:" + _tag_part(item["submission_id"]))
        _sub(entry, "title", f"{item['tenant_name']}·{item['title']}")
        _sub(entry, "updated", _rfc3339(item["forwarded_at"], "forwarded_at"))
        _sub(entry, "category", term=item["track"], label=track_labels.get(item["track"], item["track"]))
        _sub(entry, "content", f"{item['tenant_name']} {item['org_name']} 报送，回执编号 {item['receipt_no'] or '无'}，"
                               f"报送时间 {_beijing_text(item['forwarded_at'])}（北京时间）。"
                               + (f"关键词：{'、'.join(item['keywords'])}。" if item.get("keywords") else ""), type="text")
        for f in item["files"]:
            _sub(entry, "link", rel="enclosure", href=f["url"], type=f["content_type"], length=str(f["size"]))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def forwarded_xlsx(items: Iterable[dict], track_labels: dict[str, str], link_hours: int) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "报送作品"
    ws.append(list(FORWARDED_HEADER))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for item in items:
        values = [item["tenant_name"], item["campaign_id"], track_labels.get(item["track"], item["track"]),
                  item["title"], item["org_name"], item["receipt_no"] or "", _beijing_text(item["forwarded_at"]),
                  "、".join(item.get("keywords") or []),
                  # each file by its name (「党组织名称+作品名称」 where the campaign has the naming rule), then its link
                  "\n".join(f"{f['name']}：{f['url']}" if f.get("name") else f["url"] for f in item["files"])]
        ws.append([xlsx_cell(ws, v) for v in values])  # a title starting with "=" stays text
    ws.freeze_panes = "A2"
    notes = wb.create_sheet("说明")
    notes.append([f"文件链接 {link_hours} 小时内有效；过期后请重新导出，或通过报送作品接口获取新链接。"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
