"""Campaign definitions: the shipped 「四个一」 files, parsing, and derivation rules.

The numbers asserted here come from the seeds: the ministry's plan (attachment
of seeds/001_…), 东南大学's notice (seeds/001_…) and 武汉科技大学's (seeds/000_…).
"""
from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from common.campaign import (
    DEFINITIONS_DIR,
    LEVELS,
    CampaignDefinition,
    check_tightens,
    effective_deadline,
    load_builtin_definitions,
    parent_level,
    parse_definition,
)
from common.errors import Unprocessable

SHANGHAI = ZoneInfo("Asia/Shanghai")
PLUS8 = timezone(timedelta(hours=8))
TRACKS = {"lecture", "story", "meeting_report", "material", "report"}
THEMES = [
    "让党旗在防控疫情斗争第一线高高飘扬",
    "让青春在党和人民最需要的地方绽放绚丽之花",
    "把人民群众生命安全和身体健康放在第一位",
    "抓紧抓实抓细常态化疫情防控工作",
    "有序推进学校复学复课",
]


def end_of(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=23, minute=59, second=59, tzinfo=SHANGHAI)




def rules(track, kind, fact):
    return [(r.op, r.value, r.severity) for r in track.media[kind].rules if r.fact == fact]


def refused(call, *args) -> Unprocessable:
    with pytest.raises(Unprocessable) as info:
        call(*args)
    return info.value


def fields_of(error: Unprocessable) -> list[str]:
    return [d["field"] for d in error.details]


def assert_readable(error: Unprocessable) -> None:
    """Every problem says what is expected, what was found and what to do, in Chinese."""
    assert error.status == 422
    for detail in error.details:
        assert set(detail) == {"field", "expected", "found", "message"}
        assert re.search(r"[\u4e00-\u9fff]", detail["message"])
        assert "请" in detail["message"], detail["message"]
    json.dumps(error.to_dict(), ensure_ascii=False)  # the API can send it as it is


# --------------------------------------------------------------------------- #
# The shipped definitions
# --------------------------------------------------------------------------- #

def test_all_three_shipped_files_load(builtin):
    assert {"siyige-2020", "siyige-2020-seu", "siyige-2020-wust"} <= set(builtin)  # and the other seeds' campaigns
    assert sorted(p.stem for p in DEFINITIONS_DIR.glob("*.yaml")) == sorted(builtin)
    # SEU leaves out the optional meeting record; WUST adds its 红色防火墙 register
    assert set(builtin["siyige-2020"].tracks) == TRACKS
    assert set(builtin["siyige-2020-seu"].tracks) == TRACKS - {"meeting_report"}
    assert set(builtin["siyige-2020-wust"].tracks) == TRACKS | {"firewall"}
    for definition in (builtin[key] for key in ("siyige-2020", "siyige-2020-seu", "siyige-2020-wust")):
        assert definition.themes == THEMES
        assert definition.timezone == "Asia/Shanghai"


def test_universities_derive_from_the_ministry_and_only_tighten(ministry, seu, wust):
    assert ministry.derives_from is None
    assert seu.derives_from == wust.derives_from == "siyige-2020"
    check_tightens(ministry, seu)
    check_tightens(ministry, wust)


def test_ministry_deadlines_are_university_level(ministry):
    lecture, story, material = (ministry.tracks[k] for k in ("lecture", "story", "material"))
    # "6月中旬至7月底，高校党委提交1部精品微党课视频"
    assert lecture.stage("video").deadlines == {"university": end_of("2020-07-31")}
    # the registration stage exists but closes with the video
    assert [s.key for s in lecture.stages] == ["registration", "video"]
    assert lecture.stage("registration").deadlines == {"university": end_of("2020-07-31")}
    # "7月底前，高校提交10个左右"战疫故事汇"作品"
    assert story.stage("submission").deadlines == {"university": end_of("2020-07-31")}
    # "10月底前，高校可择优提交……素材"
    assert material.stage("submission").deadlines == {"university": end_of("2020-10-31")}


def test_ministry_quotas_and_forwarding(ministry):
    tracks = ministry.tracks
    assert tracks["lecture"].forward == {"university": 1}
    assert tracks["story"].forward == {"university": 10}
    # a record per branch, or one per level-2 org for all its branches (WUST's)
    assert tracks["meeting_report"].submit_levels == ["branch", "level2"]
    assert tracks["meeting_report"].quota == {"branch": 1, "level2": 1}
    assert tracks["meeting_report"].forward == {"university": 0}
    report = tracks["report"]
    assert report.quota == {} and report.forward == {}
    assert all(stage.deadlines == {} for stage in report.stages)


