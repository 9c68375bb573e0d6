"""Review's use cases: each takes a session (one transaction) and plain values.

Entrypoints in `service.py` authenticate, check the form, open a transaction
and call one function here; the rules themselves (assignment, scoring,
ranking, blindness, selection limits) are pure functions in `domain/`.
"""
from __future__ import annotations

import hashlib
import secrets
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select

from common import clock, filetypes, neardup
from common.db import serialize_on
from common.errors import Conflict as ConflictError, DomainError, Forbidden, InvalidInput, NotFound
from common.levels import parent_level
from common.locale import BEIJING
from common.text import count_chars, work_prose
from common.web import end_sessions
from services.review.domain import assignment as assigning, blind, ranking, rounds, rubric as rubrics
from services.review.domain.reviewers import ReviewerRow
from services.review.models import (
    ApiKeyCopy,
    Assignment,
    CampaignCopy,
    Conflict,
    Entry,
    FileCopy,
    OrgCopy,
    Reviewer,
    Round,
    RubricCopy,
    Score,
    ScoreLog,
    SelectionRow,
    SignInLink,
    TenantCopy,
    TextMatch,
    WebSession,
)

SIGN_IN_LINK_TTL = timedelta(days=14)


def new_id() -> str:
    return uuid.uuid4().hex


# --------------------------------------------------------------------------- copies from events


def record_campaign(s, tenant: str, data: dict) -> None:
    s.merge(CampaignCopy(campaign_id=data["campaign_id"], tenant=tenant, derives_from=data["derives_from"],
                         title=data["title"], tracks=data["tracks"]))
    for track, spec in data["tracks"].items():
        s.merge(RubricCopy(campaign_id=data["campaign_id"], track=track, criteria=spec["rubric"]))


def record_orgs(s, tenant: str, data: dict) -> None:
    if data.get("tenant_name"):
        s.merge(TenantCopy(tenant=tenant, name=data["tenant_name"]))
    for o in data["orgs"]:
        s.merge(OrgCopy(org_id=o["org_id"], tenant=tenant, name=o["name"], short_name=o.get("short_name"),
                        level=o["level"], parent_id=o.get("parent_id")))


def record_key(s, tenant: str, data: dict) -> None:
    s.merge(ApiKeyCopy(key_hash=data["key_hash"], tenant=tenant, tenant_kind=data["tenant_kind"], revoked=False))
    if data.get("tenant_name"):
        s.merge(TenantCopy(tenant=tenant, name=data["tenant_name"]))


def revoke_key(s, data: dict) -> None:
    row = s.get(ApiKeyCopy, data["key_hash"])
    if row is not None:
        row.revoked = True


def _one_event_per_work_at_a_time(s, submission_id: str) -> None:
    # A work's check and its submission may be handled at once (two replicas, or two workers):
    # each would miss the other's uncommitted row and neither would put the work in its round.
    serialize_on(s, "review.work", submission_id)


def record_file(s, data: dict) -> None:
    _one_event_per_work_at_a_time(s, data["submission_id"])
    row = s.get(FileCopy, data["file_id"])
    if row is None:
        row = FileCopy(file_id=data["file_id"])
        s.add(row)
    row.submission_id, row.kind, row.object_key = data["submission_id"], data["kind"], data["object_key"]
    row.content_type, row.size = data["content_type"], data["size"]


def record_file_check(s, data: dict) -> bool:
    """Keep the newest check. False when the upload is not known yet: the caller retries later."""
    _one_event_per_work_at_a_time(s, data["submission_id"])
    row = s.get(FileCopy, data["file_id"])
    if row is None:
        return False
    checked_at = datetime.fromisoformat(data["checked_at"])
    if row.checked_at is None or checked_at > row.checked_at:
        row.verdict, row.findings, row.facts = data["verdict"], data["findings"], data["facts"]
        row.derived, row.checked_at = data.get("derived") or {}, checked_at
    entry = s.get(Entry, data["submission_id"])
    if entry is not None:
        place(s, entry)
    return True


def record_submission(s, tenant: str, d: dict, fp=None) -> None:
    _one_event_per_work_at_a_time(s, d["submission_id"])
    entry = s.get(Entry, d["submission_id"])
    if entry is None:
        entry = Entry(submission_id=d["submission_id"], tenant=tenant)
        s.add(entry)
    elif entry.state == "withdrawn":
        return  # a withdrawal that overtook its submission wins: the work is out
    elif entry.state == "reopened" and datetime.fromisoformat(d["submitted_at"]) < entry.submitted_at:
        return  # a submission from before the work was reopened, delivered late
    entry.campaign_id, entry.track, entry.stage = d["campaign_id"], d["track"], d["stage"]
    entry.final_stage, entry.title, entry.org_id = d["final_stage"], d["title"], d["org_id"]
    entry.org_name, entry.org_level, entry.parent_org_id = d["org_name"], d["org_level"], d.get("parent_org_id")
    entry.fields, entry.file_ids = d.get("fields") or {"title": d["title"]}, d["file_ids"]
    entry.state, entry.submitted_at, entry.updated_at = "submitted", datetime.fromisoformat(d["submitted_at"]), clock.now()
    place(s, entry)
    index_text(s, entry.submission_id, tenant, fp)


def record_withdrawal(s, tenant: str, d: dict) -> None:
    _one_event_per_work_at_a_time(s, d["submission_id"])
    entry = s.get(Entry, d["submission_id"])
    if entry is None:
        # Out of order: remember the withdrawal, so the late submission event does not bring it back.
        entry = Entry(submission_id=d["submission_id"], tenant=tenant, campaign_id=d["campaign_id"], track=d["track"],
                      stage="", title="", org_id=d["org_id"], fields={}, file_ids=[])
        s.add(entry)
    entry.state, entry.updated_at = "withdrawn", clock.now()
    # Its open assignments go: nobody should score a work that left the competition.
    for a in s.scalars(select(Assignment).where(Assignment.submission_id == entry.submission_id,
                                                Assignment.state == "assigned")):
        score = s.get(Score, a.id)
        if score is None or score.state == "draft":
            a.state, a.declined_reason = "withdrawn", "作品已撤回"


