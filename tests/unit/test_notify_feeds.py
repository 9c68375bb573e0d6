"""The ministry's progress feeds: cursor, paging, Atom and XLSX (pure functions)."""
import base64
import io
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest

from common.errors import InvalidInput
from services.notify import feeds

ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE = '东南<script>alert(1)</script>&"大学\'\x00\x1b'


def row(seq=1, **over):
    base = {
        "tenant": "seu", "tenant_name": "东南大学", "campaign_id": "siyige-2020-seu",
        "track": "story", "track_label": "战疫故事汇", "level": "level2",
        "orgs_expected": 30, "orgs_submitted": 12,
        "works": {"submitted": 14, "withdrawn": 1, "forwarded": 0},
        "updated_at": "2020-07-14T02:00:00+00:00", "seq": seq,
    }
    base.update(over)
    return base


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# --------------------------------------------------------------------------- cursor


@pytest.mark.parametrize("seq", [0, 1, 42, 999_999, 2**63 - 1])
def test_cursor_round_trip(seq):
    cursor = feeds.encode_cursor(seq)
    assert feeds.decode_cursor(cursor) == seq
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_cursor_is_opaque_not_the_bare_number():
    assert feeds.encode_cursor(42) != "42"


def test_no_cursor_means_from_the_start():
    assert feeds.decode_cursor(None) == 0


