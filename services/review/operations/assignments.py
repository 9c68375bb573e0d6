"""Assignments: giving every work its reviewers, by plan or by hand, declining, conflicts, removing one."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import func, insert, select

from common import clock
from common.errors import Conflict as ConflictError, NotFound
from services.review.domain import assignment as assigning
from services.review.domain.audit import Acting, short
from services.review.domain.lifecycles import ASSIGNMENT, AssignmentState, RoundState, ScoreState, require_round_open
from services.review.models import Assignment, Conflict, Entry, OrgCopy, Reviewer, Round, Score, ScoreLog
from services.review.operations import audit
from services.review.operations.rounds import entries_of, new_id, reviewers_of


def _pool(session, rnd: Round):
    entries = entries_of(session, rnd)
    orgs = {o.org_id: o for o in session.scalars(select(OrgCopy).where(
        OrgCopy.tenant.in_({e.tenant for e in entries} or {""}))).all()}
    works = []
    for e in entries:
        path, cur = [], e.org_id
        while cur and cur not in path:
            path.append(cur)
            cur = orgs[cur].parent_id if cur in orgs else None
        words = {e.track, str((e.fields or {}).get("theme") or "")} - {""}
        works.append(assigning.Work(e.submission_id, e.tenant, tuple(path), frozenset(words)))
    reviewers = [assigning.Reviewer(r.id, r.university, r.org_id, frozenset(r.expertise or ()))
                 for r in reviewers_of(session, rnd, active_only=True)]
    declared = frozenset(session.execute(select(Conflict.reviewer_id, Conflict.submission_id).join(
        Reviewer, Reviewer.id == Conflict.reviewer_id).where(Reviewer.round_id == rnd.id)).all())
    return entries, works, reviewers, declared


def choices_for(session, rnd: Round, submission_ids: list[str]) -> dict[str, dict[str, list[dict]]]:
    """What the round page offers per shown work: `assign`, the experts who may take it now (active, not on it
    already, no conflict: assigning.conflicted), so the list is not a guess that the server then refuses; and
    `conflict`, the experts a conflict may still be declared for (every active one without a declared conflict)."""
    wanted = set(submission_ids)
    if not wanted or rnd.state != RoundState.OPEN:
        return {}
    _, works, reviewers, declared = _pool(session, rnd)
    names = {r.id: r.name for r in reviewers_of(session, rnd, active_only=True)}
    taken = set(session.execute(select(Assignment.reviewer_id, Assignment.submission_id).where(
        Assignment.round_id == rnd.id, Assignment.state == AssignmentState.ASSIGNED,
        Assignment.submission_id.in_(wanted))).all())
    choices = {}
    for work in (w for w in works if w.work_id in wanted):
        choices[work.work_id] = {
            "assign": [{"id": r.reviewer_id, "name": names[r.reviewer_id]} for r in reviewers
                       if (r.reviewer_id, work.work_id) not in taken and not assigning.conflicted(rnd.level, r, work,
                                                                                                   declared)],
            "conflict": [{"id": r.reviewer_id, "name": names[r.reviewer_id]} for r in reviewers
                         if (r.reviewer_id, work.work_id) not in declared]}
    return choices


def _next_position(session, reviewer_id: str) -> int:
    """The end of the reviewer's queue."""
    return session.scalar(select(func.coalesce(func.max(Assignment.position), 0)).where(
        Assignment.reviewer_id == reviewer_id)) + 1


def _add_assignment(session, rnd: Round, reviewer_id: str, submission_id: str, manual: bool) -> Assignment:
    a = Assignment(id=new_id(), round_id=rnd.id, reviewer_id=reviewer_id, submission_id=submission_id,
                   manual=manual, position=_next_position(session, reviewer_id), created_at=clock.now())
    ASSIGNMENT.move(a, AssignmentState.ASSIGNED)
    session.add(a)
    return a


