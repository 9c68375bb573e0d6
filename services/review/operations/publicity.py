"""公示期满: announcing, once, that a confirmed publicity's period is over (publicity_ended), so notify can tell the
orgs whose works were published that the result stands.

Review's timer calls this on every replica. Each period is claimed by a conditional update (`ended_at` still null)
in the transaction that writes the event to the outbox: on PostgreSQL a second replica's update waits for the first
one's commit and then matches no row; on SQLite writes are serial. The outbox relay delivers it at least once, and
every consumer handles an event id once. A period is announced in its own transaction: one that fails does not hold
back the others.
"""
from __future__ import annotations

import logging

from sqlalchemy import select, update

from common import clock
from services.review.domain import publicity
from services.review.models import Entry, PublicityPeriod, Round, SelectionRow

log = logging.getLogger(__name__)


def end_due_publicities(transaction, outbox) -> int:
    """Announce every publicity whose period is over by the platform's clock; how many this call announced."""
    now = clock.now()
    with transaction() as session:
        due = session.scalars(select(PublicityPeriod.round_id).where(
            PublicityPeriod.ended_at.is_(None), PublicityPeriod.ends_at <= now)
            .order_by(PublicityPeriod.ends_at, PublicityPeriod.round_id)).all()
    ended = 0
    for round_id in due:
        with transaction() as session:
            ended += end_publicity(session, outbox, round_id, now)
    return ended


def end_publicity(session, outbox, round_id: str, now) -> int:
    """Claim the period and write publicity_ended; 0 when another replica (or an earlier run) already did."""
    claimed = session.execute(update(PublicityPeriod).where(
        PublicityPeriod.round_id == round_id, PublicityPeriod.ended_at.is_(None), PublicityPeriod.ends_at <= now)
        .values(ended_at=now).execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        return 0
    row = session.get(PublicityPeriod, round_id)
    rnd = session.get(Round, round_id)
    works = session.execute(select(SelectionRow.submission_id, Entry.tenant, Entry.title)
                            .join(Entry, Entry.submission_id == SelectionRow.submission_id)
                            .where(SelectionRow.round_id == round_id, SelectionRow.selected)
                            .order_by(SelectionRow.rank, SelectionRow.submission_id)).all()
    data = publicity.ended_data(
        round_id=rnd.id, campaign_id=rnd.campaign_id, track=rnd.track, level=rnd.level, label=row.label,
        days=row.days, confirmed_at=row.confirmed_at, ended_at=now,
        works=[{"submission_id": sid, "tenant": tenant, "title": title} for sid, tenant, title in works])
    outbox.add(session, "publicity_ended", rnd.tenant, data)
    log.info("round %s: publicity of %d works ended (until %s)", rnd.id, len(works), data["until"])
    return 1
