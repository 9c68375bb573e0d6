"""The reviews as the round's admin reads them (issue #17 items 6, 8 and 15): every expert's marks per criterion,
their state and comment, and what the exported workbook and its file are called.

Experts never read each other's reviews; these are for the admin of the round only, who knows the experts by name.
Pure: no framework.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from common.locale import ROUND_LABELS
from services.review.domain.lifecycles import AssignmentState, ScoreState

# Windows, macOS and the offices' shared drives refuse these in a file name; a campaign title may hold any of them
_NOT_IN_FILE_NAMES = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')
# a Chinese name is 3 bytes a character in UTF-8 and file systems stop at 255 bytes: the title is cut first
MAX_CAMPAIGN_IN_NAME = 40


@dataclass(frozen=True)
class Criterion:
    key: str
    label: str
    max: float | None  # None: a mark under a key the rubric no longer has (the campaign was corrected since)

    @property
    def heading(self) -> str:
        """「思想性（满分10）」: the workbook's column, the page's table head."""
        return f"{self.label}（满分{self.max:g}）" if self.max is not None else self.label


@dataclass(frozen=True)
class Review:
    """One expert's assignment of the work, as stored."""

    reviewer: str
    email: str
    assignment_state: str
    score_state: str | None = None  # None: nothing saved yet
    marks: Mapping[str, float] = field(default_factory=dict)
    total: float | None = None
    comment: str = ""
    conflict: bool = False  # a declared conflict of interest (回避) on this work
    declined_reason: str | None = None
    comment_for_org: str = ""  # 给报送单位的意见: may go to the org with the results, if the admin chooses


def criteria(rubric: Sequence[Mapping], marks: Iterable[Mapping[str, float]] = ()) -> list[Criterion]:
    """The rubric's criteria in its order, then any key a saved score holds that the rubric lost (shown, not
    dropped: the admin reads what the expert gave)."""
    out = [Criterion(c["key"], c.get("label") or c["key"], c.get("max")) for c in rubric]
    known = {c.key for c in out}
    for m in marks:
        for key in m:
            if key not in known:
                known.add(key)
                out.append(Criterion(key, key, None))
    return out


def state_label(r: Review) -> str:
    """已提交 / 草稿 / 未评 while assigned; 已回避 or 已放弃 once declined; 作品已撤回 when the work left."""
    if r.assignment_state == AssignmentState.DECLINED:
        return "已回避" if r.conflict else AssignmentState.label_of(r.assignment_state)
    if r.assignment_state != AssignmentState.ASSIGNED:
        return AssignmentState.label_of(r.assignment_state)
    return ScoreState.label_of(r.score_state or ScoreState.OPEN)


def rows(rubric: Sequence[Mapping], reviews: Sequence[Review]) -> tuple[list[Criterion], list[dict]]:
    """The criteria, and one row per expert: name, state, each criterion's mark (None: not given), total, comment."""
    heads = criteria(rubric, [r.marks or {} for r in reviews])
    out = []
    for r in reviews:
        marks = r.marks or {}
        out.append({"reviewer": r.reviewer, "email": r.email, "state": state_label(r),
                    "submitted": r.assignment_state == AssignmentState.ASSIGNED and r.score_state == ScoreState.SUBMITTED,
                    "marks": [marks.get(c.key) for c in heads], "total": r.total, "comment": r.comment or "",
                    "comment_for_org": r.comment_for_org or "",
                    "reason": (r.declined_reason or "") if r.assignment_state == AssignmentState.DECLINED else ""})
    return heads, out


def mean_of_submitted(expert_rows: Sequence[dict]) -> float | None:
    totals = [row["total"] for row in expert_rows if row["submitted"] and row["total"] is not None]
    return round(sum(totals) / len(totals), 2) if totals else None


def export_title(campaign_title: str, round_title: str, sheet: str) -> str:
    """A sheet's first row: 「<活动名称> · 东南大学 · 战疫故事汇 · 校级评审 · 评分明细」 (the round's title names its
    owner, track, level and batch)."""
    return f"{campaign_title} · {round_title} · {sheet}"


def export_file_name(campaign_title: str, track_label: str, level: str, batch: int, vetting: bool) -> str:
    """「<活动名称>·战疫故事汇·校级评审排名.xlsx」, safe as a file name anywhere the office saves it."""
    campaign = _NOT_IN_FILE_NAMES.sub("", campaign_title).strip()
    if len(campaign) > MAX_CAMPAIGN_IN_NAME:
        campaign = campaign[:MAX_CAMPAIGN_IN_NAME].rstrip() + "…"
    track = _NOT_IN_FILE_NAMES.sub("", track_label).strip()
    round_ = ROUND_LABELS.get(level, level) + (f"·第{batch}批" if batch > 1 else "")
    parts = [p for p in (campaign, track, round_ + ("审核结果" if vetting else "排名")) if p]
    return "·".join(parts) + ".xlsx"


def ascii_file_name(track: str, level: str, batch: int) -> str:
    """The fallback name for a client that cannot read RFC 5987's `filename*`: 「review-story-university.xlsx」."""
    stem = "-".join(["review", track, level] + ([f"batch{batch}"] if batch > 1 else []))
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem) + ".xlsx"
