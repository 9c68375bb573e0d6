"""The rubric (评分标准): weighted criteria, each marked on 0..max in half points."""
from __future__ import annotations


class InvalidMarks(ValueError):
    def __init__(self, message: str, field: str | None = None, expected=None, found=None):
        super().__init__(message)
        self.field, self.expected, self.found = field, expected, found


def check_marks(rubric: list[dict], marks: dict, *, complete: bool) -> dict[str, float]:
    """Clean marks from a form: numbers in [0, max] in steps of 0.5; all of them when `complete`."""
    known = {c["key"] for c in rubric}
    unknown = sorted(set(marks) - known)
    if unknown:
        raise InvalidMarks(f"评分标准中没有“{'、'.join(unknown)}”这一项。请刷新页面后重新评分。", unknown[0],
                           sorted(known), unknown)
    clean: dict[str, float] = {}
    for c in rubric:
        raw = marks.get(c["key"])
        label, top = c["label"], c["max"]
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if complete:
                raise InvalidMarks(f"请给「{label}」打分（0 到 {top:g} 分）后再提交；只想保存已打的分数，请点“保存草稿”。",
                                   c["key"], f"0–{top:g}", None)
            continue
        try:
            value = float(str(raw).strip())
        except ValueError:
            value = None
        if value is None or value != value or not 0 <= value <= top or (value * 2) % 1:
            raise InvalidMarks(f"「{label}」的分数应在 0 到 {top:g} 之间（可用 0.5 分），收到的是 {str(raw).strip()}。"
                               "请改正后再提交。", c["key"], f"0–{top:g}", raw)
        clean[c["key"]] = value
    return clean


def weighted_total(rubric: list[dict], marks: dict[str, float]) -> float:
    """0..100: each criterion's share of its maximum, weighted."""
    weights = sum(c["weight"] for c in rubric)
    total = sum(c["weight"] * marks[c["key"]] / c["max"] for c in rubric)
    return round(total / weights * 100, 2)