def test_ministry_departments_follow_domain(ministry):
    departments = {key: track.department for key, track in ministry.tracks.items()}
    assert departments == {"lecture": "organisation", "story": "organisation",
                           "meeting_report": "organisation", "material": "propaganda",
                           "report": "propaganda"}


def test_ministry_video_hard_limit_is_30_minutes_and_no_format_is_imposed(ministry):
    lecture = ministry.tracks["lecture"]
    # "时长不超过30分钟": a requirement, so it blocks
    assert rules(lecture, "video", "duration_s") == [("le", 1800, "error")]
    # the plan names no codec or resolution, so the ministry imposes none
    assert rules(lecture, "video", "video_codec") == []
    assert rules(lecture, "video", "width") == []
    choice = lecture.field("theme")
    assert choice.choices_from == "themes" and choice.choices == THEMES


def test_ministry_other_media_kinds_have_policies(ministry):
    material = ministry.tracks["material"]
    assert set(material.media) == {"document", "image", "audio", "video"}
    assert rules(material, "image", "format") == [("in", ["jpeg", "png"], "error")]
    assert rules(material, "document", "format") == [("in", ["docx", "pdf"], "error")]
    for policy in material.media.values():
        assert policy.max_bytes is not None


def test_seu_lecture_numbers(seu):
    lecture = seu.tracks["lecture"]
    registration = lecture.stage("registration").deadlines["level2"]
    # "6月15日中午前"
    assert registration == datetime(2020, 6, 15, 12, 0, tzinfo=PLUS8)
    assert registration.isoformat() == "2020-06-15T12:00:00+08:00"
    # "7月17日之前完成党课制作"
    assert lecture.stage("video").deadlines["level2"] == end_of("2020-07-17")
    assert lecture.submit_levels == ["level2"] and lecture.quota == {"level2": 1}


def test_seu_recommendations_are_warnings_and_the_30_minute_limit_stays_an_error(seu):
    lecture = seu.tracks["lecture"]
    assert rules(lecture, "video", "duration_s") == [("le", 1800, "error"),
                                                    ("between", [900, 1200], "warning")]
    assert rules(lecture, "video", "width") == [("eq", 1920, "warning")]
    assert rules(lecture, "video", "height") == [("eq", 1080, "warning")]
    assert ("in", ["mp4"], "warning") in rules(lecture, "video", "container")
    assert rules(lecture, "video", "video_codec") == [("eq", "h264", "warning")]
    assert rules(lecture, "video", "size_bytes") == [("le", 1073741824, "warning")]
    assert rules(lecture, "video", "has_subtitles") == [("eq", True, "warning")]


def test_seu_story_and_material_numbers(seu):
    story, material = seu.tracks["story"], seu.tracks["material"]
    assert story.stage("submission").deadlines["level2"] == end_of("2020-07-20")
    assert story.quota == {"level2": 2}
    assert material.stage("submission").deadlines["level2"] == end_of("2020-10-15")
    assert material.quota_field == "form"
    assert material.quota == {"level2": {"work_case": 2, "media": 10}}
    assert material.naming_rule is False  # "相关素材文件以内容主题命名"


def test_wust_numbers(wust):
    lecture, story = wust.tracks["lecture"], wust.tracks["story"]
    # "6月30日之前……讲授专题微党课": when the lecture is held, asked with the video; the video is due by the ministry's 7/31
    assert "level2" not in lecture.stage("video").deadlines
    assert lecture.field("held_on").max_date == "2020-06-30" and "held_on" in lecture.stage("video").required_fields
    assert rules(lecture, "video", "duration_s") == [("le", 1800, "error")]
    assert story.field("text").max_chars == 300
    assert story.stage("submission").deadlines["level2"] == end_of("2020-07-15")
    assert story.quota == {"level2": 2}
    assert wust.tracks["meeting_report"].stage("submission").deadlines == {"level2": end_of("2020-07-15")}
    assert wust.tracks["material"].stage("submission").deadlines["level2"] == end_of("2020-10-15")
    assert story.naming_rule is True and wust.tracks["material"].naming_rule is True


def test_deadlines_are_aware_and_a_date_alone_ends_the_day(ministry):
    deadline = ministry.tracks["story"].stage("submission").deadlines["university"]
    assert deadline.tzinfo == SHANGHAI
    assert deadline.utcoffset() == timedelta(hours=8)
    assert (deadline.hour, deadline.minute, deadline.second) == (23, 59, 59)


