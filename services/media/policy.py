"""Judging a file's facts against a media policy: pure, no I/O.

Issue #3 adds the facts that need probing (codecs, resolution, duration,
subtitles); the rule engine already takes any fact by name.
"""
from __future__ import annotations

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


def judge(facts: dict, policy: dict | None) -> tuple[str, list[dict]]:
    """Return (verdict, findings). Rules on facts not yet known are skipped."""
    findings: list[dict] = []
    if policy:
        limit = policy.get("max_bytes")
        if limit is not None and facts.get("size_bytes", 0) > limit:
            findings.append({
                "rule": "max_bytes", "severity": "error", "expected": limit, "actual": facts["size_bytes"],
                "message": f"文件大小 {facts['size_bytes']} 字节，超过上限 {limit} 字节。请压缩后重新上传。",
            })
        for rule in policy.get("rules", []):
            fact = rule["fact"]
            if fact not in facts:
                continue
            if not OPS[rule["op"]](facts[fact], rule["value"]):
                findings.append({
                    "rule": f"{fact} {rule['op']} {rule['value']}", "severity": rule["severity"],
                    "expected": rule["value"], "actual": facts[fact],
                    "message": rule.get("hint") or f"{fact} 应满足 {rule['op']} {rule['value']}，实际为 {facts[fact]}。",
                })
    if any(f["severity"] == "error" for f in findings):
        return "failed", findings
    return ("warnings" if findings else "passed"), findings