def run_assignment(session, rnd: Round) -> dict:
    """Give every work k reviewers; what is already assigned stays (scores are never thrown away). Records nothing:
    the page's use case is assign_round (the benchmark calls this one)."""
    require_round_open(rnd.state)
    entries, works, reviewers, declared = _pool(session, rnd)
    if not works:
        raise ConflictError("本轮还没有作品进入评审，暂时无需分配。", code="nothing_to_assign")
    current = session.scalars(select(Assignment).where(Assignment.round_id == rnd.id)).all()
    keep = [(a.submission_id, a.reviewer_id) for a in current if a.state == AssignmentState.ASSIGNED]
    refused = {(a.reviewer_id, a.submission_id) for a in current if a.state != AssignmentState.ASSIGNED}
    plan = assigning.assign(works, reviewers, rnd.reviewers_per_work, level=rnd.level,
                            declared=declared | frozenset(refused), keep=keep)
    known = set(keep)
    positions = Counter(a.reviewer_id for a in current)
    order = {e.submission_id: i for i, e in enumerate(entries)}
    rows, now = [], clock.now()
    for work_id, reviewer_id in sorted(plan.pairs, key=lambda p: (order.get(p[0], 0), p[1])):
        if (work_id, reviewer_id) in known:
            continue
        positions[reviewer_id] += 1
        # new rows start where the assignment lifecycle starts: assigned
        rows.append({"id": new_id(), "round_id": rnd.id, "reviewer_id": reviewer_id, "submission_id": work_id,
                     "state": AssignmentState.ASSIGNED.value, "manual": False, "position": positions[reviewer_id],
                     "created_at": now})
    if rows:  # one multi-row insert: a national round writes 30,000 of them
        session.execute(insert(Assignment), rows)
    loads = plan.loads.values()
    added = len(rows)
    return {"added": added, "total": len(plan.pairs), "spread": (max(loads) - min(loads)) if loads else 0}


def assign_round(session, outbox, by: Acting, rnd: Round) -> dict:
    """The admin's automatic assignment (run_assignment); one row for the plan, none when it added nothing."""
    result = run_assignment(session, rnd)
    if result["added"]:
        audit.record(session, outbox, by, rnd, "assignments.planned", "round", rnd.id, added=result["added"],
                     assignments=result["total"], spread=result["spread"], reviewers_per_work=rnd.reviewers_per_work)
    return result


def _reviewer_and_work_in(session, rnd: Round, reviewer_id: str, submission_id: str) -> tuple[Reviewer, Entry]:
    reviewer, entry = session.get(Reviewer, reviewer_id), session.get(Entry, submission_id)
    if reviewer is None or reviewer.round_id != rnd.id or entry is None or entry.round_id != rnd.id:
        raise NotFound("专家或作品不在本轮评审中。", code="not_in_round")
    return reviewer, entry


def _assignment_of(session, reviewer_id: str, submission_id: str) -> Assignment | None:
    return session.scalar(select(Assignment).where(Assignment.reviewer_id == reviewer_id,
                                                   Assignment.submission_id == submission_id))


def assign_manually(session, outbox, by: Acting, rnd: Round, reviewer_id: str, submission_id: str) -> None:
    require_round_open(rnd.state)
    reviewer, _ = _reviewer_and_work_in(session, rnd, reviewer_id, submission_id)
    _, works, reviewers, declared = _pool(session, rnd)
    work = next(w for w in works if w.work_id == submission_id)
    who = next((r for r in reviewers if r.reviewer_id == reviewer_id), None)
    if who is None:
        raise ConflictError("该专家已停用。", code="reviewer_inactive")
    reason = assigning.conflicted(rnd.level, who, work, declared)
    if reason:
        raise ConflictError(f"不能把这件作品分给{reviewer.name}：{reason}。", code="conflict_of_interest", found=reason)
    a = _assignment_of(session, reviewer_id, submission_id)
    if a is None:
        a = _add_assignment(session, rnd, reviewer_id, submission_id, manual=True)
    else:
        ASSIGNMENT.move(a, AssignmentState.ASSIGNED)
        a.manual = True
    audit.record(session, outbox, by, rnd, "assignment.added", "assignment", a.id, reviewer_id=reviewer_id,
                 reviewer=short(reviewer.name), submission_id=submission_id)


def remove_assignment(session, outbox, by: Acting, rnd: Round, assignment_id: str) -> None:
    require_round_open(rnd.state)
    a = session.get(Assignment, assignment_id)
    if a is None or a.round_id != rnd.id:
        raise NotFound("没有这项分配。", code="assignment_not_found")
    score = session.get(Score, a.id)
    if score is not None and score.state == ScoreState.SUBMITTED:
        raise ConflictError("该专家已提交评分，不能撤销分配（评分会丢失）。", code="already_scored")
    reviewer = session.get(Reviewer, a.reviewer_id)
    audit.record(session, outbox, by, rnd, "assignment.removed", "assignment", a.id, reviewer_id=a.reviewer_id,
                 reviewer=short(reviewer.name) if reviewer else None, submission_id=a.submission_id,
                 draft_discarded=score is not None)
    if score is not None:
        session.delete(score)
        session.flush()
    for log in session.scalars(select(ScoreLog).where(ScoreLog.assignment_id == a.id)):
        session.delete(log)
    session.delete(a)


