"""A derived copy follows its parent's correction where it did not override it (common.campaign.follow)."""
import copy

import pytest

from common.campaign import check_tightens, parse_definition
from common.campaign.follow import follow


@pytest.fixture
def old_ministry(ministry):
    return copy.deepcopy(ministry.raw)


@pytest.fixture
def seu_raw(seu):
    return copy.deepcopy(seu.raw)


def _track(raw, track):
    return raw["tracks"][track]


def _stage(raw, track, stage):
    return next(s for s in _track(raw, track)["stages"] if s["key"] == stage)


def _field(raw, track, key):
    return next((f for f in _track(raw, track)["fields"] if f["key"] == key), None)


def _rule(raw, track, kind, fact, op, severity):
    rules = _track(raw, track)["media"][kind]["rules"]
    return next((r for r in rules if (r["fact"], r["op"], r["severity"]) == (fact, op, severity)), None)


def _corrected(old, change):
    new = copy.deepcopy(old)
    change(new)
    return new


def test_no_correction_leaves_the_copy_as_it_was(old_ministry, seu_raw):
    merged, conflicts = follow(old_ministry, copy.deepcopy(old_ministry), seu_raw)
    assert merged == seu_raw
    assert conflicts == []


def test_a_deadline_seu_did_not_override_follows_the_ministry(old_ministry, seu_raw):
    # SEU writes the ministry's 7/31 for the university's story deadline as it is
    assert _stage(seu_raw, "story", "submission")["deadlines"]["university"] == "2020-07-31"
    new = _corrected(old_ministry, lambda d: _stage(d, "story", "submission")["deadlines"].update(university="2020-07-25"))
    merged, conflicts = follow(old_ministry, new, seu_raw)
    assert conflicts == []
    deadlines = _stage(merged, "story", "submission")["deadlines"]
    assert deadlines == {"level2": "2020-07-20", "university": "2020-07-25"}  # SEU's own level2 date stays
    check_tightens(parse_definition(new), parse_definition(merged))  # and the result is a valid copy


def test_a_deadline_seu_overrode_earlier_stays_seu_s(old_ministry, seu_raw):
    _stage(seu_raw, "story", "submission")["deadlines"]["university"] = "2020-07-28"  # SEU's own, earlier
    new = _corrected(old_ministry, lambda d: _stage(d, "story", "submission")["deadlines"].update(university="2020-07-30"))
    merged, conflicts = follow(old_ministry, new, seu_raw)
    assert conflicts == []
    assert _stage(merged, "story", "submission")["deadlines"]["university"] == "2020-07-28"


def test_a_correction_stricter_than_seu_s_override_is_a_named_conflict(old_ministry, seu_raw):
    _stage(seu_raw, "story", "submission")["deadlines"]["university"] = "2020-07-28"
    new = _corrected(old_ministry, lambda d: _stage(d, "story", "submission")["deadlines"].update(university="2020-07-25"))
    merged, conflicts = follow(old_ministry, new, seu_raw)
    assert [c["path"] for c in conflicts] == ["tracks.story.stages.submission.deadlines.university"]
    assert conflicts[0]["code"] == "campaign_loosens_parent"
    assert "2020-07-25" in conflicts[0]["message"] and "2020-07-28" in conflicts[0]["message"]
    # not guessed: the copy's override is what the merge shows, for its owner to resolve
    assert _stage(merged, "story", "submission")["deadlines"]["university"] == "2020-07-28"


def test_a_followed_deadline_before_the_copy_s_own_lower_level_is_a_conflict(old_ministry, seu_raw):
    # the ministry's 7/15 reaches SEU, whose colleges' 7/20 would then fall after the university's own
    new = _corrected(old_ministry, lambda d: _stage(d, "story", "submission")["deadlines"].update(university="2020-07-15"))
    _, conflicts = follow(old_ministry, new, seu_raw)
    assert conflicts and all(c["path"].startswith("tracks.story.stages.submission.deadlines") for c in conflicts)
    assert conflicts[0]["code"] == "campaign_invalid"


def test_a_field_the_ministry_adds_reaches_seu(old_ministry, seu_raw):
    place = {"key": "place", "label": "组织生活会地点", "type": "string"}
    new = _corrected(old_ministry, lambda d: _track(d, "story")["fields"].insert(1, place))
    merged, conflicts = follow(old_ministry, new, seu_raw)
    assert conflicts == []
    assert [f["key"] for f in _track(merged, "story")["fields"]] == ["title", "place", "branch_name", "text"]


def test_a_lowered_word_limit_reaches_seu(old_ministry, seu_raw):
    new = _corrected(old_ministry, lambda d: _field(d, "story", "text").update(max_chars=300))
    merged, conflicts = follow(old_ministry, new, seu_raw)
    assert conflicts == []
    assert _field(merged, "story", "text")["max_chars"] == 300
    assert parse_definition(merged).tracks["story"].field("text").max_chars == 300


def test_a_changed_media_rule_reaches_seu_and_seu_s_own_rules_stay(old_ministry, seu_raw):
    def shorter(d):
        _rule(d, "lecture", "video", "duration_s", "le", "error").update(value=1500, hint="微党课时长不超过25分钟。")

    merged, conflicts = follow(old_ministry, _corrected(old_ministry, shorter), seu_raw)
    assert conflicts == []
    assert _rule(merged, "lecture", "video", "duration_s", "le", "error") == {
        "fact": "duration_s", "op": "le", "value": 1500, "severity": "error", "hint": "微党课时长不超过25分钟。"}
    assert _rule(merged, "lecture", "video", "duration_s", "between", "warning")["value"] == [900, 1200]  # SEU's 建议
    assert len(_track(merged, "lecture")["media"]["video"]["rules"]) == len(
        _track(seu_raw, "lecture")["media"]["video"]["rules"])


def test_a_track_the_ministry_adds_is_added_and_one_it_removes_is_removed(old_ministry, seu_raw):
    def add_and_remove(d):
        d["tracks"]["pledge"] = copy.deepcopy(d["tracks"]["report"]) | {"label": "承诺书"}
        del d["tracks"]["report"]

    seu_raw["tracks"]["report"] = copy.deepcopy(old_ministry["tracks"]["report"])  # run as the ministry wrote it
    merged, conflicts = follow(old_ministry, _corrected(old_ministry, add_and_remove), seu_raw)
    assert conflicts == []
    assert "pledge" in merged["tracks"] and "report" not in merged["tracks"]
    assert "meeting_report" not in merged["tracks"]  # the optional track SEU left out stays left out


def test_a_removed_track_the_copy_changed_stays_as_its_own(old_ministry, seu_raw):
    seu_raw["tracks"]["report"]["label"] = "成果宣传报道（东南大学）"
    new = _corrected(old_ministry, lambda d: d["tracks"].pop("report"))
    merged, _ = follow(old_ministry, new, seu_raw)
    assert merged["tracks"]["report"]["label"] == "成果宣传报道（东南大学）"
