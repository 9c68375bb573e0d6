"""Media rules (common/campaign/media_rules.py): every fact media measures is usable in a rule.

The vocabulary is checked against what the checker really reports on generated files, each new fact
is parsed in a definition and judged into a Chinese finding, the 60 % subtitle coverage is a rule of
the shipped definitions (no longer a constant of media), and `media-check --definition PATH` checks a
file against a definition written to a file, in its own process, as a person would run it.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from common.campaign import MEDIA_FACTS, check_tightens, judge, load_builtin_definitions, parse_definition
from common.campaign.media_rules import fact_of
from common.errors import Unprocessable
from services.media.checker import check_file
from tests.media_fixtures import session_media

ROOT = Path(__file__).resolve().parents[2]
# Facts the checker reports that no rule may name, each for a reason given in media_rules.py.
NOT_FOR_RULES = {"format_names", "content_type"}
# Facts of the vocabulary the generated files never show: only an encrypted PDF or one whose text
# cannot be read has them.
NOT_IN_FIXTURES = {"password_required", "pages_without_text_extraction"}


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    return session_media(tmp_path_factory)


def facts_of(path, kind) -> dict:
    return check_file(str(path), kind, None).facts


# --------------------------------------------------------------------------- the vocabulary


def test_every_scalar_fact_the_checker_reports_is_in_the_vocabulary_with_its_type(media):
    reports = {
        "video": [facts_of(media[name], "video") for name in ("lecture_ok", "lecture_no_subtitles", "lecture_no_audio",
                                                              "lecture_mkv_named_mp4", "lecture_truncated")],
        "audio": [facts_of(media["audio_ok"], "audio")],
        "image": [facts_of(media["image_gps"], "image")],
        "document": [facts_of(media["document_pdf"], "document"), facts_of(media["document_docx"], "document")],
        "subtitle": [facts_of(media["subtitles_srt"], "subtitle")],
    }
    seen: dict[str, set] = {kind: set() for kind in MEDIA_FACTS}
    for kind, all_facts in reports.items():
        for facts in all_facts:
            for name, value in facts.items():
                if isinstance(value, (list, dict)) or name in NOT_FOR_RULES:
                    continue
                spec = MEDIA_FACTS[kind].get(name)
                assert spec is not None, f"media reports {kind} fact {name!r} ({value!r}) that no rule can name"
                seen[kind].add(name)
                if value is not None:
                    python = {"number": (int, float), "string": str, "boolean": bool}[spec.type]
                    assert isinstance(value, python) and (spec.type == "boolean" or not isinstance(value, bool)), \
                        (kind, name, value, spec.type)
    for kind, facts in MEDIA_FACTS.items():
        assert set(facts) - seen[kind] <= NOT_IN_FIXTURES, f"{kind}: in the vocabulary, never reported: " \
                                                           f"{set(facts) - seen[kind] - NOT_IN_FIXTURES}"


def test_the_facts_the_issue_names_are_rule_facts_with_chinese_labels():
    for kind, name in (("video", "bit_rate"), ("video", "subtitle_coverage"), ("video", "audio_channels"),
                       ("image", "has_gps"), ("document", "text_chars")):
        assert name in MEDIA_FACTS[kind]
    for kind, facts in MEDIA_FACTS.items():
        for name, spec in facts.items():
            assert spec.type in ("number", "string", "boolean"), (kind, name)
            assert any("\u4e00" <= ch <= "\u9fff" for ch in spec.label), (kind, name, spec.label)


# --------------------------------------------------------------------------- new facts in a definition

def definition(rules_by_kind: dict[str, list[dict]]) -> dict:
    return {
        "id": "facts-test", "title": "规则测试", "timezone": "Asia/Shanghai",
        "tracks": {"clip": {
            "label": "短视频", "department": "propaganda", "submit_levels": ["branch"],
            "fields": [{"key": "title", "label": "作品名称", "type": "string", "required": True}],
            "stages": [{"key": "submission", "label": "提交", "required_fields": ["title"],
                        "files": [{"kind": kind, "min": 0} for kind in rules_by_kind]}],
            "media": {kind: {"rules": rules} for kind, rules in rules_by_kind.items()},
        }},
    }


NEW_FACT_RULES = {
    "video": [
        {"fact": "bit_rate", "op": "ge", "value": 1_000_000, "severity": "warning", "hint": "码率过低，画面可能模糊。"},
        {"fact": "audio_channels", "op": "ge", "value": 2, "severity": "error", "hint": "请用立体声导出。"},
        {"fact": "subtitle_coverage", "op": "ge", "value": 0.95, "severity": "warning", "hint": "请补全字幕。"},
        {"fact": "index_at_front", "op": "eq", "value": True, "severity": "warning"},
        {"fact": "complete", "op": "eq", "value": True, "severity": "error"},
        {"fact": "subtitle_source", "op": "in", "value": ["embedded"], "severity": "warning"},
    ],
    "image": [{"fact": "has_gps", "op": "eq", "value": False, "severity": "error", "hint": "请去除照片中的位置信息后上传。"},
              {"fact": "pixels", "op": "le", "value": 50_000_000, "severity": "error"}],
    "document": [{"fact": "text_chars", "op": "ge", "value": 300, "severity": "error", "hint": "书面材料应不少于300字。"},
                 {"fact": "encrypted", "op": "eq", "value": False, "severity": "error"}],
    "subtitle": [{"fact": "cues", "op": "ge", "value": 10, "severity": "warning"}],
}


def test_a_definition_may_name_every_new_fact():
    parsed = parse_definition(definition(NEW_FACT_RULES))
    assert {r.fact for r in parsed.tracks["clip"].media["video"].rules} >= {"bit_rate", "audio_channels",
                                                                             "subtitle_coverage"}


@pytest.mark.parametrize("rule, field, words", [
    ({"fact": "bitrate", "op": "ge", "value": 1, "severity": "error"}, "fact", "是否应为「bit_rate」"),
    ({"fact": "has_gps", "op": "ge", "value": 1, "severity": "error"}, "op", "只能用 eq、ne 比较"),
    ({"fact": "text_chars", "op": "ge", "value": "三百", "severity": "error"}, "value", "一个数字"),
])
def test_a_rule_on_a_fact_media_does_not_measure_or_of_the_wrong_shape_is_refused(rule, field, words):
    kind = "video" if rule["fact"] == "bitrate" else ("image" if rule["fact"] == "has_gps" else "document")
    with pytest.raises(Unprocessable) as caught:
        parse_definition(definition({kind: [rule]}))
    assert [d["field"] for d in caught.value.details] == [f"tracks.clip.media.{kind}.rules.0.{field}"]
    assert words in caught.value.message


def test_a_video_fact_is_not_an_image_fact():
    with pytest.raises(Unprocessable) as caught:
        parse_definition(definition({"image": [{"fact": "bit_rate", "op": "ge", "value": 1, "severity": "error"}]}))
    assert "image 文件可检测" in caught.value.message


@pytest.mark.parametrize("kind, facts, message", [
    ("video", {"bit_rate": 32_297}, "码率应不少于1 Mbps，实际为32 kbps。码率过低，画面可能模糊。"),
    ("video", {"audio_channels": 1}, "声道数应不少于2 声道，实际为1 声道。请用立体声导出。"),
    ("video", {"index_at_front": False}, "索引位置应为文件开头，实际为文件末尾。"),
    ("video", {"complete": False}, "文件完整性应为完整，实际为不完整。"),
    ("video", {"has_subtitles": True, "subtitle_source": "sidecar"}, "字幕来源应为内嵌字幕，实际为随附字幕文件。"),
    ("image", {"has_gps": True}, "GPS 位置信息应为无，实际为有。请去除照片中的位置信息后上传。"),
    ("image", {"pixels": 60_000_000}, "像素数应不超过50000000 像素，实际为60000000 像素。"),
    ("document", {"text_chars": 98}, "文字字符数应不少于300 字，实际为98 字。书面材料应不少于300字。"),
    ("document", {"encrypted": True}, "加密应为未加密，实际为已加密。"),
    ("subtitle", {"cues": 3}, "字幕条数应不少于10 条，实际为3 条。"),
])
def test_each_new_fact_is_judged_into_a_chinese_finding(kind, facts, message):
    policy = {"kind": kind, "max_bytes": None, "rules": NEW_FACT_RULES[kind]}
    [finding] = judge(facts, policy)
    assert finding["message"] == message
    assert finding["actual"] == next(v for k, v in facts.items() if k == finding["rule"].split(" ")[0])


def test_a_fact_measured_only_with_subtitles_is_not_judged_without_them():
    policy = {"kind": "video", "max_bytes": None, "rules": NEW_FACT_RULES["video"][2:3]}
    assert judge({"has_subtitles": False, "subtitle_coverage": 0.0}, policy) == []
    assert [f["rule"] for f in judge({"has_subtitles": True, "subtitle_coverage": 0.5}, policy)] == \
        ["subtitle_coverage ge 0.95"]
    assert fact_of("video", "subtitle_coverage").measured_when == "has_subtitles"


# --------------------------------------------------------------------------- 60 % coverage is a rule now

def coverage_rules(policy: dict) -> list[dict]:
    return [r for r in policy["rules"] if r["fact"] == "subtitle_coverage"]


def test_every_shipped_video_policy_asks_for_60_percent_coverage_as_a_warning():
    for campaign_id, campaign in load_builtin_definitions().items():
        for track, policies in campaign.media_policies().items():
            if "video" in policies:
                [rule] = coverage_rules(policies["video"])
                assert (rule["op"], rule["value"], rule["severity"]) == ("ge", 0.6, "warning"), (campaign_id, track)


@pytest.fixture(scope="module")
def lecture_policy():
    return load_builtin_definitions()["siyige-2020-seu"].media_policies()["lecture"]["video"]


def with_subtitles(coverage: float) -> dict:
    return {"has_subtitles": True, "subtitle_coverage": coverage, "duration_s": 960, "has_audio": True,
            "container": "mp4", "video_codec": "h264", "width": 1920, "height": 1080}


def test_low_coverage_reads_as_it_did_when_it_was_a_constant(lecture_policy):
    [f] = judge(with_subtitles(0.456), lecture_policy)
    assert f["rule"].split(" ")[0] == "subtitle_coverage" and f["severity"] == "warning"
    assert f["message"] == "字幕只覆盖了视频时长的45.6%，应不少于60%。请补全字幕后重新上传字幕文件，或重新导出带完整字幕的视频。"
    assert (f["expected"], f["actual"]) == (0.6, 0.456)


def test_coverage_just_below_the_minimum_never_reads_as_equal(lecture_policy):
    [f] = judge(with_subtitles(0.5999), lecture_policy)
    assert "59.9%" in f["message"] and "60%" in f["message"]


def test_enough_coverage_and_no_subtitles_give_no_coverage_finding(lecture_policy):
    assert judge(with_subtitles(0.6), lecture_policy) == []
    assert judge(with_subtitles(0.95), lecture_policy) == []
    none = judge({**with_subtitles(0.0), "has_subtitles": False}, lecture_policy)
    assert [f["rule"].split(" ")[0] for f in none] == ["has_subtitles"]  # said once, not twice


def test_a_copy_may_ask_for_more_coverage_never_less():
    ministry = load_builtin_definitions()["siyige-2020"]

    def copy_with(value):
        raw = copy.deepcopy(load_builtin_definitions()["siyige-2020-seu"].raw)
        for rule in raw["tracks"]["lecture"]["media"]["video"]["rules"]:
            if rule["fact"] == "subtitle_coverage":
                rule["value"] = value
        return parse_definition(raw)

    check_tightens(ministry, copy_with(0.8))
    with pytest.raises(Unprocessable) as caught:
        check_tightens(ministry, copy_with(0.5))
    assert [d["field"] for d in caught.value.details] == ["tracks.lecture.media.video.rules.subtitle_coverage"]


# --------------------------------------------------------------------------- media-check --definition PATH

DEFINITION_YAML = """\
id: facts-test-2026
title: 规则测试活动
timezone: Asia/Shanghai
tracks:
  clip:
    label: 短视频
    department: propaganda
    submit_levels: [branch]
    fields:
      - {key: title, label: 作品名称, type: string, required: true}
    stages:
      - key: submission
        label: 提交
        required_fields: [title]
        files:
          - {kind: video, min: 0}
          - {kind: image, min: 0}
          - {kind: document, min: 0}
    media:
      video:
        rules:
          - {fact: audio_channels, op: ge, value: 2, severity: error, hint: 请用立体声导出。}
          - {fact: bit_rate, op: ge, value: 1000000, severity: warning, hint: 码率过低，画面可能模糊。}
          - {fact: subtitle_coverage, op: ge, value: 0.95, severity: warning, hint: 请补全字幕。}
      image:
        rules:
          - {fact: has_gps, op: eq, value: false, severity: error, hint: 请去除照片中的位置信息后上传。}
      document:
        rules:
          - {fact: text_chars, op: ge, value: 300, severity: error, hint: 书面材料应不少于300字。}