def declare_conflict(session, outbox, by: Acting, rnd: Round, reviewer_id: str, submission_id: str,
                     reason: str) -> None:
    """The admin's: the reviewer must never get the work; if they have it and have not scored it, it is reassigned."""
    require_round_open(rnd.state)
    reviewer, _ = _reviewer_and_work_in(session, rnd, reviewer_id, submission_id)
    a = _assignment_of(session, reviewer_id, submission_id)
    handed = {}
    if a is not None and a.state == AssignmentState.ASSIGNED:
        handed = {"declined_assignment": a.id,
                  "handed_to": decline(session, a, reason or "登记回避", conflict=True, declared_by="admin")}
    else:
        session.merge(Conflict(reviewer_id=reviewer_id, submission_id=submission_id,
                               reason=(reason or "登记回避")[:500], declared_by="admin", declared_at=clock.now()))
    audit.record(session, outbox, by, rnd, "conflict.declared", "reviewer", reviewer_id, name=short(reviewer.name),
                 submission_id=submission_id, reason=short(reason or "登记回避"), **handed)


def decline_work(session, outbox, by: Acting, a: Assignment, reason: str, conflict: bool) -> str | None:
    """A reviewer declines a work of theirs (decline); declining one no longer theirs changes nothing, and records nothing."""
    was_assigned = a.state == AssignmentState.ASSIGNED
    handed_to = decline(session, a, reason, conflict)
    if was_assigned:
        audit.record(session, outbox, by, session.get(Round, a.round_id), "assignment.declined", "assignment", a.id,
                     submission_id=a.submission_id, reason=short(a.declined_reason), conflict=conflict,
                     handed_to=handed_to)
    return handed_to


def decline(session, a: Assignment, reason: str, conflict: bool, declared_by: str = "reviewer") -> str | None:
    """A work declined (by its reviewer, or for them by the admin); it goes to the least-loaded eligible colleague.
    Returns their name. The caller records the change."""
    rnd = session.get(Round, a.round_id)
    require_round_open(rnd.state)
    if a.state != AssignmentState.ASSIGNED:
        return None
    score = session.get(Score, a.id)
    if score is not None and score.state == ScoreState.SUBMITTED:
        raise ConflictError("已提交评分的作品不能再放弃。如有回避情形，请联系本轮评审的管理员。", code="already_scored")
    ASSIGNMENT.move(a, AssignmentState.DECLINED)
    a.declined_reason = (reason or "").strip()[:500] or "未说明"
    if conflict:
        session.merge(Conflict(reviewer_id=a.reviewer_id, submission_id=a.submission_id, reason=a.declined_reason,
                               declared_by=declared_by, declared_at=clock.now()))
    session.flush()
    return _hand_on(session, rnd, a)


def _hand_on(session, rnd: Round, declined: Assignment) -> str | None:
    """The declined work to the least-loaded eligible colleague: their name, or None when nobody may take it."""
    _, works, reviewers, declared = _pool(session, rnd)
    current = session.scalars(select(Assignment).where(Assignment.round_id == rnd.id)).all()
    assigned = [x for x in current if x.state == AssignmentState.ASSIGNED]
    plan = assigning.AssignmentPlan(
        pairs=sorted((x.submission_id, x.reviewer_id) for x in assigned),
        loads=Counter({r.reviewer_id: 0 for r in reviewers}) + Counter(x.reviewer_id for x in assigned))
    for r in reviewers:
        plan.loads.setdefault(r.reviewer_id, 0)
    refused = [(x.reviewer_id, x.submission_id) for x in current if x.state != AssignmentState.ASSIGNED]
    try:
        _, new_reviewer = assigning.reassign(plan, declined.submission_id, declined.reviewer_id, works, reviewers,
                                             level=rnd.level, declared=declared, refused=refused)
    except assigning.AssignmentImpossible:
        return None  # the admin sees the work short of reviewers on the round page
    _add_assignment(session, rnd, new_reviewer, declined.submission_id, manual=False)
    return session.get(Reviewer, new_reviewer).name
