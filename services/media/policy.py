"""Judging a file's facts against a media policy: pure, no I/O.

A policy (from the campaign definition) has `max_bytes` and rules; each rule
names a fact, an operator, a value and a severity (`error` blocks the
submission, `warning` informs the submitter and the reviewers), in the spirit of
MediaConch's policies. A finding says, in Chinese, what was expected, what was
found and what to do.
"""
from __future__ import annotations

from typing import Any

from common.locale import byte_size

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

FACT_LABELS = {
    "container": "封装格式", "video_codec": "视频编码", "audio_codec": "音频编码", "codec": "音频编码",
    "width": "画面宽度", "height": "画面高度", "duration_s": "时长", "frame_rate": "帧率",
    "has_audio": "声音", "has_subtitles": "字幕", "size_bytes": "文件大小", "format": "文件格式",
    "pages": "页数", "subtitle_coverage": "字幕覆盖率",
}

OP_WORDS = {"eq": "应为", "ne": "不应为", "lt": "应小于", "le": "应不超过", "gt": "应大于", "ge": "应不少于",
            "between": "应在", "in": "应为"}


def fmt_value(fact: str, value: Any) -> str:
    """A value as an office worker reads it: minutes, MB, 像素, 有/无."""
    if isinstance(value, bool):
        return "有" if value else "无"
    if isinstance(value, (list, tuple)):
        if fact != "duration_s" and fact != "size_bytes" and not all(isinstance(v, (int, float)) for v in value):
            return "、".join(fmt_value(fact, v) for v in value)
        return "至".join(fmt_value(fact, v) for v in value)
    if value is None:
        return "未知"
    if fact == "duration_s":
        minutes, seconds = divmod(int(round(value)), 60)
        return f"{minutes}分{seconds:02d}秒" if seconds else f"{minutes}分钟"
    if fact == "size_bytes":
        return byte_size(value)
    if fact in ("width", "height"):
        return f"{value} 像素"
    if fact == "subtitle_coverage":
        return f"{value:.0%}"
    if isinstance(value, str):
        return value.upper() if fact in ("container", "format") else value.replace("h264", "H.264")
    return str(value)


# Yes/no facts read better as a sentence than as "应为有，实际为无".
ABSENT = {
    "has_subtitles": "没有检测到字幕：视频中没有内嵌字幕轨，也没有随视频上传的字幕文件。",
    "has_audio": "视频没有声音轨道。",
}


def rule_finding(rule: dict, actual: Any) -> dict:
    fact, op, value = rule["fact"], rule["op"], rule["value"]
    label = FACT_LABELS.get(fact, fact)
    if fact in ABSENT and op == "eq" and value is True and actual is False:
        return {"rule": f"{fact} {op} {value}", "severity": rule["severity"], "expected": value, "actual": actual,
                "message": ABSENT[fact] + rule.get("hint", "")}
    expected = fmt_value(fact, value)
    if op == "between":
        expected = f"{expected}之间"
    message = f"{label}{OP_WORDS[op]}{expected}，实际为{fmt_value(fact, actual)}。"
    if rule.get("hint"):
        message += rule["hint"]
    return {"rule": f"{fact} {op} {value}", "severity": rule["severity"], "expected": value, "actual": actual,
            "message": message}


def judge(facts: dict, policy: dict | None) -> list[dict]:
    """Findings of the policy's rules; rules on facts this file lacks are skipped."""
    findings: list[dict] = []
    if not policy:
        return findings
    limit = policy.get("max_bytes")
    size = facts.get("size_bytes")
    if limit is not None and size is not None and size > limit:
        findings.append({"rule": "max_bytes", "severity": "error", "expected": limit, "actual": size,
                         "message": f"文件大小上限为{fmt_value('size_bytes', limit)}，实际为{fmt_value('size_bytes', size)}。"
                                    "请压缩或剪辑后重新上传。"})
    for rule in policy.get("rules", []):
        actual = facts.get(rule["fact"])
        if actual is None:
            continue
        try:
            ok = OPS[rule["op"]](actual, rule["value"])
        except TypeError:
            ok = False  # a fact of the wrong type never satisfies a rule
        if not ok:
            findings.append(rule_finding(rule, actual))
    return findings


def finding(rule: str, severity: str, message: str, expected=None, actual=None) -> dict:
    return {"rule": rule, "severity": severity, "expected": expected, "actual": actual, "message": message}


def verdict_of(findings: list[dict]) -> str:
    if any(f["severity"] == "error" for f in findings):
        return "failed"
    return "warnings" if findings else "passed"
