"""Submissions (works): create, edit, submit stage by stage, withdraw, list."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from common import clock
from common.campaign.model import items_of
from common.campaign.recurrence import period_key_of
from common.db import contains_text
from common.errors import Forbidden, NotFound
from common.locale import LEVEL_LABELS, beijing_iso
from services.intake.domain import analysis, submission as rules
from services.intake.domain.lifecycles import SUBMISSION, FileState, SubmissionState
from services.intake.models import Campaign, FileRecord, Org, Receipt, Submission, SubmissionLog, Tenant
from services.intake.operations.audit import record_by, short
from services.intake.operations.campaigns import (
    campaign_filter,
    check_submitting_org,
    definition_of,
    require_audience,
    track_of,
    visible_campaign,
)
from services.intake.operations.extensions import extension_until
from services.intake.operations.files import file_json, files_of
from services.intake.operations.orgs import org_names, org_of_tenant
from services.intake.operations.pages import Sync, paged, synced
from services.intake.operations.submission_log import log
from services.intake.operations.tenants import Caller, require_reach, require_university, within_reach

# analysis.analyse_work, or the service's wrapper that runs it in a tpool thread (jieba is CPU-bound)
Analyser = Callable[..., dict | None]


_NOT_READ = object()


def results_of(session, submission_ids: list[str]) -> dict[str, dict]:
    """Each work's result where a final round decided it (its newest `decided` log row), as a portal shows it."""
    if not submission_ids:
        return {}
    rows = session.scalars(select(SubmissionLog).where(SubmissionLog.submission_id.in_(submission_ids),
                                                       SubmissionLog.action == "decided")
                           .order_by(SubmissionLog.id)).all()
    now = clock.now()
    out = {}
    for row in rows:  # oldest first: the newest decision of a work stands
        detail = row.detail or {}
        out[row.submission_id] = {
            "level": detail.get("level"), "kind": detail.get("kind"), "label": detail.get("label"),
            "category": detail.get("category"), "passed": detail.get("passed", True),
            "reason": detail.get("reason"), "publicity_days": detail.get("publicity_days"),
            "words": rules.decided_words(detail, row.at, now), "decided_at": beijing_iso(row.at)}
    return out


def submission_json(session, sub: Submission, with_files: bool = True, results: Any = _NOT_READ) -> dict:
    if results is _NOT_READ:
        results = results_of(session, [sub.id])
    d = {
        "id": sub.id, "campaign_id": sub.campaign_id, "track": sub.track, "org_id": sub.org_id,
        "state": sub.state, "state_label": SubmissionState(sub.state).label, "stage": sub.stage,
        "complete": sub.complete, "title": sub.title, "fields": sub.fields, "char_counts": sub.char_counts,
        "receipt_no": sub.receipt_no, "created_at": beijing_iso(sub.created_at),
        "updated_at": beijing_iso(sub.updated_at), "submitted_at": beijing_iso(sub.submitted_at),
        "withdrawn_at": beijing_iso(sub.withdrawn_at),
        "forwarded_to": sub.forwarded_to, "forwarded_at": beijing_iso(sub.forwarded_at),
        "analysis": sub.analysis,
        "result": results.get(sub.id),  # where a final round decided it: 「获表彰（优秀共产党员）」, 「已入库」…
    }
    if with_files:
        d["files"] = [file_json(f) for f in files_of(session, sub)]
    return d


def get_submission(session, who: Caller, submission_id: str) -> Submission:
    """A work of the caller's tenant within its key's reach; another university's, one outside the reach and one
    that does not exist answer alike."""
    sub = session.scalar(select(Submission).where(
        Submission.id == submission_id, Submission.tenant_id == who.tenant.id,
        *within_reach(session, who, Submission.org_id, Submission.track)))
    if sub is None:
        raise NotFound(f"找不到作品 {submission_id}。", code="submission_not_found", found=submission_id)
    return sub


def submission_context(session, tenant: Tenant, sub: Submission):
    campaign = session.get(Campaign, sub.campaign_id)  # a stored id: never resolved again in a scope
    definition = definition_of(campaign)
    return definition, definition.tracks[sub.track], session.get(Org, sub.org_id)