"""


def media_check(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.media.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


@pytest.fixture
def definition_file(tmp_path):
    path = tmp_path / "my-notice.yaml"
    path.write_text(DEFINITION_YAML, encoding="utf-8")
    return path


def findings_of(run) -> dict[str, dict]:
    return {f["rule"].split(" ")[0]: f for f in json.loads(run.stdout)["findings"]}


def test_media_check_judges_a_video_by_the_definition_file(media, definition_file):
    run = media_check(media["lecture_ok"], "--definition", definition_file, "--track", "clip", "--json")
    assert run.returncode == 1, run.stdout + run.stderr
    found = findings_of(run)
    assert set(found) == {"audio_channels", "bit_rate", "subtitle_coverage"}
    assert found["audio_channels"]["severity"] == "error"
    assert found["audio_channels"]["message"] == "声道数应不少于2 声道，实际为1 声道。请用立体声导出。"
    assert found["bit_rate"]["message"].startswith("码率应不少于1 Mbps，实际为")
    assert found["subtitle_coverage"]["message"].startswith("字幕只覆盖了视频时长的93.8%，应不少于95%。")
    # the same file against the shipped default (东南大学's lecture) passes: the definition made the difference
    assert media_check(media["lecture_ok"], "--json").returncode == 0


def test_media_check_definition_photos_and_documents(media, definition_file):
    run = media_check(media["image_gps"], "--definition", definition_file, "--track", "clip", "--json")
    assert run.returncode == 1 and "GPS 位置信息应为无，实际为有。" in findings_of(run)["has_gps"]["message"]
    run = media_check(media["document_pdf"], "--definition", definition_file, "--track", "clip")
    assert run.returncode == 1 and "文字字符数应不少于300 字，实际为98 字。书面材料应不少于300字。" in run.stdout
    assert "未通过" in run.stdout


def test_media_check_refuses_a_definition_it_cannot_use(media, definition_file, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(DEFINITION_YAML.replace("fact: bit_rate", "fact: bitrate"), encoding="utf-8")
    run = media_check(media["lecture_ok"], "--definition", broken, "--track", "clip")
    assert run.returncode == 2 and run.stdout == ""
    assert "broken.yaml" in run.stderr and "tracks.clip.media.video.rules.1.fact" in run.stderr
    assert "是否应为「bit_rate」" in run.stderr
    run = media_check(media["lecture_ok"], "--definition", definition_file)  # track lecture by default
    assert run.returncode == 2 and "没有赛道 lecture" in run.stderr and "clip" in run.stderr
    run = media_check(media["audio_ok"], "--definition", definition_file, "--track", "clip")  # no audio rules
    assert run.returncode == 0 and "没有 audio 文件的规则" in run.stderr
    run = media_check(media["lecture_ok"], "--definition", tmp_path / "missing.yaml", "--track", "clip")
    assert run.returncode == 2 and "找不到活动定义文件" in run.stderr
    run = media_check(media["lecture_ok"], "--definition", definition_file, "--campaign", "siyige-2020")
    assert run.returncode == 2 and "not allowed with argument" in run.stderr