def record_reopening(s, tenant: str, d: dict) -> None:
    """A file of a submitted stage changed in intake: the work leaves its round until it is submitted again.

    Its open assignments end, scored or not: the scores were for files the work no longer has. The moment of
    the reopening is kept as `submitted_at`, so a submission older than it (a late redelivery) is ignored.
    """
    _one_event_per_work_at_a_time(s, d["submission_id"])
    entry = s.get(Entry, d["submission_id"])
    reopened_at = datetime.fromisoformat(d["reopened_at"])
    if entry is None:  # out of order: remember it, so the older submission does not put the work in a round
        entry = Entry(submission_id=d["submission_id"], tenant=tenant, campaign_id=d["campaign_id"], track=d["track"],
                      title=d["title"], org_id=d["org_id"], fields={}, file_ids=[])
        s.add(entry)
    elif entry.state == "withdrawn" or (entry.submitted_at is not None and entry.submitted_at > reopened_at):
        return  # withdrawn for good, or already submitted again
    entry.state, entry.stage, entry.final_stage = "reopened", d["stage"] or "", False
    entry.round_id, entry.level, entry.submitted_at, entry.updated_at = None, None, reopened_at, clock.now()
    for a in s.scalars(select(Assignment).where(Assignment.submission_id == entry.submission_id,
                                                Assignment.state == "assigned")):
        a.state, a.declined_reason = "withdrawn", "作品已退回修改，须重新提交"


def record_forwarded(s, tenant: str, d: dict) -> None:
    _one_event_per_work_at_a_time(s, d["submission_id"])
    entry = s.get(Entry, d["submission_id"])
    if entry is None:
        entry = Entry(submission_id=d["submission_id"], tenant=tenant, stage="", final_stage=True)
        s.add(entry)
    entry.campaign_id, entry.track, entry.title = d["campaign_id"], d["track"], d["title"]
    entry.org_id, entry.org_name, entry.org_level = d["org_id"], d["org_name"], d["org_level"]
    entry.fields, entry.state, entry.updated_at = d["fields"], "submitted", clock.now()
    entry.file_ids = [f["file_id"] for f in d["files"]]
    for f in d["files"]:  # the ministry may not have seen the upload events of this university's files
        if s.get(FileCopy, f["file_id"]) is None:
            s.add(FileCopy(file_id=f["file_id"], submission_id=d["submission_id"], kind=f["kind"],
                           object_key=f["object_key"], content_type=f["content_type"], size=f["size"],
                           verdict=f.get("verdict")))
    key = rounds.round_for_forwarded(tenant, d["campaign_id"], d.get("root_campaign_id"), d["track"], d["to_level"])
    _enter(s, entry, key, d.get("tenant_name"))


def place(s, entry: Entry) -> None:
    """Put a submitted work into its round once it is complete and its files passed the check."""
    if entry.state != "submitted" or entry.round_id is not None or entry.org_level is None:
        return
    verdicts = [s.get(FileCopy, fid).verdict if s.get(FileCopy, fid) else None for fid in entry.file_ids]
    if not rounds.ready_for_review(entry.final_stage, verdicts):
        return
    key = rounds.round_for_submission(entry.tenant, entry.campaign_id, entry.track, entry.org_level,
                                      entry.parent_org_id)
    _enter(s, entry, key, None)


def _batches(s, key: rounds.RoundKey) -> list[Round]:
    return list(s.scalars(select(Round).where(Round.tenant == key.tenant, Round.campaign_id == key.campaign_id,
                                              Round.track == key.track, Round.level == key.level,
                                              Round.owner_org_id == key.owner_org_id).order_by(Round.batch)))


def _enter(s, entry: Entry, key: rounds.RoundKey, tenant_name: str | None) -> None:
    """Into the round's latest batch; a selected batch takes no more works, so a late one opens the next."""
    batches = _batches(s, key)
    rnd = batches[-1] if batches else None
    if rnd is None or rnd.state == "selected":
        batch = rounds.next_batch([b.batch for b in batches])
        rnd = Round(id=new_id(), tenant=key.tenant, campaign_id=key.campaign_id, track=key.track, level=key.level,
                    owner_org_id=key.owner_org_id, title=rounds.batch_title(_title(s, key, tenant_name), batch),
                    batch=batch, reviewers_per_work=rounds.DEFAULT_REVIEWERS_PER_WORK, state="open",
                    created_at=clock.now())
        s.add(rnd)
        s.flush()
    entry.round_id, entry.level = rnd.id, key.level


def _title(s, key: rounds.RoundKey, tenant_name: str | None) -> str:
    if key.level == "ministry":
        owner = "教育部"
    elif key.owner_org_id:
        org = s.get(OrgCopy, key.owner_org_id)
        owner = org.name if org else "二级党组织"
    else:
        t = s.get(TenantCopy, key.tenant)
        owner = tenant_name or (t.name if t else key.tenant)
    return rounds.round_title(owner, _track(s, key.campaign_id, key.track).get("label", key.track), key.level)


def blind_title(s, rnd: Round) -> str:
    return rounds.blind_title(_track(s, rnd.campaign_id, rnd.track).get("label", rnd.track), rnd.level)


def _track(s, campaign_id: str, track: str) -> dict:
    c = s.get(CampaignCopy, campaign_id)
    return (c.tracks.get(track) if c else None) or {"label": track, "rubric": [], "fields": []}


