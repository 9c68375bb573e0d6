"""Submissions (works): create, edit, submit stage by stage, withdraw, list."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from common import clock
from common.db import contains_text
from common.errors import Conflict, Forbidden, NotFound
from common.locale import LEVEL_LABELS
from services.intake.domain import analysis, submission as rules
from services.intake.models import Campaign, FileRecord, Org, Receipt, Submission, Tenant
from services.intake.operations.campaigns import campaign_filter, definition_of, track_of, visible_campaign
from services.intake.operations.extensions import extension_until
from services.intake.operations.files import file_json
from services.intake.operations.orgs import get_org, org_names
from services.intake.operations.pages import paged
from services.intake.operations.submission_log import log
from services.intake.operations.tenants import require_university

# analysis.analyse_work, or the service's wrapper that runs it in a tpool thread (jieba is CPU-bound)
Analyser = Callable[..., dict | None]


def submission_json(session, sub: Submission, with_files: bool = True) -> dict:
    d = {
        "id": sub.id, "campaign_id": sub.campaign_id, "track": sub.track, "org_id": sub.org_id,
        "state": sub.state, "state_label": rules.STATE_LABELS[sub.state], "stage": sub.stage,
        "complete": sub.complete, "title": sub.title, "fields": sub.fields, "char_counts": sub.char_counts,
        "receipt_no": sub.receipt_no, "created_at": sub.created_at.isoformat(),
        "updated_at": sub.updated_at.isoformat(),
        "submitted_at": sub.submitted_at.isoformat() if sub.submitted_at else None,
        "withdrawn_at": sub.withdrawn_at.isoformat() if sub.withdrawn_at else None,
        "forwarded_to": sub.forwarded_to, "forwarded_at": sub.forwarded_at.isoformat() if sub.forwarded_at else None,
        "analysis": sub.analysis,
    }
    if with_files:
        files = session.scalars(select(FileRecord).where(
            FileRecord.submission_id == sub.id, FileRecord.state.in_(("pending", "received", "stored")))).all()
        d["files"] = [file_json(f) for f in files]
    return d


def get_submission(session, tenant: Tenant, submission_id: str) -> Submission:
    sub = session.get(Submission, submission_id)
    if sub is None or sub.tenant_id != tenant.id:
        raise NotFound(f"找不到作品 {submission_id}。", code="submission_not_found", found=submission_id)
    return sub


def submission_context(session, tenant: Tenant, sub: Submission):
    campaign = session.get(Campaign, sub.campaign_id)  # a stored id: never resolved again in a scope
    definition = definition_of(campaign)
    return definition, definition.tracks[sub.track], session.get(Org, sub.org_id)


def create_submission(session, tenant: Tenant, body: dict, analyse: Analyser = analysis.analyse_work) -> Submission:
    require_university(tenant)
    campaign = visible_campaign(session, tenant, body["campaign_id"])
    definition = definition_of(campaign)
    track = track_of(definition, body["track"])
    org = get_org(session, tenant, body["org_id"])
    if org.level not in track.submit_levels:
        allowed = "、".join(LEVEL_LABELS[lv] for lv in track.submit_levels)
        raise Forbidden(
            f"“{track.label}”由{allowed}提交，“{org.name}”是{LEVEL_LABELS[org.level]}。请以{allowed}的身份提交。",
            code="level_not_allowed", field="org_id", expected=track.submit_levels, found=org.level,
        )
    fields = body.get("fields", {})
    counts = rules.check_fields(track, fields, definition.themes, required=None, enforce_limits=False)
    now = clock.now()
    sub = Submission(tenant_id=tenant.id, campaign_id=campaign.id, track=track.key, org_id=org.id, state="draft",
                     title=str(fields.get("title", "")), fields=fields, char_counts=counts,
                     analysis=analyse(track, fields, definition.themes, ()), created_at=now, updated_at=now)
    session.add(sub)
    session.flush()
    log(session, sub.id, "created")
    return sub


def ensure_editable(session, definition, track, org, sub: Submission, action: str) -> None:
    if sub.state == "withdrawn":
        raise Conflict("作品已撤回，不能再修改。如需重新参加，请新建作品。", code="submission_withdrawn",
                       found="withdrawn")
    stage = rules.next_stage(track, sub.stage) or rules.stage_by_key(track, sub.stage)
    rules.check_deadline(track, stage, org.level, clock.now(), extension_until(session, org, sub, stage.key), action)


def update_submission(session, tenant: Tenant, sub: Submission, fields: dict,
                      analyse: Analyser = analysis.analyse_work) -> Submission:
    definition, track, org = submission_context(session, tenant, sub)
    ensure_editable(session, definition, track, org, sub, "修改")
    merged = {**sub.fields, **fields}
    merged = {k: v for k, v in merged.items() if v is not None}
    if sub.state == "submitted":
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


def submit_submission(session, outbox, tenant: Tenant, sub: Submission, stage_key: str | None) -> Submission:
    lock_for_change(session, sub)
    definition, track, org = submission_context(session, tenant, sub)
    if sub.state == "withdrawn":
        raise Conflict("作品已撤回，不能提交。如需重新参加，请新建作品。", code="submission_withdrawn", found="withdrawn")
    stage = rules.next_stage(track, sub.stage)
    if stage is None:
        raise Conflict(f"作品的所有阶段都已提交（回执编号 {sub.receipt_no}）。如需修改内容，请直接修改作品。",
                       code="already_submitted", found=sub.stage)
    if stage_key is not None and stage_key != stage.key:
        rules.stage_by_key(track, stage_key)
        raise Conflict(f"下一个待提交的阶段是“{stage.label}”（{stage.key}），不是 {stage_key}。阶段须按顺序提交。",
                       code="stage_out_of_order", field="stage", expected=stage.key, found=stage_key)
    now = clock.now()
    rules.check_deadline(track, stage, org.level, now, extension_until(session, org, sub, stage.key))
    counts = rules.check_fields(track, sub.fields, definition.themes, required=list(stage.required_fields))
    rules.check_naming(track, sub.title, org_names(org))
    if sub.state == "draft":
        bucket = rules.quota_key(track, sub.fields)
        rules.check_quota(track, org.level, _used_quota(session, sub, track, bucket), bucket)
    files = session.scalars(select(FileRecord).where(
        FileRecord.submission_id == sub.id, FileRecord.state.in_(("pending", "received", "stored")))).all()
    stored: dict[str, int] = {}
    for f in files:
        if f.state == "stored":
            stored[f.kind] = stored.get(f.kind, 0) + 1
    rules.check_stage_files(stage, stored, sum(f.state != "stored" for f in files),
                            [f.original_name for f in files if f.check_verdict == "failed"],
                            [f.original_name for f in files if f.state == "stored" and f.check_verdict is None])
    receipt_no = rules.receipt_number(tenant.id, _next_receipt_seq(session, tenant), now)
    final = rules.next_stage(track, stage.key) is None
    sub.state, sub.stage, sub.complete = "submitted", stage.key, final
    sub.char_counts, sub.receipt_no, sub.submitted_at, sub.updated_at = counts, receipt_no, now, now
    stored_files = [f for f in files if f.state == "stored"]
    session.add(Receipt(receipt_no=receipt_no, tenant_id=tenant.id, submission_id=sub.id, stage=stage.key,
                        issued_at=now, summary={"title": sub.title, "fields": sorted(sub.fields),
                                                "files": [{"name": f.original_name, "size": f.declared_size,
                                                           "sha256": f.declared_sha256} for f in stored_files]}))
    log(session, sub.id, "submitted", {"stage": stage.key, "receipt_no": receipt_no})
    outbox.add(session, "submission_submitted", tenant.id, {
        "submission_id": sub.id, "campaign_id": sub.campaign_id, "track": sub.track, "stage": stage.key,
        "final_stage": final, "org_id": org.id, "org_name": org.name, "org_level": org.level,
        "title": sub.title, "receipt_no": receipt_no, "submitted_at": now.isoformat(),
        "file_ids": [f.id for f in stored_files], "contact_email": org.contact_email,
        "fields": sub.fields, "parent_org_id": org.parent_id,
    })
    return sub


def _used_quota(session, sub: Submission, track, bucket: str | None) -> int:
    others = session.scalars(select(Submission).where(
        Submission.org_id == sub.org_id, Submission.campaign_id == sub.campaign_id,
        Submission.track == sub.track, Submission.state == "submitted", Submission.id != sub.id)).all()
    if bucket is None:
        return len(others)
    return sum(1 for o in others if rules.quota_key(track, o.fields) == bucket)


def withdraw_submission(session, outbox, tenant: Tenant, sub: Submission) -> Submission:
    lock_for_change(session, sub)
    definition, track, org = submission_context(session, tenant, sub)
    if sub.state == "withdrawn":
        return sub  # withdrawing twice is not an error: the portal may retry
    ensure_editable(session, definition, track, org, sub, "撤回")
    now = clock.now()
    was_submitted = sub.state == "submitted"
    sub.state, sub.withdrawn_at, sub.updated_at = "withdrawn", now, now
    log(session, sub.id, "withdrawn")
    if was_submitted:
        outbox.add(session, "submission_withdrawn", tenant.id, {
            "submission_id": sub.id, "campaign_id": sub.campaign_id, "track": sub.track, "org_id": org.id,
            "withdrawn_at": now.isoformat()})
    return sub


def list_submissions(session, tenant: Tenant, filters: dict, page: int, per_page: int) -> dict:
    query = select(Submission).where(Submission.tenant_id == tenant.id)
    filters = {**filters, "campaign_id": campaign_filter(session, tenant, filters.get("campaign_id"))}
    for key in ("campaign_id", "track", "org_id", "state", "stage"):
        if filters.get(key):
            query = query.where(getattr(Submission, key) == filters[key])
    if filters.get("q"):
        query = query.where(contains_text(Submission.title, filters["q"]))
    query = query.order_by(Submission.created_at.desc(), Submission.id)
    return paged(session, query, page, per_page, lambda s: submission_json(session, s, with_files=False))
