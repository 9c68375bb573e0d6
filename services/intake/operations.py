"""Intake's use cases: each takes a session (one transaction) and plain values.

Entrypoints in `service.py` authenticate, validate the body against the
OpenAPI document, open a transaction and call exactly one function here. The
state change and its event (through the outbox) commit together, or neither.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from common import clock
from common.auth import bearer_key, hash_key, invalid_key
from common.db import contains_text
from common.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, Unprocessable
from common.events import TENANT
from common.locale import BEIJING, LEVEL_LABELS
from common.objectstore import new_key
from common.text import LineProblem, single_line_problem
from services.intake.domain import analysis, submission as rules
from services.intake.domain.campaign import LEVELS, CampaignDefinition, check_tightens, parent_level, parse_definition
from services.intake.domain.filetype import check_declared_type
from services.intake.domain.orgs import parse_org_table
from services.intake.models import (
    ApiKey,
    Campaign,
    Extension,
    FileRecord,
    IdempotencyKey,
    Org,
    Receipt,
    Submission,
    SubmissionLog,
    Tenant,
)

MINISTRY = "ministry"
MAX_PER_PAGE = 200
# analysis.analyse_work, or the service's wrapper that runs it in a tpool thread (jieba is CPU-bound)
Analyser = Callable[..., dict | None]


# --------------------------------------------------------------------------- tenants and keys


def create_tenant(session, slug: str, name: str, kind: str = "university", contact_email: str | None = None,
                  outbox=None) -> Tenant:
    if not re.fullmatch(TENANT["pattern"], slug):
        # no dot: a university's campaign ids are qualified as "<slug>.<id>" (see campaign_ref)
        raise InvalidInput(f"租户标识“{slug}”无效：应由小写字母、数字和连字符组成，2–63 个字符，如 seu。请改正。",
                           code="invalid_tenant_slug", field="slug", expected=TENANT["pattern"], found=slug)
    line = single_line_problem(name, "租户名称")
    if line is not None or not name.strip():
        raise InvalidInput(line.message if line else "租户名称不能为空。请填写高校（或教育部）的全称。",
                           code=line.code if line else "invalid_tenant_name", field="name",
                           expected=LineProblem.expected, found=line.found if line else name)
    if session.get(Tenant, slug) is not None:
        raise Conflict(f"租户 {slug} 已存在。", code="tenant_exists", found=slug)
    tenant = Tenant(id=slug, name=name, kind=kind, receipt_seq=0, contact_email=contact_email)
    session.add(tenant)
    session.flush()  # keys refer to it; no ORM relationship orders the inserts
    if outbox is not None:
        outbox.add(session, "tenant_registered", slug, {"name": name, "kind": kind, "contact_email": contact_email})
    return tenant


def issue_key(session, outbox, tenant_id: str, label: str = "") -> str:
    """Create an API key; the plain key is returned once and never stored."""
    key = "sk_" + secrets.token_urlsafe(32)
    tenant = session.get(Tenant, tenant_id)
    session.add(ApiKey(tenant_id=tenant_id, key_hash=hash_key(key), prefix=key[:10], label=label))
    outbox.add(session, "api_key_issued", tenant_id, {"key_hash": hash_key(key), "tenant_kind": tenant.kind,
                                                           "tenant_name": tenant.name})
    return key


def revoke_keys(session, outbox, prefix: str) -> int:
    keys = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))).all()
    for k in keys:
        k.revoked_at = clock.now()
        outbox.add(session, "api_key_revoked", k.tenant_id, {"key_hash": k.key_hash})
    return len(keys)


def authenticate(session, headers) -> Tenant:
    key = bearer_key(headers)
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is None or row.revoked_at is not None:
        raise invalid_key(key)
    return session.get(Tenant, row.tenant_id)


def require_university(tenant: Tenant) -> None:
    if tenant.kind != "university":
        raise Forbidden("此操作由高校进行，教育部账户不能代为操作。", code="university_only",
                        expected="university", found=tenant.kind)


# --------------------------------------------------------------------------- campaigns


_definitions: dict[tuple[str, str], CampaignDefinition] = {}


def definition_of(campaign: Campaign) -> CampaignDefinition:
    # A published definition never changes, so parsing once per process is enough.
    key = (campaign.id, campaign.published_at.isoformat())
    if key not in _definitions:
        _definitions[key] = parse_definition(campaign.definition)
    return _definitions[key]


# Campaign ids are scoped by owner. The ministry's campaigns keep their id (`siyige-2020`): every
# university sees them. A university's campaign is stored and published platform-wide as
# `<university>.<id>` (`seu.siyige-2020-seu`): tenant slugs and definition ids hold no dot, so no
# university's id can meet another owner's, a POST never collides with (and so never reveals) another
# university's id, and no university can take an id the ministry uses later. The API takes either
# form; a short id means the caller's own campaign first, then the ministry's (`ministry.<id>` names
# the ministry's when the caller has one of the same id). Events, other services and responses use
# the platform-wide id. Campaigns published before ids were scoped keep their bare ids.
CAMPAIGN_ID_MAX = 64  # the platform-wide id, as events (common.events.ID) and every service store it


def campaign_platform_id(owner: str, short_id: str) -> str:
    return short_id if owner == MINISTRY else f"{owner}.{short_id}"


def find_campaign(session, tenant: Tenant, ref: str) -> Campaign | None:
    """The campaign `ref` names in the caller's scope: its own or the ministry's, else None."""
    owner, dot, short = ref.partition(".")
    if dot:
        campaign = session.get(Campaign, short if owner == MINISTRY else ref)
        found = campaign is not None and campaign.owner_id == owner and owner in (tenant.id, MINISTRY)
        return campaign if found else None
    for candidate in (campaign_platform_id(tenant.id, ref), ref):
        campaign = session.get(Campaign, candidate)
        if campaign is not None and campaign.owner_id in (tenant.id, MINISTRY):
            return campaign
    return None


def visible_campaign(session, tenant: Tenant, campaign_id: str) -> Campaign:
    campaign = find_campaign(session, tenant, campaign_id)
    if campaign is None:
        raise NotFound(f"找不到活动 {campaign_id}。请用 GET /api/v1/campaigns 查看可用的活动。",
                       code="campaign_not_found", found=campaign_id)
    return campaign


def publish_campaign(session, outbox, tenant: Tenant, doc: dict) -> Campaign:
    definition = parse_definition(doc)
    campaign_id = campaign_platform_id(tenant.id, definition.id)
    if len(campaign_id) > CAMPAIGN_ID_MAX:
        room = CAMPAIGN_ID_MAX - len(tenant.id) - 1
        raise Unprocessable(f"活动 id「{definition.id}」太长：本校的活动在平台上记为「{tenant.id}.{definition.id}」，"
                            f"最多 {CAMPAIGN_ID_MAX} 个字符，所以 id 最多 {room} 个字符。请改短。",
                            code="campaign_id_too_long", field="id", expected=room, found=len(definition.id))
    # Only the caller's own campaigns and the ministry's can be found here: a refusal reveals nothing else.
    existing = find_campaign(session, tenant, definition.id)
    if existing is not None:
        whose = "教育部" if existing.owner_id == MINISTRY and tenant.id != MINISTRY else "本单位"
        raise Conflict(f"活动 id「{definition.id}」已被{whose}发布的活动「{existing.title}」使用，发布后不能覆盖。"
                       "请换一个 id 发布新的版本。", code="campaign_exists", field="id", found=definition.id)
    if session.get(Campaign, campaign_id) is not None:
        # only the ministry can meet this: a university's campaign published before ids were scoped
        raise Conflict(f"活动 id「{definition.id}」已被使用（在按单位区分 id 之前发布的活动）。请换一个 id。",
                       code="campaign_exists", field="id", found=definition.id)
    parent = None
    if tenant.kind == "university" and not definition.derives_from:
        raise Forbidden("高校只能发布派生自教育部活动的版本：请在定义中写明 derives_from。",
                        code="must_derive", field="derives_from", expected="上级活动 id", found=None)
    if definition.derives_from:
        parent = visible_campaign(session, tenant, definition.derives_from)
        parent_definition = definition_of(parent)
        # the copy may name its parent in either form; it is compared with the parent as that names itself
        check_tightens(parent_definition, dataclasses.replace(definition, derives_from=parent_definition.id))
    campaign = Campaign(id=campaign_id, owner_id=tenant.id, derives_from=parent.id if parent else None,
                        title=definition.title, definition=definition.raw, published_at=clock.now())
    session.add(campaign)
    session.flush()
    outbox.add(session, "campaign_published", tenant.id,
               campaign_event_data(definition, campaign.id, campaign.derives_from))
    return campaign


def campaign_event_data(definition: CampaignDefinition, campaign_id: str | None = None,
                        derives_from: str | None = None) -> dict:
    """The event of a published campaign; ids platform-wide (the definition's own when not given)."""
    full = definition.to_dict()
    policies = definition.media_policies()
    return {
        "campaign_id": campaign_id or definition.id,
        "derives_from": derives_from if campaign_id else definition.derives_from,
        "title": definition.title,
        "tracks": {
            key: {
                "label": track.label,
                "department": track.department,
                "media": policies.get(key, {}),
                "rubric": full["tracks"][key].get("rubric", []),
                "deadlines": {s["key"]: s.get("deadlines", {}) for s in full["tracks"][key]["stages"]},
                "submit_levels": list(track.submit_levels),
                "stage_labels": {s.key: s.label for s in track.stages},
                "fields": [{"key": f.key, "label": f.label, "type": f.type, "identifying": f.identifying}
                           for f in track.fields],
                "quota": dict(track.quota),
                "forward": dict(track.forward),
            }
            for key, track in definition.tracks.items()
        },
    }


def campaign_json(campaign: Campaign) -> dict:
    d = definition_of(campaign).to_dict()
    d.update({"id": campaign.id, "short_id": d["id"], "derives_from": campaign.derives_from,
              "owner": campaign.owner_id, "published_at": campaign.published_at.isoformat()})
    return d


def list_campaigns(session, tenant: Tenant) -> list[dict]:
    rows = session.scalars(
        select(Campaign).where(Campaign.owner_id.in_([tenant.id, MINISTRY])).order_by(Campaign.published_at)
    ).all()
    return [{"id": c.id, "short_id": definition_of(c).id, "title": c.title, "owner": c.owner_id,
             "derives_from": c.derives_from, "published_at": c.published_at.isoformat()} for c in rows]


def campaign_filter(session, tenant: Tenant, ref: str | None) -> str | None:
    """A campaign filter as the stored id; an id the caller cannot see filters everything out, as before."""
    if not ref:
        return None
    campaign = find_campaign(session, tenant, ref)
    return campaign.id if campaign is not None else ref


def track_of(definition: CampaignDefinition, track_key: str):
    track = definition.tracks.get(track_key)
    if track is None:
        raise Unprocessable(
            f"活动“{definition.short_title}”没有赛道“{track_key}”；可用赛道：{'、'.join(definition.tracks)}。",
            code="unknown_track", field="track", expected=list(definition.tracks), found=track_key,
        )
    return track


# --------------------------------------------------------------------------- orgs


def org_json(org: Org) -> dict:
    return {"id": org.id, "name": org.name, "short_name": org.short_name, "level": org.level,
            "parent_id": org.parent_id, "code": org.code, "contact_name": org.contact_name,
            "contact_email": org.contact_email, "contact_phone": org.contact_phone}


def get_org(session, tenant: Tenant, org_id: str) -> Org:
    org = session.get(Org, org_id)
    if org is None or org.tenant_id != tenant.id:
        raise NotFound(f"找不到组织 {org_id}。请用 GET /api/v1/orgs 查看本校的组织。", code="org_not_found",
                       found=org_id)
    return org


def import_orgs(session, outbox, tenant: Tenant, data: bytes, filename: str | None, content_type: str | None,
                parse: Callable[..., list] = parse_org_table) -> dict:
    """All rows or none: validation runs on the whole table before any write. `parse` is parse_org_table, or
    the service's wrapper that runs it in a tpool thread (unzipping and parsing a workbook is CPU work)."""
    require_university(tenant)
    existing_rows = session.scalars(select(Org).where(Org.tenant_id == tenant.id)).all()
    by_name = {o.name: o for o in existing_rows}
    rows = parse(data, filename, content_type, {o.name: o.level for o in existing_rows})
    created = updated = 0
    for row in rows:  # level2 rows come first, so parents exist before branches
        org = by_name.get(row.name)
        parent = by_name.get(row.parent_name) if row.parent_name else None
        values = dict(short_name=row.short_name, level=row.level, parent_id=parent.id if parent else None,
                      code=row.code, contact_name=row.contact_name, contact_email=row.contact_email,
                      contact_phone=row.contact_phone)
        if org is None:
            org = Org(tenant_id=tenant.id, name=row.name, **values)
            session.add(org)
            session.flush()
            by_name[row.name] = org
            created += 1
        else:
            for k, v in values.items():
                setattr(org, k, v)
            updated += 1
    session.flush()
    # The whole tree, so a consumer replaces its copy rather than patching it.
    outbox.add(session, "orgs_imported", tenant.id, {"tenant_name": tenant.name, "orgs": [
        {"org_id": o.id, "name": o.name, "short_name": o.short_name, "level": o.level, "parent_id": o.parent_id,
         "contact_email": o.contact_email}
        for o in by_name.values()]})
    return {"created": created, "updated": updated, "total": len(rows)}


def list_orgs(session, tenant: Tenant, level: str | None, parent_id: str | None, q: str | None,
              page: int, per_page: int) -> dict:
    query = select(Org).where(Org.tenant_id == tenant.id)
    if level:
        query = query.where(Org.level == level)
    if parent_id:
        query = query.where(Org.parent_id == parent_id)
    if q:
        query = query.where(contains_text(Org.name, q))
    return paged(session, query.order_by(Org.level, Org.name), page, per_page, org_json)


def paged(session, query, page: int, per_page: int, to_json) -> dict:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.scalars(query.offset((page - 1) * per_page).limit(per_page)).all()
    return {"items": [to_json(r) for r in rows], "page": page, "per_page": per_page, "total": total}


# --------------------------------------------------------------------------- submissions


def log(session, submission_id: str, action: str, detail: Any = None) -> None:
    session.add(SubmissionLog(submission_id=submission_id, action=action, at=clock.now(), detail=detail))


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


def _context(session, tenant: Tenant, sub: Submission):
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


def _editable(session, definition, track, org, sub: Submission, action: str) -> None:
    if sub.state == "withdrawn":
        raise Conflict("作品已撤回，不能再修改。如需重新参加，请新建作品。", code="submission_withdrawn",
                       found="withdrawn")
    stage = rules.next_stage(track, sub.stage) or rules.stage_by_key(track, sub.stage)
    rules.check_deadline(track, stage, org.level, clock.now(), extension_until(session, org, sub, stage.key), action)


def update_submission(session, tenant: Tenant, sub: Submission, fields: dict,
                      analyse: Analyser = analysis.analyse_work) -> Submission:
    definition, track, org = _context(session, tenant, sub)
    _editable(session, definition, track, org, sub, "修改")
    merged = {**sub.fields, **fields}
    merged = {k: v for k, v in merged.items() if v is not None}
    if sub.state == "submitted":
        # A submitted work stays valid: the rules of the stages done so far apply.
        done = [s.key for s in track.stages[: [s.key for s in track.stages].index(sub.stage) + 1]]
        required = sorted({f for s in track.stages if s.key in done for f in s.required_fields})
        counts = rules.check_fields(track, merged, definition.themes, required=required)
        rules.check_naming(track, str(merged.get("title", "")), _org_names(org))
    else:
        counts = rules.check_fields(track, merged, definition.themes, required=None, enforce_limits=False)
    sub.fields, sub.char_counts = merged, counts
    sub.title = str(merged.get("title", ""))
    sub.analysis = analyse(track, merged, definition.themes, (sub.analysis or {}).get("subtitle_keywords", ()))
    sub.updated_at = clock.now()
    log(session, sub.id, "updated", {"fields": sorted(fields)})
    return sub


def _org_names(org: Org) -> list[str]:
    return [n for n in (org.name, org.short_name) if n]


def extension_until(session, org: Org, sub: Submission, stage_key: str) -> datetime | None:
    ext = session.scalar(select(Extension).where(
        Extension.org_id == org.id, Extension.campaign_id == sub.campaign_id,
        Extension.track == sub.track, Extension.stage == stage_key))
    return ext.until if ext else None


# FOR NO KEY UPDATE on PostgreSQL: it excludes another change of the same row but not the KEY SHARE
# locks that inserts referencing the row take. A plain FOR UPDATE after such an insert deadlocked
# concurrent submits (bench_pipeline found it: two portals, one tenant).
_ROW_LOCK = {"key_share": True}


def _lock_for_change(session, sub: Submission) -> None:
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
    _lock_for_change(session, sub)
    definition, track, org = _context(session, tenant, sub)
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
    rules.check_naming(track, sub.title, _org_names(org))
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
    _lock_for_change(session, sub)
    definition, track, org = _context(session, tenant, sub)
    if sub.state == "withdrawn":
        return sub  # withdrawing twice is not an error: the portal may retry
    _editable(session, definition, track, org, sub, "撤回")
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


# --------------------------------------------------------------------------- extensions


def grant_extension(session, tenant: Tenant, body: dict) -> Extension:
    require_university(tenant)
    campaign = visible_campaign(session, tenant, body["campaign_id"])
    definition = definition_of(campaign)
    track = track_of(definition, body["track"])
    stage = rules.stage_by_key(track, body["stage"])
    org = get_org(session, tenant, body["org_id"])
    until = datetime.fromisoformat(body["until"])
    if until.tzinfo is None:
        until = until.replace(tzinfo=BEIJING)
    rules.check_extension(track, stage, org.level, until, parent_level(org.level))
    ext = session.scalar(select(Extension).where(
        Extension.org_id == org.id, Extension.campaign_id == campaign.id, Extension.track == track.key,
        Extension.stage == stage.key))
    if ext is None:
        ext = Extension(tenant_id=tenant.id, org_id=org.id, campaign_id=campaign.id, track=track.key,
                        stage=stage.key, until=until, reason=body.get("reason", ""))
        session.add(ext)
    else:
        ext.until, ext.reason, ext.granted_at = until, body.get("reason", ""), clock.now()
    session.flush()
    return ext


def extension_json(ext: Extension) -> dict:
    return {"id": ext.id, "org_id": ext.org_id, "campaign_id": ext.campaign_id, "track": ext.track,
            "stage": ext.stage, "until": ext.until.isoformat(), "reason": ext.reason,
            "granted_at": ext.granted_at.isoformat()}


def list_extensions(session, tenant: Tenant, campaign_id: str | None) -> list[dict]:
    query = select(Extension).where(Extension.tenant_id == tenant.id)
    if campaign_id:
        query = query.where(Extension.campaign_id == campaign_filter(session, tenant, campaign_id))
    return [extension_json(e) for e in session.scalars(query.order_by(Extension.granted_at)).all()]


# --------------------------------------------------------------------------- files


def file_json(f: FileRecord) -> dict:
    return {"id": f.id, "submission_id": f.submission_id, "kind": f.kind, "name": f.original_name,
            "content_type": f.content_type, "size": f.declared_size, "sha256": f.declared_sha256,
            "state": f.state, "created_at": f.created_at.isoformat(),
            "stored_at": f.stored_at.isoformat() if f.stored_at else None,
            "expires_at": f.expires_at.isoformat() if f.state == "pending" else None,
            "check": {"verdict": f.check_verdict, "findings": f.check_findings or []}}


def safe_name(name: str) -> str:
    """The name as shown to people; never used as a path."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = "".join(ch for ch in base if ch.isprintable())
    if base in ("", ".", ".."):
        raise Unprocessable(f"文件名“{name}”无效。请使用包含作品名称的普通文件名，如“计算机学院党委战疫故事.docx”。",
                            code="invalid_filename", field="filename", found=name)
    return base[:255]


def register_file(session, outbox, tenant: Tenant, sub: Submission, body: dict, store, public_url: str,
                  ttl_s: int) -> tuple[FileRecord, dict, dict | None]:
    """A new file of a work; the third value says how the work left a submitted stage it belonged to."""
    _lock_for_change(session, sub)
    definition, track, org = _context(session, tenant, sub)
    _editable(session, definition, track, org, sub, "上传文件")
    rules.check_file_kind(track, body["kind"], body["size"])
    check_declared_type(body["kind"], body.get("content_type"))
    now = clock.now()
    name = safe_name(body["filename"])
    f = FileRecord(tenant_id=tenant.id, submission_id=sub.id, kind=body["kind"],
                   original_name=name, content_type=body.get("content_type") or
                   "application/octet-stream", declared_size=body["size"], declared_sha256=body["sha256"].lower(),
                   state="pending", expires_at=now + timedelta(seconds=ttl_s), created_at=now)
    f.id = secrets.token_hex(16)
    f.object_key = new_key(tenant.id, f.id)
    reopened = _reopen_for_file(session, outbox, sub, track, org, f.kind, "file_added", name, f.id)
    if store.kind == "folder":
        f.upload_token = secrets.token_urlsafe(32)
        target = {"method": "PUT", "url": f"{public_url}/api/v1/uploads/{f.upload_token}",
                  "headers": {"Content-Type": "application/octet-stream"}}
    else:
        t = store.upload_target(f.object_key, f.declared_size, f.content_type)
        f.upload_id = t.upload_id
        target = t.to_dict()
    session.add(f)
    log(session, sub.id, "file_registered", {"file_id": f.id, "kind": f.kind})
    return f, target, reopened


def get_file(session, tenant: Tenant, file_id: str) -> FileRecord:
    f = session.get(FileRecord, file_id)
    if f is None or f.tenant_id != tenant.id or f.state in ("deleted", "expired"):
        raise NotFound(f"找不到文件 {file_id}。", code="file_not_found", found=file_id)
    return f


def mismatch_error(f: FileRecord, size: int, sha256: str) -> DomainError:
    if size != f.declared_size:
        return Unprocessable(
            f"收到的文件大小为 {size} 字节，与申报的 {f.declared_size} 字节不符，文件未保存。请重新上传完整文件。",
            code="size_mismatch", expected=f.declared_size, found=size)
    return Unprocessable(
        "收到的文件内容与申报的 SHA-256 校验值不符（文件在传输中损坏或申报值有误），文件未保存。请重新计算校验值并重新上传。",
        code="checksum_mismatch", expected=f.declared_sha256, found=sha256)


def confirm_file(session, outbox, tenant: Tenant, f: FileRecord, verified_size: int | None,
                 verified_sha: str | None) -> FileRecord:
    """Mark a verified file stored and announce it; the caller did the verification."""
    if f.state == "stored":
        return f  # a retried confirmation is fine
    if verified_size is None:
        raise Conflict("尚未收到文件内容。请先按上传地址上传文件，再确认。", code="upload_missing",
                       expected="已上传", found="未上传")
    if verified_size != f.declared_size or verified_sha != f.declared_sha256:
        raise mismatch_error(f, verified_size, verified_sha or "")
    sub = session.get(Submission, f.submission_id)
    f.state, f.stored_at, f.upload_token = "stored", clock.now(), None
    log(session, sub.id, "file_stored", {"file_id": f.id})
    outbox.add(session, "file_uploaded", tenant.id, {
        "file_id": f.id, "submission_id": sub.id, "campaign_id": sub.campaign_id, "track": sub.track,
        "kind": f.kind, "object_key": f.object_key, "size": f.declared_size, "sha256": f.declared_sha256,
        "content_type": f.content_type, "original_name": f.original_name, "org_id": sub.org_id})
    return f


def delete_file(session, outbox, tenant: Tenant, f: FileRecord) -> tuple[FileRecord, dict | None]:
    """The file is gone; the second value says how the work left a submitted stage it belonged to."""
    sub = session.get(Submission, f.submission_id)
    _lock_for_change(session, sub)
    definition, track, org = _context(session, tenant, sub)
    _editable(session, definition, track, org, sub, "删除文件")
    f.state = "deleted"
    log(session, sub.id, "file_deleted", {"file_id": f.id})
    return f, _reopen_for_file(session, outbox, sub, track, org, f.kind, "file_deleted", f.original_name, f.id)


def _reopen_for_file(session, outbox, sub: Submission, track, org: Org, kind: str, reason: str, name: str,
                     file_id: str | None, by_portal: bool = True) -> dict | None:
    """Apply the rule of the files of a submitted stage (domain/submission.py) to one change; None when the
    change touches no submitted stage. Returns what the caller is told."""
    reopening = rules.reopening_for_file(track, sub.state, sub.stage, kind, reason, name, sub.receipt_no)
    if reopening is None:
        return None
    if by_portal and sub.forwarded_to is not None:
        raise Conflict(f"作品已被择优报送至{LEVEL_LABELS[sub.forwarded_to]}，已提交的文件不能再改动。"
                       "如确需更正，请联系上级组织部门。", code="submission_forwarded", found=sub.forwarded_to)
    now = clock.now()
    done = rules.submitted_stages(track, sub.stage)
    left = done[: done.index(reopening.stage)]
    receipts = session.scalars(select(Receipt).where(Receipt.submission_id == sub.id)
                               .order_by(Receipt.issued_at, Receipt.receipt_no)).all()
    latest = {r.stage: r.receipt_no for r in receipts}  # the newest receipt of each stage
    voided = [latest[s.key] for s in done[len(left):] if s.key in latest]
    back = left[-1] if left else None
    sub.state, sub.stage, sub.complete = ("submitted" if back else "draft"), (back.key if back else None), False
    sub.receipt_no = latest.get(back.key) if back else None
    sub.submitted_at = sub.submitted_at if back else None
    sub.updated_at = now
    log(session, sub.id, "reopened", {"reason": reason, "file_id": file_id, "stage": reopening.stage.key,
                                      "voided_receipts": voided})
    outbox.add(session, "submission_reopened", sub.tenant_id, {
        "submission_id": sub.id, "campaign_id": sub.campaign_id, "track": sub.track, "org_id": org.id,
        "org_name": org.name, "org_level": org.level, "title": sub.title, "stage": sub.stage,
        "stages_submitted": [s.key for s in left],
        "reopened_stage": reopening.stage.key, "reason": reason, "file_id": file_id, "voided_receipts": voided,
        "reopened_at": now.isoformat(), "message": reopening.message, "contact_email": org.contact_email})
    return {"state": sub.state, "stage": sub.stage, "receipt_no": sub.receipt_no, "voided_receipts": voided,
            "reason": reason, "file_id": file_id, "message": reopening.message}


def record_file_check(session, outbox, data: dict, analyse: Analyser = analysis.analyse_work) -> None:
    """Keep the newest check of a file; an older one arriving late changes nothing. The keywords media read
    in a lecture's subtitles join its theme suggestion."""
    f = session.get(FileRecord, data["file_id"])
    if f is None:
        return  # not ours (or long gone): nothing to record
    checked_at = datetime.fromisoformat(data["checked_at"])
    if f.checked_at is not None and f.checked_at >= checked_at:
        return
    f.check_verdict, f.check_findings, f.checked_at = data["verdict"], data["findings"], checked_at
    log(session, f.submission_id, "file_checked", {"file_id": f.id, "verdict": data["verdict"]})
    heard = data.get("facts", {}).get("keywords")
    if heard and f.kind in ("video", "subtitle"):
        sub = session.get(Submission, f.submission_id)
        campaign = session.get(Campaign, sub.campaign_id)
        definition = definition_of(campaign)
        track = definition.tracks.get(sub.track)
        if track is not None:
            sub.analysis = analyse(track, sub.fields, definition.themes, tuple(heard))
    if data["verdict"] == "failed" and f.state == "stored":
        # a newer check (a video judged again with its subtitles) failed a file a stage was submitted with
        sub = session.get(Submission, f.submission_id)
        _lock_for_change(session, sub)
        track = definition_of(session.get(Campaign, sub.campaign_id)).tracks.get(sub.track)
        if track is not None:
            _reopen_for_file(session, outbox, sub, track, session.get(Org, sub.org_id), f.kind, "file_check_failed",
                             f.original_name, f.id, by_portal=False)


def expired_uploads(session, now: datetime, limit: int = 500) -> list[FileRecord]:
    return session.scalars(select(FileRecord).where(
        FileRecord.state.in_(("pending", "received")), FileRecord.expires_at < now).limit(limit)).all()



# --------------------------------------------------------------------------- idempotency

IDEMPOTENCY_TTL = timedelta(hours=24)


def run_idempotent(session, tenant: Tenant, key: str, endpoint: str, body: Any, action) -> tuple[int, Any]:
    """Run `action` once per (tenant, Idempotency-Key); a retry gets the first response.

    `action` returns (status, JSON body). If it raises, the transaction (and the
    key) roll back, so a retry really runs again. A key reused for another
    request is refused rather than silently answered with the wrong response.
    """
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise InvalidInput("Idempotency-Key 应为 1–200 个可打印字符（建议用 UUID）。", code="invalid_idempotency_key",
                           field="Idempotency-Key", expected="1–200 printable characters", found=key[:50])
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    row = session.get(IdempotencyKey, (tenant.id, key))
    if row is not None:
        if row.endpoint != endpoint or row.fingerprint != fingerprint:
            raise Unprocessable(
                f"Idempotency-Key“{key}”已用于另一个请求（{row.endpoint}）。每个新请求请使用新的 Idempotency-Key；"
                f"重试时请原样发送同一请求。", code="idempotency_key_reused", field="Idempotency-Key",
                expected=row.endpoint, found=endpoint)
        return row.status, row.response
    row = IdempotencyKey(tenant_id=tenant.id, key=key, endpoint=endpoint, fingerprint=fingerprint, status=0,
                         response={}, created_at=clock.now())
    session.add(row)
    try:
        session.flush()  # a concurrent request with the same key waits here, then conflicts
    except IntegrityError:
        raise Conflict("使用同一 Idempotency-Key 的请求正在处理。请稍后原样重试以取得结果。",
                       code="idempotency_in_progress", field="Idempotency-Key", found=key) from None
    status, response = action()
    row.status, row.response = status, response
    return status, response


def forget_idempotency_keys(session, now: datetime) -> int:
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - IDEMPOTENCY_TTL))
    return result.rowcount or 0


