"""Reviewers' sign-in links: sent on the admin's request and as reminders before the deadline; redeemed once."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select

from common import clock
from common.errors import DomainError, Forbidden, NotFound
from services.review.domain import rounds
from services.review.domain.audit import BY_REVIEW, Acting, acting
from services.review.domain.lifecycles import RoundState, require_round_open
from services.review.models import Reviewer, Round, SignInLink
from services.review.operations import audit
from services.review.operations.copies import tenant_name
from services.review.operations.progress import round_overview
from services.review.operations.rounds import blind_title

SIGN_IN_LINK_TTL = timedelta(days=14)


def issue_sign_in_links(session, outbox, by: Acting, rnd: Round, base_url: str, reminder: bool = False) -> int:
    """A fresh single-use link for each active reviewer with work; notify e-mails it. One row in the log for the
    mails sent, none when nobody was due one."""
    overview = round_overview(session, rnd)
    sent = 0
    for row in overview["reviewers"]:
        r = row["reviewer"]
        if not r.active or row["assigned"] == 0 or (reminder and row["assigned"] == row["submitted"]):
            continue
        _send_link(session, outbox, rnd, r, row["assigned"], row["assigned"] - row["submitted"], base_url, reminder)
        sent += 1
    if sent:
        audit.record(session, outbox, by, rnd, "reviewers.invited", "round", rnd.id, sent=sent, reminder=reminder)
    return sent


def _send_link(session, outbox, rnd: Round, r: Reviewer, assigned: int, open_: int, base_url: str,
               reminder: bool) -> None:
    """A fresh single-use link for one reviewer, and its mail (notify) through the outbox.

    The mail names the round as its pages do, by the inviting tenant and the blind title: a college round's own
    title names the college, which would tell the expert whose works they score.
    """
    token = secrets.token_urlsafe(32)
    now = clock.now()
    expires = now + SIGN_IN_LINK_TTL
    session.add(SignInLink(token_hash=hashlib.sha256(token.encode()).hexdigest(), reviewer_id=r.id,
                           expires_at=expires, created_at=now))
    title = f"{tenant_name(session, rnd.tenant)} · {blind_title(session, rnd)}"
    outbox.add(session, "reviewer_invited", rnd.tenant, {
        "reviewer_id": r.id, "round_id": rnd.id, "name": r.name, "email": r.email, "round_title": title,
        "sign_in_url": f"{base_url.rstrip('/')}/sign-in/{token}", "link_expires_at": expires.isoformat(),
        "assigned": assigned, "open": open_, "reminder": reminder, "campaign_id": rnd.campaign_id, "track": rnd.track,
        **({"deadline": rnd.scoring_deadline.isoformat()} if rnd.scoring_deadline else {})})


def send_due_reminders(session, outbox, base_url: str) -> int:
    """Remind reviewers with open work 3 and 1 days before each open round's scoring deadline."""
    sent = 0
    now = clock.now()
    for rnd in session.scalars(select(Round).where(Round.state == RoundState.OPEN, Round.scoring_deadline.is_not(None))):
        key = rounds.reminder_due(rnd.scoring_deadline, now, rnd.reminders_sent or [])
        if key is None:
            continue
        sent += issue_sign_in_links(session, outbox, BY_REVIEW, rnd, base_url, reminder=True)
        rnd.reminders_sent = [*(rnd.reminders_sent or []), key]
    return sent


def redeem_link(session, token: str) -> Reviewer:
    row = session.get(SignInLink, hashlib.sha256(token.encode()).hexdigest(), with_for_update=True)
    now = clock.now()
    if row is None or row.used_at is not None or row.expires_at < now:
        raise DomainError("登录链接无效、已使用或已过期（每个链接只能用一次，14 天内有效）。"
                          "请联系本轮评审的管理员重新发送登录邮件。", code="sign_in_link_invalid", status=401)
    row.used_at = now
    reviewer = session.get(Reviewer, row.reviewer_id)
    if not reviewer.active:
        raise Forbidden("您已不在本轮评审专家名单中。", code="reviewer_inactive")
    return reviewer


