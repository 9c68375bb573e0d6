"""The reviews as the round's admin reads them (services/review/domain/reviews.py) and the export's column widths."""
from services.review.domain.reviews import (
    Review,
    ascii_file_name,
    criteria,
    export_file_name,
    export_title,
    mean_of_submitted,
    rows,
    state_label,
)

RUBRIC = [{"key": "thought", "label": "思想性", "weight": 40, "max": 10},
          {"key": "form", "label": "表现形式", "weight": 60, "max": 5}]


def test_each_expert_has_a_mark_per_criterion_in_the_rubrics_order_and_a_missing_one_is_none():
    heads, out = rows(RUBRIC, [Review("王", "w@x.cn", "assigned", "submitted", {"form": 4, "thought": 9}, 84.0, "好"),
                               Review("李", "l@x.cn", "assigned", "draft", {"thought": 6}, None, "")])
    assert [c.heading for c in heads] == ["思想性（满分10）", "表现形式（满分5）"]
    assert [(r["reviewer"], r["state"], r["marks"], r["total"]) for r in out] == [
        ("王", "已提交", [9, 4], 84.0), ("李", "草稿", [6, None], None)]
    assert mean_of_submitted(out) == 84.0  # a draft is not counted


def test_a_mark_under_a_key_the_rubric_lost_is_shown_not_dropped():
    assert [c.heading for c in criteria(RUBRIC, [{"thought": 1, "originality": 3}])] == [
        "思想性（满分10）", "表现形式（满分5）", "originality"]


def test_states_read_as_the_admin_says_them():
    assert state_label(Review("王", "", "assigned")) == "未评"
    assert state_label(Review("王", "", "declined", conflict=True)) == "已回避"
    assert state_label(Review("王", "", "declined")) == "已放弃"
    assert state_label(Review("王", "", "withdrawn", "draft")) == "作品已撤回"
    _, [declined] = rows(RUBRIC, [Review("王", "", "declined", declined_reason="指导过作者")])
    assert declined["reason"] == "指导过作者" and mean_of_submitted([declined]) is None


def test_the_export_is_named_by_campaign_track_and_round_safely():
    assert export_file_name("2020年四个一", "微党课", "university", 1, False) == "2020年四个一·微党课·校级评审排名.xlsx"
    assert export_file_name("a/b:c*?\"<>|", "故事", "ministry", 2, True) == "abc·故事·全国评审·第2批审核结果.xlsx"
    long = export_file_name("很" * 100, "故事", "level2", 1, False)
    assert long.startswith("很" * 40 + "…·") and len(long.encode()) < 255
    assert ascii_file_name("story", "university", 1) == "review-story-university.xlsx"
    assert ascii_file_name("微党课", "ministry", 3) == "review-_-ministry-batch3.xlsx"
    assert export_title("活动", "东南大学 · 故事 · 校级评审", "排名") == "活动 · 东南大学 · 故事 · 校级评审 · 排名"


def test_columns_are_as_wide_as_their_longest_line_within_bounds():
    from services.review.export import column_widths

    assert column_widths([["名次", "作品名称", "文件"], [1, "短", "甲.docx\n很长的文件名称很长的文件名称.pdf"],
                          [None, "x" * 500, 3.14159]]) == [6, 60, 34]


def test_a_reviewer_sees_how_a_file_plays_not_the_hints_meant_for_the_submitting_org():
    from services.review.domain.blind import reviewer_findings

    findings = [
        {"rule": "image_gps", "severity": "warning", "message": "照片含有拍摄地点（GPS）信息；……"},
        {"rule": "width eq 1920", "severity": "warning", "message": "画面宽度为 1280。学校建议分辨率1920×1080。"},
        {"rule": "decode_errors", "severity": "warning", "message": "部分画面无法解码，播放时可能出现花屏。"},
        {"rule": "file_truncated", "severity": "error", "message": "文件不完整。"},
        {"rule": "subtitle_problem", "severity": "warning", "message": "第 3 条字幕时间重叠。"},
    ]
    assert [f["rule"] for f in reviewer_findings(findings)] == ["decode_errors", "file_truncated", "subtitle_problem"]
    assert reviewer_findings(None) == []