# --------------------------------------------------------------------------- #
# Levels and effective deadlines
# --------------------------------------------------------------------------- #

def test_parent_level_goes_up_the_tree():
    assert LEVELS == ("branch", "level2", "university", "ministry")
    assert [parent_level(level) for level in LEVELS] == ["level2", "university", "ministry", None]
    with pytest.raises(ValueError):
        parent_level("college")


def test_effective_deadline_falls_back_upward(ministry, seu, wust):
    seu_lecture = seu.tracks["lecture"]
    # a branch has no deadline of its own: its level-2 org's applies
    assert effective_deadline(seu_lecture, "registration", "branch") == datetime(2020, 6, 15, 12, tzinfo=PLUS8)
    assert effective_deadline(seu_lecture, "video", "level2") == end_of("2020-07-17")
    assert effective_deadline(wust.tracks["meeting_report"], "submission", "branch") == end_of("2020-07-15")
    # two levels up
    assert effective_deadline(ministry.tracks["story"], "submission", "branch") == end_of("2020-07-31")
    # nothing above: none
    assert effective_deadline(ministry.tracks["story"], "submission", "ministry") is None
    assert effective_deadline(ministry.tracks["report"], "submission", "branch") is None
    assert effective_deadline(wust.tracks["meeting_report"], "submission", "university") is None


def test_effective_deadline_refuses_unknown_stage_or_level(ministry):
    with pytest.raises(KeyError):
        effective_deadline(ministry.tracks["lecture"], "upload", "level2")
    with pytest.raises(ValueError):
        effective_deadline(ministry.tracks["lecture"], "video", "college")


# --------------------------------------------------------------------------- #
# Serialisation
# --------------------------------------------------------------------------- #

def test_to_dict_is_json_ready_and_round_trips(builtin):
    for definition in builtin.values():
        data = definition.to_dict()
        text = json.dumps(data, ensure_ascii=False)
        assert parse_definition(json.loads(text)) == definition
    seu_video = builtin["siyige-2020-seu"].to_dict()["tracks"]["lecture"]["stages"][1]
    assert seu_video["deadlines"] == {"level2": "2020-07-17T23:59:59+08:00",
                                      "university": "2020-07-31T23:59:59+08:00"}


def test_yaml_text_and_safe_loaded_dict_give_the_same_definition():
    text = (DEFINITIONS_DIR / "siyige-2020-seu.yaml").read_text(encoding="utf-8")
    # safe_load turns 2020-07-17 into a date but leaves 2020-06-15T12:00 as text
    assert parse_definition(text) == parse_definition(yaml.safe_load(text))


def test_media_policies_for_the_published_event(seu):
    policies = seu.media_policies()
    assert set(policies) == TRACKS - {"meeting_report"}  # SEU leaves out the optional meeting record
    assert policies["report"] == {}
    video = policies["lecture"]["video"]
    assert video["kind"] == "video" and video["max_bytes"] == 2147483648
    assert {"fact": "duration_s", "op": "le", "value": 1800, "severity": "error",
            "hint": "微党课时长不超过30分钟，请剪辑后重新上传。"} in video["rules"]
    json.dumps(policies, ensure_ascii=False)


# --------------------------------------------------------------------------- #
# Derivation: a child may only tighten
# --------------------------------------------------------------------------- #

def derive(parent: CampaignDefinition, change) -> CampaignDefinition:
    """A valid child of `parent`: its copy, changed by `change(data)`."""
    data = parent.to_dict()
    data["id"], data["derives_from"] = f"{parent.id}-x", parent.id
    change(data)
    return parse_definition(data)


def child_of(base: CampaignDefinition, change) -> CampaignDefinition:
    """`base` itself (same parent), changed by `change(data)`."""
    data = base.to_dict()
    change(data)
    return parse_definition(data)


def _t(data, track):
    return data["tracks"][track]


def _stage(data, track, stage):
    return next(s for s in _t(data, track)["stages"] if s["key"] == stage)


def _field(data, track, key):
    return next(f for f in _t(data, track)["fields"] if f["key"] == key)


def _rule(data, track, kind, fact, op, value=None):
    """The first media rule on `fact` with `op` (and `value`, when given)."""
    return next(r for r in _t(data, track)["media"][kind]["rules"]
                if r["fact"] == fact and r["op"] == op and value in (None, r["value"]))


