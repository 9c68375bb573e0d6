"""Experts discuss a work their reviews disagree on (专家讨论, issue #17): when the thread exists, who reads and
writes it, and how its authors are named.

A work's thread opens once at least two experts submitted scores and the ranking flags the work 分歧大, or when the
round's admin opens it; a thread with messages stays (a revised score that ends the disagreement must not hide
what was said). Its readers are the experts on the work (assigned, not declined) and the round's admins; anyone
else gets 404, as for a missing work. Messages are written while the round is open; a closed round keeps the
thread to read. Experts stay blind to each other: they read 「专家甲」「专家乙」… by the work's assignment order
(stable however many join or decline) and 「管理员」; the admin reads real names.
Pure: no framework.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from common.errors import Conflict, InvalidInput, NotFound
from services.review.domain.lifecycles import AssignmentState, RoundState

MAX_POST = 1000  # characters: a discussion is remarks on the marks, not a second review
MIN_SCORES = 2  # a disagreement needs two submitted scores
STEMS = "甲乙丙丁戊己庚辛壬癸"  # the heavenly stems, as Chinese forms name parties; the eleventh expert is 专家11
ADMIN_LABEL = "管理员"


@dataclass(frozen=True)
class Post:
    """A message as stored: by the expert of `assignment_id`, or by an admin (`assignment_id` None)."""

    assignment_id: str | None
    admin_name: str | None
    body: str
    at: object


def expert_label(n: int) -> str:
    """The n-th expert of a work (from 0) as the other experts read them: 专家甲, 专家乙, …"""
    return f"专家{STEMS[n]}" if n < len(STEMS) else f"专家{n + 1}"


def blind_labels(assignment_ids: Sequence[str]) -> dict[str, str]:
    """Each of a work's assignments (every one the round ever made for it, oldest first) to its blind label: the
    label follows the assignment, so an expert who declines or joins later changes nobody else's."""
    return {aid: expert_label(n) for n, aid in enumerate(dict.fromkeys(assignment_ids))}


def is_open(submitted_scores: int, disagreement: bool, opened_by_admin: bool, has_posts: bool = False) -> bool:
    """Whether the work has a discussion thread."""
    return opened_by_admin or has_posts or (submitted_scores >= MIN_SCORES and disagreement)


def may_read(role: str, assignment_state: str | None = None, administers: bool = False) -> bool:
    """`role` "expert": their assignment of this work (None: they have none); "admin": whether they administer the
    round. Declined or withdrawn experts are off the work and read nothing of it."""
    if role == "admin":
        return administers
    if role == "expert":
        return assignment_state == AssignmentState.ASSIGNED
    return False


def require_reader(role: str, assignment_state: str | None = None, administers: bool = False) -> None:
    if not may_read(role, assignment_state, administers):
        raise NotFound("没有这件作品（或它不在您的评审任务中）。", code="discussion_not_found")


def may_post(round_state: str) -> bool:
    return round_state == RoundState.OPEN


def check_post(round_state: str, thread_open: bool, body: str | None) -> str:
    """The message to store, trimmed; refused when the thread is closed or absent, empty, or too long."""
    if not thread_open:
        raise Conflict("这件作品没有开启专家讨论：至少两位专家提交评分且排名标出「分歧大」，或管理员开启讨论后才能发言。",
                       code="discussion_not_open")
    if not may_post(round_state):
        raise Conflict("本轮评分已结束，讨论只能查看，不能再发言。", code="discussion_closed", found=round_state)
    text = (body or "").strip()
    if not text:
        raise InvalidInput("请输入讨论内容。", code="discussion_empty", field="body")
    if len(text) > MAX_POST:
        raise InvalidInput(f"讨论内容最多 {MAX_POST} 字，当前 {len(text)} 字。请精简后再发送。", code="discussion_too_long",
                           field="body", expected=MAX_POST, found=len(text))
    return text


def check_opening(round_state: str) -> None:
    if round_state != RoundState.OPEN:
        raise Conflict("本轮评分已结束，不能再开启讨论。", code="discussion_closed", found=round_state)


def authors(posts: Sequence[Post], labels: dict[str, str], names: dict[str, str] | None, mine: str | None = None
            ) -> list[dict]:
    """The thread as one reader reads it. `names` None: an expert reading (blind labels, 「管理员」, their own
    messages marked 我); else the admin, with each expert's real name (by assignment) and each admin's own."""
    out = []
    for p in posts:
        if p.assignment_id is None:
            who = ADMIN_LABEL if names is None else f"{ADMIN_LABEL}（{p.admin_name or ''}）"
        elif names is None:
            who = labels.get(p.assignment_id, "专家") + ("（我）" if p.assignment_id == mine else "")
        else:
            who = f"{names.get(p.assignment_id, '（已移出的专家）')}（{labels.get(p.assignment_id, '专家')}）"
        out.append({"who": who, "body": p.body, "at": p.at, "admin": p.assignment_id is None,
                    "mine": mine is not None and p.assignment_id == mine})
    return out
