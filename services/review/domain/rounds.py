"""Rounds: which round a work enters, what a round is called, and what a selection may keep.

A round reviews the works that sit at one level: a level-2 org's round has its
branches' works, a university's round its level-2 orgs' works and what they
forwarded, the ministry's round what universities forwarded. Selecting in a
round forwards up to the level above, within its limit.
"""
from __future__ import annotations

from dataclasses import dataclass

from common.errors import Conflict, InvalidInput
from common.levels import LEVEL_LABELS, ROUND_LABELS, forward_limit, parent_level

MINISTRY = "ministry"
DEFAULT_REVIEWERS_PER_WORK = 3
MAX_REVIEWERS_PER_WORK = 15


@dataclass(frozen=True)
class RoundKey:
    tenant: str  # the university, or "ministry"
    campaign_id: str
    track: str
    level: str
    owner_org_id: str = ""  # the level-2 org whose round it is


def round_for_submission(tenant: str, campaign_id: str, track: str, org_level: str,
                         parent_org_id: str | None) -> RoundKey:
    """A submitted work sits at its org's parent level: a branch's with its level-2 org."""
    level = parent_level(org_level)
    owner = (parent_org_id or "") if level == "level2" else ""
    return RoundKey(tenant, campaign_id, track, level, owner)


def round_for_forwarded(tenant: str, campaign_id: str, root_campaign_id: str | None, track: str,
                        to_level: str) -> RoundKey:
    """A forwarded work enters the round of the level it was forwarded to.

    The ministry's round spans universities, under the ministry's own campaign.
    """
    if to_level == MINISTRY:
        return RoundKey(MINISTRY, root_campaign_id or campaign_id, track, MINISTRY, "")
    return RoundKey(tenant, campaign_id, track, to_level, "")


def round_title(owner_name: str, track_label: str, level: str) -> str:
    return f"{owner_name} · {track_label} · {ROUND_LABELS.get(level, level)}"


def blind_title(track_label: str, level: str) -> str:
    """What reviewers see of the round: no owner, since at the ministry it would name a university."""
    return f"{track_label} · {ROUND_LABELS.get(level, level)}"


def selection_limit(track: dict, level: str) -> int | None:
    """How many works this round may forward; None: no limit (or nothing above: the ministry)."""
    if parent_level(level) is None:
        return None
    return forward_limit(track.get("forward", {}), track.get("quota", {}), level)


def check_selection(selected: list[str], in_round: set[str], limit: int | None, level: str) -> None:
    unknown = [s for s in selected if s not in in_round]
    if unknown:
        raise InvalidInput(f"所选作品中有 {len(unknown)} 件不在本轮评审中（可能已被撤回）。请刷新排名页后重新选择。",
                           code="selection_unknown_work", found=unknown[:5])
    if len(set(selected)) != len(selected):
        raise InvalidInput("同一件作品被选了两次。请刷新排名页后重新选择。", code="selection_duplicate")
    if limit is not None and len(selected) > limit:
        above = LEVEL_LABELS.get(parent_level(level) or "", "上一级")
        raise Conflict(f"本轮最多可向{above}报送 {limit} 件，当前选了 {len(selected)} 件。请取消 {len(selected) - limit} 件后再确认。",
                       code="selection_over_quota", expected=limit, found=len(selected))


def check_reviewers_per_work(value: str | int) -> int:
    try:
        k = int(value)
    except (TypeError, ValueError):
        k = -1
    if not 1 <= k <= MAX_REVIEWERS_PER_WORK:
        raise InvalidInput(f"每件作品的评审专家人数应为 1 到 {MAX_REVIEWERS_PER_WORK} 之间的整数，收到的是“{value}”。",
                           code="invalid_reviewers_per_work", field="reviewers_per_work",
                           expected=f"1–{MAX_REVIEWERS_PER_WORK}", found=str(value))
    return k


def ready_for_review(final_stage: bool, verdicts: list[str | None]) -> bool:
    """A work enters its round once its last stage is in and every file passed the media check."""
    return final_stage and all(v in ("passed", "warnings") for v in verdicts)
