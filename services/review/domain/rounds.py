"""Rounds: which round a work enters, what a round is called, and what a selection may keep.

A round reviews the works that sit at one level: a level-2 org's round has its
branches' works, a university's round its level-2 orgs' works and what they
forwarded, the ministry's round what universities forwarded. Selecting in a
round forwards up to the level above, within its limit, unless the round's level is where the track's
selection ends (decisions.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone

from common.campaign.model import DEPARTMENTS, forwarding_deadline as last_stage_deadline
from common.errors import Conflict, InvalidInput
from common.levels import first_round_level, parent_level
from common.locale import BEIJING, LEVEL_LABELS, ROUND_LABELS, beijing_minute
from services.review.domain.decisions import RoundEnd, round_end

MINISTRY = "ministry"
REMINDER_DAYS = (3, 1)  # reviewers with open work are reminded 3 and 1 Beijing days before the deadline
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
    """A submitted work sits at its org's parent level (a branch's with its level-2 org); a university party
    committee's own work in the university's round (common.levels.first_round_level)."""
    level = first_round_level(org_level)
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
    """How many works this round may choose in all: its forward limit, or in a final round the decision's places
    when they are one number; None: no such number (see decisions.round_end for places per category)."""
    return round_end(track, level).limit


def next_batch(existing: list[int]) -> int:
    return max(existing, default=0) + 1


def batch_title(title: str, batch: int) -> str:
    """「东南大学 · 战疫故事汇 · 学校评审 · 第2批」: the works that came after the first batch was selected."""
    return title if batch == 1 else f"{title} · 第{batch}批"


def check_selection(selected: list[str], in_round: set[str], limit: int | None, level: str) -> None:
    unknown = [s for s in selected if s not in in_round]
    if unknown:
        raise InvalidInput(f"所选作品中有 {len(unknown)} 件不在本轮评审中（可能已被撤回）。请刷新排名页后重新选择。",
                           code="selection_unknown_work", found=unknown[:5])
    if len(set(selected)) != len(selected):
        raise InvalidInput("同一件作品被选了两次。请刷新排名页后重新选择。", code="selection_duplicate")
    if limit is not None and len(selected) > limit:
        above = LEVEL_LABELS.get(parent_level(level) or "", "上一级")
        raise Conflict(f"本轮最多可向{above}报送 {limit} 件，当前选了 {len(selected)} 件。"
                       f"请取消 {len(selected) - limit} 件后再确认。",
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


def parse_scoring_deadline(value: str, today: date) -> datetime | None:
    """A date typed by the admin (YYYY-MM-DD) as the end of that day in Beijing; empty: none."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"评分截止日期应为“年-月-日”，如 2020-07-25，收到的是“{value}”。", code="invalid_deadline",
                           field="scoring_deadline", expected="YYYY-MM-DD", found=value) from None
    if day < today:
        raise InvalidInput(f"评分截止日期 {day} 已经过去（今天是 {today}）。请选择今天或以后的日期。",
                           code="deadline_in_past", field="scoring_deadline", expected=f">= {today}", found=value)
    return datetime.combine(day, time(23, 59, 59), BEIJING).astimezone(timezone.utc)


def reminder_due(deadline: datetime | None, now: datetime, sent: list[str]) -> str | None:
    """The reminder due now ("3" or "1": days before the deadline, Beijing calendar days) unless sent.

    Only the nearest one: a deadline set two days ahead sends the 3-day reminder now and the
    1-day one the day before, never two at once.
    """
    if deadline is None:
        return None
    days_left = (deadline.astimezone(BEIJING).date() - now.astimezone(BEIJING).date()).days
    candidates = [d for d in REMINDER_DAYS if 0 <= days_left <= d]
    if not candidates:
        return None
    key = str(min(candidates))
    return None if key in sent else key


# --------------------------------------------------------------------------- the deadline to forward (报送截止)


@dataclass(frozen=True)
class ForwardDeadline:
    """When a forwarding round must have confirmed its selection, and whether that moment has passed."""

    at: datetime
    level: str  # the round's
    up: str  # where its chosen works go
    passed: bool
    department: str | None = None  # the university's office the track belongs to (organisation/propaganda)

    @property
    def text(self) -> str:
        """「须于 2020年07月31日 23:59（北京时间）前向教育部报送」, as the ranking page says it."""
        return f"须于 {beijing_minute(self.at)}（北京时间）前向{LEVEL_LABELS.get(self.up, self.up)}报送"

    @property
    def whom_to_ask(self) -> str:
        """Who can still take a late selection: nobody on the platform can move the deadline (there is no
        extension for forwarding), so the message names the office above that set it."""
        if self.up == MINISTRY:
            return "教育部思政司"
        return f"学校党委{DEPARTMENTS.get(self.department or '', '组织部')}"


def forward_deadline(track: dict, level: str) -> datetime | None:
    """When a round at `level` must have forwarded (common.campaign.forwarding_deadline), from the track's copy of
    campaign_published (stage -> level -> ISO time); None for a rolling track, or one review has not heard of."""
    return last_stage_deadline(track.get("deadlines") or {}, level)


def forwarding_deadline(end: RoundEnd, track: dict, now: datetime) -> ForwardDeadline | None:
    """The forwarding deadline of a round that forwards (a final round sends nothing up: None)."""
    if end.final or end.up is None:
        return None
    at = forward_deadline(track, end.level)
    if at is None:
        return None
    return ForwardDeadline(at, end.level, end.up, now > at, track.get("department"))


def check_forward_deadline(deadline: ForwardDeadline | None, now: datetime) -> None:
    """A forwarding round confirms its selection by its level's deadline; after it: 409.

    There is no extension for forwarding (an org's extension in intake moves when it may submit, and must end
    before its parent's deadline), so the message says so and names whom to ask instead of promising a way.
    """
    if deadline is None or now <= deadline.at:
        return
    up = LEVEL_LABELS.get(deadline.up, deadline.up)
    raise Conflict(f"本轮{deadline.text}入选名单，现在是 {beijing_minute(now)}（北京时间），已超过报送截止时间，"
                   f"不能再确认报送。平台目前没有延长报送期限的办法；如确需向{up}补报，请联系{deadline.whom_to_ask}。",
                   code="forward_deadline_passed", expected=deadline.at.isoformat(), found=now.isoformat())
