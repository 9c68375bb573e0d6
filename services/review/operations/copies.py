"""Copies of what other services published: campaigns with their rubrics, org trees, tenants' names, API keys.

Written by the event handlers (never read from another service's tables); the other use cases
read them through the lookups below.
"""
from __future__ import annotations

import logging

from sqlalchemy import select

from common import copies
from common.campaign.versions import version_of
from common.copies import takes_campaign_version
from services.review.domain import blind
from services.review.models import ApiKeyCopy, CampaignCopy, OrgCopy, RubricCopy, TenantCopy, WebSession

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- from events


def record_campaign(session, tenant: str, data: dict) -> bool:
    """Replace the copy of a campaign and its rubrics by the published version; False if the copy is newer.

    An older `campaign_published` (redelivered, or replayed from the dead letters after a correction) is
    ignored; a newer one replaces the copy whole, so a track the correction dropped leaves no rubric behind.
    """
    campaign_id, version = data["campaign_id"], version_of(data)
    if not takes_campaign_version(session, CampaignCopy, campaign_id, version, log):
        return False
    session.merge(CampaignCopy(campaign_id=campaign_id, tenant=tenant, derives_from=data["derives_from"],
                               title=data["title"], tracks=data["tracks"], version=version))
    for rubric in session.scalars(select(RubricCopy).where(RubricCopy.campaign_id == campaign_id)):
        if rubric.track not in data["tracks"]:
            session.delete(rubric)
    for track, spec in data["tracks"].items():
        session.merge(RubricCopy(campaign_id=campaign_id, track=track, criteria=spec["rubric"]))
    return True


def record_orgs(session, tenant: str, data: dict) -> None:
    if data.get("tenant_name"):
        session.merge(TenantCopy(tenant=tenant, name=data["tenant_name"]))
    for o in data["orgs"]:
        session.merge(OrgCopy(org_id=o["org_id"], tenant=tenant, name=o["name"], short_name=o.get("short_name"),
                              level=o["level"], parent_id=o.get("parent_id")))


def record_key(session, tenant: str, data: dict) -> None:
    copies.record_key_issued(session, ApiKeyCopy, TenantCopy, tenant, data, needs=("admin",))  # rounds are managed on its pages


def revoke_key(session, data: dict) -> None:
    """The key no longer signs in, and every admin signed in with it is signed out."""
    copies.record_key_revoked(session, ApiKeyCopy, WebSession, data)


# --------------------------------------------------------------------------- lookups


def admin_for_key(session, key_hash: str) -> ApiKeyCopy | None:
    return copies.key_holder(session, ApiKeyCopy, key_hash)


def tenant_name(session, tenant: str) -> str:
    if tenant == "ministry":
        return "教育部"
    t = session.get(TenantCopy, tenant)
    return t.name if t else tenant


def tenant_names(session, tenants) -> dict[str, str]:
    """Universities' names by slug, in one query; a slug review has no name for stays itself."""
    tenants = set(tenants)
    names = dict(session.execute(select(TenantCopy.tenant, TenantCopy.name).where(TenantCopy.tenant.in_(tenants))).all()) \
        if tenants else {}
    return {t: "教育部" if t == "ministry" else names.get(t, t) for t in tenants}


def universities_of(session, rnd, entries) -> dict[str, str]:
    """Each work's university by name, in a national round only: there 报送单位 alone (两个「医学院党委」) does not tell
    the works apart. Empty in a university's own rounds, where every work is of the same one."""
    if rnd.level != "ministry":
        return {}
    names = tenant_names(session, {e.tenant for e in entries})
    return {e.submission_id: names.get(e.tenant, e.tenant) for e in entries}


def track_of(session, campaign_id: str, track: str) -> dict:
    return known_track(session, campaign_id, track) or {"label": track, "rubric": [], "fields": []}


def known_track(session, campaign_id: str, track: str) -> dict | None:
    """The track as its campaign_published event said it; None when review has not heard of it."""
    c = session.get(CampaignCopy, campaign_id)
    return c.tracks.get(track) if c else None


def reviewer_track(session, rnd, entry) -> dict:
    """The track as this round's reviewers may see a work: the fields of the round's campaign (the ministry's
    in the national round, not the university's copy), each hidden if any campaign of the work's `derives_from`
    chain hides it, so that a copy stored before intake refused loosened copies cannot show 主讲人."""
    track = track_of(session, rnd.campaign_id, entry.track)
    hidden, campaign_id, seen = set(), entry.campaign_id, set()
    while campaign_id and campaign_id not in seen:
        seen.add(campaign_id)
        c = session.get(CampaignCopy, campaign_id)
        specs = ((c.tracks.get(entry.track) or {}).get("fields", [])) if c else []
        hidden |= {f["key"] for f in specs if f.get("identifying")}
        campaign_id = c.derives_from if c else None
    fields = [{**f, "identifying": bool(f.get("identifying")) or f["key"] in hidden} for f in track.get("fields", [])]
    return {**track, "fields": fields}


def masked_names(session, tenant: str) -> frozenset[str]:
    orgs = session.execute(select(OrgCopy.name, OrgCopy.short_name).where(OrgCopy.tenant == tenant)).all()
    t = session.get(TenantCopy, tenant)
    return frozenset(blind.name_variants([n for pair in orgs for n in pair] + [t.name if t else None]))
