"""The audit log as its owners read it (operations/audit.py): the page's day filters in Beijing time, a row in
words, and the XLSX export, whose cells never become formulas. No database, no service."""
from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook

from common.errors import DomainError
from common.locale import BEIJING
from services.intake.operations import audit


def entry(**kw):
    row = {"id": 1, "at": "2020-06-12T01:02:03+00:00", "actor": "key:sk_seu_ab12 (门户)", "action": "submission.submitted",
           "action_label": audit.ACTIONS["submission.submitted"], "object_type": "submission", "object_id": "s" * 32,
           "detail": {"title": "计算机学院党委战疫故事", "track": "story", "stage": "submission", "receipt_no": "SEU-1",
                      "voided_receipts": [], "org_name": None},
           "address": "10.0.0.7"}
    row.update(kw)
    return audit.row_view(row)


# --------------------------------------------------------------------------- the page's filters


def test_days_are_beijing_days_and_the_last_day_is_included():
    wanted = audit.page_filter("file.added", "2020-06-12", "2020-06-13")
    assert wanted.action == "file.added"
    assert wanted.start == datetime(2020, 6, 12, tzinfo=BEIJING)
    assert wanted.end == datetime(2020, 6, 14, tzinfo=BEIJING)  # exclusive: all of the 13th is in
    assert wanted.start.utcoffset().total_seconds() == 8 * 3600
    assert audit.page_filter(None, None, None) == audit.AuditFilter()
    assert audit.page_filter("", "", "") == audit.AuditFilter()
    one_day = audit.page_filter(None, "2020-06-12", "2020-06-12")
    assert one_day.end - one_day.start == timedelta(days=1)


@pytest.mark.parametrize("action, since, until, field, words", [
    ("grant.deleted", None, None, "action", "没有“grant.deleted”这种操作"),
    (None, "yesterday", None, "since", "起始日期应为日期，格式如 2020-06-12，实际为“yesterday”"),
    (None, None, "2020-13-01", "until", "截止日期应为日期"),
    (None, "2020-06-13", "2020-06-12", "since", "起始日期 2020-06-13 晚于截止日期 2020-06-12"),
])
def test_a_bad_filter_says_what_was_expected_and_what_was_found(action, since, until, field, words):
    with pytest.raises(DomainError) as caught:
        audit.page_filter(action, since, until)
    assert caught.value.status == 400 and caught.value.code == "invalid_query" and caught.value.field == field
    assert words in caught.value.message and "请" in caught.value.message


# --------------------------------------------------------------------------- a row in words


def test_a_row_reads_in_beijing_time_with_its_object_named_and_its_detail_in_words():
    row = entry()
    assert row["at_text"] == "2020-06-12 09:02:03"
    assert row["object_text"] == "作品 " + "s" * 32 and row["object_name"] == "计算机学院党委战疫故事"
    # the name has its own column; empty values are left out; keys read in Chinese
    assert row["detail_text"] == "赛道：story；阶段：submission；回执号：SEU-1"
    assert entry(detail={"voided_receipts": ["A", "B"], "unknown_key": True})["detail_text"] == \
        "作废的回执：A、B；unknown_key：是"
    assert entry(object_type="orgs", object_id=None, detail=None)["object_text"] == "组织名单"


def test_every_action_has_a_label_and_is_in_the_api_document():
    from services.intake.service import OPENAPI

    [action] = [p for p in OPENAPI["paths"]["/api/v1/audit"]["get"]["parameters"] if p.get("name") == "action"]
    assert action["schema"]["enum"] == list(audit.ACTIONS)
    assert all(label and not label.isascii() for label in audit.ACTIONS.values())


def test_an_unknown_action_is_never_written():
    with pytest.raises(ValueError, match="add it to ACTIONS"):
        audit.record(None, "seu", "key:x", "submission.deleted", "submission", "1")


# --------------------------------------------------------------------------- the workbook


def test_the_export_holds_every_row_and_no_cell_is_a_formula():
    rows = [entry(actor='=cmd|" /C calc"!A0', detail={"title": '=HYPERLINK("http://evil.example","点击查看")',
                                                       "track": "story"}),
            entry(at="2020-06-12T16:30:00+00:00", actor="account:a1 (王宣传)", action="file.deleted",
                  action_label=audit.ACTIONS["file.deleted"], object_type="file", object_id="f1",
                  detail={"name": "+照片\x07.jpg", "kind": "image"}, address=None)]
    data = audit.audit_xlsx(rows, "东南大学 审计日志")
    sheet = load_workbook(io.BytesIO(data))["审计日志"]
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[0][0] == "东南大学 审计日志"
    assert values[1] == audit.EXPORT_HEADER
    assert len(values) == 2 + len(rows)
    first, second = list(sheet.iter_rows(min_row=3))
    assert first[0].value == datetime(2020, 6, 12, 9, 2, 3)  # Beijing time, as the header says
    assert first[0].number_format == "yyyy-mm-dd hh:mm:ss"
    assert [c.value for c in first[1:]] == ['=cmd|" /C calc"!A0', "提交作品", "submission.submitted",
                                            "作品 " + "s" * 32, '=HYPERLINK("http://evil.example","点击查看")',
                                            "赛道：story", "10.0.0.7"]
    for cell in (first[1], first[5], second[5]):
        assert cell.data_type == "s" and cell.quotePrefix, cell.value  # text, and stays text when edited
    assert second[0].value == datetime(2020, 6, 13, 0, 30)  # past midnight in Beijing: the next day
    assert second[5].value == "+照片.jpg"  # a control character XML forbids is dropped, not a broken file
    assert second[7].value is None


def test_an_empty_export_is_still_a_workbook_with_its_header():
    sheet = load_workbook(io.BytesIO(audit.audit_xlsx([], "t")))["审计日志"]
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert len(values) == 2 and values[0][0] == "t" and values[1] == audit.EXPORT_HEADER
