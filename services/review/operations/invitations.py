"""Reviewers' sign-in links: sent on the admin's request and as reminders before the deadline; redeemed once."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select

from common import clock
from common.errors import DomainError, Forbidden
from services.review.domain import rounds
from services.review.domain.audit import BY_REVIEW, Acting
from services.review.domain.lifecycles import RoundState
from services.review.models import Reviewer, Round, SignInLink
from services.review.operations import audit
from services.review.operations.progress import round_overview

SIGN_IN_LINK_TTL = timedelta(days=14)


def issue_sign_in_links(session, outbox, by: Acting, rnd: Round, base_url: str, reminder: bool = False) -> int:
    """A fresh single-use link for each active reviewer with work; notify e-mails it. One row in the log for the
    mails sent, none when nobody was due one."""
    overview = round_overview(session, rnd)
    sent = 0
    now = clock.now()
    for row in overview["reviewers"]:
        r = row["reviewer"]
        if not r.active or row["assigned"] == 0 or (reminder and row["assigned"] == row["submitted"]):
            continue
        token = secrets.token_urlsafe(32)
        expires = now + SIGN_IN_LINK_TTL
        session.add(SignInLink(token_hash=hashlib.sha256(token.encode()).hexdigest(), reviewer_id=r.id,
                               expires_at=expires, created_at=now))
        outbox.add(session, "reviewer_invited", rnd.tenant, {
            "reviewer_id": r.id, "round_id": rnd.id, "name": r.name, "email": r.email, "round_title": rnd.title,
            "sign_in_url": f"{base_url.rstrip('/')}/sign-in/{token}", "link_expires_at": expires.isoformat(),
            "assigned": row["assigned"], "open": row["assigned"] - row["submitted"], "reminder": reminder,
            **({"deadline": rnd.scoring_deadline.isoformat()} if rnd.scoring_deadline else {})})
        sent += 1
    if sent:
        audit.record(session, outbox, by, rnd, "reviewers.invited", "round", rnd.id, sent=sent, reminder=reminder)
    return sent


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
