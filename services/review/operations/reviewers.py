"""A round's pool of reviewers (评审专家): adding them from the form or a list, taking one out."""
from __future__ import annotations

from sqlalchemy import select

from common import clock
from common.errors import InvalidInput, NotFound
from common.web import end_sessions
from services.review.domain.audit import Acting, short
from services.review.domain.lifecycles import AssignmentState, ScoreState, require_round_open
from services.review.domain.reviewers import ReviewerRow
from services.review.models import Assignment, OrgCopy, Reviewer, Round, Score, TenantCopy, WebSession
from services.review.operations import audit
from services.review.operations.assignments import decline
from services.review.operations.rounds import new_id, reviewers_of


def _resolve_reviewer(session, rnd: Round, row: ReviewerRow) -> tuple[str | None, str | None]:
    """The reviewer's university slug and org id from what the office typed (names or slugs)."""
    university = None
    if row.university:
        t = session.scalar(select(TenantCopy).where((TenantCopy.tenant == row.university)
                                                    | (TenantCopy.name == row.university)))
        university = t.tenant if t else row.university
    elif rnd.tenant != "ministry":
        university = rnd.tenant  # a university's own experts
    org_id = None
    if row.org and university:
        org = session.scalar(select(OrgCopy).where(OrgCopy.tenant == university,
                                                   (OrgCopy.name == row.org) | (OrgCopy.short_name == row.org)))
        if org is None and rnd.level != "ministry":
            raise InvalidInput(f"第{row.row}行：所在单位“{row.org}”不在本校组织名单中。请填写组织名单中的全称，或留空。"
                               if row.row else f"所在单位“{row.org}”不在本校组织名单中。请填写组织名单中的全称，或留空。",
                               code="unknown_org", field="org", found=row.org)
        org_id = org.org_id if org else None
    return university, org_id


def add_reviewers(session, rnd: Round, rows: list[ReviewerRow]) -> dict:
    """Add or update reviewers by e-mail; all rows or none (the caller's transaction). Records nothing: for code
    outside a request (the benchmark); the pages add through add_reviewer and import_reviewers."""
    return _add_rows(session, rnd, rows)[0]


def _add_rows(session, rnd: Round, rows: list[ReviewerRow]) -> tuple[dict, list[Reviewer]]:
    require_round_open(rnd.state)
    existing = {r.email: r for r in reviewers_of(session, rnd)}
    added = updated = 0
    touched = []
    for row in rows:
        university, org_id = _resolve_reviewer(session, rnd, row)
        r = existing.get(row.email)
        if r is None:
            r = Reviewer(id=new_id(), round_id=rnd.id, email=row.email, created_at=clock.now())
            session.add(r)
            existing[row.email] = r
            added += 1
        else:
            updated += 1
        r.name, r.university, r.org_id, r.expertise, r.active = row.name, university, org_id, list(row.expertise), True
        touched.append(r)
    return {"added": added, "updated": updated}, touched


def add_reviewer(session, outbox, by: Acting, rnd: Round, row: ReviewerRow) -> dict:
    """One reviewer from the round page's form: added, or updated when their e-mail is in the pool."""
    counts, [reviewer] = _add_rows(session, rnd, [row])
    session.flush()
    audit.record(session, outbox, by, rnd, "reviewer.added", "reviewer", reviewer.id, name=short(reviewer.name),
                 email=reviewer.email, updated=bool(counts["updated"]))
    return counts


def import_reviewers(session, outbox, by: Acting, rnd: Round, rows: list[ReviewerRow], filename: str | None) -> dict:
    """A list of reviewers (.xlsx/.csv, already parsed): all rows or none; one row in the log for the list."""
    counts, _ = _add_rows(session, rnd, rows)
    audit.record(session, outbox, by, rnd, "reviewers.imported", "round", rnd.id, filename=short(filename),
                 added=counts["added"], updated=counts["updated"], total=len(rows))
    return counts


def remove_reviewer(session, outbox, by: Acting, rnd: Round, reviewer_id: str) -> dict:
    """Take a reviewer out of a round's pool: their sessions end now, their unsubmitted works go to colleagues.

    Submitted scores stay (they were given in good standing); drafts go with the work. The reviewer
    stays listed as inactive, so adding them again (same e-mail) brings them back.
    """
    require_round_open(rnd.state)
    reviewer = session.get(Reviewer, reviewer_id)
    if reviewer is None or reviewer.round_id != rnd.id:
        raise NotFound("本轮评审中没有这位专家。", code="reviewer_not_found")
    reviewer.active = False
    end_sessions(session, WebSession, reviewer.id)  # a link already redeemed no longer opens their queue
    session.flush()
    handed_on = short_of = 0
    for a in session.scalars(select(Assignment).where(Assignment.reviewer_id == reviewer.id,
                                                       Assignment.state == AssignmentState.ASSIGNED)).all():
        score = session.get(Score, a.id)
        if score is None or score.state != ScoreState.SUBMITTED:
            if decline(session, a, "管理员已将该专家移出本轮", conflict=False, declared_by="admin") is None:
                short_of += 1  # no eligible colleague: the round page lists the work as short of reviewers
            else:
                handed_on += 1
    # the works handed on are part of this one change: no row of their own
    audit.record(session, outbox, by, rnd, "reviewer.removed", "reviewer", reviewer.id, name=short(reviewer.name),
                 email=reviewer.email, handed_on=handed_on, left_short=short_of)
    return {"handed_on": handed_on, "short": short_of}