def _set(target, key, value):
    target[key] = value


LOOSENINGS = [
    # (name, parent, base, change, fields named)  base: "child" = a copy of that university's
    # definition checked against the ministry; "grandchild" = derived from the university's
    pytest.param("ministry", "seu",
                 lambda d: _set(_stage(d, "lecture", "video")["deadlines"], "university", "2020-08-01"),
                 {"tracks.lecture.stages.video.deadlines.university"}, id="deadline-later"),
    pytest.param("seu", "grandchild",
                 lambda d: _set(_stage(d, "lecture", "video")["deadlines"], "level2", "2020-07-18T08:00"),
                 {"tracks.lecture.stages.video.deadlines.level2"}, id="university-deadline-later"),
    pytest.param("ministry", "seu", lambda d: _set(_t(d, "lecture")["quota"], "level2", 2),
                 {"tracks.lecture.quota.level2"}, id="quota-raised"),
    pytest.param("seu", "grandchild", lambda d: _set(_t(d, "material")["quota"]["level2"], "work_case", 3),
                 {"tracks.material.quota.level2.work_case"}, id="quota-per-value-raised"),
    pytest.param("seu", "grandchild", lambda d: _set(_t(d, "material"), "quota", {}),
                 {"tracks.material.quota.level2"}, id="quota-dropped"),
    pytest.param("ministry", "seu", lambda d: _set(_t(d, "story")["forward"], "university", 12),
                 {"tracks.story.forward.university"}, id="forward-raised"),
    pytest.param("ministry", "seu", lambda d: _set(_field(d, "lecture", "lecturers"), "required", False),
                 {"tracks.lecture.fields.lecturers.required"}, id="required-field-dropped"),
    pytest.param("ministry", "seu",
                 lambda d: _t(d, "lecture")["fields"].remove(_field(d, "lecture", "outline")),
                 {"tracks.lecture.fields.outline"}, id="field-removed"),
    pytest.param("ministry", "seu", lambda d: _stage(d, "lecture", "video")["required_fields"].remove("theme"),
                 {"tracks.lecture.stages.video.required_fields"}, id="stage-requirement-dropped"),
    pytest.param("ministry", "seu", lambda d: _set(_t(d, "lecture")["media"]["video"], "max_bytes", 4 << 30),
                 {"tracks.lecture.media.video.max_bytes"}, id="max-bytes-relaxed"),
    pytest.param("ministry", "seu", lambda d: _set(_rule(d, "lecture", "video", "duration_s", "le"),
                                                   "severity", "warning"),
                 {"tracks.lecture.media.video.rules.duration_s"}, id="error-downgraded-to-warning"),
    pytest.param("ministry", "wust", lambda d: _set(_rule(d, "lecture", "video", "duration_s", "le"),
                                                    "value", 2400),
                 {"tracks.lecture.media.video.rules.duration_s"}, id="le-bound-raised"),
    pytest.param("seu", "grandchild", lambda d: _set(_rule(d, "lecture", "video", "duration_s", "between"),
                                                     "value", [600, 1200]),
                 {"tracks.lecture.media.video.rules.duration_s"}, id="between-widened"),
    pytest.param("seu", "grandchild", lambda d: _set(_rule(d, "lecture", "video", "video_codec", "eq"),
                                                     "value", "hevc"),
                 {"tracks.lecture.media.video.rules.video_codec"}, id="eq-changed"),
    pytest.param("seu", "grandchild", lambda d: _set(_rule(d, "lecture", "video", "container", "in", ["mp4"]),
                                                     "value", ["mp4", "mov"]),
                 {"tracks.lecture.media.video.rules.container"}, id="in-widened"),
    pytest.param("ministry", "seu", lambda d: d["tracks"].pop("story"),
                 {"tracks.story"}, id="required-track-dropped"),
    # a scored track of SEU's own would go up to the ministry, which runs no such track
    pytest.param("ministry", "seu", lambda d: _set(d["tracks"], "extra", copy.deepcopy(_t(d, "story"))),
                 {"tracks.extra.decision.level"}, id="own-track-sent-to-the-ministry"),
    pytest.param("ministry", "seu", lambda d: _t(d, "lecture")["stages"].pop(0),
                 {"tracks.lecture.stages.registration"}, id="stage-dropped"),
    pytest.param("wust", "grandchild", lambda d: _set(_t(d, "material"), "naming_rule", False),
                 {"tracks.material.naming_rule"}, id="naming-rule-dropped"),
    pytest.param("wust", "grandchild", lambda d: _set(_field(d, "story", "text"), "max_chars", 400),
                 {"tracks.story.fields.text.max_chars"}, id="max-chars-raised"),
    pytest.param("wust", "grandchild", lambda d: _field(d, "story", "text").pop("max_chars"),
                 {"tracks.story.fields.text.max_chars"}, id="max-chars-removed"),
    pytest.param("ministry", "wust", lambda d: _set(_t(d, "lecture")["media"], "image", {"max_bytes": 1, "rules": []})
                 or _stage(d, "lecture", "video")["files"].append({"kind": "image", "min": 0}),
                 {"tracks.lecture.stages.video.files.image"}, id="file-kind-added"),
    pytest.param("ministry", "seu", lambda d: _set(_stage(d, "lecture", "video")["files"][0], "max", 2),
                 {"tracks.lecture.stages.video.files.video"}, id="file-count-raised"),
    pytest.param("ministry", "wust",
                 lambda d: _stage(d, "meeting_report", "submission")["files"].pop(0),
                 {"tracks.meeting_report.stages.submission.files.document"}, id="required-file-dropped"),
    pytest.param("seu", "grandchild", lambda d: _set(_t(d, "lecture"), "submit_levels", ["branch", "level2"]),
                 {"tracks.lecture.submit_levels"}, id="submit-levels-widened"),
    pytest.param("ministry", "seu", lambda d: d["themes"].append("其他主题"),
                 {"themes"}, id="theme-added"),
    pytest.param("ministry", "seu", lambda d: _set(_stage(d, "lecture", "video"), "deadlines",
                                                   {"level2": "2020-08-05"}),
                 {"tracks.lecture.stages.video.deadlines.university",
                  "tracks.lecture.stages.video.deadlines.level2"}, id="deadline-dropped-and-added-one-too-late"),
]