def _reviewer_track(s, rnd: Round, entry: Entry) -> dict:
    """The track as this round's reviewers may see a work: the fields of the round's campaign (the ministry's
    in the national round, not the university's copy), each hidden if any campaign of the work's `derives_from`
    chain hides it, so that a copy stored before intake refused loosened copies cannot show 主讲人."""
    track = _track(s, rnd.campaign_id, entry.track)
    hidden, campaign_id, seen = set(), entry.campaign_id, set()
    while campaign_id and campaign_id not in seen:
        seen.add(campaign_id)
        c = s.get(CampaignCopy, campaign_id)
        specs = ((c.tracks.get(entry.track) or {}).get("fields", [])) if c else []
        hidden |= {f["key"] for f in specs if f.get("identifying")}
        campaign_id = c.derives_from if c else None
    fields = [{**f, "identifying": bool(f.get("identifying")) or f["key"] in hidden} for f in track.get("fields", [])]
    return {**track, "fields": fields}


# --------------------------------------------------------------------------- admins and their rounds


def admin_for_key(s, key_hash: str) -> ApiKeyCopy | None:
    row = s.get(ApiKeyCopy, key_hash)
    return None if row is None or row.revoked else row


def tenant_name(s, tenant: str) -> str:
    if tenant == "ministry":
        return "教育部"
    t = s.get(TenantCopy, tenant)
    return t.name if t else tenant


def rounds_of(s, tenant: str) -> list[dict]:
    rows = s.scalars(select(Round).where(Round.tenant == tenant).order_by(Round.created_at)).all()
    works = dict(s.execute(select(Entry.round_id, func.count()).where(Entry.state == "submitted")
                           .group_by(Entry.round_id)).all())
    reviewers = dict(s.execute(select(Reviewer.round_id, func.count()).where(Reviewer.active)
                               .group_by(Reviewer.round_id)).all())
    return [{"round": r, "works": works.get(r.id, 0), "reviewers": reviewers.get(r.id, 0)} for r in rows]


def round_of_admin(s, round_id: str, tenant: str) -> Round:
    rnd = s.get(Round, round_id)
    if rnd is None or rnd.tenant != tenant:
        raise NotFound("没有这个评审轮次（或不属于本单位）。", code="round_not_found", found=round_id)
    return rnd


def entries_of(s, rnd: Round) -> list[Entry]:
    return s.scalars(select(Entry).where(Entry.round_id == rnd.id, Entry.state == "submitted")
                     .order_by(Entry.submitted_at, Entry.submission_id)).all()


def reviewers_of(s, rnd: Round, active_only: bool = False) -> list[Reviewer]:
    q = select(Reviewer).where(Reviewer.round_id == rnd.id)
    if active_only:
        q = q.where(Reviewer.active)
    return s.scalars(q.order_by(Reviewer.created_at, Reviewer.email)).all()


def _open(rnd: Round) -> None:
    if rnd.state != "open":
        raise ConflictError("本轮评审已结束评分，不能再修改专家、分配或评分。如需修改，请先重新开放评分。",
                            code="round_closed", found=rnd.state)


def set_round_settings(s, rnd: Round, reviewers_per_work: str, scoring_deadline: str | None) -> None:
    _open(rnd)
    k = rounds.check_reviewers_per_work(reviewers_per_work)
    if scoring_deadline is not None:
        today = clock.now().astimezone(BEIJING).date()
        deadline = rounds.parse_scoring_deadline(scoring_deadline, today)
        if deadline != rnd.scoring_deadline:
            rnd.scoring_deadline, rnd.reminders_sent = deadline, []
    rnd.reviewers_per_work = k


def send_due_reminders(s, outbox, base_url: str) -> int:
    """Remind reviewers with open work 3 and 1 days before each open round's scoring deadline."""
    sent = 0
    now = clock.now()
    for rnd in s.scalars(select(Round).where(Round.state == "open", Round.scoring_deadline.is_not(None))):
        key = rounds.reminder_due(rnd.scoring_deadline, now, rnd.reminders_sent or [])
        if key is None:
            continue
        sent += issue_sign_in_links(s, outbox, rnd, base_url, reminder=True)
        rnd.reminders_sent = [*(rnd.reminders_sent or []), key]
    return sent


def _resolve_reviewer(s, rnd: Round, row: ReviewerRow) -> tuple[str | None, str | None]:
    """The reviewer's university slug and org id from what the office typed (names or slugs)."""
    university = None
    if row.university:
        t = s.scalar(select(TenantCopy).where((TenantCopy.tenant == row.university)
                                              | (TenantCopy.name == row.university)))
        university = t.tenant if t else row.university
    elif rnd.tenant != "ministry":
        university = rnd.tenant  # a university's own experts
    org_id = None
    if row.org and university:
        org = s.scalar(select(OrgCopy).where(OrgCopy.tenant == university,
                                             (OrgCopy.name == row.org) | (OrgCopy.short_name == row.org)))
        if org is None and rnd.level != "ministry":
            raise InvalidInput(f"第{row.row}行：所在单位“{row.org}”不在本校组织名单中。请填写组织名单中的全称，或留空。"
                               if row.row else f"所在单位“{row.org}”不在本校组织名单中。请填写组织名单中的全称，或留空。",
                               code="unknown_org", field="org", found=row.org)
        org_id = org.org_id if org else None
    return university, org_id


def add_reviewers(s, rnd: Round, rows: list[ReviewerRow]) -> dict:
    """Add or update reviewers by e-mail; all rows or none (the caller's transaction)."""
    _open(rnd)
    existing = {r.email: r for r in reviewers_of(s, rnd)}
    added = updated = 0
    for row in rows:
        university, org_id = _resolve_reviewer(s, rnd, row)
        r = existing.get(row.email)
        if r is None:
            r = Reviewer(id=new_id(), round_id=rnd.id, email=row.email, created_at=clock.now())
            s.add(r)
            existing[row.email] = r
            added += 1
        else:
            updated += 1
        r.name, r.university, r.org_id, r.expertise, r.active = row.name, university, org_id, list(row.expertise), True
    return {"added": added, "updated": updated}