def _audit(session, caller: Caller, action: str, sub: Submission, org: Org, **extra) -> None:
    """The audit row of a change of a work: which work, of which org, where it stands (a few fields, not the work)."""
    record_by(session, caller, action, "submission", sub.id, {
        "title": short(sub.title), "campaign_id": sub.campaign_id, "track": sub.track, "org_id": org.id,
        "org_name": short(org.name), "stage": sub.stage, "receipt_no": sub.receipt_no, **extra})


def create_submission(session, caller: Caller, body: dict, analyse: Analyser = analysis.analyse_work) -> Submission:
    tenant = caller.tenant
    require_university(tenant)
    campaign = visible_campaign(session, tenant, body["campaign_id"])
    require_audience(session, tenant, campaign)  # its own copy of a ministry campaign it is not in the audience of
    definition = definition_of(campaign)
    track = track_of(definition, body["track"])
    org = org_of_tenant(session, tenant, body["org_id"])
    require_reach(session, caller, org, track)
    check_submitting_org(session, campaign, org)
    if org.level not in track.submit_levels:
        allowed = "、".join(LEVEL_LABELS[lv] for lv in track.submit_levels)
        raise Forbidden(
            f"“{track.label}”由{allowed}提交，“{org.name}”是{LEVEL_LABELS[org.level]}。请以{allowed}的身份提交。",
            code="level_not_allowed", field="org_id", expected=track.submit_levels, found=org.level,
        )
    fields = body.get("fields", {})
    counts = rules.check_fields(track, fields, definition.themes, required=None, enforce_limits=False)
    now = clock.now()
    sub = Submission(tenant_id=tenant.id, campaign_id=campaign.id, track=track.key, org_id=org.id,
                     title=str(fields.get("title", "")), fields=fields, char_counts=counts,
                     analysis=analyse(track, fields, definition.themes, ()), created_at=now, updated_at=now)
    session.add(sub)
    move_submission(session, sub, SubmissionState.DRAFT, "created")
    _audit(session, caller, "submission.created", sub, org)
    return sub


def work_facts(session, sub: Submission, track, org: Org) -> rules.WorkFacts:
    """What the rules decide a change of the work on: where it stands, its org, the clock, and the org's
    extension of the stage in progress."""
    stage = rules.stage_in_progress(track, sub.stage)
    return rules.WorkFacts(track=track, state=sub.state, last_stage=sub.stage, receipt_no=sub.receipt_no,
                           org_level=org.level, org_names=tuple(org_names(org)), title=sub.title, fields=sub.fields,
                           now=clock.now(), extension=extension_until(session, org, sub, stage.key))


def ensure_editable(session, track, org: Org, sub: Submission, action: str) -> None:
    rules.check_editable(work_facts(session, sub, track, org), action)


def move_submission(session, sub: Submission, target: SubmissionState, action: str, detail: Any = None,
                    at: datetime | None = None) -> None:
    """The one place a work's state changes: the move (and its time), then the row of the submission log."""
    SUBMISSION.move(sub, target, at=at)
    if sub.id is None:
        session.flush()  # a new work gets its id on insert; its log row refers to it (no ORM relationship orders them)
    log(session, sub.id, action, detail)


def update_submission(session, caller: Caller, sub: Submission, fields: dict,
                      analyse: Analyser = analysis.analyse_work) -> Submission:
    definition, track, org = submission_context(session, caller.tenant, sub)
    ensure_editable(session, track, org, sub, "修改")
    merged = {**sub.fields, **fields}
    merged = {k: v for k, v in merged.items() if v is not None}
    if sub.state == SubmissionState.SUBMITTED:
        rules.check_period_kept(track, sub.fields, merged)
        # A submitted work stays valid: the rules of the stages done so far apply.
        done = [s.key for s in track.stages[: [s.key for s in track.stages].index(sub.stage) + 1]]
        required = sorted({f for s in track.stages if s.key in done for f in s.required_fields})
        counts = rules.check_fields(track, merged, definition.themes, required=required)
        rules.check_naming(track, str(merged.get("title", "")), org_names(org))
    else:
        counts = rules.check_fields(track, merged, definition.themes, required=None, enforce_limits=False)
    sub.fields, sub.char_counts = merged, counts
    sub.title = str(merged.get("title", ""))
    sub.analysis = analyse(track, merged, definition.themes, (sub.analysis or {}).get("subtitle_keywords", ()))
    sub.updated_at = clock.now()
    log(session, sub.id, "updated", {"fields": sorted(fields)})
    _audit(session, caller, "submission.updated", sub, org, fields=sorted(fields))
    return sub