@pytest.mark.parametrize("parent_id, base, change, expected_fields", LOOSENINGS)
def test_a_loosening_child_is_refused_naming_the_field(builtin, parent_id, base, change, expected_fields):
    parent = builtin[{"ministry": "siyige-2020", "seu": "siyige-2020-seu",
                      "wust": "siyige-2020-wust"}[parent_id]]
    if base == "grandchild":
        child = derive(parent, change)
    else:
        child = child_of(builtin[f"siyige-2020-{base}"], change)
    error = refused(check_tightens, parent, child)
    assert error.code == "campaign_loosens_parent"
    assert set(fields_of(error)) == expected_fields
    assert error.message.startswith(f"派生活动「{child.id}」有{len(error.details)}处比上级活动「{parent.id}」宽松")
    assert_readable(error)


def test_every_loosening_is_listed_in_one_error(seu):
    def loosen(d):
        _set(_stage(d, "story", "submission")["deadlines"], "level2", "2020-07-25")
        _set(_t(d, "story")["quota"], "level2", 3)
        _set(_rule(d, "lecture", "video", "duration_s", "between"), "severity", "warning")  # unchanged
        _set(_rule(d, "lecture", "video", "duration_s", "le"), "severity", "warning")
        d["tracks"].pop("report")

    error = refused(check_tightens, seu, derive(seu, loosen))
    assert sorted(fields_of(error)) == [
        "tracks.lecture.media.video.rules.duration_s",
        "tracks.report",
        "tracks.story.quota.level2",
        "tracks.story.stages.submission.deadlines.level2",
    ]
    assert error.message.startswith("派生活动「siyige-2020-seu-x」有4处比上级活动「siyige-2020-seu」宽松")


def test_tightening_and_free_changes_are_accepted(seu):
    def tighten(d):
        _set(_stage(d, "lecture", "video")["deadlines"], "level2", "2020-07-10")
        _set(_stage(d, "lecture", "video")["deadlines"], "branch", "2020-07-01")  # added below the parent's
        _set(_t(d, "story")["quota"], "level2", 1)
        _set(_t(d, "material")["quota"]["level2"], "article", 5)  # a limit where the parent has none
        _set(_field(d, "story", "text"), "max_chars", 500)  # a limit where the parent has none
        _set(_rule(d, "lecture", "video", "duration_s", "between"), "value", [960, 1140])
        _set(_rule(d, "lecture", "video", "duration_s", "between"), "severity", "error")
        mp4 = _rule(d, "lecture", "video", "container", "in", ["mp4"])
        mp4.update(op="eq", value="mp4", severity="error")  # in [mp4] (warning) -> eq mp4 (error)
        _set(_t(d, "lecture")["media"]["video"], "max_bytes", 1 << 30)
        _set(_t(d, "material"), "naming_rule", True)
        _set(_t(d, "report"), "department", "propaganda")  # routing is the university's choice
        _set(_t(d, "lecture"), "label", "战疫微党课")
        _set(_t(d, "lecture"), "rubric", [{"key": "all", "label": "综合", "weight": 100, "max": 100}])

    check_tightens(seu, derive(seu, tighten))


