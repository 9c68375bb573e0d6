"""Review's pure rules: blindness, which round a work enters, selection limits, the reviewer list."""
import pytest

from common.errors import Conflict, DomainError, InvalidInput
from services.review.domain import blind, rounds
from services.review.domain.reviewers import one_reviewer, parse_reviewer_table

NAMES = frozenset(blind.name_variants(["计算机科学与工程学院党委", "东南大学", "计算机学院", None, "党"]))


def test_names_and_their_short_forms_are_masked_longest_first():
    assert "计算机科学与工程学院" in NAMES  # the name without 党委
    text = "东南大学计算机科学与工程学院党委的老师和计算机学院的同学"
    assert blind.mask(text, NAMES) == "〔已隐去〕〔已隐去〕的老师和〔已隐去〕的同学"
    assert "党" not in NAMES  # one character would mask half of every text


def test_reviewer_fields_leave_out_identifying_and_undeclared_fields():
    specs = [{"key": "title", "label": "作品名称"}, {"key": "lecturers", "label": "主讲人", "identifying": True},
             {"key": "text", "label": "故事正文", "type": "text"}]
    fields = {"title": "东南大学的故事", "lecturers": ["张三"], "text": "计算机学院党委", "secret": "作者：李四"}
    shown = blind.reviewer_fields(fields, specs, NAMES)
    assert shown == [("title", "作品名称", "〔已隐去〕的故事"), ("text", "故事正文", "〔已隐去〕党委")]
    assert "张三" not in str(shown) and "李四" not in str(shown)


def test_files_get_neutral_names():
    assert blind.neutral_file_name("video", 1, "video/mp4") == "视频1.mp4"
    assert blind.neutral_file_name("document", 2, "application/x-unknown") == "文档2"


def test_a_branch_work_enters_its_level2_orgs_round_and_a_level2_work_the_university_round():
    assert rounds.round_for_submission("seu", "c", "story", "branch", "o-cse") == rounds.RoundKey(
        "seu", "c", "story", "level2", "o-cse")
    assert rounds.round_for_submission("seu", "c", "story", "level2", None) == rounds.RoundKey(
        "seu", "c", "story", "university", "")
    assert rounds.round_for_forwarded("seu", "c-seu", "c", "story", "ministry") == rounds.RoundKey(
        "ministry", "c", "story", "ministry", "")


def test_selection_limits_come_from_forward_else_quota():
    lecture = {"forward": {"university": 1}, "quota": {"branch": 1, "level2": 1}}
    assert rounds.selection_limit(lecture, "university") == 1
    assert rounds.selection_limit(lecture, "level2") == 1
    assert rounds.selection_limit({"forward": {}, "quota": {"level2": {"article": 2, "media": 10}}}, "level2") == 12
    assert rounds.selection_limit({"forward": {}, "quota": {}}, "level2") is None
    assert rounds.selection_limit(lecture, "ministry") is None  # nothing above the ministry


def test_check_selection_refuses_over_quota_unknown_and_duplicates():
    rounds.check_selection(["a"], {"a", "b"}, 1, "university")
    with pytest.raises(Conflict) as over:
        rounds.check_selection(["a", "b"], {"a", "b"}, 1, "university")
    assert "最多可向教育部报送 1 件" in over.value.message and "取消 1 件" in over.value.message
    with pytest.raises(InvalidInput):
        rounds.check_selection(["x"], {"a"}, None, "university")
    with pytest.raises(InvalidInput):
        rounds.check_selection(["a", "a"], {"a"}, None, "university")


def test_a_work_is_ready_when_complete_and_every_file_passed():
    assert rounds.ready_for_review(True, [])
    assert rounds.ready_for_review(True, ["passed", "warnings"])
    assert not rounds.ready_for_review(True, ["passed", None])
    assert not rounds.ready_for_review(True, ["failed"])
    assert not rounds.ready_for_review(False, ["passed"])


@pytest.mark.parametrize("value", ["0", "16", "x", ""])
def test_reviewers_per_work_is_between_1_and_15(value):
    with pytest.raises(InvalidInput):
        rounds.check_reviewers_per_work(value)


