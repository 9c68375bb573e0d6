"""Control characters and line separators in single-line fields (issue #14 item 2, intake's part).

A title with U+2028 stopped every university's mail once it reached a subject line. Intake and
review now refuse, in every single-line field (titles, names of orgs, tenants, lecturers and
reviewers, campaign labels), every character that breaks a line or reorders text, with the field,
the character as U+XXXX and what to do. One rule, `common.text.single_line_problem`, checked here
against an oracle built from Python's and Unicode's own definitions, over arbitrary text.
"""
import unicodedata
from email.message import EmailMessage

import pytest
from hypothesis import given, settings, strategies as st

from common import clock
from common.campaign import load_builtin_definitions, parse_definition
from common.errors import DomainError, Unprocessable
from common.text import single_line_problem
from services.intake.domain.orgs import parse_org_table
from services.intake.domain.submission import check_fields
from services.review.domain.reviewers import one_reviewer, parse_reviewer_table
from tests.integration.test_intake_api import error_of, start_intake

_BIDI_CLASSES = {"LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"}
_MARKS = {"\u200e", "\u200f", "\u061c"}  # LRM, RLM, ALM: invisible, only reorder


def forbidden(ch: str) -> bool:
    """The oracle, from definitions the rule does not share: Python's line breaks, Unicode's categories."""
    breaks_a_line = len(f"a{ch}b".splitlines()) == 2
    return (breaks_a_line or unicodedata.category(ch) == "Cc"
            or unicodedata.bidirectional(ch) in _BIDI_CLASSES or ch in _MARKS)


# Every plane, with the characters of the rule made frequent enough to meet.
_ANY = st.characters(blacklist_categories=("Cs",))
_HOSTILE = st.sampled_from(list("\n\r\t\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00\x7f\x9f\u202e\u2066\u2069\u200f"))
_TEXTS = st.lists(st.one_of(_ANY, _HOSTILE), max_size=40).map("".join)


@settings(max_examples=1000, deadline=None)
@given(_TEXTS)
def test_the_rule_refuses_exactly_the_characters_that_break_or_reorder_a_line(text):
    problem = single_line_problem(text, "「作品名称」")
    bad = [i for i, ch in enumerate(text) if forbidden(ch)]
    if not bad:
        assert problem is None
        assert len(text.splitlines()) <= 1
        EmailMessage()["Subject"] = text  # what broke the mail: a title that cannot be a header
        return
    first = bad[0]
    assert problem is not None and problem.char == text[first] and problem.position == first + 1
    assert problem.found == f"U+{ord(text[first]):04X}" and problem.found in problem.message
    assert "「作品名称」" in problem.message and "请删除该字符" in problem.message
    assert problem.code == ("multiline" if len(f"a{text[first]}b".splitlines()) == 2 else "control_character")


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_a_title_or_a_lecturer_is_checked_by_the_same_rule(text):
    track = load_builtin_definitions()["siyige-2020-seu"].tracks["lecture"]
    problem = single_line_problem(text, "x")
    for fields, field in (({"title": text}, "fields.title"), ({"lecturers": ["张书记", text]}, "fields.lecturers")):
        try:
            check_fields(track, fields, [], required=None, enforce_limits=False)
        except Unprocessable as exc:
            assert problem is not None or exc.code == "wrong_type"  # a blank lecturer: refused for being blank
            if problem is not None:
                assert (exc.code, exc.field, exc.found) == (problem.code, field, problem.found)
        else:
            assert problem is None


@pytest.mark.parametrize("char", ["\u2028", "\r", "\x85", "\x0b", "\u202e", "\t"])
def test_an_org_list_with_a_hidden_character_in_a_name_is_refused_with_its_row(char):
    # quoted, as Excel writes a cell holding a line break
    table = f'名称,层级,上级组织,联系人\n机械工程学院党委,二级党组织,,"张{char}老师"\n"机械{char}学院党委",二级党组织,,\n'
    with pytest.raises(Unprocessable) as caught:
        parse_org_table(table.encode(), "orgs.csv")
    details = caught.value.details
    assert {(d["row"], d["column"], d["found"]) for d in details} >= {
        (2, "联系人", f"U+{ord(char):04X}"), (3, "名称", f"U+{ord(char):04X}")}
    assert all("请删除该字符" in d["message"] for d in details if d["found"] == f"U+{ord(char):04X}")


