"""What the round's admin reads of the reviews: one work with every expert's marks, the sheet of every score, and
which university each work of a national round comes from. Reviewers never reach any of it (service.py checks the
admin's scope over the round first)."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from common.errors import NotFound
from services.review.domain import reviews
from services.review.domain.lifecycles import AssignmentState
from services.review.models import Assignment, CampaignCopy, Conflict, Entry, FileCopy, Reviewer, Round, Score
from services.review.operations.blind_views import _reviewer_file
from services.review.operations.copies import track_of, universities_of
from services.review.operations.rounds import works_of
from services.review.operations.selection import confirmed_of, history_of


def campaign_title(session, rnd: Round) -> str:
    c = session.get(CampaignCopy, rnd.campaign_id)
    return c.title if c else rnd.campaign_id


def _reviews_of(session, rnd: Round, submission_ids) -> list[tuple[str, reviews.Review]]:
    """(work, review) for every assignment of these works in the round, by expert name."""
    rows = session.execute(select(Assignment, Reviewer.name, Reviewer.email, Score)
                           .join(Reviewer, Reviewer.id == Assignment.reviewer_id)
                           .outerjoin(Score, Score.assignment_id == Assignment.id)
                           .where(Assignment.round_id == rnd.id, Assignment.submission_id.in_(submission_ids))
                           .order_by(Reviewer.name, Reviewer.email)).all()
    declined = [a for a, *_ in rows if a.state == AssignmentState.DECLINED]
    conflicts = set(session.execute(select(Conflict.reviewer_id, Conflict.submission_id).where(
        Conflict.reviewer_id.in_([a.reviewer_id for a in declined]))).all()) if declined else set()
    return [(a.submission_id, reviews.Review(
        name, email, a.state, score.state if score else None, (score.marks or {}) if score else {},
        score.total if score else None, score.comment if score else "", (a.reviewer_id, a.submission_id) in conflicts,
        a.declined_reason, score.comment_for_org if score else "")) for a, name, email, score in rows]


def work_reviews(session, rnd: Round, submission_id: str, links) -> dict:
    """One work of the round for its admin: its fields and files (the reviewers' clean copies), and each expert's
    marks per criterion, total, state and comment. A work that is not the round's answers 404, as a missing one."""
    entry = session.get(Entry, submission_id)
    if entry is None or not _belongs(session, rnd, submission_id):
        raise NotFound("本轮评审中没有这件作品。", code="entry_not_found", found=submission_id)
    rubric = track_of(session, entry.campaign_id, entry.track).get("rubric", [])  # the one it was scored by
    heads, experts = reviews.rows(rubric, [r for _, r in _reviews_of(session, rnd, [submission_id])])
    track = track_of(session, rnd.campaign_id, entry.track)
    labels = {f["key"]: f.get("label", f["key"]) for f in track.get("fields", [])}
    fields = [(labels.get(k, k), v if isinstance(v, str) else "、".join(map(str, v)) if isinstance(v, list) else str(v))
              for k, v in (entry.fields or {}).items() if v not in (None, "", [])]
    files, counters = [], Counter()
    for f in session.scalars(select(FileCopy).where(FileCopy.file_id.in_(entry.file_ids or [""]))
                             .order_by(FileCopy.kind, FileCopy.file_id)).all():
        counters[f.kind] += 1
        files.append(_reviewer_file(f, counters[f.kind], links))
    confirmed = confirmed_of(session, rnd)
    return {"entry": entry, "criteria": heads, "experts": experts, "mean": reviews.mean_of_submitted(experts),
            "fields": fields, "files": files, "university": universities_of(session, rnd, [entry]).get(submission_id),
            "history": history_of(session, rnd, [submission_id]),
            "chosen": None if confirmed is None else submission_id in confirmed["chosen"]}


def _belongs(session, rnd: Round, submission_id: str) -> bool:
    """A work of the round as its pages list it (entries_of), or one that left it with experts' reviews in it."""
    listed = session.scalar(select(Entry.submission_id).where(
        Entry.submission_id == submission_id, Entry.submission_id.in_(works_of(rnd))))
    return listed is not None or session.scalar(select(Assignment.id).where(
        Assignment.round_id == rnd.id, Assignment.submission_id == submission_id).limit(1)) is not None


def score_sheet(session, rnd: Round) -> tuple[list[str], list[list]]:
    """Every saved score of the round, for the admin's export (reviewers never see each other's): the criteria's
    headings, and per score the work, its university (a national round), expert, state, marks, total and both comments
    (to the admin, and for the org)."""
    entries = {e.submission_id: e for e in session.scalars(select(Entry).join(
        Assignment, Assignment.submission_id == Entry.submission_id).where(Assignment.round_id == rnd.id))}
    found = [(sid, r) for sid, r in _reviews_of(session, rnd, list(entries)) if r.score_state is not None]
    rubric = track_of(session, rnd.campaign_id, rnd.track).get("rubric", [])
    heads, expert_rows = reviews.rows(rubric, [r for _, r in found])
    universities = universities_of(session, rnd, list(entries.values()))
    out = []
    for (sid, _), row in sorted(zip(found, expert_rows), key=lambda p: (entries[p[0][0]].title, p[1]["reviewer"])):
        out.append([entries[sid].title, *([universities.get(sid, "")] if universities else []), row["reviewer"],
                    row["state"], *row["marks"], row["total"], row["comment"], row["comment_for_org"]])
    return [c.heading for c in heads], out
