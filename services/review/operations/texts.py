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


# Matches shown per work: a round whose works all copy one text would otherwise list, and cut a passage for, every
# pair (quadratic in the round's size); the rest are counted, not listed.
MATCHES_SHOWN = 3


def matches_for(session, entries: list[Entry], viewer_round: Round) -> dict[str, list[dict]]:
    """Near-duplicates and partial copies of these works as their round's admin may see them.

    The other work is named only when it sits in a round of the same owner; otherwise it is
    "another university's work" (or "another work"), never its title or org. Each work lists its
    MATCHES_SHOWN closest matches; the last one listed carries how many more there are (`more`).
    Entries, rounds and texts are read once each, and a passage is cut once per pair of distinct
    texts, so the work is linear in the works shown, however alike they are.
    """
    ids = {e.submission_id for e in entries}
    if not ids:
        return {}
    # plain rows, not objects: a work copied by every other one has a row per other work
    rows = session.execute(select(TextMatch.a, TextMatch.b, TextMatch.similarity, TextMatch.containment, TextMatch.kind)
                           .where(TextMatch.a.in_(ids) | TextMatch.b.in_(ids))).all()
    mine_rows: dict[str, list] = defaultdict(list)
    for m in rows:
        for mine, theirs in ((m.a, m.b), (m.b, m.a)):
            if mine in ids:
                mine_rows[mine].append((m, theirs))
    known = {e.submission_id: e for e in entries}
    wanted = {theirs for listed in mine_rows.values() for _, theirs in listed} - known.keys()
    for chunk in _chunks(sorted(wanted)):
        known.update((e.submission_id, e) for e in session.scalars(select(Entry).where(Entry.submission_id.in_(chunk))))
    rounds = {r.id: r for r in session.scalars(select(Round).where(
        Round.id.in_({e.round_id for e in known.values() if e.round_id})))}
    texts = _Texts(session, known)
    out: dict[str, list[dict]] = defaultdict(list)
    for mine, listed in mine_rows.items():
        me = known[mine]
        present = sorted(((m, theirs) for m, theirs in listed if theirs in known),
                         key=lambda x: (-x[0].similarity, -(x[0].containment or 0), x[1]))
        for m, theirs in present[:MATCHES_SHOWN]:
            other = known[theirs]
            other_round = rounds.get(other.round_id) if other.round_id else None
            visible = other_round is not None and other_round.tenant == viewer_round.tenant
            out[mine].append({
                **_described(m), "passage": texts.passage(mine, theirs), "more": 0,
                "other": (f"《{other.title}》（{other.org_name or ''}）" if visible else
                          ("本校另一件作品" if other.tenant == me.tenant else "另一所高校的一件作品"))})
        if len(present) > MATCHES_SHOWN:
            out[mine][-1]["more"] = len(present) - MATCHES_SHOWN
    return out


def matches_for_reviewer(session, entry: Entry) -> list[dict]:
    """What a reviewer is told: that a passage of this work also appears elsewhere; nothing about where."""
    rows = session.scalars(select(TextMatch).where((TextMatch.a == entry.submission_id)
                                                   | (TextMatch.b == entry.submission_id))).all()
    names = masked_names(session, entry.tenant)
    known = {entry.submission_id: entry}
    others = [m.b if m.a == entry.submission_id else m.a for m in rows]
    for chunk in _chunks(others):
        known.update((e.submission_id, e) for e in session.scalars(select(Entry).where(Entry.submission_id.in_(chunk))))
    texts = _Texts(session, known)
    present = sorted(((m, o) for m, o in zip(rows, others, strict=True) if o in known),
                     key=lambda x: (-x[0].similarity, -(x[0].containment or 0), x[1]))
    out = [{**_described(m), "passage": blind.mask(texts.passage(entry.submission_id, o), names), "more": 0}
           for m, o in present[:MATCHES_SHOWN]]
    if len(present) > MATCHES_SHOWN:
        out[-1]["more"] = len(present) - MATCHES_SHOWN
    return out


def _described(m) -> dict:
    return {"similarity": m.similarity, "containment": m.containment, "kind": m.kind or "near_duplicate"}


def _chunks(ids: list[str], size: int = 500):
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


class _Texts:
    """Each work's compared text, read once, and the passage two texts share, cut once per pair of distinct texts
    (works that are the same text share their passages)."""

    def __init__(self, session, entries: dict[str, Entry]):
        self._session, self._entries = session, entries
        self._texts: dict[str, str] = {}
        self._passages: dict[tuple[str, str], str] = {}

    def text(self, submission_id: str) -> str:
        if submission_id not in self._texts:
            self._texts[submission_id] = entry_text(self._session, self._entries[submission_id])
        return self._texts[submission_id]

    def passage(self, mine: str, theirs: str) -> str:
        pair = (self.text(mine), self.text(theirs))
        if pair not in self._passages:
            self._passages[pair] = neardup.overlapping_passage(*pair)[0]
        return self._passages[pair]
