"""Scores: a reviewer saves or submits their marks (every save logged, autosaves of one sitting as one line). The
admin reads them in reviews.py."""
from __future__ import annotations

from sqlalchemy import select

from common import clock
from services.review.domain.audit import SCORE_ACTIONS, Acting
from services.review.domain.lifecycles import SCORE, ScoreState
from services.review.domain.scoring import decide_draft, decide_score, joins_last_log
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
    score.comment_for_org = saved.comment_for_org
    if score.state != saved.state:
        SCORE.move(score, saved.state, at=now)
    session.add(ScoreLog(assignment_id=a.id, action=saved.action, marks=saved.marks, total=saved.total,
                         comment=saved.comment, comment_for_org=saved.comment_for_org, at=now))
    # that it was saved, and its total: the marks and the comment stay in score_log, for the round's admin
    audit.record(session, outbox, by, rnd, SCORE_ACTIONS[saved.action], "assignment", a.id,
                 submission_id=a.submission_id, score_total=saved.total, previous_score_total=previous)
    return score


def save_draft(session, outbox, by: Acting, a: Assignment, form: dict) -> Score | None:
    """The work page's autosave: a draft by the draft button's rules (domain.scoring.decide_draft), never over a
    submitted score. Nothing is written when nothing changed; the saved score, or None when none exists yet."""
    rnd = session.get(Round, a.round_id)
    entry = session.get(Entry, a.submission_id)
    rubric = track_of(session, entry.campaign_id, entry.track).get("rubric", [])
    score = session.get(Score, a.id)
    saved = decide_draft(rnd.state, rubric, form, score.state if score else None)
    if score is not None and (score.marks, score.comment, score.comment_for_org) == (
            saved.marks, saved.comment, saved.comment_for_org):
        return score  # a blur or a tab switch after a save: the same text again
    if score is None and not saved.marks and not saved.comment and not saved.comment_for_org:
        return None  # a page opened and left: no empty draft in the log
    now = clock.now()
    if score is None:
        score = Score(assignment_id=a.id)
        SCORE.move(score, ScoreState.DRAFT)
        session.add(score)
    score.marks, score.comment, score.total, score.updated_at = saved.marks, saved.comment, None, now
    score.comment_for_org = saved.comment_for_org
    last = session.scalars(select(ScoreLog).where(ScoreLog.assignment_id == a.id)
                           .order_by(ScoreLog.id.desc()).limit(1)).first()
    if last is not None and joins_last_log(last.action, last.at, now):
        # the same sitting: the log line (and the audit record already sent for it) stands for the latest text
        last.marks, last.comment, last.comment_for_org, last.at = saved.marks, saved.comment, saved.comment_for_org, now
        return score
    session.add(ScoreLog(assignment_id=a.id, action="draft", marks=saved.marks, total=None, comment=saved.comment,
                         comment_for_org=saved.comment_for_org, at=now))
    audit.record(session, outbox, by, rnd, SCORE_ACTIONS["draft"], "assignment", a.id,
                 submission_id=a.submission_id, score_total=None, previous_score_total=None)
    return score
