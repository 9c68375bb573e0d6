"""The levels of the org tree, where an org sits in it, and how many works a level may forward up.

Intake enforces the forwarding limit when it forwards; review shows it to the
admin who selects. Both read the same track data (`forward`, `quota` from the
campaign definition), so the rule lives here once.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LEVELS = ("branch", "level2", "university", "ministry")
_MAX_DEPTH = 64  # an org tree is a handful of levels deep; a longer chain is a loop in bad data


def in_subtree(org_id: str, root: str, parent_of: Mapping[str, str | None]) -> bool:
    """Whether `org_id` is `root` or lies under it in the org tree (`parent_of`: org -> its parent).

    A 院系党委's admin reaches its branches: intake's 督查 and review's round scope ask the same question.
    """
    current: str | None = org_id
    for _ in range(_MAX_DEPTH):
        if not current:
            return False
        if current == root:
            return True
        current = parent_of.get(current)
    return False


def parent_level(level: str) -> str | None:
    """The level an org of `level` forwards to; None for the ministry."""
    if level not in LEVELS:
        raise ValueError(f"unknown org level {level!r}; expected one of {LEVELS}")
    index = LEVELS.index(level)
    return LEVELS[index + 1] if index + 1 < len(LEVELS) else None


def first_round_level(org_level: str) -> str:
    """The level whose round first weighs a work an org of `org_level` submitted: its parent level (a branch's
    work is chosen among by its level-2 org), except a university party committee's own work (学校党委书记's
    lecture), which the university weighs itself with what its colleges forwarded: nothing reaches the ministry
    unchosen. Intake (where a work sits) and review (which round it enters) ask the same question."""
    if org_level == "university":
        return "university"
    level = parent_level(org_level)
    if level is None:
        raise ValueError("the ministry submits no works")
    return level


def forward_limit(forward: dict[str, int], quota: dict[str, Any], level: str) -> int | None:
    """How many works one org at `level` (or the university) may forward upward; None: no limit.

    `forward` is the campaign's own number for that level ("高校党委提交1部精品微党课视频");
    without one, an org forwards at most what it could have submitted itself (its quota,
    summed over forms when the quota is per form).
    """
    if level in forward:
        return int(forward[level])
    own = quota.get(level)
    if isinstance(own, int):
        return own
    if isinstance(own, dict):
        return sum(int(v) for v in own.values())
    return None