@pytest.mark.parametrize("fact, old, new, accepted", [
    # SEU's duration_s le 1800 (error), replaced by another rule in a derived copy
    ("duration_s", ("le", 1800), ("le", 1500, "error"), True),
    ("duration_s", ("le", 1800), ("lt", 1800, "error"), True),
    ("duration_s", ("le", 1800), ("lt", 1801, "error"), False),
    ("duration_s", ("le", 1800), ("eq", 1500, "error"), True),
    ("duration_s", ("le", 1800), ("eq", 1900, "error"), False),
    ("duration_s", ("le", 1800), ("between", [60, 1800], "error"), True),
    ("duration_s", ("le", 1800), ("between", [60, 1801], "error"), False),
    ("duration_s", ("le", 1800), ("in", [900, 1200], "error"), True),
    ("duration_s", ("le", 1800), ("in", [900, 2000], "error"), False),
    ("duration_s", ("le", 1800), ("ge", 60, "error"), False),
    ("duration_s", ("le", 1800), ("ne", 0, "error"), False),
    # SEU's container in [mp4] (warning)
    ("container", ("in", ["mp4"]), ("eq", "mp4", "warning"), True),
    ("container", ("in", ["mp4"]), ("in", ["mp4"], "error"), True),
    ("container", ("in", ["mp4"]), ("ne", "avi", "warning"), False),
    ("container", ("in", ["mp4"]), ("eq", "mov", "error"), False),
    # SEU's width eq 1920 (warning)
    ("width", ("eq", 1920), ("between", [1920, 1920], "warning"), True),
    ("width", ("eq", 1920), ("ge", 1920, "warning"), False),
])
def test_a_parent_rule_must_be_implied_by_a_child_rule(seu, fact, old, new, accepted):
    def replace(d):
        _rule(d, "lecture", "video", fact, *old).update(op=new[0], value=new[1], severity=new[2])

    child = derive(seu, replace)
    if accepted:
        check_tightens(seu, child)
    else:
        error = refused(check_tightens, seu, child)
        assert fields_of(error) == [f"tracks.lecture.media.video.rules.{fact}"]


def test_a_child_must_name_its_parent(ministry, seu):
    error = refused(check_tightens, seu, seu)
    assert fields_of(error) == ["derives_from"]


# --------------------------------------------------------------------------- #
# Malformed definitions
# --------------------------------------------------------------------------- #

def test_a_malformed_definition_is_refused_with_every_problem(ministry):
    data = ministry.to_dict()
    data["tracks"]["lecture"]["colour"] = "red"  # unknown key
    _stage(data, "story", "submission")["deadlines"] = {
        "college": "2020-07-01",  # bad level
        "level2": "2020-08-10",  # after the university's: wrong order
        "university": "2020-07-31",
    }
    _t(data, "lecture")["rubric"][0]["weight"] = 30  # 30 + 30 + 30
    error = refused(parse_definition, data)
    assert error.code == "campaign_invalid"
    assert sorted(fields_of(error)) == [
        "tracks.lecture.colour",
        "tracks.lecture.rubric",
        "tracks.story.stages.submission.deadlines.college",
        "tracks.story.stages.submission.deadlines.level2",
    ]
    assert error.message.startswith("活动定义「siyige-2020」有4处问题：")
    by_field = {d["field"]: d for d in error.details}
    assert by_field["tracks.lecture.rubric"]["expected"] == 100
    assert by_field["tracks.lecture.rubric"]["found"] == 90
    assert by_field["tracks.story.stages.submission.deadlines.level2"]["found"] == "2020-08-10T23:59:59+08:00"
    assert "college" in by_field["tracks.story.stages.submission.deadlines.college"]["message"]
    assert_readable(error)


