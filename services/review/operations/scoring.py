"""Scores: a reviewer saves or submits their marks (every save logged). The admin reads them in reviews.py."""
from __future__ import annotations

from common import clock
from services.review.domain.audit import SCORE_ACTIONS, Acting
from services.review.domain.lifecycles import SCORE, ScoreState
from services.review.domain.scoring import decide_score
from services.review.models import Assignment, Entry, Round, Score, ScoreLog
from services.review.operations import audit
from services.review.operations.copies import track_of


def save_score(session, outbox, by: Acting, a: Assignment, form: dict, submit: bool) -> Score:
    rnd = session.get(Round, a.round_id)
    entry = session.get(Entry, a.submission_id)
    rubric = track_of(session, entry.campaign_id, entry.track).get("rubric", [])
    score = session.get(Score, a.id)
    saved = decide_score(rnd.state, rubric, form, score.state if score else None, submit)
    previous = score.total if score is not None and saved.action == "change" else None
    now = clock.now()
    if score is None:
        score = Score(assignment_id=a.id)
        SCORE.move(score, ScoreState.DRAFT)
        session.add(score)
    score.marks, score.comment, score.total, score.updated_at = saved.marks, saved.comment, saved.total, now
    if score.state != saved.state:
        SCORE.move(score, saved.state, at=now)
    session.add(ScoreLog(assignment_id=a.id, action=saved.action, marks=saved.marks, total=saved.total,
                         comment=saved.comment, at=now))
    # that it was saved, and its total: the marks and the comment stay in score_log, for the round's admin
    audit.record(session, outbox, by, rnd, SCORE_ACTIONS[saved.action], "assignment", a.id,
                 submission_id=a.submission_id, score_total=saved.total, previous_score_total=previous)
    return score