def test_reviewer_list_reads_gb18030_csv_and_xlsx_headers_in_chinese():
    text = "专家名单\n姓名,电子邮箱,所在高校,研究方向\n王老师,Wang@Example.edu.cn,东南大学,党建、思政；新媒体\n"
    rows = parse_reviewer_table(text.encode("gb18030"), "专家.csv")
    assert rows[0].email == "wang@example.edu.cn" and rows[0].expertise == ("党建", "思政", "新媒体")
    assert rows[0].university == "东南大学" and rows[0].row == 3


def test_reviewer_list_reports_every_bad_row_and_imports_nothing():
    text = "姓名,邮箱\n王,bad\n,li@example.edu.cn\n赵,zhao@example.edu.cn\n赵二,ZHAO@example.edu.cn\n"
    with pytest.raises(DomainError) as err:
        parse_reviewer_table(text.encode())
    rows = [d["row"] for d in err.value.details]
    assert rows == [2, 3, 5] and "3 处问题" in err.value.message


def test_reviewer_list_without_the_two_required_columns_says_which():
    with pytest.raises(DomainError) as err:
        parse_reviewer_table("名字,电话\n王,123\n".encode())
    assert "姓名" in err.value.message and "邮箱" in err.value.message


def test_one_reviewer_from_the_form_is_checked_too():
    with pytest.raises(InvalidInput):
        one_reviewer("王老师", "wang@")
    assert one_reviewer(" 王老师 ", "W@X.cn", expertise="党建 思政").expertise == ("党建", "思政")


def test_reviewer_list_from_excel_with_a_title_row():
    import io

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["2020年四个一评审专家名单"])
    ws.append(["序号", "专家姓名", "E-mail", "学校", "研究方向"])
    ws.append([1, "李老师", "li@example.edu.cn", "武汉科技大学", "新媒体，视频"])
    ws.append([None, None, None, None, None])
    ws.append([2, "赵老师", "zhao@example.edu.cn", None, None])
    out = io.BytesIO()
    wb.save(out)
    rows = parse_reviewer_table(out.getvalue(), "专家.xlsx")
    assert [(r.name, r.university, r.expertise, r.row) for r in rows] == [
        ("李老师", "武汉科技大学", ("新媒体", "视频"), 3), ("赵老师", "", (), 5)]


def test_the_scoring_deadline_is_the_end_of_a_beijing_day_and_not_in_the_past():
    from datetime import date

    when = rounds.parse_scoring_deadline("2020-07-25", date(2020, 7, 20))
    assert when.isoformat() == "2020-07-25T15:59:59+00:00"
    assert rounds.parse_scoring_deadline("", date(2020, 7, 20)) is None
    with pytest.raises(InvalidInput, match="已经过去"):
        rounds.parse_scoring_deadline("2020-07-19", date(2020, 7, 20))
    with pytest.raises(InvalidInput, match="年-月-日"):
        rounds.parse_scoring_deadline("7/25", date(2020, 7, 20))


def test_reviewer_reminders_3_and_1_days_before_once_each():
    from datetime import date, datetime, timezone

    deadline = rounds.parse_scoring_deadline("2020-07-25", date(2020, 7, 1))
    at = lambda text: datetime.fromisoformat(text)  # noqa: E731
    assert rounds.reminder_due(deadline, at("2020-07-21T12:00:00+08:00"), []) is None  # 4 days left
    assert rounds.reminder_due(deadline, at("2020-07-22T00:30:00+08:00"), []) == "3"
    assert rounds.reminder_due(deadline, at("2020-07-22T00:30:00+08:00"), ["3"]) is None
    assert rounds.reminder_due(deadline, at("2020-07-23T09:00:00+08:00"), ["3"]) is None  # 2 days left
    assert rounds.reminder_due(deadline, at("2020-07-24T09:00:00+08:00"), ["3"]) == "1"
    assert rounds.reminder_due(deadline, at("2020-07-26T09:00:00+08:00"), ["3"]) is None  # past
    # set late: only the nearest one, never two at once
    assert rounds.reminder_due(deadline, at("2020-07-24T23:00:00+08:00"), []) == "1"
    assert rounds.reminder_due(None, datetime(2020, 7, 24, tzinfo=timezone.utc), []) is None
