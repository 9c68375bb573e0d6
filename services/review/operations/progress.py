"""A round's progress for its admin: each reviewer's counts, works short of reviewers, one page of works."""
from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import func, select

from services.review.domain import decisions
from services.review.domain.lifecycles import AssignmentState, ScoreState
from services.review.models import Assignment, Round, Score, TenantCopy
from services.review.operations.assignments import choices_for
from services.review.operations.copies import track_of, universities_of
from services.review.operations.rounds import entries_of, reviewers_of
from services.review.operations.selection import confirmed_of, history_of, round_end_of
from services.review.operations.texts import matches_for

WORKS_PER_PAGE = 100


def _per_reviewer(session, rnd: Round) -> list[dict]:
    """Each reviewer of the round with their counts: assigned, and of those submitted, draft, open; declined."""
    rows = session.execute(select(Assignment.reviewer_id, Assignment.state, Score.state, func.count())
                           .outerjoin(Score, Score.assignment_id == Assignment.id)
                           .where(Assignment.round_id == rnd.id)
                           .group_by(Assignment.reviewer_id, Assignment.state, Score.state)).all()
    per: dict[str, Counter] = defaultdict(Counter)
    for reviewer_id, assignment_state, score_state, n in rows:
        if assignment_state == AssignmentState.ASSIGNED:
            per[reviewer_id]["assigned"] += n
            per[reviewer_id][score_state or ScoreState.OPEN] += n
        else:
            per[reviewer_id]["declined"] += n
    reviewers = reviewers_of(session, rnd)
    # the university a reviewer belongs to is kept as its slug (conflicts are found by it); people read its name
    slugs = {r.university for r in reviewers if r.university}
    names = dict(session.execute(select(TenantCopy.tenant, TenantCopy.name).where(TenantCopy.tenant.in_(slugs))).all()) \
        if slugs else {}
    return [{"reviewer": r, "university": names.get(r.university, r.university) if r.university else "",
             **{k: per[r.id][k] for k in ("assigned", "submitted", "draft", "open", "declined")}} for r in reviewers]


def round_overview(session, rnd: Round, page: int = 1) -> dict:
    """Progress per reviewer and works short of reviewers, for the admin's round page."""
    reviewers = _per_reviewer(session, rnd)
    counts = dict(session.execute(select(Assignment.submission_id, func.count()).where(
        Assignment.round_id == rnd.id, Assignment.state == AssignmentState.ASSIGNED)
        .group_by(Assignment.submission_id)).all())
    entries = entries_of(session, rnd)
    short = [e for e in entries if counts.get(e.submission_id, 0) < rnd.reviewers_per_work]
    total_assigned = sum(r["assigned"] for r in reviewers)
    done = sum(r["submitted"] for r in reviewers)
    pages = max(1, -(-len(entries) // WORKS_PER_PAGE))
    page = min(max(1, page), pages)
    shown = entries[(page - 1) * WORKS_PER_PAGE: page * WORKS_PER_PAGE]
    names = {r["reviewer"].id: r["reviewer"].name for r in reviewers}
    on_work: dict[str, list] = defaultdict(list)
    for aid, sid, rid, score_state in session.execute(
            select(Assignment.id, Assignment.submission_id, Assignment.reviewer_id, Score.state)
            .outerjoin(Score, Score.assignment_id == Assignment.id)
            .where(Assignment.round_id == rnd.id, Assignment.state == AssignmentState.ASSIGNED,
                   Assignment.submission_id.in_([e.submission_id for e in shown] or [""]))):
        on_work[sid].append({"id": aid, "name": names.get(rid, rid), "state": score_state or ScoreState.OPEN})
    track = track_of(session, rnd.campaign_id, rnd.track)
    end = round_end_of(session, rnd, track)
    return {"reviewers": reviewers, "entries": entries, "short": short, "assigned": total_assigned,
            "submitted": done, "track": track, "shown": shown, "final": end.final, "outcome": decisions.describe(end),
            "vetting": end.vetting, "confirmed": confirmed_of(session, rnd),
            "on_work": on_work, "choices": choices_for(session, rnd, [e.submission_id for e in shown]),
            "page": page, "pages": pages, "matches": matches_for(session, shown, rnd),
            "history": history_of(session, rnd, [e.submission_id for e in shown]),
            "universities": universities_of(session, rnd, shown)}