@pytest.mark.parametrize("bad", [
    "",
    "42",                             # a bare number is not a cursor
    "!!!",                            # not base64url
    "djE6NDI=",                       # padded spelling of v1:42
    b64("v1:42") + "\n",              # trailing newline
    b64("v2:42"),                     # unknown version
    b64("v1:"),                       # no number
    b64("v1:-1"),                     # negative
    b64("v1:+5"),                     # sign
    b64("v1:007"),                    # leading zeros
    b64("v1:4 2"),
    b64("v1:1e3"),
    b64("v1:٤٢"),                     # non-ASCII digits
    b64(f"v1:{2**63}"),               # beyond bigint
    b64("v1:" + "9" * 40),            # too long
    "A" * 65,
    "djE6NDJ",                        # v1:42 with non-canonical trailing bits
])
def test_malformed_cursor_is_refused_in_chinese(bad):
    with pytest.raises(InvalidInput) as info:
        feeds.decode_cursor(bad)
    err = info.value
    assert err.code == "invalid_cursor"
    assert err.status == 400
    assert err.field == "cursor"
    assert "游标" in err.message and "next_cursor" in err.message
    assert err.to_dict()["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize("bad", [-1, True, 1.5, "3", 2**63])
def test_encode_cursor_rejects_non_seq(bad):
    with pytest.raises(ValueError):
        feeds.encode_cursor(bad)


@pytest.mark.parametrize("raw, expected", [(None, 100), ("", 100), ("1", 1), ("500", 500), (" 20 ", 20)])
def test_parse_limit(raw, expected):
    assert feeds.parse_limit(raw) == expected


@pytest.mark.parametrize("raw", ["0", "501", "-1", "abc", "1.5", "9" * 30])
def test_parse_limit_refuses(raw):
    with pytest.raises(InvalidInput) as info:
        feeds.parse_limit(raw)
    assert info.value.code == "invalid_limit"
    assert "1 到 500" in info.value.message


# --------------------------------------------------------------------------- paging


def rows(*seqs):
    return [row(seq=s) for s in seqs]


def test_page_with_more_rows_than_limit():
    result = feeds.page(rows(3, 5, 8), 2)
    assert [r["seq"] for r in result["items"]] == [3, 5]
    assert result["has_more"] is True
    assert feeds.decode_cursor(result["next_cursor"]) == 5


def test_page_exactly_limit_rows_has_no_more():
    result = feeds.page(rows(3, 5), 2)
    assert [r["seq"] for r in result["items"]] == [3, 5]
    assert result["has_more"] is False
    assert feeds.decode_cursor(result["next_cursor"]) == 5


def test_page_fewer_rows_than_limit():
    result = feeds.page(rows(7), 100)
    assert result["has_more"] is False
    assert feeds.decode_cursor(result["next_cursor"]) == 7


def test_empty_page_hands_back_the_incoming_cursor():
    incoming = feeds.encode_cursor(41)
    result = feeds.page([], 10, cursor=incoming)
    assert result == {"items": [], "next_cursor": incoming, "has_more": False}


def test_empty_page_without_cursor_starts_at_zero():
    result = feeds.page([], 10)
    assert feeds.decode_cursor(result["next_cursor"]) == 0
    assert result["has_more"] is False


def test_limit_one_walks_every_row_once():
    all_rows = rows(1, 2, 4, 9)
    seen, cursor = [], None
    for _ in range(10):
        after = [r for r in all_rows if r["seq"] > feeds.decode_cursor(cursor)][:2]  # the query: limit + 1
        result = feeds.page(after, 1, cursor=cursor)
        seen += [r["seq"] for r in result["items"]]
        cursor = result["next_cursor"]
        if not result["has_more"]:
            break
    assert seen == [1, 2, 4, 9]
    # Asking again later with the stored cursor gives nothing new.
    assert feeds.page([], 1, cursor=cursor)["next_cursor"] == cursor


@pytest.mark.parametrize("limit", [0, -1, True, 2.0])
def test_page_refuses_bad_limit(limit):
    with pytest.raises(ValueError):
        feeds.page(rows(1), limit)


# --------------------------------------------------------------------------- rate


@pytest.mark.parametrize("expected, submitted, rate", [(30, 12, 0.4), (30, 0, 0.0), (0, 0, None), (0, 3, None),
                                                       (None, 1, None), (2, 3, 1.5)])
def test_submission_rate(expected, submitted, rate):
    assert feeds.submission_rate(row(orgs_expected=expected, orgs_submitted=submitted)) == rate


# --------------------------------------------------------------------------- Atom


UPDATED = datetime(2020, 7, 14, 10, 0, tzinfo=timezone(timedelta(hours=8)))


def parse_atom(data: bytes) -> ET.Element:
    assert data.startswith(b"<?xml")
    root = ET.fromstring(data)
    assert root.tag == f"{ATOM}feed"
    return root


def test_atom_structure():
    data = feeds.progress_atom(rows(1, 2, 3), "https://platform.example/feeds/progress.atom", UPDATED)
    root = parse_atom(data)
    for required in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{required}") is not None, required
    assert root.findtext(f"{ATOM}author/{ATOM}name")
    assert root.findtext(f"{ATOM}updated") == "2020-07-14T02:00:00Z"
    self_link = root.find(f"{ATOM}link[@rel='self']")
    assert self_link.get("href") == "https://platform.example/feeds/progress.atom"
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 3
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == 3
    for entry in entries:
        for required in ("id", "title", "updated", "content"):
            assert entry.find(f"{ATOM}{required}") is not None, required
        datetime.fromisoformat(entry.findtext(f"{ATOM}updated"))  # 3.11 reads "Z"
    assert ids[0] == "tag:siyige.platform,2020:progress/seu/siyige-2020-seu/story/level2/1"


def test_atom_entry_text_is_chinese_and_in_beijing_time():
    root = parse_atom(feeds.progress_atom([row()], "https://x/feed", UPDATED))
    entry = root.find(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == "东南大学 · 战疫故事汇（二级党组织）：12/30 个组织已提交"
    content = entry.find(f"{ATOM}content")
    assert content.get("type") == "text"
    assert "40.0%" in content.text
    assert "已提交 14 件" in content.text and "已撤回 1 件" in content.text and "已报送教育部 0 件" in content.text
    assert "2020年07月14日 10:00（北京时间）" in content.text
    assert entry.findtext(f"{ATOM}updated") == "2020-07-14T02:00:00Z"
    assert entry.find(f"{ATOM}category").get("label") == "战疫故事汇"


def test_atom_escapes_hostile_text():
    hostile = row(tenant_name=HOSTILE, track_label='<b>&amp;"', tenant="s/e u")
    data = feeds.progress_atom([hostile], 'https://x/feed?a=1&b="2"', UPDATED)
    assert b"<script>" not in data
    root = parse_atom(data)
    entry = root.find(f"{ATOM}entry")
    title = entry.findtext(f"{ATOM}title")
    assert '东南<script>alert(1)</script>&"大学\'' in title  # round-trips as text, minus control characters
    assert "\x00" not in title and "\x1b" not in title
    assert entry.find(f"{ATOM}category").get("label") == '<b>&amp;"'
    assert root.find(f"{ATOM}link").get("href") == 'https://x/feed?a=1&b="2"'
    # The tag URI stays one path segment per part.
    assert entry.findtext(f"{ATOM}id").startswith("tag:siyige.platform,2020:progress/s%2Fe%20u/")


def test_atom_empty_feed_is_valid():
    root = parse_atom(feeds.progress_atom([], "https://x/feed", UPDATED))
    assert root.findall(f"{ATOM}entry") == []


def test_atom_zero_expected_shows_no_rate():
    root = parse_atom(feeds.progress_atom([row(orgs_expected=0, orgs_submitted=0)], "https://x/feed", UPDATED))
    assert "提交率 —" in root.findtext(f"{ATOM}entry/{ATOM}content")


def test_atom_refuses_naive_times():
    with pytest.raises(ValueError):
        feeds.progress_atom([row(updated_at="2020-07-14T10:00:00")], "https://x/feed", UPDATED)
    with pytest.raises(ValueError):
        feeds.progress_atom([], "https://x/feed", datetime(2020, 7, 14))


# --------------------------------------------------------------------------- XLSX


def open_xlsx(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def test_xlsx_header_and_values():
    data = feeds.progress_xlsx([row(), row(seq=2, tenant="wust", tenant_name="武汉科技大学", level="branch",
                                            orgs_expected=0, orgs_submitted=0, campaign_title="四个一 2020（武科大）")])
    wb = open_xlsx(data)
    assert wb.sheetnames == ["进度", "说明"]
    ws = wb["进度"]
    header = [c.value for c in ws[1]]
    assert header == ["高校", "活动", "赛道", "层级", "应交组织数", "已交组织数", "提交率",
                      "已提交作品", "已撤回", "已报送", "更新时间"]
    first = [c.value for c in ws[2]]
    assert first[:6] == ["东南大学", "siyige-2020-seu", "战疫故事汇", "二级党组织", 30, 12]
    assert first[6] == pytest.approx(0.4)
    assert first[7:10] == [14, 1, 0]
    assert first[10] == datetime(2020, 7, 14, 10, 0)  # Beijing wall-clock time
    assert ws["G2"].number_format == "0.0%"
    assert ws["K2"].number_format == "yyyy-mm-dd hh:mm"
    second = [c.value for c in ws[3]]
    assert second[:4] == ["武汉科技大学", "四个一 2020（武科大）", "战疫故事汇", "党支部"]
    assert second[6] is None  # 0 expected: no rate, and no ZeroDivisionError
    assert ws.max_row == 3


def test_xlsx_layout():
    ws = open_xlsx(feeds.progress_xlsx(rows(1, 2, 3)))["进度"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:K4"
    assert ws["A1"].font.bold
    for letter in "ABCDEFGHIJK":
        assert ws.column_dimensions[letter].width >= 6
    assert ws.column_dimensions["A"].width >= 10  # four Han characters


def test_xlsx_explanation_sheet_covers_every_column():
    wb = open_xlsx(feeds.progress_xlsx([]))
    notes = wb["说明"]
    explained = [r[0] for r in notes.iter_rows(min_row=2, values_only=True)]
    assert explained == list(feeds.XLSX_HEADER)
    assert "北京时间" in dict(notes.iter_rows(min_row=2, values_only=True))["更新时间"]
    assert wb["进度"].max_row == 1


def test_xlsx_hostile_text_stays_text():
    data = feeds.progress_xlsx([row(tenant_name=HOSTILE, track_label='=HYPERLINK("http://evil","点我")')])
    ws = open_xlsx(data)["进度"]
    assert ws["A2"].value == '东南<script>alert(1)</script>&"大学\''
    assert ws["C2"].value == '=HYPERLINK("http://evil","点我")'
    assert ws["C2"].data_type == "s"  # not a formula


def test_xlsx_refuses_naive_times():
    with pytest.raises(ValueError):
        feeds.progress_xlsx([row(updated_at="2020-07-14T10:00:00")])