# FOR NO KEY UPDATE on PostgreSQL: it excludes another change of the same row but not the KEY SHARE
# locks that inserts referencing the row take. A plain FOR UPDATE after such an insert deadlocked
# concurrent submits (bench_pipeline found it: two portals, one tenant).
_ROW_LOCK = {"key_share": True}


def lock_for_change(session, sub: Submission) -> None:
    """Serialise changes of one org's works (the quota counts them), then re-read the work.

    The org is locked before anything is read for the decision; re-reading the work after the lock
    sees what a concurrent request committed (its state, its stage). On SQLite, BEGIN IMMEDIATE
    serialises writers already and the lock clause is left out.
    """
    session.get(Org, sub.org_id, with_for_update=_ROW_LOCK, populate_existing=True)
    session.refresh(sub)


def _next_receipt_seq(session, tenant: Tenant) -> int:
    row = session.get(Tenant, tenant.id, with_for_update=_ROW_LOCK, populate_existing=True)
    row.receipt_seq += 1
    return row.receipt_seq


def submit_submission(session, outbox, caller: Caller, sub: Submission, stage_key: str | None) -> Submission:
    """Submit the work's next stage: gather what the rules need, let them decide, record what they decided."""
    tenant = caller.tenant
    lock_for_change(session, sub)
    require_audience(session, tenant, session.get(Campaign, sub.campaign_id))  # a draft written before it left
    definition, track, org = submission_context(session, tenant, sub)
    files = files_of(session, sub)
    facts = rules.SubmitFacts(
        work=work_facts(session, sub, track, org), requested_stage=stage_key, themes=definition.themes,
        used_quota=_used_quota(session, sub, track), used_items=_used_items(session, sub, track),
        files=tuple(rules.FileFacts(f.kind, f.original_name, f.state, f.check_verdict) for f in files))
    submitting = rules.decide_submit(facts)
    _record_submit(session, outbox, tenant, sub, org, [f for f in files if f.state == FileState.STORED], submitting,
                   facts.work.now)
    _audit(session, caller, "submission.submitted", sub, org)
    return sub


def _used_quota(session, sub: Submission, track) -> int:
    """The org's other submitted works in the track, in the quota bucket the work's fields name (and, on a recurring
    track, in the work's period: the quota counts per month)."""
    bucket = rules.quota_key(track, sub.fields)
    others = session.scalars(select(Submission).where(
        Submission.org_id == sub.org_id, Submission.campaign_id == sub.campaign_id, Submission.track == sub.track,
        Submission.state == SubmissionState.SUBMITTED, Submission.id != sub.id)).all()
    if track.recurrence is not None:
        month = period_key_of(track.recurrence, sub.fields)
        others = [o for o in others if period_key_of(track.recurrence, o.fields) == month]
    if bucket is None:
        return len(others)
    return sum(1 for o in others if rules.quota_key(track, o.fields) == bucket)


def _used_items(session, sub: Submission, track) -> int:
    """The items of the org's other submitted works in the work's bucket where the quota counts files
    (「10件左右图片和音视频素材」): each counts its stored files of the counted kinds, and at least one."""
    kinds = track.item_kinds(sub.fields)
    if kinds is None:
        return 0
    bucket = rules.quota_key(track, sub.fields)
    others = [o.id for o in session.scalars(select(Submission).where(
        Submission.org_id == sub.org_id, Submission.campaign_id == sub.campaign_id, Submission.track == sub.track,
        Submission.state == SubmissionState.SUBMITTED, Submission.id != sub.id)) if rules.quota_key(track, o.fields) == bucket]
    kinds_of: dict[str, list[str]] = {sid: [] for sid in others}
    for sid, kind in session.execute(select(FileRecord.submission_id, FileRecord.kind).where(
            FileRecord.submission_id.in_(others), FileRecord.state == FileState.STORED)):
        kinds_of[sid].append(kind)
    return sum(items_of(kinds, found) for found in kinds_of.values())


