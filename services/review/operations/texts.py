"""Near-duplicate texts (issue #6): each work's fingerprint, and what admins and reviewers are told of matches."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import insert, select, tuple_

from common import clock, neardup
from common.text import prose_keys, work_prose
from services.review.domain import blind
from services.review.models import Entry, Round, TextBand, TextMatch, TextPrint
from services.review.operations.copies import known_track, masked_names


def work_text(session, campaign_id: str, track: str, fields: dict) -> str:
    """The text compared for near-duplicates: the title and every text field of the work's track (a campaign's own
    先进事迹 too), in the definition's order; the usual prose fields while review has not heard of the campaign."""
    spec = known_track(session, campaign_id, track)
    return work_prose(fields, prose_keys(spec.get("fields") if spec else None))


def entry_text(session, entry: Entry) -> str:
    return work_text(session, entry.campaign_id, entry.track, entry.fields or {})


def index_text(session, submission_id: str, tenant: str, fp) -> list[TextMatch]:
    """Keep a work's fingerprint and record which earlier works (of any university) it nearly copies."""
    if fp is None or not fp.features:
        return []
    if session.get(TextPrint, submission_id) is not None:
        return []  # indexed already (a redelivery, or a later stage): the first text stands
    bands = [(b, format(int(k), "016x")) for b, k in enumerate(neardup.band_keys(fp.signature)) if k]
    met: dict[str, int] = defaultdict(int)
    for chunk in range(0, len(bands), 100):
        held: dict[tuple[int, str], list[str]] = defaultdict(list)
        for band, key, other_id in session.execute(
                select(TextBand.band, TextBand.key, TextBand.submission_id)
                .where(tuple_(TextBand.band, TextBand.key).in_(bands[chunk:chunk + 100]))):
            held[(band, key)].append(other_id)
        for members in held.values():
            for other_id in members[:neardup.MAX_BUCKET]:  # a bucket as large as this holds boilerplate, not copies
                met[other_id] += 1
    candidates = {other for other, shared in met.items() if shared >= neardup.AGREE}
    session.add(TextPrint(submission_id=submission_id, tenant=tenant, features=sorted(fp.features)))
    session.execute(insert(TextBand), [{"band": b, "key": k, "submission_id": submission_id} for b, k in bands])
    found = []
    mine = frozenset(fp.features)
    for other in session.scalars(select(TextPrint).where(TextPrint.submission_id.in_(candidates - {submission_id}))):
        verdict = neardup.judge(mine, frozenset(other.features))
        if verdict is not None:
            kind, sim, share = verdict
            a, b = sorted((submission_id, other.submission_id))
            match = TextMatch(a=a, b=b, similarity=round(sim, 3), containment=round(share, 3), kind=kind,
                              found_at=clock.now())
            session.merge(match)
            found.append(match)
    return found


def matches_for(session, entries: list[Entry], viewer_round: Round) -> dict[str, list[dict]]:
    """Near-duplicates of these works as their round's admin may see them.

    The other work is named only when it sits in a round of the same owner; otherwise it is
    "another university's work" (or "another work"), never its title or org.
    """
    ids = [e.submission_id for e in entries]
    if not ids:
        return {}
    rows = session.scalars(select(TextMatch).where(TextMatch.a.in_(ids) | TextMatch.b.in_(ids))).all()
    out: dict[str, list[dict]] = defaultdict(list)
    for m in rows:
        for mine, theirs in ((m.a, m.b), (m.b, m.a)):
            if mine not in ids:
                continue
            me, other = session.get(Entry, mine), session.get(Entry, theirs)
            if other is None:
                continue
            other_round = session.get(Round, other.round_id) if other.round_id else None
            visible = other_round is not None and other_round.tenant == viewer_round.tenant
            passage, _ = neardup.overlapping_passage(entry_text(session, me), entry_text(session, other))
            out[mine].append({
                "similarity": m.similarity, "passage": passage,
                "other": (f"《{other.title}》（{other.org_name or ''}）" if visible else
                          ("本校另一件作品" if other.tenant == me.tenant else "另一所高校的一件作品"))})
    return out


def matches_for_reviewer(session, entry: Entry) -> list[dict]:
    """What a reviewer is told: that a passage of this work also appears elsewhere; nothing about where."""
    rows = session.scalars(select(TextMatch).where((TextMatch.a == entry.submission_id)
                                                   | (TextMatch.b == entry.submission_id))).all()
    names = masked_names(session, entry.tenant)
    out = []
    for m in rows:
        other = session.get(Entry, m.b if m.a == entry.submission_id else m.a)
        if other is None:
            continue
        passage, _ = neardup.overlapping_passage(entry_text(session, entry), entry_text(session, other))
        out.append({"similarity": m.similarity, "passage": blind.mask(passage, names)})
    return out
