"""Media rules: which facts a rule may name, how a rule is checked, implied and judged. Pure.

A track's media policy (per file kind) has `max_bytes` and rules; a rule names a fact the media
service measures, an operator, a value and a severity (`error` blocks the submission, `warning`
informs the submitter and the reviewers), in the spirit of MediaConch's policies. Three readers
share this one vocabulary:

* the parser refuses a rule on a fact media does not report for that kind (it would never fire),
  an operator the fact's type has no meaning for, and a value of the wrong shape;
* the tightening check asks whether a derived copy's rule implies its parent's (`implies`);
* media judges a checked file's facts against the policy (`judge`): each failed rule is a finding
  that says, in Chinese, what was expected, what was found and what to do.

The media service owns the measuring (services/media: probe.py, images.py, documents.py,
subtitles.py, checker.py); every scalar fact it reports is listed here with its type and label, and
tests/unit/test_media_rules.py checks the list against what the checker reports on real files.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from common.campaign.model import MediaRule
from common.locale import byte_size

OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "between", "in")
SEVERITIES = ("warning", "error")  # in increasing strictness: an error blocks, a warning informs
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
OPS_FOR_TYPE = {
    "number": OPERATORS,
    "string": ("eq", "ne", "in"),
    "boolean": ("eq", "ne"),
}
TYPE_NAMES = {"string": "文本", "integer": "整数", "number": "数字", "boolean": "true 或 false",
              "array": "列表", "object": "键值映射", "null": "空值（null）"}


@dataclass(frozen=True)
class Fact:
    """A fact media reports for a kind of file, as a rule may name it."""

    type: str  # number | string | boolean
    label: str  # Chinese, as a finding names it
    # A fact that means something only when another is true: a rule on it is judged only then.
    # (subtitle_coverage is 0 for a video without any subtitles; has_subtitles says that once.)
    measured_when: str | None = None
    yes_no: tuple[str, str] = ("有", "无")  # how true and false read, for a boolean


_SIZE = Fact("number", "文件大小")
_FORMAT = Fact("string", "文件格式")

# What services/media reports, per kind. Facts it keeps that no rule may name, and why: lists and
# structures (subtitle_codecs, integrity, decode_errors, derived_types, keywords) have no operator
# here; format_names is FFmpeg's raw demuxer list, which `container` reads; content_type is decided
# after the rules are judged (from container or format, which rules can name).
MEDIA_FACTS: dict[str, dict[str, Fact]] = {
    "video": {
        "container": Fact("string", "封装格式"),
        "video_codec": Fact("string", "视频编码"),
        "audio_codec": Fact("string", "音频编码"),
        "width": Fact("number", "画面宽度"),
        "height": Fact("number", "画面高度"),
        "duration_s": Fact("number", "时长"),
        "frame_rate": Fact("number", "帧率"),
        "bit_rate": Fact("number", "码率"),
        "has_video": Fact("boolean", "画面"),
        "has_audio": Fact("boolean", "声音"),
        "audio_channels": Fact("number", "声道数"),
        "has_subtitles": Fact("boolean", "字幕"),
        "subtitle_tracks": Fact("number", "内嵌字幕轨数"),
        "subtitle_source": Fact("string", "字幕来源", measured_when="has_subtitles"),
        "subtitle_coverage": Fact("number", "字幕覆盖率", measured_when="has_subtitles"),
        "complete": Fact("boolean", "文件完整性", yes_no=("完整", "不完整")),
        "index_at_front": Fact("boolean", "索引位置", yes_no=("文件开头", "文件末尾")),
        "size_bytes": _SIZE,
    },
    "audio": {
        "format": _FORMAT,
        "codec": Fact("string", "音频编码"),
        "duration_s": Fact("number", "时长"),
        "has_audio": Fact("boolean", "声音"),
        "size_bytes": _SIZE,
    },
    "image": {
        "format": _FORMAT,
        "width": Fact("number", "画面宽度"),
        "height": Fact("number", "画面高度"),
        "pixels": Fact("number", "像素数"),
        "mode": Fact("string", "颜色模式"),
        "has_exif": Fact("boolean", "EXIF 信息"),
        "has_gps": Fact("boolean", "GPS 位置信息"),
        "size_bytes": _SIZE,
    },
    "document": {
        "format": _FORMAT,
        "pages": Fact("number", "页数"),
        "pages_estimated": Fact("boolean", "页数为估算", yes_no=("是", "否")),
        "text_chars": Fact("number", "文字字符数"),
        "pages_without_text_extraction": Fact("number", "无法提取文字的页数"),
        "encrypted": Fact("boolean", "加密", yes_no=("已加密", "未加密")),
        "password_required": Fact("boolean", "打开密码", yes_no=("需要", "不需要")),
        "uncompressed_bytes": Fact("number", "解压后大小"),
        "size_bytes": _SIZE,
    },
    "subtitle": {
        "format": _FORMAT,
        "cues": Fact("number", "字幕条数"),
        "size_bytes": _SIZE,
    },
}
MEDIA_KINDS = tuple(MEDIA_FACTS)


def fact_of(kind: str | None, name: str) -> Fact | None:
    """The fact `name` of a kind; without a kind (a policy read without one), the first kind that has it."""
    if kind in MEDIA_FACTS:
        return MEDIA_FACTS[kind].get(name)
    return next((facts[name] for facts in MEDIA_FACTS.values() if name in facts), None)


# --------------------------------------------------------------------------- #
# A rule's value
# --------------------------------------------------------------------------- #

def is_type(value: Any, fact_type: str) -> bool:
    if fact_type == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if fact_type == "string":
        return isinstance(value, str) and value != ""
    return isinstance(value, bool)


def value_fits(op: str, value: Any, fact_type: str) -> bool:
    if op == "between":
        return (isinstance(value, list) and len(value) == 2
                and all(is_type(v, fact_type) for v in value) and value[0] <= value[1])
    if op == "in":
        return (isinstance(value, list) and bool(value) and all(is_type(v, fact_type) for v in value)
                and len(set(value)) == len(value))
    return is_type(value, fact_type)


def value_shape(op: str, fact_type: str) -> str:
    one = {"number": "一个数字", "string": "一段非空文本", "boolean": "true 或 false"}[fact_type]
    if op == "between":
        return "两个数字组成的列表 [下限, 上限]，且下限不大于上限"
    if op == "in":
        return f"不重复的非空列表，每项为{one}"
    return one


# --------------------------------------------------------------------------- #
# Implication: may a derived copy's rule stand for its parent's?
# --------------------------------------------------------------------------- #
# A child rule implies a parent rule when it is at least as severe and every value it accepts is
# accepted by the parent's rule. A rule's accepted values are a closed/open range, a finite set, or
# "all but" a set.

def implies(child: MediaRule, parent: MediaRule) -> bool:
    return (child.fact == parent.fact
            and SEVERITY_RANK[child.severity] >= SEVERITY_RANK[parent.severity]
            and _subset(_accepted(child), _accepted(parent)))


def _accepted(rule: MediaRule) -> tuple[str, Any]:
    op, v = rule.op, rule.value
    if op == "in":
        return "set", tuple(v)
    if op == "eq":
        return "set", (v,)
    if op == "ne":
        return "not", (v,)
    inf = math.inf
    bounds = {"lt": (-inf, False, v, False), "le": (-inf, False, v, True),
              "gt": (v, False, inf, False), "ge": (v, True, inf, False),
              "between": (v[0] if isinstance(v, list) else v, True, v[1] if isinstance(v, list) else v, True)}
    return "range", bounds[op]


def _contains(accepted: tuple[str, Any], x: Any) -> bool:
    kind, data = accepted
    if kind == "set":
        return x in data
    if kind == "not":
        return x not in data
    if not is_type(x, "number"):
        return False
    lo, lo_in, hi, hi_in = data
    return (lo < x or (lo_in and lo == x)) and (x < hi or (hi_in and x == hi))


def _subset(child: tuple[str, Any], parent: tuple[str, Any]) -> bool:
    (ckind, cdata), (pkind, pdata) = child, parent
    if ckind == "set":
        return all(_contains(parent, x) for x in cdata)
    if ckind == "not":
        return pkind == "not" and set(pdata) <= set(cdata)
    if pkind == "range":
        return _range_within(cdata, pdata)
    if pkind == "not":
        return not any(_contains(child, x) for x in pdata)
    lo, lo_in, hi, hi_in = cdata  # a range inside a finite set only if it is one point
    return lo == hi and lo_in and hi_in and lo in pdata


def _range_within(inner: tuple, outer: tuple) -> bool:
    ilo, ilo_in, ihi, ihi_in = inner
    olo, olo_in, ohi, ohi_in = outer
    lower_ok = ilo > olo or (ilo == olo and (olo_in or not ilo_in))
    upper_ok = ihi < ohi or (ihi == ohi and (ohi_in or not ihi_in))
    return lower_ok and upper_ok


# --------------------------------------------------------------------------- #
# Judging a file's facts
# --------------------------------------------------------------------------- #

OPS = {
    "eq": lambda a, v: a == v,
    "ne": lambda a, v: a != v,
    "lt": lambda a, v: a < v,
    "le": lambda a, v: a <= v,
    "gt": lambda a, v: a > v,
    "ge": lambda a, v: a >= v,
    "between": lambda a, v: v[0] <= a <= v[1],
    "in": lambda a, v: a in v,
}
OP_WORDS = {"eq": "应为", "ne": "不应为", "lt": "应小于", "le": "应不超过", "gt": "应大于", "ge": "应不少于",
            "between": "应在", "in": "应为"}

_BYTES = ("size_bytes", "uncompressed_bytes")
_UNITS = {"width": "像素", "height": "像素", "pixels": "像素", "pages": "页", "text_chars": "字",
          "pages_without_text_extraction": "页", "cues": "条", "frame_rate": "帧/秒", "audio_channels": "声道",
          "subtitle_tracks": "条"}
_STRINGS = {"embedded": "内嵌字幕", "sidecar": "随附字幕文件", "h264": "H.264", "hevc": "H.265"}


def percent(value: float) -> str:
    # Rounded down, so a share just under a minimum never reads as equal to it (59.99% is not 60%).
    tenths = math.floor(value * 1000 + 1e-9) / 10
    return f"{tenths:.1f}".rstrip("0").rstrip(".") + "%"


def fmt_value(fact: str, value: Any, kind: str | None = None) -> str:
    """A value as an office worker reads it: minutes, MB, 像素, 有/无."""
    if isinstance(value, bool):
        spec = fact_of(kind, fact)
        yes, no = spec.yes_no if spec is not None else ("有", "无")
        return yes if value else no
    if isinstance(value, (list, tuple)):
        if fact not in ("duration_s", *_BYTES) and not all(isinstance(v, (int, float)) for v in value):
            return "、".join(fmt_value(fact, v, kind) for v in value)
        return "至".join(fmt_value(fact, v, kind) for v in value)
    if value is None:
        return "未知"
    if fact == "duration_s":
        minutes, seconds = divmod(int(round(value)), 60)
        return f"{minutes}分{seconds:02d}秒" if seconds else f"{minutes}分钟"
    if fact in _BYTES:
        return byte_size(value)
    if fact == "bit_rate":
        if value >= 1_000_000:
            return f"{value / 1_000_000:.1f}".rstrip("0").rstrip(".") + " Mbps"
        return f"{round(value / 1000)} kbps"
    if fact == "subtitle_coverage":
        return percent(value)
    if fact in _UNITS:
        return f"{_number(value)} {_UNITS[fact]}"
    if isinstance(value, str):
        return value.upper() if fact in ("container", "format") else _STRINGS.get(value, value)
    return _number(value)


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _sentence(fact: str, op: str, value: Any, actual: Any) -> str | None:
    """Some failed rules read better as a sentence than as "字幕应为有，实际为无"."""
    if (fact, op, value) == ("has_subtitles", "eq", True) and value is True:
        return "没有检测到字幕：视频中没有内嵌字幕轨，也没有随视频上传的字幕文件。"
    if (fact, op, value) == ("has_audio", "eq", True) and value is True:
        return "视频没有声音轨道。"
    if fact == "subtitle_coverage" and op == "ge":
        return f"字幕只覆盖了视频时长的{percent(actual)}，应不少于{percent(value)}。"
    return None


def rule_finding(rule: dict, actual: Any, kind: str | None = None) -> dict:
    """The finding of a failed rule: what was expected, what was found, and the rule's hint (what to do)."""
    fact, op, value = rule["fact"], rule["op"], rule["value"]
    message = _sentence(fact, op, value, actual)
    if message is None:
        spec = fact_of(kind, fact)
        expected = fmt_value(fact, value, kind) + ("之间" if op == "between" else "")
        message = f"{spec.label if spec else fact}{OP_WORDS[op]}{expected}，实际为{fmt_value(fact, actual, kind)}。"
    return finding(f"{fact} {op} {value}", rule["severity"], message + (rule.get("hint") or ""), value, actual)