def _pool(s, rnd: Round):
    entries = entries_of(s, rnd)
    orgs = {o.org_id: o for o in s.scalars(select(OrgCopy).where(
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
                 for r in reviewers_of(s, rnd, active_only=True)]
    declared = frozenset(s.execute(select(Conflict.reviewer_id, Conflict.submission_id).join(
        Reviewer, Reviewer.id == Conflict.reviewer_id).where(Reviewer.round_id == rnd.id)).all())
    return entries, works, reviewers, declared


def run_assignment(s, rnd: Round) -> dict:
    """Give every work k reviewers; what is already assigned stays (scores are never thrown away)."""
    _open(rnd)
    entries, works, reviewers, declared = _pool(s, rnd)
    if not works:
        raise ConflictError("本轮还没有作品进入评审，暂时无需分配。", code="nothing_to_assign")
    current = s.scalars(select(Assignment).where(Assignment.round_id == rnd.id)).all()
    keep = [(a.submission_id, a.reviewer_id) for a in current if a.state == "assigned"]
    refused = {(a.reviewer_id, a.submission_id) for a in current if a.state != "assigned"}
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
        rows.append({"id": new_id(), "round_id": rnd.id, "reviewer_id": reviewer_id, "submission_id": work_id,
                     "state": "assigned", "manual": False, "position": positions[reviewer_id], "created_at": now})
    if rows:  # one multi-row insert: a national round writes 30,000 of them
        s.execute(insert(Assignment), rows)
    loads = plan.loads.values()
    added = len(rows)
    return {"added": added, "total": len(plan.pairs), "spread": (max(loads) - min(loads)) if loads else 0}


def assign_manually(s, rnd: Round, reviewer_id: str, submission_id: str) -> None:
    _open(rnd)
    reviewer = s.get(Reviewer, reviewer_id)
    entry = s.get(Entry, submission_id)
    if reviewer is None or reviewer.round_id != rnd.id or entry is None or entry.round_id != rnd.id:
        raise NotFound("专家或作品不在本轮评审中。", code="not_in_round")
    _, works, reviewers, declared = _pool(s, rnd)
    work = next(w for w in works if w.work_id == submission_id)
    who = next((r for r in reviewers if r.reviewer_id == reviewer_id), None)
    if who is None:
        raise ConflictError("该专家已停用。", code="reviewer_inactive")
    reason = assigning.conflicted(rnd.level, who, work, declared)
    if reason:
        raise ConflictError(f"不能把这件作品分给{reviewer.name}：{reason}。", code="conflict_of_interest", found=reason)
    a = s.scalar(select(Assignment).where(Assignment.reviewer_id == reviewer_id,
                                          Assignment.submission_id == submission_id))
    if a is None:
        pos = s.scalar(select(func.coalesce(func.max(Assignment.position), 0)).where(
            Assignment.reviewer_id == reviewer_id)) + 1
        s.add(Assignment(id=new_id(), round_id=rnd.id, reviewer_id=reviewer_id, submission_id=submission_id,
                         state="assigned", manual=True, position=pos, created_at=clock.now()))
    else:
        a.state, a.manual = "assigned", True


def remove_assignment(s, rnd: Round, assignment_id: str) -> None:
    _open(rnd)
    a = s.get(Assignment, assignment_id)
    if a is None or a.round_id != rnd.id:
        raise NotFound("没有这项分配。", code="assignment_not_found")
    score = s.get(Score, a.id)
    if score is not None and score.state == "submitted":
        raise ConflictError("该专家已提交评分，不能撤销分配（评分会丢失）。", code="already_scored")
    if score is not None:
        s.delete(score)
        s.flush()
    for log in s.scalars(select(ScoreLog).where(ScoreLog.assignment_id == a.id)):
        s.delete(log)
    s.delete(a)


def remove_reviewer(s, rnd: Round, reviewer_id: str) -> dict:
    """Take a reviewer out of a round's pool: their sessions end now, their unsubmitted works go to colleagues.

    Submitted scores stay (they were given in good standing); drafts go with the work. The reviewer
    stays listed as inactive, so adding them again (same e-mail) brings them back.
    """
    _open(rnd)
    reviewer = s.get(Reviewer, reviewer_id)
    if reviewer is None or reviewer.round_id != rnd.id:
        raise NotFound("本轮评审中没有这位专家。", code="reviewer_not_found")
    reviewer.active = False
    end_sessions(s, WebSession, reviewer.id)  # a link already redeemed no longer opens their queue
    s.flush()
    handed_on = short = 0
    for a in s.scalars(select(Assignment).where(Assignment.reviewer_id == reviewer.id,
                                                 Assignment.state == "assigned")).all():
        score = s.get(Score, a.id)
        if score is None or score.state != "submitted":
            if decline(s, a, "管理员已将该专家移出本轮", conflict=False, by="admin") is None:
                short += 1  # no eligible colleague: the round page lists the work as short of reviewers
            else:
                handed_on += 1
    return {"handed_on": handed_on, "short": short}


def decline(s, a: Assignment, reason: str, conflict: bool, by: str = "reviewer") -> str | None:
    """A reviewer declines a work; it goes to the least-loaded eligible colleague. Returns their name."""
    rnd = s.get(Round, a.round_id)
    _open(rnd)
    if a.state != "assigned":
        return None
    score = s.get(Score, a.id)
    if score is not None and score.state == "submitted":
        raise ConflictError("已提交评分的作品不能再放弃。如有回避情形，请联系本轮评审的管理员。", code="already_scored")
    a.state, a.declined_reason = "declined", (reason or "").strip()[:500] or "未说明"
    if conflict:
        s.merge(Conflict(reviewer_id=a.reviewer_id, submission_id=a.submission_id, reason=a.declined_reason,
                         declared_by=by, declared_at=clock.now()))
    s.flush()
    _, works, reviewers, declared = _pool(s, rnd)
    current = s.scalars(select(Assignment).where(Assignment.round_id == rnd.id)).all()
    plan = assigning.AssignmentPlan(
        pairs=sorted((x.submission_id, x.reviewer_id) for x in current if x.state == "assigned"),
        loads=Counter({r.reviewer_id: 0 for r in reviewers}) + Counter(x.reviewer_id for x in current
                                                                       if x.state == "assigned"))
    for r in reviewers:
        plan.loads.setdefault(r.reviewer_id, 0)
    refused = [(x.reviewer_id, x.submission_id) for x in current if x.state != "assigned"]
    try:
        _, new_reviewer = assigning.reassign(plan, a.submission_id, a.reviewer_id, works, reviewers,
                                             level=rnd.level, declared=declared, refused=refused)
    except assigning.AssignmentImpossible:
        return None  # the admin sees the work short of reviewers on the round page
    pos = s.scalar(select(func.coalesce(func.max(Assignment.position), 0)).where(
        Assignment.reviewer_id == new_reviewer)) + 1
    s.add(Assignment(id=new_id(), round_id=rnd.id, reviewer_id=new_reviewer, submission_id=a.submission_id,
                     state="assigned", manual=False, position=pos, created_at=clock.now()))
    return s.get(Reviewer, new_reviewer).name


WORKS_PER_PAGE = 100


def round_overview(s, rnd: Round, page: int = 1) -> dict:
    """Progress per reviewer and works short of reviewers, for the admin's round page."""
    rows = s.execute(select(Assignment.reviewer_id, Assignment.state, Score.state, func.count())
                     .outerjoin(Score, Score.assignment_id == Assignment.id)
                     .where(Assignment.round_id == rnd.id)
                     .group_by(Assignment.reviewer_id, Assignment.state, Score.state)).all()
    per: dict[str, Counter] = defaultdict(Counter)
    for reviewer_id, a_state, s_state, n in rows:
        if a_state == "assigned":
            per[reviewer_id]["assigned"] += n
            per[reviewer_id][s_state or "open"] += n
        else:
            per[reviewer_id]["declined"] += n
    reviewers = [{"reviewer": r, **{k: per[r.id][k] for k in ("assigned", "submitted", "draft", "open", "declined")}}
                 for r in reviewers_of(s, rnd)]
    counts = dict(s.execute(select(Assignment.submission_id, func.count()).where(
        Assignment.round_id == rnd.id, Assignment.state == "assigned").group_by(Assignment.submission_id)).all())
    entries = entries_of(s, rnd)
    short = [e for e in entries if counts.get(e.submission_id, 0) < rnd.reviewers_per_work]
    total_assigned = sum(r["assigned"] for r in reviewers)
    done = sum(r["submitted"] for r in reviewers)
    pages = max(1, -(-len(entries) // WORKS_PER_PAGE))
    page = min(max(1, page), pages)
    shown = entries[(page - 1) * WORKS_PER_PAGE: page * WORKS_PER_PAGE]
    names = {r["reviewer"].id: r["reviewer"].name for r in reviewers}
    on_work: dict[str, list] = defaultdict(list)
    for aid, sid, rid, score_state in s.execute(
            select(Assignment.id, Assignment.submission_id, Assignment.reviewer_id, Score.state)
            .outerjoin(Score, Score.assignment_id == Assignment.id)
            .where(Assignment.round_id == rnd.id, Assignment.state == "assigned",
                   Assignment.submission_id.in_([e.submission_id for e in shown] or [""]))):
        on_work[sid].append({"id": aid, "name": names.get(rid, rid), "state": score_state or "open"})
    return {"reviewers": reviewers, "entries": entries, "short": short, "assigned": total_assigned,
            "submitted": done, "track": _track(s, rnd.campaign_id, rnd.track), "shown": shown,
            "on_work": on_work, "page": page, "pages": pages, "matches": matches_for(s, shown, rnd)}


def issue_sign_in_links(s, outbox, rnd: Round, base_url: str, reminder: bool = False) -> int:
    """A fresh single-use link for each active reviewer with work; notify e-mails it."""
    overview = round_overview(s, rnd)
    sent = 0
    now = clock.now()
    for row in overview["reviewers"]:
        r = row["reviewer"]
        if not r.active or row["assigned"] == 0 or (reminder and row["assigned"] == row["submitted"]):
            continue
        token = secrets.token_urlsafe(32)
        expires = now + SIGN_IN_LINK_TTL
        s.add(SignInLink(token_hash=hashlib.sha256(token.encode()).hexdigest(), reviewer_id=r.id,
                         expires_at=expires, created_at=now))
        outbox.add(s, "reviewer_invited", rnd.tenant, {
            "reviewer_id": r.id, "round_id": rnd.id, "name": r.name, "email": r.email, "round_title": rnd.title,
            "sign_in_url": f"{base_url.rstrip('/')}/sign-in/{token}", "link_expires_at": expires.isoformat(),
            "assigned": row["assigned"], "open": row["assigned"] - row["submitted"], "reminder": reminder,
            **({"deadline": rnd.scoring_deadline.isoformat()} if rnd.scoring_deadline else {})})
        sent += 1
    return sent


def redeem_link(s, token: str) -> Reviewer:
    row = s.get(SignInLink, hashlib.sha256(token.encode()).hexdigest(), with_for_update=True)
    now = clock.now()
    if row is None or row.used_at is not None or row.expires_at < now:
        raise DomainError("登录链接无效、已使用或已过期（每个链接只能用一次，14 天内有效）。"
                          "请联系本轮评审的管理员重新发送登录邮件。", code="sign_in_link_invalid", status=401)
    row.used_at = now
    reviewer = s.get(Reviewer, row.reviewer_id)
    if not reviewer.active:
        raise Forbidden("您已不在本轮评审专家名单中。", code="reviewer_inactive")
    return reviewer


def close_round(s, rnd: Round) -> None:
    _open(rnd)
    rnd.state, rnd.closed_at = "closed", clock.now()


def reopen_round(s, rnd: Round) -> None:
    if rnd.state != "closed":
        raise ConflictError("只有已结束评分、尚未确认入选的轮次可以重新开放。", code="round_not_closed", found=rnd.state)
    rnd.state, rnd.closed_at = "open", None


# --------------------------------------------------------------------------- reviewers' side


def reviewer_assignment(s, reviewer_id: str, assignment_id: str) -> Assignment:
    """An assignment of this reviewer; anything else is 404, as if it did not exist."""
    a = s.get(Assignment, assignment_id)
    if a is None or a.reviewer_id != reviewer_id or a.state != "assigned":
        raise NotFound("没有这件作品（或它不在您的评审任务中）。", code="assignment_not_found")
    return a


def queue(s, reviewer_id: str) -> list[dict]:
    rows = s.execute(select(Assignment, Entry.title, Entry.tenant, Entry.track, Score.state, Score.total)
                     .join(Entry, Entry.submission_id == Assignment.submission_id)
                     .outerjoin(Score, Score.assignment_id == Assignment.id)
                     .where(Assignment.reviewer_id == reviewer_id, Assignment.state == "assigned")
                     .order_by(Assignment.position, Assignment.id)).all()
    names = {}
    out = []
    for n, (a, title, tenant, track, state, total) in enumerate(rows, start=1):
        if tenant not in names:
            names[tenant] = masked_names(s, tenant)
        out.append({"n": n, "assignment_id": a.id, "title": blind.mask(title, names[tenant]),
                    "state": state or "open", "total": total})
    return out


def masked_names(s, tenant: str) -> frozenset[str]:
    orgs = s.execute(select(OrgCopy.name, OrgCopy.short_name).where(OrgCopy.tenant == tenant)).all()
    t = s.get(TenantCopy, tenant)
    return frozenset(blind.name_variants([n for pair in orgs for n in pair] + [t.name if t else None]))


def work_view(s, a: Assignment, links) -> dict:
    """Everything a reviewer sees of one work, blind."""
    entry = s.get(Entry, a.submission_id)
    rnd = s.get(Round, a.round_id)
    track = _reviewer_track(s, rnd, entry)
    names = masked_names(s, entry.tenant)
    fields = blind.reviewer_fields(entry.fields or {}, track.get("fields") or
                                   [{"key": k, "label": k} for k in ("title", "text")], names)
    text_keys = {spec["key"] for spec in track.get("fields", []) if spec.get("type") == "text"}
    files, counters = [], Counter()
    for f in s.scalars(select(FileCopy).where(FileCopy.file_id.in_(entry.file_ids or [""]))
                       .order_by(FileCopy.kind, FileCopy.file_id)).all():
        counters[f.kind] += 1
        files.append(_reviewer_file(f, counters[f.kind], links))
    score = s.get(Score, a.id)
    position = s.scalar(select(func.count()).select_from(Assignment).where(
        Assignment.reviewer_id == a.reviewer_id, Assignment.state == "assigned", Assignment.position <= a.position))
    following = s.scalar(select(Assignment.id).outerjoin(Score, Score.assignment_id == Assignment.id).where(
        Assignment.reviewer_id == a.reviewer_id, Assignment.state == "assigned", Assignment.id != a.id,
        (Score.state.is_(None)) | (Score.state != "submitted")).order_by(Assignment.position).limit(1))
    return {
        "assignment": a, "round": rnd, "track": track, "position": position,
        "title": blind.mask(entry.title, names),
        "fields": [(key, label, text, count_chars(text) if key in text_keys else None) for key, label, text in fields],
        "files": files, "rubric": track.get("rubric", []), "score": score, "next_id": following,
        "matches": matches_for_reviewer(s, entry),
    }


# The copy media made for reviewers, per kind: never the original, which may name its author in its
# metadata (tags, document properties, comments, subtitle headers) and was typed by the uploader.
REVIEWER_COPY = {"video": "playback", "image": "review_copy", "audio": "review_copy", "document": "review_copy",
                 "subtitle": "review_copy"}
# Checks made before media recorded derived_types: their picture copies and video frames were already
# clean (EXIF-free JPEG/PNG; the playback remux never copied tags), so their type follows from what they are.
_LEGACY_TYPES = {("video", "playback"): "video/mp4", ("video", "poster"): "image/jpeg",
                 ("video", "contact_sheet"): "image/jpeg", ("image", "review_copy"): None}
NO_CLEAN_COPY = "未能生成去除作者信息的评审副本。为保证盲评，此文件不提供给评审专家；请参考文件检查结果和作品其他内容评分。"


def _derived_type(f: FileCopy, name: str) -> str | None:
    """The type media determined for one of its copies of `f`, or None when it vouched for none."""
    key = (f.derived or {}).get(name)
    if not key:
        return None
    types = (f.facts or {}).get("derived_types")
    if types is not None:
        return types.get(name)
    if (f.kind, name) not in _LEGACY_TYPES:
        return None
    return _LEGACY_TYPES[(f.kind, name)] or ("image/png" if key.endswith(".png") else "image/jpeg")


def _reviewer_file(f: FileCopy, index: int, links) -> dict:
    """A file as a reviewer gets it: media's clean copy under a neutral name and the type media determined."""
    item = {"kind": f.kind, "findings": f.findings or [], "verdict": f.verdict, "facts": f.facts or {}}
    name = REVIEWER_COPY.get(f.kind, "review_copy")
    ctype = _derived_type(f, name)
    item["name"] = filetypes.with_extension(blind.neutral_file_name(f.kind, index, ctype or ""), ctype)
    item["url"] = links.url(f.derived[name], item["name"], ctype) if ctype else None
    if item["url"] is None:
        item["unavailable"] = NO_CLEAN_COPY
    for extra in ("poster", "contact_sheet"):
        extra_type = _derived_type(f, extra) if f.kind == "video" else None
        if extra_type:
            item[extra] = links.url(f.derived[extra], f"{extra}.jpg", extra_type)
    return item


def save_score(s, a: Assignment, form: dict, submit: bool) -> Score:
    rnd = s.get(Round, a.round_id)
    if rnd.state != "open":
        raise ConflictError("本轮评审已结束评分，分数不能再修改。", code="round_closed")
    entry = s.get(Entry, a.submission_id)
    rubric = _track(s, entry.campaign_id, entry.track).get("rubric", [])
    raw = {c["key"]: form.get(f"mark_{c['key']}", "") for c in rubric}
    score = s.get(Score, a.id)
    if score is None:
        score = Score(assignment_id=a.id, marks={}, comment="", state="draft")
        s.add(score)
    complete = submit or score.state == "submitted"  # a submitted score stays complete when changed
    try:
        marks = rubrics.check_marks(rubric, raw, complete=complete)
    except rubrics.InvalidMarks as exc:
        raise InvalidInput(str(exc), code="invalid_marks", field=getattr(exc, "field", None)) from None
    comment = (form.get("comment") or "").strip()
    if len(comment) > 2000:
        raise InvalidInput(f"评语最多 2000 字，当前 {len(comment)} 字。请精简后再保存。", code="comment_too_long",
                           expected=2000, found=len(comment))
    total = rubrics.weighted_total(rubric, marks) if complete and rubric else None
    action = "change" if score.state == "submitted" else ("submit" if submit else "draft")
    now = clock.now()
    score.marks, score.comment, score.total, score.updated_at = marks, comment, total, now
    if submit and score.state != "submitted":
        score.state, score.submitted_at = "submitted", now
    s.add(ScoreLog(assignment_id=a.id, action=action, marks=marks, total=total, comment=comment, at=now))
    return score


def declare_conflict(s, rnd: Round, reviewer_id: str, submission_id: str, reason: str, by: str) -> None:
    """The reviewer must never get the work; if they have it and have not scored it, it is reassigned."""
    _open(rnd)
    reviewer, entry = s.get(Reviewer, reviewer_id), s.get(Entry, submission_id)
    if reviewer is None or reviewer.round_id != rnd.id or entry is None or entry.round_id != rnd.id:
        raise NotFound("专家或作品不在本轮评审中。", code="not_in_round")
    a = s.scalar(select(Assignment).where(Assignment.reviewer_id == reviewer_id,
                                          Assignment.submission_id == submission_id))
    if a is not None and a.state == "assigned":
        decline(s, a, reason or "登记回避", conflict=True, by=by)
        return
    s.merge(Conflict(reviewer_id=reviewer_id, submission_id=submission_id, reason=(reason or "登记回避")[:500],
                     declared_by=by, declared_at=clock.now()))


# --------------------------------------------------------------------------- ranking and selection


def ranking_of(s, rnd: Round) -> dict:
    entries = {e.submission_id: e for e in entries_of(s, rnd)}
    rows = s.execute(select(Assignment.submission_id, Assignment.reviewer_id, Score.total)
                     .join(Score, Score.assignment_id == Assignment.id)
                     .where(Assignment.round_id == rnd.id, Assignment.state == "assigned",
                            Score.state == "submitted")).all()
    scores = [ranking.Score(w, r, t) for w, r, t in rows if w in entries and t is not None]
    ranked = ranking.rank(scores) if scores else []
    biases = ranking.reviewer_biases(scores) if scores else []
    scored = {r.work_id for r in ranked}
    unscored = [e for sid, e in entries.items() if sid not in scored]
    track = _track(s, rnd.campaign_id, rnd.track)
    key = rounds.RoundKey(rnd.tenant, rnd.campaign_id, rnd.track, rnd.level, rnd.owner_org_id)
    earlier = [b.id for b in _batches(s, key) if b.batch < rnd.batch]
    forwarded_before = s.scalar(select(func.count()).select_from(SelectionRow).where(
        SelectionRow.round_id.in_(earlier), SelectionRow.selected)) if earlier else 0
    limit = rounds.remaining_limit(rounds.selection_limit(track, rnd.level), forwarded_before)
    chosen = {row.submission_id for row in s.scalars(select(SelectionRow).where(
        SelectionRow.round_id == rnd.id, SelectionRow.selected))}
    return {"ranked": [(r, entries[r.work_id]) for r in ranked], "unscored": unscored, "limit": limit,
            "biases": biases, "track": track, "chosen": chosen, "up": parent_level(rnd.level)}


def confirm_selection(s, outbox, rnd: Round, selected: list[str]) -> None:
    if rnd.state == "selected":
        raise ConflictError("本轮的入选名单已经确认并报送，不能再改。", code="already_selected")
    if rnd.state != "closed":
        raise ConflictError("请先结束评分（分数定稿）再确认入选名单。", code="round_still_open", found=rnd.state)
    board = ranking_of(s, rnd)
    in_round = {e.submission_id for _, e in board["ranked"]} | {e.submission_id for e in board["unscored"]}
    rounds.check_selection(selected, in_round, board["limit"], rnd.level)
    chosen = set(selected)
    results = []
    for r, e in board["ranked"]:
        s.add(SelectionRow(round_id=rnd.id, submission_id=e.submission_id, rank=r.rank, normalised=r.normalised,
                           raw_mean=r.raw_mean, selected=e.submission_id in chosen))
        results.append({"submission_id": e.submission_id, "tenant": e.tenant, "rank": r.rank,
                        "selected": e.submission_id in chosen, "normalised": r.normalised, "title": e.title})
    for n, e in enumerate(board["unscored"], start=len(results) + 1):
        s.add(SelectionRow(round_id=rnd.id, submission_id=e.submission_id, rank=n, normalised=None,
                           raw_mean=None, selected=e.submission_id in chosen))
        results.append({"submission_id": e.submission_id, "tenant": e.tenant, "rank": n,
                        "selected": e.submission_id in chosen, "normalised": None, "title": e.title})
    rnd.state, rnd.selected_at = "selected", clock.now()
    outbox.add(s, "selection_made", rnd.tenant, {
        "round_id": rnd.id, "campaign_id": rnd.campaign_id, "track": rnd.track, "level": rnd.level,
        "to_level": parent_level(rnd.level), "owner_org_id": rnd.owner_org_id or None,
        "selected": [sid for sid in selected], "not_selected": sorted(in_round - chosen), "results": results})


def score_sheet(s, rnd: Round) -> list[tuple]:
    """Every score of the round, for the admin's export (reviewers never see each other's)."""
    from services.review.models import Reviewer as R

    labels = {"draft": "草稿", "submitted": "已提交"}
    rows = s.execute(select(Entry.title, R.name, Score.state, Score.total, Score.comment)
                     .select_from(Assignment)
                     .join(Entry, Entry.submission_id == Assignment.submission_id)
                     .join(R, R.id == Assignment.reviewer_id)
                     .join(Score, Score.assignment_id == Assignment.id)
                     .where(Assignment.round_id == rnd.id)
                     .order_by(Entry.title, R.name)).all()
    return [(t, n, labels.get(st, st), total, c) for t, n, st, total, c in rows]


# --------------------------------------------------------------------------- near-duplicate texts (issue #6)

work_text = work_prose  # the text compared for near-duplicates


def index_text(s, submission_id: str, tenant: str, fp) -> list[TextMatch]:
    """Keep a work's fingerprint and record which earlier works (of any university) it nearly copies."""
    from services.review.models import TextBand, TextPrint

    if fp is None or not fp.features:
        return []
    if s.get(TextPrint, submission_id) is not None:
        return []  # indexed already (a redelivery, or a later stage): the first text stands
    bands = [(b, format(int(k), "016x")) for b, k in enumerate(neardup.band_keys(fp.signature))]
    candidates: set[str] = set()
    for band, key in bands:
        candidates.update(s.scalars(select(TextBand.submission_id).where(TextBand.band == band, TextBand.key == key)
                                    .limit(neardup.MAX_BUCKET)))
    s.add(TextPrint(submission_id=submission_id, tenant=tenant, features=sorted(fp.features)))
    s.execute(insert(TextBand), [{"band": b, "key": k, "submission_id": submission_id} for b, k in bands])
    found = []
    mine = frozenset(fp.features)
    for other in s.scalars(select(TextPrint).where(TextPrint.submission_id.in_(candidates - {submission_id}))):
        sim = neardup.jaccard(mine, frozenset(other.features))
        if sim >= neardup.THRESHOLD:
            a, b = sorted((submission_id, other.submission_id))
            match = TextMatch(a=a, b=b, similarity=round(sim, 3), found_at=clock.now())
            s.merge(match)
            found.append(match)
    return found


def matches_for(s, entries: list[Entry], viewer_round: Round) -> dict[str, list[dict]]:
    """Near-duplicates of these works as their round's admin may see them.

    The other work is named only when it sits in a round of the same owner; otherwise it is
    "another university's work" (or "another work"), never its title or org.
    """
    ids = [e.submission_id for e in entries]
    if not ids:
        return {}
    rows = s.scalars(select(TextMatch).where(TextMatch.a.in_(ids) | TextMatch.b.in_(ids))).all()
    out: dict[str, list[dict]] = defaultdict(list)
    for m in rows:
        for mine, theirs in ((m.a, m.b), (m.b, m.a)):
            if mine not in ids:
                continue
            me, other = s.get(Entry, mine), s.get(Entry, theirs)
            if other is None:
                continue
            other_round = s.get(Round, other.round_id) if other.round_id else None
            visible = other_round is not None and other_round.tenant == viewer_round.tenant
            passage, _ = neardup.overlapping_passage(work_text(me.fields or {}), work_text(other.fields or {}))
            out[mine].append({
                "similarity": m.similarity, "passage": passage,
                "other": (f"《{other.title}》（{other.org_name or ''}）" if visible else
                          ("本校另一件作品" if other.tenant == me.tenant else "另一所高校的一件作品"))})
    return out


def matches_for_reviewer(s, entry: Entry) -> list[dict]:
    """What a reviewer is told: that a passage of this work also appears elsewhere; nothing about where."""
    rows = s.scalars(select(TextMatch).where((TextMatch.a == entry.submission_id)
                                             | (TextMatch.b == entry.submission_id))).all()
    names = masked_names(s, entry.tenant)
    out = []
    for m in rows:
        other = s.get(Entry, m.b if m.a == entry.submission_id else m.a)
        if other is None:
            continue
        passage, _ = neardup.overlapping_passage(work_text(entry.fields or {}), work_text(other.fields or {}))
        out.append({"similarity": m.similarity, "passage": blind.mask(passage, names)})
    return out
