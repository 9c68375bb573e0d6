"""Rounds: the batches works enter, what a round is called, its settings, closing and reopening it, and its lists."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select

from common import clock
from common.errors import Conflict as ConflictError, NotFound
from common.locale import BEIJING
from services.review.domain import rounds
from services.review.domain.audit import Acting
from services.review.domain.lifecycles import ROUND, EntryState, RoundState, require_round_open
from services.review.models import Entry, OrgCopy, Reviewer, Round, SelectionRow, TenantCopy
from services.review.operations import audit
from services.review.operations.copies import track_of


def new_id() -> str:
    return uuid.uuid4().hex


# --------------------------------------------------------------------------- entering a round


def batches_of(session, key: rounds.RoundKey) -> list[Round]:
    return list(session.scalars(select(Round).where(
        Round.tenant == key.tenant, Round.campaign_id == key.campaign_id, Round.track == key.track,
        Round.level == key.level, Round.owner_org_id == key.owner_org_id).order_by(Round.batch)))


def enter_round(session, entry: Entry, key: rounds.RoundKey, tenant_name: str | None) -> None:
    """Into the round's latest batch; a selected batch takes no more works, so a late one opens the next."""
    batches = batches_of(session, key)
    rnd = batches[-1] if batches else None
    if rnd is None or rnd.state == RoundState.SELECTED:
        batch = rounds.next_batch([b.batch for b in batches])
        rnd = Round(id=new_id(), tenant=key.tenant, campaign_id=key.campaign_id, track=key.track, level=key.level,
                    owner_org_id=key.owner_org_id, title=rounds.batch_title(_title(session, key, tenant_name), batch),
                    batch=batch, reviewers_per_work=rounds.DEFAULT_REVIEWERS_PER_WORK, created_at=clock.now())
        ROUND.move(rnd, RoundState.OPEN)
        session.add(rnd)
        session.flush()
    entry.round_id, entry.level = rnd.id, key.level


def _title(session, key: rounds.RoundKey, tenant_name: str | None) -> str:
    if key.level == "ministry":
        owner = "教育部"
    elif key.owner_org_id:
        org = session.get(OrgCopy, key.owner_org_id)
        owner = org.name if org else "二级党组织"
    else:
        t = session.get(TenantCopy, key.tenant)
        owner = tenant_name or (t.name if t else key.tenant)
    return rounds.round_title(owner, track_of(session, key.campaign_id, key.track).get("label", key.track), key.level)


def blind_title(session, rnd: Round) -> str:
    return rounds.blind_title(track_of(session, rnd.campaign_id, rnd.track).get("label", rnd.track), rnd.level)


# --------------------------------------------------------------------------- an admin's rounds


def rounds_of(session, tenant: str) -> list[dict]:
    return listed(session, session.scalars(select(Round).where(Round.tenant == tenant).order_by(Round.created_at)).all())


def listed(session, rows: list[Round]) -> list[dict]:
    """Rounds as the home page lists them: each with its works and active reviewers counted."""
    ids = [r.id for r in rows]
    if not ids:
        return []
    live = [r.id for r in rows if r.state != RoundState.SELECTED]
    confirmed = [r.id for r in rows if r.state == RoundState.SELECTED]
    works = dict(session.execute(select(Entry.round_id, func.count()).where(
        Entry.state == EntryState.SUBMITTED, Entry.round_id.in_(live)).group_by(Entry.round_id)).all()) if live else {}
    if confirmed:  # a confirmed round counts what it confirmed (entries_of), the works it sent up included
        works.update(session.execute(select(SelectionRow.round_id, func.count()).where(
            SelectionRow.round_id.in_(confirmed)).group_by(SelectionRow.round_id)).all())
    reviewers = dict(session.execute(select(Reviewer.round_id, func.count()).where(
        Reviewer.active, Reviewer.round_id.in_(ids)).group_by(Reviewer.round_id)).all())
    return [{"round": r, "works": works.get(r.id, 0), "reviewers": reviewers.get(r.id, 0)} for r in rows]