def judge(facts: dict, policy: dict | None) -> list[dict]:
    """Findings of the policy's rules; rules on facts this file lacks (or does not measure) are skipped."""
    findings: list[dict] = []
    if not policy:
        return findings
    kind = policy.get("kind")
    limit = policy.get("max_bytes")
    size_bytes = facts.get("size_bytes")
    if limit is not None and size_bytes is not None and size_bytes > limit:
        findings.append(finding("max_bytes", "error",
                                f"文件大小上限为{fmt_value('size_bytes', limit)}，实际为{fmt_value('size_bytes', size_bytes)}。"
                                "请压缩或剪辑后重新上传。", limit, size_bytes))
    for rule in policy.get("rules", []):
        actual = facts.get(rule["fact"])
        spec = fact_of(kind, rule["fact"])
        if actual is None or (spec is not None and spec.measured_when and not facts.get(spec.measured_when)):
            continue
        try:
            ok = OPS[rule["op"]](actual, rule["value"])
        except TypeError:
            ok = False  # a fact of the wrong type never satisfies a rule
        if not ok:
            findings.append(rule_finding(rule, actual, kind))
    return findings


def finding(rule: str, severity: str, message: str, expected=None, actual=None) -> dict:
    return {"rule": rule, "severity": severity, "expected": expected, "actual": actual, "message": message}


def verdict_of(findings: list[dict]) -> str:
    if any(f["severity"] == "error" for f in findings):
        return "failed"
    return "warnings" if findings else "passed"
