"""Deadline extensions an admin grants to one org for one stage."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from common import clock
from common.levels import first_round_level
from common.locale import BEIJING, beijing_iso, in_beijing
from services.intake.domain import submission as rules
from services.intake.models import Extension, Org, Submission
from services.intake.operations.audit import record_by, short
from services.intake.operations.campaigns import campaign_filter, definition_of, track_of, visible_campaign
from services.intake.operations.orgs import get_org
from services.intake.operations.pages import Sync, synced
from services.intake.operations.tenants import Caller, require_university, within_reach


def grant_extension(session, caller: Caller, body: dict, outbox=None) -> Extension:
    """Grant (or change) an org's extension for one stage; `outbox` announces it (`extension_granted`: the
    university's portal tells the org through its webhook)."""
    tenant = caller.tenant
    require_university(tenant)
    campaign = visible_campaign(session, tenant, body["campaign_id"])
    definition = definition_of(campaign)
    track = track_of(definition, body["track"])
    stage = rules.stage_by_key(track, body["stage"])
    org = get_org(session, caller, body["org_id"])
    until = datetime.fromisoformat(body["until"])
    if until.tzinfo is None:
        until = until.replace(tzinfo=BEIJING)
    rules.check_extension(track, stage, org.level, until, first_round_level(org.level))
    ext = session.scalar(select(Extension).where(
        Extension.org_id == org.id, Extension.campaign_id == campaign.id, Extension.track == track.key,
        Extension.stage == stage.key))
    if ext is None:
        ext = Extension(tenant_id=tenant.id, org_id=org.id, campaign_id=campaign.id, track=track.key,
                        stage=stage.key, until=until, reason=body.get("reason", ""), granted_at=clock.now())
        session.add(ext)
    else:
        ext.until, ext.reason, ext.granted_at = until, body.get("reason", ""), clock.now()
    session.flush()
    record_by(session, caller, "extension.granted", "extension", ext.id, {
        "org_id": org.id, "org_name": short(org.name), "campaign_id": campaign.id, "track": track.key,
        "stage": stage.key, "until": in_beijing(until).isoformat(), "reason": short(ext.reason)})
    if outbox is not None:
        outbox.add(session, "extension_granted", tenant.id, {
            "extension_id": ext.id, "campaign_id": campaign.id, "track": track.key, "stage": stage.key,
            "stage_label": stage.label, "org_id": org.id, "org_name": org.name, "org_level": org.level,
            "until": until.isoformat(), "reason": ext.reason or "", "granted_at": ext.granted_at.isoformat()})
    return ext


def extension_json(ext: Extension) -> dict:
    return {"id": ext.id, "org_id": ext.org_id, "campaign_id": ext.campaign_id, "track": ext.track,
            "stage": ext.stage, "until": beijing_iso(ext.until), "reason": ext.reason,
            "granted_at": beijing_iso(ext.granted_at)}


def list_extensions(session, who: Caller, campaign_id: str | None, sync: Sync | None = None,
                    per_page: int = 50) -> dict:
    """Every extension of the tenant (within the key's reach), oldest grant first; or, mirroring, a page of those
    granted (or granted again) since `updated_since` or the cursor: `granted_at` is an extension's change time."""
    query = select(Extension).where(Extension.tenant_id == who.tenant.id,
                                    *within_reach(session, who, Extension.org_id, Extension.track))
    if campaign_id:
        query = query.where(Extension.campaign_id == campaign_filter(session, who.tenant, campaign_id))
    if sync is not None:
        return synced(session, query, Extension.granted_at, Extension.id, sync, per_page, extension_json, clock.now)
    return {"items": [extension_json(e) for e in session.scalars(query.order_by(Extension.granted_at)).all()]}


def extension_until(session, org: Org, sub: Submission, stage_key: str) -> datetime | None:
    ext = session.scalar(select(Extension).where(
        Extension.org_id == org.id, Extension.campaign_id == sub.campaign_id,
        Extension.track == sub.track, Extension.stage == stage_key))
    return ext.until if ext else None