# --------------------------------------------------------------------------- forwarding (择优报送)


def root_campaign_id(session, campaign_id: str) -> str:
    campaign = session.get(Campaign, campaign_id)
    while campaign is not None and campaign.derives_from:
        campaign = session.get(Campaign, campaign.derives_from)
    return campaign.id if campaign is not None else campaign_id


def forward_selection(session, outbox, round_tenant: str, data: dict) -> list[Submission]:
    """Forward the works a round selected to the level above, all or none.

    A redelivered selection forwards nothing twice: works already at the target
    level are skipped. The ministry's own selection (to_level None) is the
    national result: it is logged on each work, nothing moves.
    """
    now = clock.now()
    to_level = data["to_level"]
    if to_level is None:
        for sid in data["selected"]:
            if session.get(Submission, sid) is not None:
                log(session, sid, "selected_nationally", {"round_id": data["round_id"]})
        return []
    moving: list[tuple[Submission, Org]] = []
    for sid in data["selected"]:
        sub = session.get(Submission, sid)
        if sub is None or sub.tenant_id != round_tenant or sub.track != data["track"]:
            raise NotFound(f"入选作品 {sid} 不是本校“{data['track']}”中的作品，整次报送未执行。", code="submission_not_found",
                           found=sid)
        if sub.state != "submitted" or not sub.complete:
            raise Conflict(f"入选作品“{sub.title}”的状态为{rules.STATE_LABELS[sub.state]}，只能报送已完整提交的作品。",
                           code="not_forwardable", found=sub.state)
        if sub.forwarded_to is not None and LEVELS.index(sub.forwarded_to) >= LEVELS.index(to_level):
            continue
        org = session.get(Org, sub.org_id)
        at = rules.level_of_work(org.level, sub.forwarded_to)
        if at != data["level"]:
            raise Conflict(f"作品“{sub.title}”目前在{LEVEL_LABELS[at]}一级，不在本轮评审的层级。",
                           code="wrong_level", expected=data["level"], found=at)
        moving.append((sub, org))
    if not moving:
        return []
    definition, track, _ = _context(session, session.get(Tenant, round_tenant), moving[0][0])
    reached = [lv for lv in LEVELS if LEVELS.index(lv) >= LEVELS.index(to_level)]
    already = select(func.count()).select_from(Submission).join(Org, Org.id == Submission.org_id).where(
        Submission.tenant_id == round_tenant, Submission.campaign_id == moving[0][0].campaign_id,
        Submission.track == data["track"], Submission.forwarded_to.in_(reached))
    if data["level"] == "level2":
        owner = data["owner_org_id"]
        already = already.where((Org.parent_id == owner) | (Org.id == owner))
    rules.check_forward(track, data["level"], session.scalar(already), len(moving))
    tenant = session.get(Tenant, round_tenant)
    root = root_campaign_id(session, moving[0][0].campaign_id)
    for sub, org in moving:
        from_level = rules.level_of_work(org.level, sub.forwarded_to)
        sub.forwarded_to, sub.forwarded_at = to_level, now
        log(session, sub.id, "forwarded", {"to": to_level, "round_id": data["round_id"]})
        files = session.scalars(select(FileRecord).where(FileRecord.submission_id == sub.id,
                                                         FileRecord.state == "stored")).all()
        outbox.add(session, "submission_forwarded", round_tenant, {
            "submission_id": sub.id, "campaign_id": sub.campaign_id, "track": sub.track, "org_id": org.id,
            "org_name": org.name, "org_level": org.level, "from_level": from_level, "to_level": to_level,
            "title": sub.title, "receipt_no": sub.receipt_no, "forwarded_at": now.isoformat(),
            "fields": sub.fields, "tenant_name": tenant.name, "root_campaign_id": root,
            "files": [{"file_id": f.id, "kind": f.kind, "object_key": f.object_key, "size": f.declared_size,
                       "content_type": f.content_type, "sha256": f.declared_sha256, "verdict": f.check_verdict}
                      for f in files],
        })
    return [sub for sub, _ in moving]
