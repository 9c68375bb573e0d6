"""A work's expert discussion (专家讨论): the thread as an expert on the work reads it (blind) and as the round's admin
reads it (names), posting to it, and the admin opening it. The rules are domain/discussion.py's; the entrypoint has
already found the visitor's assignment, or the round in the admin's scope."""
from __future__ import annotations

from sqlalchemy import select

from common import clock
from common.errors import NotFound
from services.review.domain import discussion, ranking
from services.review.domain.audit import Acting
from services.review.domain.lifecycles import AssignmentState, ScoreState
from services.review.models import Assignment, DiscussionOpening, DiscussionPost, Reviewer, Round, Score
from services.review.operations import audit
from services.review.operations.reviews import _belongs
from services.review.operations.rounds import works_of


def flag_of(session, rnd: Round, submission_id: str) -> tuple[int, bool]:
    """The work's submitted scores and whether the ranking flags it 分歧大: the ranking's own fit over the round's
    submitted scores (a reviewer's bias is read from every work they scored), as ranking_of computes it."""
    rows = session.execute(select(Assignment.submission_id, Assignment.reviewer_id, Score.total)
                           .join(Score, Score.assignment_id == Assignment.id)
                           .where(Assignment.round_id == rnd.id, Assignment.state == AssignmentState.ASSIGNED,
                                  Score.state == ScoreState.SUBMITTED, Assignment.submission_id.in_(works_of(rnd)))
                           ).all()
    scores = [ranking.Score(w, r, t) for w, r, t in rows if t is not None]
    if sum(s.work_id == submission_id for s in scores) < discussion.MIN_SCORES:
        return sum(s.work_id == submission_id for s in scores), False  # no fit needed: nothing to disagree on
    work = next(w for w in ranking.rank(scores) if w.work_id == submission_id)
    return work.n_scores, work.disagreement


def _thread(session, rnd: Round, submission_id: str) -> dict:
    """What every reader's view starts from: whether it is open (and why), the blind labels, the posts."""
    opened = session.get(DiscussionOpening, (rnd.id, submission_id)) is not None
    posts = [discussion.Post(p.assignment_id, p.admin_name, p.body, p.at) for p in session.scalars(
        select(DiscussionPost).where(DiscussionPost.round_id == rnd.id, DiscussionPost.submission_id == submission_id)
        .order_by(DiscussionPost.id))]
    n, flagged = flag_of(session, rnd, submission_id)
    order = session.scalars(select(Assignment.id).where(Assignment.round_id == rnd.id,
                                                        Assignment.submission_id == submission_id)
                            .order_by(Assignment.created_at, Assignment.id)).all()
    return {"open": discussion.is_open(n, flagged, opened, bool(posts)), "flagged": flagged and n >= discussion.MIN_SCORES,
            "opened_by_admin": opened, "posts": posts, "labels": discussion.blind_labels(order),
            "writable": discussion.may_post(rnd.state), "max": discussion.MAX_POST}


def for_expert(session, a: Assignment) -> dict:
    """The thread on an expert's work page, blind: 「专家甲」「专家乙」… and 「管理员」; `open` False: no thread."""
    discussion.require_reader("expert", a.state)
    rnd = session.get(Round, a.round_id)
    t = _thread(session, rnd, a.submission_id)
    return {**t, "me": t["labels"].get(a.id), "posts": discussion.authors(t["posts"], t["labels"], None, mine=a.id)}


def for_admin(session, rnd: Round, submission_id: str) -> dict:
    """The thread on the admin's page of the work (the round is in their scope): every author by name."""
    t = _thread(session, rnd, submission_id)
    names = dict(session.execute(select(Assignment.id, Reviewer.name).join(Reviewer, Reviewer.id == Assignment.reviewer_id)
                                 .where(Assignment.round_id == rnd.id, Assignment.submission_id == submission_id)).all())
    return {**t, "posts": discussion.authors(t["posts"], t["labels"], names)}


def post_as_expert(session, outbox, by: Acting, a: Assignment, body: str) -> None:
    discussion.require_reader("expert", a.state)
    rnd = session.get(Round, a.round_id)
    _post(session, outbox, by, rnd, a.submission_id, body, assignment_id=a.id)


def post_as_admin(session, outbox, by: Acting, rnd: Round, submission_id: str, admin_name: str, body: str) -> None:
    _require_work(session, rnd, submission_id)
    _post(session, outbox, by, rnd, submission_id, body, admin_name=admin_name[:200])


def _post(session, outbox, by: Acting, rnd: Round, submission_id: str, body: str, **author) -> None:
    t = _thread(session, rnd, submission_id)
    text = discussion.check_post(rnd.state, t["open"], body)
    session.add(DiscussionPost(round_id=rnd.id, submission_id=submission_id, body=text, at=clock.now(), **author))
    # the row says that someone spoke and how much; what they said stays in the thread (never in the audit log)
    audit.record(session, outbox, by, rnd, "discussion.posted", "submission", submission_id, chars=len(text),
                 posts=len(t["posts"]) + 1)


def open_discussion(session, outbox, by: Acting, rnd: Round, submission_id: str) -> None:
    """The admin opens a work's thread although the ranking does not flag it (a second look they want)."""
    _require_work(session, rnd, submission_id)
    discussion.check_opening(rnd.state)
    if session.get(DiscussionOpening, (rnd.id, submission_id)) is not None:
        return  # opened already: nothing changes, nothing to record
    session.add(DiscussionOpening(round_id=rnd.id, submission_id=submission_id, opened_at=clock.now()))
    audit.record(session, outbox, by, rnd, "discussion.opened", "submission", submission_id)


def _require_work(session, rnd: Round, submission_id: str) -> None:
    if not _belongs(session, rnd, submission_id):
        raise NotFound("本轮评审中没有这件作品。", code="entry_not_found", found=submission_id)