def round_not_found(round_id: str) -> NotFound:
    """The one answer for a round that is missing or not the visitor's: the two must not be told apart."""
    return NotFound("没有这个评审轮次（或不属于本单位）。", code="round_not_found", found=round_id)


def round_of_admin(session, round_id: str, tenant: str) -> Round:
    rnd = session.get(Round, round_id)
    if rnd is None or rnd.tenant != tenant:
        raise round_not_found(round_id)
    return rnd


def works_of(rnd: Round):
    """The ids of the round's works as entries_of lists them, as a query to use inside another."""
    if rnd.state == RoundState.SELECTED:
        return select(SelectionRow.submission_id).where(SelectionRow.round_id == rnd.id)
    return select(Entry.submission_id).where(Entry.round_id == rnd.id, Entry.state == EntryState.SUBMITTED)


def entries_of(session, rnd: Round) -> list[Entry]:
    """The round's works: while it is open or closed, the submitted works sitting in it (a withdrawn or reopened one
    leaves); once confirmed, every work of its record (selections) in rank order, for good. A work it sent up sits
    in the next round by then (`Entry.round_id` is a work's current round), and one withdrawn or reopened after the
    confirmation was still ranked and told its place."""
    if rnd.state == RoundState.SELECTED:
        return session.scalars(select(Entry).join(SelectionRow, SelectionRow.submission_id == Entry.submission_id)
                               .where(SelectionRow.round_id == rnd.id)
                               .order_by(SelectionRow.rank, Entry.submission_id)).all()
    return session.scalars(select(Entry).where(Entry.round_id == rnd.id, Entry.state == EntryState.SUBMITTED)
                           .order_by(Entry.submitted_at, Entry.submission_id)).all()


def reviewers_of(session, rnd: Round, active_only: bool = False) -> list[Reviewer]:
    q = select(Reviewer).where(Reviewer.round_id == rnd.id)
    if active_only:
        q = q.where(Reviewer.active)
    return session.scalars(q.order_by(Reviewer.created_at, Reviewer.email)).all()


# --------------------------------------------------------------------------- settings, closing, reopening


def set_round_settings(session, outbox, by: Acting, rnd: Round, reviewers_per_work: str,
                       scoring_deadline: str | None) -> None:
    require_round_open(rnd.state)
    k = rounds.check_reviewers_per_work(reviewers_per_work)
    changed = ["reviewers_per_work"] if k != rnd.reviewers_per_work else []
    if scoring_deadline is not None:
        today = clock.now().astimezone(BEIJING).date()
        deadline = rounds.parse_scoring_deadline(scoring_deadline, today)
        if deadline != rnd.scoring_deadline:
            rnd.scoring_deadline, rnd.reminders_sent = deadline, []
            changed.append("scoring_deadline")
    rnd.reviewers_per_work = k
    if changed:  # saving the same settings again changes nothing: no row
        deadline = rnd.scoring_deadline.astimezone(BEIJING).date().isoformat() if rnd.scoring_deadline else None
        audit.record(session, outbox, by, rnd, "round.settings_changed", "round", rnd.id, fields=changed,
                     reviewers_per_work=k, scoring_deadline=deadline)


def close_round(session, outbox, by: Acting, rnd: Round) -> None:
    require_round_open(rnd.state)
    ROUND.move(rnd, RoundState.CLOSED, at=clock.now())
    audit.record(session, outbox, by, rnd, "round.closed", "round", rnd.id)


def reopen_round(session, outbox, by: Acting, rnd: Round) -> None:
    if rnd.state != RoundState.CLOSED:
        raise ConflictError("只有已结束评分、尚未确认入选的轮次可以重新开放。", code="round_not_closed", found=rnd.state)
    ROUND.move(rnd, RoundState.OPEN)
    rnd.closed_at = None
    audit.record(session, outbox, by, rnd, "round.reopened", "round", rnd.id)
