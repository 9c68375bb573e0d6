"""Review's copy of each work (its entry) and its files, from intake's and media's events, and its place in a round.

Events about one work may arrive in any order and at once: each handler takes the work's lock
first, and each keeps what a later event must not undo (a withdrawal, a reopening).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select

from common import clock
from common.db import serialize_on
from services.review.domain import decisions, rounds
from services.review.domain.lifecycles import ASSIGNMENT, ENTRY, AssignmentState, EntryState, RoundState, ScoreState
from services.review.models import Assignment, Entry, FileCopy, Round, Score, TenantCopy
from services.review.operations.copies import known_track
from services.review.operations.rounds import enter_round
from services.review.operations.texts import index_text


def _one_event_per_work_at_a_time(session, submission_id: str) -> None:
    # A work's check and its submission may be handled at once (two replicas, or two workers):
    # each would miss the other's uncommitted row and neither would put the work in its round.
    serialize_on(session, "review.work", submission_id)


def record_file(session, data: dict) -> None:
    _one_event_per_work_at_a_time(session, data["submission_id"])
    row = session.get(FileCopy, data["file_id"])
    if row is None:
        row = FileCopy(file_id=data["file_id"])
        session.add(row)
    row.submission_id, row.kind, row.object_key = data["submission_id"], data["kind"], data["object_key"]
    row.content_type, row.size = data["content_type"], data["size"]


def record_file_check(session, data: dict) -> bool:
    """Keep the newest check. False when the upload is not known yet: the caller retries later."""
    _one_event_per_work_at_a_time(session, data["submission_id"])
    row = session.get(FileCopy, data["file_id"])
    if row is None:
        return False
    checked_at = datetime.fromisoformat(data["checked_at"])
    if row.checked_at is None or checked_at > row.checked_at:
        row.verdict, row.findings, row.facts = data["verdict"], data["findings"], data["facts"]
        row.derived, row.checked_at = data.get("derived") or {}, checked_at
    entry = session.get(Entry, data["submission_id"])
    if entry is not None:
        place(session, entry)
    return True


def record_submission(session, tenant: str, d: dict, fp=None) -> None:
    _one_event_per_work_at_a_time(session, d["submission_id"])
    entry = session.get(Entry, d["submission_id"])
    if entry is None:
        entry = Entry(submission_id=d["submission_id"], tenant=tenant)
        session.add(entry)
    elif entry.state == EntryState.WITHDRAWN:
        return  # a withdrawal that overtook its submission wins: the work is out
    elif entry.state == EntryState.REOPENED and datetime.fromisoformat(d["submitted_at"]) < entry.submitted_at:
        return  # a submission from before the work was reopened, delivered late
    entry.campaign_id, entry.track, entry.stage = d["campaign_id"], d["track"], d["stage"]
    entry.final_stage, entry.title, entry.org_id = d["final_stage"], d["title"], d["org_id"]
    entry.org_name, entry.org_level, entry.parent_org_id = d["org_name"], d["org_level"], d.get("parent_org_id")
    entry.fields, entry.file_ids = d.get("fields") or {"title": d["title"]}, d["file_ids"]
    ENTRY.move(entry, EntryState.SUBMITTED)
    entry.submitted_at, entry.updated_at = datetime.fromisoformat(d["submitted_at"]), clock.now()
    place(session, entry)
    index_text(session, entry.submission_id, tenant, fp)


def _open_assignments(session, entry: Entry) -> Iterable[Assignment]:
    """The work's open assignments in its current round, the one a withdrawal or reopening takes it out of.

    Never those of a confirmed round: its scores are the record its ranking was confirmed from (the work keeps its
    place there, operations/rounds.entries_of), whether the work went up from it or stayed.
    """
    rnd = session.get(Round, entry.round_id) if entry.round_id is not None else None
    if rnd is None or rnd.state == RoundState.SELECTED:
        return []
    return session.scalars(select(Assignment).where(Assignment.submission_id == entry.submission_id,
                                                    Assignment.round_id == rnd.id,
                                                    Assignment.state == AssignmentState.ASSIGNED))


def record_withdrawal(session, tenant: str, d: dict) -> None:
    _one_event_per_work_at_a_time(session, d["submission_id"])
    entry = session.get(Entry, d["submission_id"])
    if entry is None:
        # Out of order: remember the withdrawal, so the late submission event does not bring it back.
        entry = Entry(submission_id=d["submission_id"], tenant=tenant, campaign_id=d["campaign_id"], track=d["track"],
                      stage="", title="", org_id=d["org_id"], fields={}, file_ids=[])
        session.add(entry)
    ENTRY.move(entry, EntryState.WITHDRAWN)
    entry.updated_at = clock.now()
    # Its open assignments go: nobody should score a work that left the competition.
    for a in _open_assignments(session, entry):
        score = session.get(Score, a.id)
        if score is None or score.state == ScoreState.DRAFT:
            ASSIGNMENT.move(a, AssignmentState.WITHDRAWN)
            a.declined_reason = "作品已撤回"


def record_reopening(session, tenant: str, d: dict) -> None:
    """A file of a submitted stage changed in intake: the work leaves its round until it is submitted again.

    Its open assignments end, scored or not: the scores were for files the work no longer has. The moment of
    the reopening is kept as `submitted_at`, so a submission older than it (a late redelivery) is ignored.
    """
    _one_event_per_work_at_a_time(session, d["submission_id"])
    entry = session.get(Entry, d["submission_id"])
    reopened_at = datetime.fromisoformat(d["reopened_at"])
    if entry is None:  # out of order: remember it, so the older submission does not put the work in a round
        entry = Entry(submission_id=d["submission_id"], tenant=tenant, campaign_id=d["campaign_id"], track=d["track"],
                      title=d["title"], org_id=d["org_id"], fields={}, file_ids=[])
        session.add(entry)
    elif entry.state == EntryState.WITHDRAWN or (entry.submitted_at is not None and entry.submitted_at > reopened_at):
        return  # withdrawn for good, or already submitted again
    ENTRY.move(entry, EntryState.REOPENED)
    entry.stage, entry.final_stage = d["stage"] or "", False
    for a in _open_assignments(session, entry):  # of the round it leaves
        ASSIGNMENT.move(a, AssignmentState.WITHDRAWN)
        a.declined_reason = "作品已退回修改，须重新提交"
    entry.round_id, entry.level, entry.submitted_at, entry.updated_at = None, None, reopened_at, clock.now()


def record_forwarded(session, tenant: str, d: dict) -> None:
    _one_event_per_work_at_a_time(session, d["submission_id"])
    entry = session.get(Entry, d["submission_id"])
    if entry is None:
        entry = Entry(submission_id=d["submission_id"], tenant=tenant, stage="", final_stage=True)
        session.add(entry)
    entry.campaign_id, entry.track, entry.title = d["campaign_id"], d["track"], d["title"]
    entry.org_id, entry.org_name, entry.org_level = d["org_id"], d["org_name"], d["org_level"]
    entry.fields, entry.updated_at = d["fields"], clock.now()
    ENTRY.move(entry, EntryState.SUBMITTED)
    entry.file_ids = [f["file_id"] for f in d["files"]]
    for f in d["files"]:  # the ministry may not have seen the upload events of this university's files
        if session.get(FileCopy, f["file_id"]) is None:
            session.add(FileCopy(file_id=f["file_id"], submission_id=d["submission_id"], kind=f["kind"],
                                 object_key=f["object_key"], content_type=f["content_type"], size=f["size"],
                                 verdict=f.get("verdict")))
    if d.get("tenant_name") and session.get(TenantCopy, tenant) is None:
        # the national round names each work's university (高校): the ministry may never have heard of it otherwise
        session.add(TenantCopy(tenant=tenant, name=d["tenant_name"]))
    key = rounds.round_for_forwarded(tenant, d["campaign_id"], d.get("root_campaign_id"), d["track"], d["to_level"])
    enter_round(session, entry, key, d.get("tenant_name"))


def place(session, entry: Entry) -> None:
    """Put a submitted work into its round once it is complete and its files passed the check.

    A work of a collected track (no rubric, not vetted) never enters one: intake lists it, nobody judges it.
    """
    if entry.state != EntryState.SUBMITTED or entry.round_id is not None or entry.org_level is None:
        return
    if not decisions.enters_review(known_track(session, entry.campaign_id, entry.track)):
        return
    verdicts = [session.get(FileCopy, fid).verdict if session.get(FileCopy, fid) else None for fid in entry.file_ids]
    if not rounds.ready_for_review(entry.final_stage, verdicts):
        return
    key = rounds.round_for_submission(entry.tenant, entry.campaign_id, entry.track, entry.org_level,
                                      entry.parent_org_id)
    enter_round(session, entry, key, None)