def _record_submit(session, outbox, tenant: Tenant, sub: Submission, org: Org, stored_files: list[FileRecord],
                   submitting: rules.Submitting, now: datetime) -> None:
    """The stage is submitted: its receipt (回执) numbered, the work's state, the log row, the event."""
    stage = submitting.stage
    receipt_no = rules.receipt_number(tenant.id, _next_receipt_seq(session, tenant), now)
    sub.stage, sub.complete = stage.key, submitting.final
    sub.char_counts, sub.receipt_no, sub.updated_at = submitting.char_counts, receipt_no, now
    session.add(Receipt(receipt_no=receipt_no, tenant_id=tenant.id, submission_id=sub.id, stage=stage.key,
                        issued_at=now, summary={"title": sub.title, "fields": sorted(sub.fields),
                                                "files": [{"name": f.original_name, "size": f.declared_size,
                                                           "sha256": f.declared_sha256} for f in stored_files]}))
    move_submission(session, sub, SubmissionState.SUBMITTED, "submitted", {"stage": stage.key, "receipt_no": receipt_no},
                    at=now)
    outbox.add(session, "submission_submitted", tenant.id, {
        "submission_id": sub.id, "campaign_id": sub.campaign_id, "track": sub.track, "stage": stage.key,
        "final_stage": submitting.final, "org_id": org.id, "org_name": org.name, "org_level": org.level,
        "title": sub.title, "receipt_no": receipt_no, "submitted_at": now.isoformat(),
        "file_ids": [f.id for f in stored_files], "contact_email": org.contact_email,
        "fields": sub.fields, "parent_org_id": org.parent_id,
    })


def withdraw_submission(session, outbox, caller: Caller, sub: Submission) -> Submission:
    tenant = caller.tenant
    lock_for_change(session, sub)
    definition, track, org = submission_context(session, tenant, sub)
    work = work_facts(session, sub, track, org)
    withdrawal = rules.decide_withdraw(work)
    if withdrawal is None:
        return sub
    sub.updated_at = work.now
    move_submission(session, sub, SubmissionState.WITHDRAWN, "withdrawn", at=work.now)
    _audit(session, caller, "submission.withdrawn", sub, org)
    if withdrawal.announce:
        outbox.add(session, "submission_withdrawn", tenant.id, {
            "submission_id": sub.id, "campaign_id": sub.campaign_id, "track": sub.track, "org_id": org.id,
            "withdrawn_at": work.now.isoformat()})
    return sub


def list_submissions(session, who: Caller, filters: dict, page: int, per_page: int, sync: Sync | None = None) -> dict:
    tenant = who.tenant
    query = select(Submission).where(Submission.tenant_id == tenant.id,
                                     *within_reach(session, who, Submission.org_id, Submission.track))
    filters = {**filters, "campaign_id": campaign_filter(session, tenant, filters.get("campaign_id"))}
    for key in ("campaign_id", "track", "org_id", "state", "stage"):
        if filters.get(key):
            query = query.where(getattr(Submission, key) == filters[key])
    if filters.get("q"):
        query = query.where(contains_text(Submission.title, filters["q"]))
    def to_json(sub, results):
        return submission_json(session, sub, with_files=False, results=results)

    def prefetch(rows):
        return results_of(session, [sub.id for sub in rows])

    if sync is not None:  # a portal mirroring its works: by (updated_at, id), every change moves updated_at
        return synced(session, query, Submission.updated_at, Submission.id, sync, per_page, to_json, clock.now,
                      prefetch=prefetch)
    query = query.order_by(Submission.created_at.desc(), Submission.id)
    return paged(session, query, page, per_page, to_json, prefetch=prefetch)


def list_receipts(session, sub: Submission) -> list[dict]:
    rows = session.scalars(select(Receipt).where(Receipt.submission_id == sub.id).order_by(Receipt.issued_at))
    return [{"receipt_no": r.receipt_no, "stage": r.stage, "issued_at": beijing_iso(r.issued_at), "summary": r.summary}
            for r in rows]
