"""A video judged with every sidecar of its work, and how long its `file_checked` waits for them (recheck.py)."""
from datetime import datetime, timedelta, timezone

from services.media.recheck import held_since, with_sidecars

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)
VIDEO = {"duration_s": 100.0, "width": 1920}
NO_SUBTITLES = [{"rule": "has_subtitles", "severity": "warning", "message": "没有检测到字幕"}]


def judge(facts, policy):
    """The two subtitle rules, as the campaign's policy words them (enough to see what the video is judged on)."""
    if not facts["has_subtitles"]:
        return list(NO_SUBTITLES)
    if facts["subtitle_coverage"] < policy["min_coverage"]:
        return [{"rule": "subtitle_coverage", "severity": "warning", "message": "字幕覆盖不足"}]
    return []


POLICY = {"min_coverage": 0.7}


def cues(start, end, step=10.0):
    return [[float(s), float(s + step), f"第{int(s)}秒"] for s in range(start, end, int(step))]


def test_the_cues_of_every_sidecar_are_merged_so_subtitles_in_parts_cover_the_video():
    first_half, second_half = cues(0, 50), cues(50, 100)
    facts, findings = with_sidecars(VIDEO, NO_SUBTITLES, [], [first_half, second_half], POLICY, judge)
    assert facts["has_subtitles"] and facts["subtitle_coverage"] == 1.0 and facts["subtitle_source"] == "sidecar"
    assert findings == [] and facts["width"] == 1920  # the check's own facts stay
    # either part alone covers half: below the policy's share
    _, alone = with_sidecars(VIDEO, NO_SUBTITLES, [], [first_half], POLICY, judge)
    assert [f["rule"] for f in alone] == ["subtitle_coverage"]


def test_the_same_subtitles_in_two_files_count_once():
    facts, _ = with_sidecars(VIDEO, NO_SUBTITLES, [], [cues(0, 80), cues(0, 80)], POLICY, judge)
    assert facts["subtitle_coverage"] == 0.8


def test_the_sidecar_the_check_read_is_not_taken_for_embedded_subtitles():
    srt = cues(0, 80)
    facts, findings = with_sidecars(VIDEO, NO_SUBTITLES, srt, [srt], POLICY, judge)
    assert facts["subtitle_source"] == "sidecar" and findings == []
    embedded = [[95.0, 99.0, "片尾"]]
    facts, _ = with_sidecars(VIDEO, [], embedded + srt, [srt], POLICY, judge)
    assert facts["subtitle_source"] == "embedded" and facts["subtitle_coverage"] == 0.84


def test_without_a_sidecar_or_with_a_check_that_never_read_the_video_the_verdict_stands():
    assert with_sidecars(VIDEO, NO_SUBTITLES, [], [], POLICY, judge) is None
    timeout = [{"rule": "check_timeout", "severity": "error", "message": "超时"}]
    assert with_sidecars({}, timeout, [], [cues(0, 80)], POLICY, judge) is None


def test_the_findings_of_the_check_itself_are_kept():
    truncated = {"rule": "file_truncated", "severity": "error", "message": "文件不完整"}
    _, findings = with_sidecars(VIDEO, [truncated, *NO_SUBTITLES], [], [cues(0, 100)], POLICY, judge)
    assert findings == [truncated]


def test_a_video_waits_while_a_subtitle_of_its_work_is_being_checked_and_no_longer_than_the_limit():
    assert held_since(0, None, NOW, 300) is None  # nothing to wait for: announced
    assert held_since(1, None, NOW, 300) == NOW  # the hold begins
    later = NOW + timedelta(seconds=299)
    assert held_since(2, NOW, later, 300) == NOW  # still waiting, from the first hold
    assert held_since(1, NOW, NOW + timedelta(seconds=300), 300) is None  # the limit: announced anyway
    assert held_since(0, NOW, later, 300) is None  # the subtitles are checked: announced
    assert held_since(1, None, NOW, 0) is None  # no wait configured: never held
