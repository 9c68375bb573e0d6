"""Ranking a round (corrected for lenient and strict reviewers) and confirming which works go up."""
from __future__ import annotations

from sqlalchemy import func, select

from common import clock
from common.levels import parent_level
from services.review.domain import ranking, rounds
from services.review.domain.audit import Acting
from services.review.domain.lifecycles import ROUND, AssignmentState, RoundState, ScoreState
from services.review.domain.selection import Candidate, decide_selection
from services.review.models import Assignment, Round, Score, SelectionRow
from services.review.operations import audit
from services.review.operations.copies import track_of
from services.review.operations.rounds import batches_of, entries_of


def _forwarded_by_earlier_batches(session, rnd: Round) -> int:
    key = rounds.RoundKey(rnd.tenant, rnd.campaign_id, rnd.track, rnd.level, rnd.owner_org_id)
    earlier = [b.id for b in batches_of(session, key) if b.batch < rnd.batch]
    return session.scalar(select(func.count()).select_from(SelectionRow).where(
        SelectionRow.round_id.in_(earlier), SelectionRow.selected)) if earlier else 0


def ranking_of(session, rnd: Round) -> dict:
    entries = {e.submission_id: e for e in entries_of(session, rnd)}
    rows = session.execute(select(Assignment.submission_id, Assignment.reviewer_id, Score.total)
                           .join(Score, Score.assignment_id == Assignment.id)
                           .where(Assignment.round_id == rnd.id, Assignment.state == AssignmentState.ASSIGNED,
                                  Score.state == ScoreState.SUBMITTED)).all()
    scores = [ranking.Score(w, r, t) for w, r, t in rows if w in entries and t is not None]
    ranked = ranking.rank(scores) if scores else []
    biases = ranking.reviewer_biases(scores) if scores else []
    scored = {r.work_id for r in ranked}
    unscored = [e for sid, e in entries.items() if sid not in scored]
    track = track_of(session, rnd.campaign_id, rnd.track)
    limit = rounds.remaining_limit(rounds.selection_limit(track, rnd.level), _forwarded_by_earlier_batches(session, rnd))
    chosen = {row.submission_id for row in session.scalars(select(SelectionRow).where(
        SelectionRow.round_id == rnd.id, SelectionRow.selected))}
    return {"ranked": [(r, entries[r.work_id]) for r in ranked], "unscored": unscored, "limit": limit,
            "biases": biases, "track": track, "chosen": chosen, "up": parent_level(rnd.level)}


def confirm_selection(session, outbox, by: Acting, rnd: Round, selected: list[str]) -> None:
    board = ranking_of(session, rnd)
    candidates = ([Candidate(e.submission_id, e.tenant, e.title, r.rank, r.normalised, r.raw_mean)
                   for r, e in board["ranked"]]
                  + [Candidate(e.submission_id, e.tenant, e.title) for e in board["unscored"]])
    selection = decide_selection(rnd.state, rnd.level, candidates, selected, board["limit"])
    for p in selection.placed:
        session.add(SelectionRow(round_id=rnd.id, submission_id=p.submission_id, rank=p.rank, normalised=p.normalised,
                                 raw_mean=p.raw_mean, selected=p.selected))
    ROUND.move(rnd, RoundState.SELECTED, at=clock.now())
    outbox.add(session, "selection_made", rnd.tenant, {
        "round_id": rnd.id, "campaign_id": rnd.campaign_id, "track": rnd.track, "level": rnd.level,
        "to_level": parent_level(rnd.level), "owner_org_id": rnd.owner_org_id or None,
        "selected": selection.selected, "not_selected": selection.not_selected, "results": selection.results})
    # who confirmed it; intake's own row (selection.forwarded) follows when it forwards the works
    audit.record(session, outbox, by, rnd, "round.selection_confirmed", "round", rnd.id, level=rnd.level,
                 to_level=parent_level(rnd.level), selected=selection.selected,
                 not_selected=len(selection.not_selected))