INVALID = [
    pytest.param(lambda d: _stage(d, "lecture", "video")["required_fields"].append("duration"),
                 "tracks.lecture.stages.video.required_fields", id="required-field-unknown"),
    pytest.param(lambda d: _set(d, "themes", []),
                 "tracks.lecture.fields.theme.choices_from", id="choices-from-without-themes"),
    pytest.param(lambda d: _set(_field(d, "lecture", "theme"), "choices_from", "topics"),
                 "tracks.lecture.fields.theme.choices_from", id="choices-from-not-themes"),
    pytest.param(lambda d: _set(_t(d, "story")["quota"], "branch", 1),
                 "tracks.story.quota.branch", id="quota-level-does-not-submit"),
    pytest.param(lambda d: _set(_t(d, "material")["quota"], "level2", {"poster": 1}),
                 "tracks.material.quota.level2", id="quota-value-not-a-choice"),
    pytest.param(lambda d: _set(_t(d, "material"), "quota_field", "title"),
                 "tracks.material.quota_field", id="quota-field-not-a-choice"),
    pytest.param(lambda d: _set(_field(d, "material", "form"), "required", False),
                 "tracks.material.fields.form.required", id="quota-field-optional"),
    pytest.param(lambda d: _set(_t(d, "story")["forward"], "branch", 1),
                 "tracks.story.forward.branch", id="forward-below-submitters"),
    pytest.param(lambda d: _set(_stage(d, "lecture", "registration")["deadlines"], "university", "2020-08-05"),
                 "tracks.lecture.stages.registration.deadlines.university", id="stage-deadlines-backwards"),
    pytest.param(lambda d: _set(_stage(d, "lecture", "video")["deadlines"], "level2", "2020-07-31T23:59:59"),
                 "tracks.lecture.stages.video.deadlines.level2", id="level-deadline-equal-to-parent-level"),
    pytest.param(lambda d: _set(_stage(d, "lecture", "video")["deadlines"], "level2", "2020-02-30"),
                 "tracks.lecture.stages.video.deadlines.level2", id="date-does-not-exist"),
    pytest.param(lambda d: _set(_stage(d, "lecture", "video")["deadlines"], "level2", "7月17日"),
                 "tracks.lecture.stages.video.deadlines.level2", id="date-not-iso"),
    pytest.param(lambda d: _set(_t(d, "lecture")["media"], "pdf", {"max_bytes": 1}),
                 "tracks.lecture.media.pdf", id="media-kind-unknown"),
    pytest.param(lambda d: _stage(d, "story", "submission")["files"].append({"kind": "audio", "min": 0}),
                 "tracks.story.media.audio", id="file-kind-without-policy"),
    pytest.param(lambda d: _set(_rule(d, "lecture", "video", "duration_s", "le"), "value", "30分钟"),
                 "tracks.lecture.media.video.rules.1.value", id="le-needs-a-number"),
    pytest.param(lambda d: _set(_rule(d, "lecture", "video", "duration_s", "between"), "value", [1200, 900]),
                 "tracks.lecture.media.video.rules.2.value", id="between-reversed"),
    pytest.param(lambda d: _set(_rule(d, "lecture", "video", "width", "eq"), "op", "in"),
                 "tracks.lecture.media.video.rules.3.value", id="in-needs-a-list"),
    pytest.param(lambda d: _set(_rule(d, "lecture", "video", "video_codec", "eq"), "op", "ge"),
                 "tracks.lecture.media.video.rules.6.op", id="operator-invalid-for-text"),
    pytest.param(lambda d: _set(_rule(d, "lecture", "video", "has_subtitles", "eq"), "value", "yes"),
                 "tracks.lecture.media.video.rules.8.value", id="boolean-fact-needs-boolean"),
    pytest.param(lambda d: _set(_rule(d, "lecture", "video", "width", "eq"), "fact", "widht"),
                 "tracks.lecture.media.video.rules.3.fact", id="fact-unknown"),
    pytest.param(lambda d: _set(_rule(d, "lecture", "video", "width", "eq"), "op", "like"),
                 "tracks.lecture.media.video.rules.3.op", id="operator-unknown"),
    pytest.param(lambda d: _set(_rule(d, "lecture", "video", "width", "eq"), "severity", "fatal"),
                 "tracks.lecture.media.video.rules.3.severity", id="severity-unknown"),
    pytest.param(lambda d: _t(d, "lecture")["fields"].append({"key": "outline", "label": "重复", "type": "string"}),
                 "tracks.lecture.fields.outline", id="field-key-duplicated"),
    pytest.param(lambda d: _set(_field(d, "lecture", "planned_date"), "max_chars", 10),
                 "tracks.lecture.fields.planned_date.max_chars", id="max-chars-on-a-date"),
    pytest.param(lambda d: _set(_field(d, "story", "text"), "min_chars", 20) or
                 _set(_field(d, "story", "text"), "max_chars", 10),
                 "tracks.story.fields.text.min_chars", id="min-chars-above-max"),
    pytest.param(lambda d: _set(_field(d, "lecture", "lecturers"), "type", "person"),
                 "tracks.lecture.fields.lecturers.type", id="field-type-unknown"),
    pytest.param(lambda d: _set(_t(d, "lecture"), "department", "teaching"),
                 "tracks.lecture.department", id="department-unknown"),
    pytest.param(lambda d: _set(_t(d, "lecture"), "submit_levels", ["level2", "ministry"]),
                 "tracks.lecture.submit_levels.1", id="ministry-cannot-submit"),
    pytest.param(lambda d: _set(d, "timezone", "Asia/Nanjing"), "timezone", id="timezone-unknown"),
    pytest.param(lambda d: _set(d, "derives_from", d["id"]), "derives_from", id="derives-from-itself"),
    pytest.param(lambda d: _set(d, "id", "SEU 2020"), "id", id="id-not-a-slug"),
    pytest.param(lambda d: d.pop("title"), "title", id="title-missing"),
]