def test_a_reviewer_list_and_the_reviewer_form_use_the_same_rule():
    table = "姓名,邮箱,所在高校\n王\u2029老师,wang@example.edu.cn,东南大学\n李老师,li@example.edu.cn,东南\u202e大学\n"
    with pytest.raises(Unprocessable) as caught:
        parse_reviewer_table(table.encode())
    found = {(d["row"], d["column"], d["found"]) for d in caught.value.details}
    assert found == {(2, "姓名", "U+2029"), (3, "所在高校", "U+202E")}
    with pytest.raises(DomainError) as caught:
        one_reviewer("王\r老师", "wang@example.edu.cn")
    assert caught.value.found == "U+000D" and "姓名" in caught.value.message


def test_a_campaign_label_with_a_line_separator_is_refused():
    raw = load_builtin_definitions()["siyige-2020"].raw
    doc = {**raw, "title": "四个一\u2028行动"}
    with pytest.raises(Unprocessable) as caught:
        parse_definition(doc)
    assert [(d["field"], d["found"]) for d in caught.value.details] == [("title", "U+2028")]


def test_a_tenant_name_with_a_control_character_is_refused():
    from services.intake import operations as ops

    with pytest.raises(DomainError) as caught:
        ops.create_tenant(None, "njust", "南京理工大学\x1e")
    assert caught.value.code == "multiline" and caught.value.found == "U+001E"


# --------------------------------------------------------------------------- through the portal API


@pytest.fixture
def intake(sqlite_url, make_config, start_service):
    yield start_intake(sqlite_url, make_config, start_service)
    clock.set_start(None)


@pytest.mark.parametrize("title", ["党旗\u2028飘扬", "党旗\r飘扬", "党旗\x85飘扬", "党旗\u202e飘扬", "党旗\x00飘扬"])
def test_the_portal_refuses_a_title_that_is_not_one_line_and_stores_nothing(intake, title):
    seu = intake["seu"]
    org = seu.org_id("机械工程学院党委")
    body = {"campaign_id": "siyige-2020-seu", "track": "story", "org_id": org, "fields": {"title": title}}
    char = next(ch for ch in title if forbidden(ch))
    code = "multiline" if len(f"a{char}b".splitlines()) == 2 else "control_character"
    error = error_of(seu("POST", "/api/v1/submissions", json=body), 422, code)
    assert error["field"] == "fields.title" and error["found"] == f"U+{ord(char):04X}"
    assert f"U+{ord(char):04X}" in error["message"] and "作品名称" in error["message"]
    assert seu("GET", "/api/v1/submissions").json()["total"] == 0
    # an edit of a draft is held to the same rule
    work = seu.draft("siyige-2020-seu", "story", "机械工程学院党委", title="机械学院故事")
    r = seu("PATCH", f"/api/v1/submissions/{work['id']}", json={"fields": {"title": title}})
    assert r.status_code == 422 and r.json()["error"]["found"] == f"U+{ord(char):04X}"
    assert seu("GET", f"/api/v1/submissions/{work['id']}").json()["title"] == "机械学院故事"


def test_the_portal_refuses_an_org_list_with_a_line_break_inside_a_name(intake):
    seu = intake["seu"]
    table = "名称,层级\n材料科学与工程学院\u2028党委,二级党组织\n".encode()
    error = error_of(seu("POST", "/api/v1/orgs/import", data=table, headers={"Content-Type": "text/csv"}),
                     422, "org_import_invalid")
    assert error["details"][0]["found"] == "U+2028" and error["details"][0]["row"] == 2
    assert seu("GET", "/api/v1/orgs", params={"q": "材料"}).json()["total"] == 0
