"""The pure submission rules (services/intake/domain/submission.py) on the shipped definitions.

Every track, limit and deadline used here comes from the three shipped 「四个一」
files (siyige-2020, -seu, -wust), loaded with `load_builtin_definitions()`, so a
change of a shipped number shows up here as a failing rule, not as an edited
fixture. The numbers come from the seeds (see docs/DOMAIN.md).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from common.campaign import effective_deadline, parent_level
from common.errors import Conflict, DomainError, Unprocessable
from common.text import describe_count_rule
from services.intake.domain import submission as rules

SHANGHAI = ZoneInfo("Asia/Shanghai")
PLUS8 = timezone(timedelta(hours=8))
UTC = timezone.utc
GIB = 1024 ** 3
MIB = 1024 ** 2

THEMES = [
    "让党旗在防控疫情斗争第一线高高飘扬",
    "让青春在党和人民最需要的地方绽放绚丽之花",
    "把人民群众生命安全和身体健康放在第一位",
    "抓紧抓实抓细常态化疫情防控工作",
    "有序推进学校复学复课",
]

# A WUST level-2 org: full name and short name, as the org register holds them.
ORG_FULL = "计算机科学与技术学院党委"
ORG_SHORT = "计算机学院党委"
ORG_NAMES = [ORG_FULL, ORG_SHORT]

# Emoji that must count 0: a plain one, skin tone, flag, ZWJ family, ❤ with FE0F.
FIVE_EMOJI = [
    "\U0001F637",  # 😷
    "\U0001F44D\U0001F3FD",  # 👍🏽
    "\U0001F1E8\U0001F1F3",  # 🇨🇳
    "\U0001F468\u200D\U0001F469\u200D\U0001F467",  # 👨‍👩‍👧
    "\u2764\uFE0F",  # ❤️
]




def han(n: int) -> str:
    """n distinct-looking Han characters (a real sentence fragment, repeated)."""
    base = "党旗在防控疫情斗争第一线高高飘扬"
    return (base * (n // len(base) + 1))[:n]


def story_fields(text: str, title: str = ORG_FULL + "战疫故事") -> dict:
    return {"title": title, "text": text}


# =========================================================================== 字数 and text limits


def test_wust_story_text_of_300_zi_passes(wust):
    track = wust.tracks["story"]
    counts = rules.check_fields(track, story_fields(han(300)), wust.themes,
                                required=["title", "text"])
    assert counts["text"] == 300


def test_wust_story_text_of_301_zi_is_refused_naming_both_numbers(wust):
    track = wust.tracks["story"]
    with pytest.raises(Unprocessable) as info:
        rules.check_fields(track, story_fields(han(301)), wust.themes, required=["title", "text"])
    err = info.value
    assert err.code == "text_too_long"
    assert err.status == 422
    assert err.field == "fields.text"
    assert err.expected == 300
    assert err.found == 301
    # Chinese message: the limit, the count found, how many to cut, and the rule.
    assert "不超过 300 字" in err.message
    assert "实际为 301 字" in err.message
    assert "删减 1 字" in err.message
    assert "故事正文" in err.message
    assert describe_count_rule() in err.message
    # One problem: its details carry the same facts.
    assert [d["code"] for d in err.details] == ["text_too_long"]
    assert err.details[0]["found"] == 301


@pytest.mark.parametrize("extra", [
    pytest.param("".join(FIVE_EMOJI), id="five-emoji-at-end"),
    pytest.param("\u200b\u200d\ufeff\u00ad", id="invisible-characters"),
    pytest.param("\n\n  \t\n", id="whitespace-and-line-breaks"),
])
def test_emoji_invisible_and_whitespace_do_not_count(wust, extra):
    track = wust.tracks["story"]
    text = han(300) + extra
    counts = rules.check_fields(track, story_fields(text), wust.themes, required=["title", "text"])
    assert counts["text"] == 300


def test_300_han_with_emoji_scattered_inside_passes(wust):
    track = wust.tracks["story"]
    body = han(300)
    text = body[:60] + FIVE_EMOJI[0] + body[60:120] + FIVE_EMOJI[1] + body[120:180] + FIVE_EMOJI[2] \
        + body[180:240] + FIVE_EMOJI[3] + body[240:] + FIVE_EMOJI[4]
    counts = rules.check_fields(track, story_fields(text), wust.themes, required=["title", "text"])
    assert counts["text"] == 300


def test_punctuation_counts_full_and_half_width(wust):
    # 298 Han + "，" + "," = 300 passes; one more half-width comma is 301.
    track = wust.tracks["story"]
    ok = han(149) + "，" + han(149) + ","
    assert rules.check_fields(track, story_fields(ok), wust.themes, required=["title", "text"])["text"] == 300
    with pytest.raises(Unprocessable) as info:
        rules.check_fields(track, story_fields(ok + ","), wust.themes, required=["title", "text"])
    assert info.value.code == "text_too_long"
    assert info.value.found == 301


def test_a_latin_word_or_number_counts_one(wust):
    # "COVID-19" is COVID + "-" + 19 = 3; 297 Han + 3 = 300.
    track = wust.tracks["story"]
    text = han(297) + "COVID-19"
    assert rules.check_fields(track, story_fields(text), wust.themes, required=["title", "text"])["text"] == 300


def test_seu_and_ministry_story_have_no_length_limit(seu, ministry):
    # Only WUST writes "不超过300字"; SEU and the ministry set no max_chars.
    for definition in (seu, ministry):
        counts = rules.check_fields(definition.tracks["story"], story_fields(han(1000)), definition.themes,
                                    required=["title", "text"])
        assert counts["text"] == 1000


# =========================================================================== fields


def lecture_video_fields(**over) -> dict:
    fields = {"title": "党旗飘扬 筑牢红色防火墙", "lecturers": ["张三", "李四"], "theme": THEMES[0]}
    fields.update(over)
    return fields


@pytest.mark.parametrize("missing,label", [
    ("title", "党课题目"),
    ("lecturers", "主讲人"),
    ("theme", "主题"),
])
def test_required_field_of_the_stage_missing_is_named(seu, missing, label):
    track = seu.tracks["lecture"]
    stage = rules.stage_by_key(track, "video")
    fields = lecture_video_fields()
    del fields[missing]
    with pytest.raises(Unprocessable) as info:
        rules.check_fields(track, fields, seu.themes, required=list(stage.required_fields))
    err = info.value
    assert err.code == "missing_field"
    assert err.field == f"fields.{missing}"
    # the person reads the label; the key is the developer's, in `field` (issue #17 item 14: no 「（title）」 in a sentence)
    assert f"“{label}”" in err.message and missing not in err.message


@pytest.mark.parametrize("empty", ["", "   \n\t", [], None])
def test_empty_values_count_as_missing(seu, empty):
    track = seu.tracks["lecture"]
    with pytest.raises(Unprocessable) as info:
        rules.check_fields(track, lecture_video_fields(lecturers=empty), seu.themes,
                           required=["title", "lecturers", "theme"])
    assert info.value.code == "missing_field"
    assert info.value.field == "fields.lecturers"


def test_registration_requires_its_own_fields_not_the_video_stage_ones(seu):
    track = seu.tracks["lecture"]
    registration = rules.stage_by_key(track, "registration")
    assert registration.required_fields == ["title", "lecturers", "planned_date"]
    # The theme is not needed to register, the planned date is.
    fields = {"title": "微党课", "lecturers": ["张三"], "planned_date": "2020-07-10"}
    rules.check_fields(track, fields, seu.themes, required=list(registration.required_fields))
    del fields["planned_date"]
    with pytest.raises(Unprocessable) as info:
        rules.check_fields(track, fields, seu.themes, required=list(registration.required_fields))
    assert info.value.code == "missing_field"
    assert info.value.field == "fields.planned_date"


def test_several_missing_fields_are_reported_together(seu):
    track = seu.tracks["lecture"]
    with pytest.raises(Unprocessable) as info:
        rules.check_fields(track, {}, seu.themes, required=["title", "lecturers", "theme"])
    err = info.value
    assert err.code == "invalid_fields"
    assert [d["field"] for d in err.details] == ["fields.title", "fields.lecturers", "fields.theme"]
    assert all(d["code"] == "missing_field" for d in err.details)
    assert err.message.startswith("有 3 处需要修改")


def test_unknown_field_is_refused_listing_the_known_ones(seu):
    track = seu.tracks["lecture"]
    with pytest.raises(Unprocessable) as info:
        rules.check_fields(track, lecture_video_fields(duration="20分钟"), seu.themes,
                           required=["title", "lecturers", "theme"])
    err = info.value
    assert err.code == "unknown_field"
    assert err.field == "fields.duration"
    assert err.found == "duration"
    assert err.expected == ["title", "lecturers", "planned_date", "theme", "outline", "held_on", "mode"]
    assert "duration" in err.message


def test_unknown_field_is_refused_in_drafts_too(seu):
    with pytest.raises(Unprocessable) as info:
        rules.check_fields(seu.tracks["story"], {"txet": "错拼"}, seu.themes, required=None,
                           enforce_limits=False)
    assert info.value.code == "unknown_field"


@pytest.mark.parametrize("track_key,fields,code,field", [
    # a list where a string is expected
    ("lecture", {"title": ["党课", "题目"]}, "wrong_type", "fields.title"),
    ("lecture", {"outline": 42}, "wrong_type", "fields.outline"),
    # a string where a list is expected, or a list with a blank name
    ("lecture", {"lecturers": "张三"}, "wrong_type", "fields.lecturers"),
    ("lecture", {"lecturers": ["张三", " "]}, "wrong_type", "fields.lecturers"),
    ("lecture", {"lecturers": ["张三", 7]}, "wrong_type", "fields.lecturers"),
    # bad dates
    ("lecture", {"planned_date": "2020-02-30"}, "invalid_date", "fields.planned_date"),
    ("lecture", {"planned_date": "下周三"}, "invalid_date", "fields.planned_date"),
    ("lecture", {"planned_date": "2020/07/10"}, "invalid_date", "fields.planned_date"),
    ("lecture", {"planned_date": "2020-7-10"}, "invalid_date", "fields.planned_date"),
    ("lecture", {"planned_date": 20200710}, "invalid_date", "fields.planned_date"),
    # a theme not among the five
    ("lecture", {"theme": "弘扬伟大抗疫精神"}, "not_a_choice", "fields.theme"),
    # a single-line field with a line break
    ("lecture", {"title": "党旗飘扬\n筑牢防火墙"}, "multiline", "fields.title"),
    # choice fields with their own list; url fields
    ("lecture", {"mode": "hybrid"}, "not_a_choice", "fields.mode"),
    ("report", {"url": "ftp://example.edu.cn/a"}, "invalid_url", "fields.url"),
    ("report", {"url": "www.seu.edu.cn/news"}, "invalid_url", "fields.url"),
])
def test_wrong_types_are_refused(seu, track_key, fields, code, field):
    with pytest.raises(Unprocessable) as info:
        rules.check_fields(seu.tracks[track_key], fields, seu.themes)
    assert info.value.code == code
    assert info.value.field == field
    assert info.value.status == 422


def test_a_theme_outside_the_five_lists_the_five(wust):
    with pytest.raises(Unprocessable) as info:
        rules.check_fields(wust.tracks["lecture"], {"theme": "其他"}, wust.themes)
    err = info.value
    assert err.expected == THEMES
    assert err.found == "其他"
    for theme in THEMES:
        assert theme in err.message


@pytest.mark.parametrize("theme", THEMES)
def test_each_of_the_five_themes_is_accepted(wust, theme):
    rules.check_fields(wust.tracks["lecture"], lecture_video_fields(theme=theme), wust.themes,
                       required=["title", "lecturers", "theme"])


@pytest.mark.parametrize("value", ["2020-06-30", "2020-02-29"])
def test_good_dates_are_accepted(seu, value):
    assert rules.check_fields(seu.tracks["lecture"], {"planned_date": value}, seu.themes) == {}


@pytest.mark.parametrize("value", ["20200630", "2020-W27-2"])
def test_only_yyyy_mm_dd_dates_are_accepted(seu, value):
    with pytest.raises(Unprocessable) as info:
        rules.check_fields(seu.tracks["lecture"], {"planned_date": value}, seu.themes)
    assert info.value.code == "invalid_date"


def test_a_required_text_of_only_invisible_characters_is_missing(wust):
    with pytest.raises(Unprocessable) as info:
        rules.check_fields(wust.tracks["story"], story_fields("\u200b\ufeff\u200b"), wust.themes,
                           required=["title", "text"])
    assert info.value.code == "missing_field"
    assert info.value.field == "fields.text"


def test_drafts_accept_over_long_text_and_still_return_the_count(wust):
    track = wust.tracks["story"]
    counts = rules.check_fields(track, {"text": han(400) + FIVE_EMOJI[0]}, wust.themes,
                                required=None, enforce_limits=False)
    assert counts == {"text": 400}


def test_drafts_need_no_required_field(wust):
    assert rules.check_fields(wust.tracks["story"], {}, wust.themes, required=None,
                              enforce_limits=False) == {}


def test_drafts_still_check_types(wust):
    with pytest.raises(Unprocessable) as info:
        rules.check_fields(wust.tracks["story"], {"title": ["a", "b"], "text": han(400)}, wust.themes,
                           required=None, enforce_limits=False)
    assert info.value.code == "wrong_type"
    assert info.value.field == "fields.title"


def test_counts_are_returned_for_every_text_field(wust):
    counts = rules.check_fields(wust.tracks["story"],
                                {"title": ORG_FULL + "战疫故事", "branch_name": "第一党支部", "text": han(10)},
                                wust.themes, required=["title", "text"])
    assert counts == {"title": 16, "branch_name": 5, "text": 10}


# =========================================================================== naming rule


@pytest.mark.parametrize("title", [
    pytest.param(ORG_FULL + "：战疫中的青春", id="full-name"),
    pytest.param(ORG_SHORT + "战疫中的青春", id="short-name"),
    pytest.param("計算機科學與技術學院黨委戰疫中的青春", id="traditional-script"),
    pytest.param("计算机科学与技术学院 党委 战疫中的青春", id="spaces-inside-name"),
    pytest.param("  计算机学院党委  战疫中的青春", id="leading-spaces"),
    pytest.param("计算机科学与技术\n学院党委战疫中的青春", id="line-break-inside-name"),
    pytest.param("\u200b计算机学院\u200d党委战疫中的青春", id="zero-width-characters"),
])
def test_wust_story_title_beginning_with_the_org_name_passes(wust, title):
    rules.check_naming(wust.tracks["story"], title, ORG_NAMES)


@pytest.mark.parametrize("title", [
    pytest.param("材料与冶金学院党委战疫中的青春", id="other-orgs-name"),
    pytest.param("战疫中的青春", id="no-name"),
    pytest.param("战疫中的青春——计算机学院党委", id="name-at-the-end"),
])
def test_wust_story_title_without_the_org_name_is_refused(wust, title):
    with pytest.raises(Unprocessable) as info:
        rules.check_naming(wust.tracks["story"], title, ORG_NAMES)
    err = info.value
    assert err.code == "naming_rule"
    assert err.status == 422
    assert err.field == "fields.title"
    assert err.found == title
    assert err.expected == f"{ORG_FULL}+作品名称"
    assert "党组织名称+作品名称" in err.message
    assert ORG_FULL in err.message


def test_wust_material_follows_the_naming_rule_too(wust):
    # WUST: ""战疫故事汇"、教育素材的文档命名为"党组织名称+作品名称""
    assert wust.tracks["material"].naming_rule is True
    with pytest.raises(Unprocessable) as info:
        rules.check_naming(wust.tracks["material"], "抗疫工作案例", ORG_NAMES)
    assert info.value.code == "naming_rule"


@pytest.mark.parametrize("track_key", ["story", "material", "lecture", "report"])
def test_seu_has_no_naming_rule(seu, track_key):
    # SEU: "相关素材文件以内容主题命名" — named by topic.
    assert seu.tracks[track_key].naming_rule is False
    rules.check_naming(seu.tracks[track_key], "抗疫一线的党员先锋", ORG_NAMES)


# =========================================================================== quota


def test_seu_story_quota_is_two_per_level2_org(seu):
    track = seu.tracks["story"]
    assert rules.quota_key(track, story_fields(han(10))) is None
    rules.check_quota(track, "level2", 0)
    rules.check_quota(track, "level2", 1)
    with pytest.raises(Conflict) as info:
        rules.check_quota(track, "level2", 2)
    err = info.value
    assert err.code == "quota_exceeded"
    assert err.status == 409
    assert err.expected == 2
    assert err.found == 2
    assert "最多提交 2 件" in err.message and "二级党组织" in err.message
    assert "撤回" in err.message  # says what to do


def test_seu_lecture_quota_is_one_per_level2_org(seu):
    rules.check_quota(seu.tracks["lecture"], "level2", 0)
    with pytest.raises(Conflict) as info:
        rules.check_quota(seu.tracks["lecture"], "level2", 1)
    assert info.value.code == "quota_exceeded"


@pytest.mark.parametrize("form,limit", [("work_case", 2), ("media", 10)])
def test_seu_material_quota_is_per_form_bucket(seu, form, limit):
    track = seu.tracks["material"]
    bucket = rules.quota_key(track, {"title": "x", "form": form})
    assert bucket == form
    rules.check_quota(track, "level2", limit - 1, bucket)
    with pytest.raises(Conflict) as info:
        rules.check_quota(track, "level2", limit, bucket)
    assert info.value.code == "quota_exceeded"
    assert info.value.status == 409
    assert info.value.expected == limit
    assert info.value.found == limit
    assert f"“{form}”类" in info.value.message


def test_seu_material_buckets_are_independent_and_uncapped_values_never_refuse(seu):
    track = seu.tracks["material"]
    # The caps are per form: 9 pictures/AV items used still leave room for a 10th, whatever
    # the number of work cases; an article (no cap of its own) and the track total are not capped.
    rules.check_quota(track, "level2", 9, "media")
    rules.check_quota(track, "level2", 500, "article")
    rules.check_quota(track, "level2", 500, None)


@pytest.mark.parametrize("definition_id,track_key,level", [
    ("siyige-2020-seu", "report", "level2"),
    ("siyige-2020-wust", "material", "level2"),
    ("siyige-2020", "story", "level2"),
    ("siyige-2020", "material", "branch"),
    ("siyige-2020-seu", "story", "branch"),  # level without a quota of its own
])
def test_a_track_or_level_without_quota_never_refuses(builtin, definition_id, track_key, level):
    track = builtin[definition_id].tracks[track_key]
    for used in (0, 1, 10, 10_000):
        rules.check_quota(track, level, used, rules.quota_key(track, {}))


# =========================================================================== deadlines


def test_seu_lecture_registration_closes_at_noon_june_15(seu):
    track = seu.tracks["lecture"]
    stage = rules.stage_by_key(track, "registration")
    assert stage.deadlines["level2"] == datetime(2020, 6, 15, 12, 0, tzinfo=PLUS8)
    rules.check_deadline(track, stage, "level2", datetime(2020, 6, 15, 11, 59, tzinfo=PLUS8), None)
    rules.check_deadline(track, stage, "level2", datetime(2020, 6, 15, 12, 0, tzinfo=PLUS8), None)
    with pytest.raises(DomainError) as info:
        rules.check_deadline(track, stage, "level2", datetime(2020, 6, 15, 12, 1, tzinfo=PLUS8), None)
    err = info.value
    assert err.code == "deadline_passed"
    assert err.status == 409
    assert "2020年06月15日 12:00" in err.message
    assert "北京时间" in err.message
    assert "2020年06月15日 12:01" in err.message
    assert "报名" in err.message and "专题微党课" in err.message
    assert datetime.fromisoformat(err.expected) == datetime(2020, 6, 15, 12, 0, tzinfo=PLUS8)


def test_the_message_shows_beijing_time_whatever_the_clock_zone(seu):
    track = seu.tracks["lecture"]
    stage = rules.stage_by_key(track, "registration")
    # 04:01 UTC is 12:01 in Beijing; 03:59 UTC is 11:59.
    rules.check_deadline(track, stage, "level2", datetime(2020, 6, 15, 3, 59, tzinfo=UTC), None)
    with pytest.raises(DomainError) as info:
        rules.check_deadline(track, stage, "level2", datetime(2020, 6, 15, 4, 1, tzinfo=UTC), None)
    assert "现在是 2020年06月15日 12:01" in info.value.message
    assert "04:01" not in info.value.message


def test_wust_story_closes_at_the_end_of_july_15(wust):
    track = wust.tracks["story"]
    stage = rules.stage_by_key(track, "submission")
    rules.check_deadline(track, stage, "level2", datetime(2020, 7, 15, 23, 59, tzinfo=PLUS8), None)
    rules.check_deadline(track, stage, "level2", datetime(2020, 7, 15, 23, 59, 59, tzinfo=PLUS8), None)
    with pytest.raises(DomainError) as info:
        rules.check_deadline(track, stage, "level2", datetime(2020, 7, 16, 0, 0, 1, tzinfo=PLUS8), None)
    err = info.value
    assert err.code == "deadline_passed"
    assert err.status == 409
    assert "2020年07月15日 23:59" in err.message
    assert "2020年07月16日 00:00" in err.message


def test_the_last_second_of_a_dates_deadline_is_on_time_to_its_end(wust):
    """A date's deadline is the end of the day: anywhere in 23:59:59 (a request's clock has microseconds) is on
    time; 00:00:00 of the next day is late, and the refusal gives both moments in Beijing time to the second."""
    track = wust.tracks["story"]
    stage = rules.stage_by_key(track, "submission")
    rules.check_deadline(track, stage, "level2", datetime(2020, 7, 15, 23, 59, 59, 999_999, tzinfo=PLUS8), None)
    rules.check_deadline(track, stage, "level2", datetime(2020, 7, 15, 15, 59, 59, 500_000, tzinfo=UTC), None)
    with pytest.raises(DomainError) as info:
        rules.check_deadline(track, stage, "level2", datetime(2020, 7, 15, 16, 0, 0, tzinfo=UTC), None)
    assert (info.value.expected, info.value.found) == ("2020-07-15T23:59:59+08:00", "2020-07-16T00:00:00+08:00")


def test_seu_story_closes_later_than_wusts(seu):
    # Same campaign, different university: SEU says 7/20.
    track = seu.tracks["story"]
    stage = rules.stage_by_key(track, "submission")
    rules.check_deadline(track, stage, "level2", datetime(2020, 7, 18, 9, 0, tzinfo=PLUS8), None)
    with pytest.raises(DomainError):
        rules.check_deadline(track, stage, "level2", datetime(2020, 7, 21, 0, 0, 1, tzinfo=PLUS8), None)


def test_an_extension_lets_a_late_org_submit(wust):
    track = wust.tracks["story"]
    stage = rules.stage_by_key(track, "submission")
    now = datetime(2020, 7, 18, 10, 0, tzinfo=PLUS8)
    with pytest.raises(DomainError):
        rules.check_deadline(track, stage, "level2", now, None)
    until = datetime(2020, 7, 20, 18, 0, tzinfo=PLUS8)
    rules.check_deadline(track, stage, "level2", now, until)
    check = rules.deadline_for(track, "submission", "level2", until)
    assert check.deadline == datetime(2020, 7, 15, 23, 59, 59, tzinfo=PLUS8)
    assert check.effective == until


def test_after_the_extension_the_message_says_extended(wust):
    track = wust.tracks["story"]
    stage = rules.stage_by_key(track, "submission")
    until = datetime(2020, 7, 20, 18, 0, tzinfo=PLUS8)
    with pytest.raises(DomainError) as info:
        rules.check_deadline(track, stage, "level2", datetime(2020, 7, 20, 18, 1, tzinfo=PLUS8), until)
    assert info.value.code == "deadline_passed"
    assert "2020年07月20日 18:00（含延期）" in info.value.message


def test_an_extension_before_the_deadline_never_shortens_it(wust):
    track = wust.tracks["story"]
    stage = rules.stage_by_key(track, "submission")
    early = datetime(2020, 7, 1, 0, 0, tzinfo=PLUS8)
    rules.check_deadline(track, stage, "level2", datetime(2020, 7, 14, 12, 0, tzinfo=PLUS8), early)
    assert rules.deadline_for(track, "submission", "level2", early).effective == \
        datetime(2020, 7, 15, 23, 59, 59, tzinfo=PLUS8)


def test_an_extension_must_end_before_the_universitys_deadline_to_the_ministry(wust):
    track = wust.tracks["story"]
    stage = rules.stage_by_key(track, "submission")
    university = datetime(2020, 7, 31, 23, 59, 59, tzinfo=PLUS8)
    assert parent_level("level2") == "university"
    rules.check_extension(track, stage, "level2", university - timedelta(seconds=1), "university")
    for until in (university, university + timedelta(days=3)):
        with pytest.raises(Unprocessable) as info:
            rules.check_extension(track, stage, "level2", until, parent_level("level2"))
        err = info.value
        assert err.code == "extension_too_late"
        assert err.status == 422
        assert err.field == "until"
        assert datetime.fromisoformat(err.expected) == university
        assert "2020年07月31日 23:59" in err.message


def test_extension_check_uses_the_parents_effective_deadline(seu):
    # SEU lecture registration: the university's own deadline is 7/31 (the ministry's).
    track = seu.tracks["lecture"]
    stage = rules.stage_by_key(track, "registration")
    rules.check_extension(track, stage, "level2", datetime(2020, 6, 20, 12, 0, tzinfo=PLUS8), "university")
    with pytest.raises(Unprocessable) as info:
        rules.check_extension(track, stage, "level2", datetime(2020, 8, 1, tzinfo=PLUS8), "university")
    assert info.value.code == "extension_too_late"


def test_an_extension_for_a_level_with_no_parent_is_not_limited(wust):
    track = wust.tracks["story"]
    stage = rules.stage_by_key(track, "submission")
    rules.check_extension(track, stage, "ministry", datetime(2030, 1, 1, tzinfo=PLUS8), None)


@pytest.mark.parametrize("definition_id,track_key,stage_key,level,expected", [
    # WUST sets no registration step: level2 falls back to the university's (ministry's) 7/31.
    ("siyige-2020-wust", "lecture", "registration", "level2", datetime(2020, 7, 31, 23, 59, 59, tzinfo=PLUS8)),
    # WUST's 6/30 is when the lecture is held (held_on), not when its video is due: the ministry's 7/31 for all
    ("siyige-2020-wust", "lecture", "video", "level2", datetime(2020, 7, 31, 23, 59, 59, tzinfo=PLUS8)),
    # a branch has no lecture deadline of its own at SEU: its level-2 org's 7/17.
    ("siyige-2020-seu", "lecture", "video", "branch", datetime(2020, 7, 17, 23, 59, 59, tzinfo=PLUS8)),
    ("siyige-2020-seu", "lecture", "video", "level2", datetime(2020, 7, 17, 23, 59, 59, tzinfo=PLUS8)),
    # the ministry's only deadlines are for universities
    ("siyige-2020", "story", "submission", "branch", datetime(2020, 7, 31, 23, 59, 59, tzinfo=PLUS8)),
    ("siyige-2020", "material", "submission", "level2", datetime(2020, 10, 31, 23, 59, 59, tzinfo=PLUS8)),
    ("siyige-2020-seu", "material", "submission", "level2", datetime(2020, 10, 15, 23, 59, 59, tzinfo=PLUS8)),
    # rolling: no deadline anywhere
    ("siyige-2020-seu", "report", "submission", "level2", None),
    ("siyige-2020", "meeting_report", "submission", "branch", None),
])
def test_effective_deadline_falls_back_to_the_level_above(builtin, definition_id, track_key, stage_key,
                                                         level, expected):
    track = builtin[definition_id].tracks[track_key]
    assert effective_deadline(track, stage_key, level) == expected
    assert rules.deadline_for(track, stage_key, level, None).effective == expected


def test_fallback_deadline_is_enforced(seu):
    track = seu.tracks["lecture"]
    stage = rules.stage_by_key(track, "video")
    rules.check_deadline(track, stage, "branch", datetime(2020, 7, 17, 20, 0, tzinfo=PLUS8), None)
    with pytest.raises(DomainError) as info:
        rules.check_deadline(track, stage, "branch", datetime(2020, 7, 18, 0, 0, 1, tzinfo=PLUS8), None)
    assert info.value.code == "deadline_passed"


def test_a_rolling_track_never_closes(seu):
    track = seu.tracks["report"]
    stage = rules.stage_by_key(track, "submission")
    rules.check_deadline(track, stage, "level2", datetime(2035, 1, 1, tzinfo=PLUS8), None)


# =========================================================================== stages


@pytest.mark.parametrize("definition_id", ["siyige-2020", "siyige-2020-seu", "siyige-2020-wust"])
def test_lecture_has_registration_then_video(builtin, definition_id):
    track = builtin[definition_id].tracks["lecture"]
    assert [s.key for s in track.stages] == ["registration", "video"]
    assert rules.next_stage(track, None).key == "registration"
    assert rules.next_stage(track, "registration").key == "video"
    assert rules.next_stage(track, "video") is None


@pytest.mark.parametrize("track_key", ["story", "material", "report"])
def test_single_stage_tracks(seu, track_key):
    track = seu.tracks[track_key]
    assert rules.next_stage(track, None).key == "submission"
    assert rules.next_stage(track, "submission") is None


def test_stage_by_key_finds_the_stage(seu):
    track = seu.tracks["lecture"]
    assert rules.stage_by_key(track, "video").label == "党课视频"
    assert rules.stage_by_key(track, "registration").label == "报名"


@pytest.mark.parametrize("key", ["upload", "Video", "submission", ""])
def test_unknown_stage_is_refused(seu, key):
    with pytest.raises(Unprocessable) as info:
        rules.stage_by_key(seu.tracks["lecture"], key)
    err = info.value
    assert err.code == "unknown_stage"
    assert err.status == 422
    assert err.field == "stage"
    assert err.expected == ["registration", "video"]
    assert err.found == key
    assert "registration" in err.message and "video" in err.message


# =========================================================================== files


def video_stage(definition):
    return rules.stage_by_key(definition.tracks["lecture"], "video")


def test_video_stage_without_a_video_is_refused(seu):
    with pytest.raises(Unprocessable) as info:
        rules.check_stage_files(video_stage(seu), {}, 0, [])
    err = info.value
    assert err.code == "file_missing"
    assert err.field == "files.video"
    assert err.expected == 1 and err.found == 0
    assert "视频" in err.message


def test_a_subtitle_alone_does_not_make_a_video(seu):
    with pytest.raises(Unprocessable) as info:
        rules.check_stage_files(video_stage(seu), {"subtitle": 1}, 0, [])
    assert info.value.code == "file_missing"


def test_video_stage_with_one_video_passes(seu):
    rules.check_stage_files(video_stage(seu), {"video": 1}, 0, [])
    rules.check_stage_files(video_stage(seu), {"video": 1, "subtitle": 1}, 0, [])


def test_two_videos_are_too_many(seu):
    with pytest.raises(Unprocessable) as info:
        rules.check_stage_files(video_stage(seu), {"video": 2}, 0, [])
    assert info.value.code == "too_many_files"
    assert info.value.expected == 1 and info.value.found == 2


def test_a_pending_upload_is_refused(seu):
    with pytest.raises(Unprocessable) as info:
        rules.check_stage_files(video_stage(seu), {"video": 1}, 1, [])
    err = info.value
    assert err.code == "upload_incomplete"
    assert err.found == 1
    assert "1 个文件未完成上传" in err.message


def test_a_failed_check_is_refused_naming_the_file(seu):
    with pytest.raises(Unprocessable) as info:
        rules.check_stage_files(video_stage(seu), {"video": 1}, 0, ["党课视频.avi"])
    err = info.value
    assert err.code == "file_check_failed"
    assert "党课视频.avi" in err.message


def test_every_file_problem_is_listed_at_once(seu):
    with pytest.raises(Unprocessable) as info:
        rules.check_stage_files(video_stage(seu), {"subtitle": 2}, 2, ["a.srt"])
    err = info.value
    assert err.code == "invalid_files"
    assert sorted(d["code"] for d in err.details) == sorted(
        ["upload_incomplete", "file_missing", "too_many_files", "file_check_failed"])


def test_registration_stage_needs_no_file(seu):
    rules.check_stage_files(rules.stage_by_key(seu.tracks["lecture"], "registration"), {}, 0, [])


@pytest.mark.parametrize("track_key,kind", [
    ("story", "audio"),
    ("lecture", "image"),
    ("material", "subtitle"),
    ("report", "image"),
])
def test_a_kind_the_track_does_not_take_is_refused(seu, track_key, kind):
    with pytest.raises(Unprocessable) as info:
        rules.check_file_kind(seu.tracks[track_key], kind, 1000)
    err = info.value
    assert err.code == "file_kind_not_allowed"
    assert err.field == "kind"
    assert err.found == kind
    assert kind not in err.expected


def test_a_track_without_files_says_none_can_be_uploaded(seu):
    with pytest.raises(Unprocessable) as info:
        rules.check_file_kind(seu.tracks["report"], "document", 10)
    assert info.value.expected == []
    assert "无" in info.value.message


@pytest.mark.parametrize("track_key,kind,limit", [
    ("lecture", "video", 2 * GIB),
    ("lecture", "subtitle", 2 * MIB),
    ("story", "image", 20 * MIB),
    ("material", "audio", 200 * MIB),
    ("material", "document", 50 * MIB),
])
def test_check_file_kind_returns_the_byte_limit(seu, track_key, kind, limit):
    assert rules.check_file_kind(seu.tracks[track_key], kind, 1) == limit
    assert rules.check_file_kind(seu.tracks[track_key], kind, limit) == limit
    with pytest.raises(DomainError) as info:
        rules.check_file_kind(seu.tracks[track_key], kind, limit + 1)
    err = info.value
    assert err.code == "file_too_large"
    assert err.status == 413
    assert err.field == "size"
    assert err.expected == limit and err.found == limit + 1


def test_seu_video_over_the_hard_limit_is_refused_with_413(seu):
    track = seu.tracks["lecture"]
    with pytest.raises(DomainError) as info:
        rules.check_file_kind(track, "video", 2 * GIB + 1)
    err = info.value
    assert err.code == "file_too_large"
    assert err.status == 413
    assert "2 GB" in err.message


def test_seu_video_over_1_gib_is_only_a_recommendation(seu):
    # SEU: "文件大小建议不超过1G" is 建议 — a warning rule for the media service, not an upload refusal.
    # The shipped definition keeps the ministry's 2 GiB ceiling as the hard limit.
    track = seu.tracks["lecture"]
    size_rules = [r for r in track.media["video"].rules if r.fact == "size_bytes"]
    assert [(r.op, r.value, r.severity) for r in size_rules] == [("le", GIB, "warning")]
    assert rules.check_file_kind(track, "video", GIB + 1) == 2 * GIB


# =========================================================================== receipt number


@pytest.mark.parametrize("tenant,seq,when,expected", [
    ("seu", 42, datetime(2020, 7, 14, 9, 30, tzinfo=PLUS8), "SEU-20200714-00042"),
    # 23:30 UTC on 7/14 is 07:30 on 7/15 in Beijing
    ("seu", 42, datetime(2020, 7, 14, 23, 30, tzinfo=UTC), "SEU-20200715-00042"),
    ("wust", 7, datetime(2020, 7, 14, 15, 59, 59, tzinfo=UTC), "WUST-20200714-00007"),
    ("wust", 7, datetime(2020, 7, 14, 16, 0, 0, tzinfo=UTC), "WUST-20200715-00007"),
    ("hust-2", 99999, datetime(2020, 12, 31, 23, 59, 59, tzinfo=UTC), "HUST-2-20210101-99999"),
    ("seu", 1, datetime(2020, 1, 1, 0, 0, tzinfo=PLUS8), "SEU-20200101-00001"),
])
def test_receipt_number(tenant, seq, when, expected):
    number = rules.receipt_number(tenant, seq, when)
    assert number == expected
    assert re.fullmatch(r"[A-Z0-9-]+-\d{8}-\d{5}", number)


def test_a_stage_waits_for_files_still_being_checked(seu):
    with pytest.raises(DomainError) as info:
        rules.check_stage_files(video_stage(seu), {"video": 1}, 0, [], ["党课.mp4"])
    assert (info.value.code, info.value.status) == ("file_check_pending", 409)
    assert "党课.mp4" in info.value.message


# --------------------------------------------------------------------------- forwarding (择优报送)


def test_a_work_sits_where_it_was_forwarded_else_at_its_orgs_parent_level():
    assert rules.level_of_work("branch", None) == "level2"
    assert rules.level_of_work("level2", None) == "university"
    assert rules.level_of_work("level2", "ministry") == "ministry"


def test_a_university_forwards_one_lecture_and_about_ten_stories(seu):
    rules.check_forward(seu.tracks["lecture"], "university", 0, 1)
    with pytest.raises(Conflict) as err:
        rules.check_forward(seu.tracks["lecture"], "university", 1, 1)
    assert err.value.code == "forward_quota_exceeded" and "最多报送 1 件" in err.value.message
    rules.check_forward(seu.tracks["story"], "university", 4, 6)
    with pytest.raises(Conflict):
        rules.check_forward(seu.tracks["story"], "university", 4, 7)


def test_the_identifying_fields_are_marked_in_every_shipped_definition(builtin):
    for definition in builtin.values():
        lecture = {f.key: f for f in definition.tracks["lecture"].fields}
        story = {f.key: f for f in definition.tracks["story"].fields}
        assert lecture["lecturers"].identifying and story["branch_name"].identifying
        assert not lecture["title"].identifying