@pytest.mark.parametrize("change, field", INVALID)
def test_each_inconsistency_is_named(seu, change, field):
    data = seu.to_dict()
    change(data)
    error = refused(parse_definition, data)
    assert error.code == "campaign_invalid"
    assert fields_of(error) == [field]
    assert error.message.startswith("活动定义")
    assert "有1处问题：" in error.message
    assert_readable(error)


def test_yaml_duplicate_keys_are_refused():
    text = (DEFINITIONS_DIR / "siyige-2020.yaml").read_text(encoding="utf-8")
    text = text.replace("short_title: 四个一 2020\n", "short_title: 四个一 2020\ntimezone: UTC\n")
    error = refused(parse_definition, text)
    assert fields_of(error) == ["timezone"]
    assert "重复" in error.details[0]["message"]


@pytest.mark.parametrize("text", [
    "id: siyige-2020\ntracks: [\n",  # syntax
    "id: a\n---\nid: b\n",  # two documents in one file
    "- just\n- a list\n",  # not a mapping
    "",  # empty
])
def test_unreadable_yaml_is_refused(text):
    error = refused(parse_definition, text)
    assert error.code == "campaign_invalid"
    assert fields_of(error) == ["$"]
    assert_readable(error)


# --------------------------------------------------------------------------- #
# Loading a folder
# --------------------------------------------------------------------------- #

def _write(folder: Path, definition: CampaignDefinition, change=None) -> None:
    data = definition.to_dict()
    if change:
        change(data)
    (folder / f"{data['id']}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_loading_refuses_a_child_that_loosens(tmp_path, ministry, seu):
    _write(tmp_path, ministry)
    _write(tmp_path, seu, lambda d: _set(_t(d, "lecture")["quota"], "level2", 2))
    error = refused(load_builtin_definitions, tmp_path)
    assert error.code == "campaign_loosens_parent"
    assert fields_of(error) == ["tracks.lecture.quota.level2"]
    assert error.message.startswith("派生活动「siyige-2020-seu」有1处比上级活动「siyige-2020」宽松")


def test_loading_refuses_a_child_without_its_parent(tmp_path, seu):
    _write(tmp_path, seu)
    error = refused(load_builtin_definitions, tmp_path)
    assert error.code == "campaign_invalid"
    assert fields_of(error) == ["derives_from"]


def test_loading_names_the_file_of_an_invalid_definition(tmp_path, ministry):
    _write(tmp_path, ministry, lambda d: _set(_t(d, "lecture")["rubric"][0], "weight", 0))
    error = refused(load_builtin_definitions, tmp_path)
    assert error.message.startswith("siyige-2020.yaml：活动定义「siyige-2020」有1处问题")
    assert fields_of(error) == ["tracks.lecture.rubric"]


def test_loading_requires_the_file_name_to_be_the_id(tmp_path, ministry):
    (tmp_path / "ministry.yaml").write_text(yaml.safe_dump(ministry.to_dict(), allow_unicode=True),
                                            encoding="utf-8")
    error = refused(load_builtin_definitions, tmp_path)
    assert fields_of(error) == ["id"]