RESEND_AFTER = timedelta(minutes=10)  # one self-service link per reviewer in ten minutes: no mail flood


def resend_link(session, outbox, token: str, base_url: str, address: str | None) -> bool:
    """A reviewer whose link was used or expired asks for a new one: it goes to their own address, never to the asker.

    Whether one was sent is for the tests: the page answers the same either way (it must not tell a guesser
    which links were real). Sent only while the reviewer is in the round, the round is open and they have work.
    """
    row = session.get(SignInLink, hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest())
    reviewer = session.get(Reviewer, row.reviewer_id, with_for_update=True) if row else None
    return reviewer is not None and _resend(session, outbox, reviewer, base_url, address)


def resend_links_to(session, outbox, email: str, base_url: str, address: str | None) -> int:
    """「向我的邮箱重新发送登录链接」 on the sign-in page, for an expert who has no link at hand (the mail deleted, or
    invited by e-mail only): a fresh link for each open round where this address is an expert with work, to that
    address. How many were sent, for the tests; the page says the same whatever the number."""
    wanted = email.strip().lower()
    if not wanted or len(wanted) > 200:
        return 0
    reviewers = session.scalars(select(Reviewer).where(Reviewer.email == wanted, Reviewer.active.is_(True))
                                .order_by(Reviewer.id).with_for_update()).all()
    return sum(_resend(session, outbox, r, base_url, address) for r in reviewers)


def send_link_to(session, outbox, by: Acting, rnd: Round, reviewer_id: str, base_url: str) -> dict:
    """The admin's 「重发登录邮件」 for one expert of the round (not to everyone, as 「发送登录邮件」 does)."""
    reviewer = session.get(Reviewer, reviewer_id)
    if reviewer is None or reviewer.round_id != rnd.id:
        raise NotFound("本轮没有这位评审专家。", code="reviewer_not_found")
    if not reviewer.active:
        raise DomainError(f"{reviewer.name}已移出本轮，不能再发送登录邮件。如需请其继续评审，请重新添加。",
                          code="reviewer_inactive", status=409)
    require_round_open(rnd.state)
    progress = _progress_of(session, rnd, reviewer)
    if progress is None or progress["assigned"] == 0:
        raise DomainError(f"{reviewer.name}在本轮还没有分配作品，登录后看不到任何作品。请先分配作品，再发送登录邮件。",
                          code="reviewer_without_work", status=409)
    _send_link(session, outbox, rnd, reviewer, progress["assigned"], progress["assigned"] - progress["submitted"],
               base_url, reminder=False)
    audit.record(session, outbox, by, rnd, "reviewers.invited", "reviewer", reviewer.id, sent=1, reminder=False)
    return {"sent": 1}


def _progress_of(session, rnd: Round, reviewer: Reviewer) -> dict | None:
    return next((r for r in round_overview(session, rnd)["reviewers"] if r["reviewer"].id == reviewer.id), None)


def _resend(session, outbox, reviewer: Reviewer, base_url: str, address: str | None) -> bool:
    """A self-service link for one reviewer's round, if they are in it, it is open and they have work, and no link
    sent in the last RESEND_AFTER is still unused (it is on its way: not another)."""
    rnd = session.get(Round, reviewer.round_id)
    if not reviewer.active or rnd.state != RoundState.OPEN:
        return False
    pending = session.scalar(select(SignInLink.created_at).where(
        SignInLink.reviewer_id == reviewer.id, SignInLink.used_at.is_(None),
        SignInLink.created_at > clock.now() - RESEND_AFTER).limit(1))
    if pending is not None:
        return False
    progress = _progress_of(session, rnd, reviewer)
    if progress is None or progress["assigned"] == 0:
        return False
    _send_link(session, outbox, rnd, reviewer, progress["assigned"], progress["assigned"] - progress["submitted"],
               base_url, reminder=False)
    by = acting({"role": "reviewer", "reviewer_id": reviewer.id, "name": reviewer.name}, address)
    audit.record(session, outbox, by, rnd, "reviewers.invited", "round", rnd.id, sent=1, reminder=False)
    return True
