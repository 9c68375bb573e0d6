"""Published campaigns: ids scoped by owner, lookups in the caller's scope, publishing, their JSON and event."""
from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import object_session

from common import clock
from common.campaign import CampaignDefinition, campaign_event_data, check_owner_reach, check_tightens, parse_definition
from common.campaign.audience import NOT_IN_AUDIENCE, category_label, includes
from common.errors import Conflict, Forbidden, NotFound, Unprocessable
from common.levels import in_subtree
from common.locale import beijing_iso
from services.intake.models import Campaign, CampaignVersion, Org, Tenant
from services.intake.operations.audit import acting, record_by, short
from services.intake.operations.tenants import MINISTRY, Caller

_definitions: dict[tuple[str, str], CampaignDefinition] = {}


def definition_of(campaign: Campaign) -> CampaignDefinition:
    # A published version never changes, so parsing once per process and version is enough.
    key = (campaign.id, campaign.version or 1, campaign.published_at.isoformat())
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
    """The campaign `campaign_id` names in the caller's scope: else 404 campaign_not_found (another university's
    reads as missing), and 403 not_in_audience for the ministry's campaign the caller is not in the audience of."""
    campaign = find_campaign(session, tenant, campaign_id)
    if campaign is None:
        raise NotFound(f"找不到活动 {campaign_id}。请用 GET /api/v1/campaigns 查看可用的活动。",
                       code="campaign_not_found", found=campaign_id)
    if campaign.owner_id != tenant.id:
        require_audience(session, tenant, campaign)
    return campaign


# --------------------------------------------------------------------------- audience (common/campaign/audience.py)
#
# The ministry's campaign may be for some universities only (四个一 2020: 「在教育部直属高校和部省合建高校开展」).
# A university outside it does not find it in its list and cannot read it, derive a copy from it nor submit into
# it (or into a copy of it it made before it left the audience): 403 not_in_audience, saying whom the campaign is
# for. Not 404: the ministry's campaigns are no secret (every university may know what the ministry runs), and a
# 404 would tell an operator whose tenant lacks its category that the campaign is missing. The audience is read
# on every request from the tenant's category: setting it (admin set-category) takes effect at once.


def audience_refusal(session, tenant: Tenant, campaign: Campaign) -> Campaign | None:
    """The first campaign of `campaign`'s chain (itself, then what it derives from) owned by another and whose
    audience `tenant` is not in; None when the tenant is in every one (the ministry is in all)."""
    if tenant.kind == MINISTRY:
        return None
    current = campaign
    for _ in range(16):  # a chain is a few campaigns deep
        if current is None:
            return None
        if current.owner_id != tenant.id and not includes(definition_of(current).audience, tenant.id, tenant.category):
            return current
        current = session.get(Campaign, current.derives_from) if current.derives_from else None
    return None


def require_audience(session, tenant: Tenant, campaign: Campaign) -> None:
    refused = audience_refusal(session, tenant, campaign)
    if refused is None:
        return
    audience = definition_of(refused).audience
    names = dict(session.execute(select(Tenant.id, Tenant.name).where(Tenant.id.in_(audience.universities or ()))).all())
    whom = audience.describe(names)
    which = "" if refused.id == campaign.id else f"（派生自该活动的「{campaign.title}」也不能使用）"
    raise Forbidden(f"活动「{refused.title}」面向{whom}{which}；{tenant.name}登记的类别为{category_label(tenant.category)}，"
                    "不在此活动的范围内。如类别登记有误，请联系平台运维人员更正（set-category）。",
                    code=NOT_IN_AUDIENCE, field="campaign_id", expected=audience.to_dict(),
                    found={"university": tenant.id, "category": tenant.category})


def owner_level(tenant: Tenant) -> str:
    """The org level a tenant publishes at: its kind is named as the level (university, ministry)."""
    return tenant.kind


def campaign_owner_level(campaign: Campaign, tenant: Tenant) -> str:
    """The level a published campaign is owned at: a college's notice (owner_org_id) at level2, else its tenant's."""
    return "level2" if campaign.owner_org_id else owner_level(tenant)


# A college (the org admin of a level-2 org, acting with their own key: it reaches their college) publishes notices to
# its branches (机关党委's 《2020年4月份党支部组织生活通知》). Such a notice derives from a campaign of its own university
# and nothing in it goes above the college, inherited tracks included: the university runs no round for a college's
# notice, so a work in it is collected or chosen by the college. Every caller of the university sees it (a notice is
# no secret); only the college's subtree submits to it.

def publishing_college(session, caller: Caller) -> Org | None:
    """The college a caller publishes as: None for a caller reaching the whole tenant (the university itself)."""
    org_ids = caller.reach.org_ids
    if org_ids is None:
        return None
    orgs = [session.get(Org, org_id) for org_id in sorted(org_ids)]
    colleges = [o for o in orgs if o is not None and o.tenant_id == caller.tenant.id and o.level == "level2"]
    if len(colleges) != 1 or len(orgs) != 1:
        raise Forbidden("发布活动通知的须是一个二级党组织的组织管理员（以本人密钥）或单位管理员；此密钥所及的组织"
                        f"{'不是二级党组织' if not colleges else '不止一个'}。请使用只管理一个二级党组织的本人密钥，"
                        "或请单位管理员发布。", code="publish_needs_one_college", field="scopes",
                        expected="一个二级党组织", found=sorted(org_ids))
    return colleges[0]


def check_college_parent(college: Org, parent: Campaign | None, tenant: Tenant) -> None:
    """A college's notice derives from a campaign its university issued itself (not the ministry's, not a college's)."""
    if parent is not None and parent.owner_id == tenant.id and parent.owner_org_id is None:
        return
    found = None if parent is None else parent.id
    raise Forbidden(f"“{college.name}”发布的活动通知须派生自本校发布的活动（derives_from 填本校活动的 id，"
                    f"如本校的组织生活指导意见），现为{found or '空'}。"
                    "教育部的活动由学校派生后，学院再从学校的活动派生。", code="must_derive_from_university",
                    field="derives_from", expected="本校发布的活动 id", found=found)


def check_submitting_org(session, campaign: Campaign, org: Org) -> None:
    """A college's notice takes works from its own subtree only."""
    if campaign.owner_org_id is None:
        return
    parent_of = dict(session.execute(select(Org.id, Org.parent_id).where(Org.tenant_id == org.tenant_id)).all())
    if in_subtree(org.id, campaign.owner_org_id, parent_of):
        return
    college = session.get(Org, campaign.owner_org_id)
    raise Forbidden(f"活动「{campaign.title}」是“{college.name}”向所属组织发布的通知，只有“{college.name}”及其下级组织可以提交，"
                    f"“{org.name}”不在其中。请在本组织所属的活动中提交。", code="outside_campaign_orgs", field="org_id",
                    expected=campaign.owner_org_id, found=org.id)


def publish_campaign(session, outbox, who: Caller | Tenant, doc: dict) -> Campaign:
    """Publish a definition; `who` is the API's caller, or the tenant the operator's command line acts for."""
    caller = acting(who)
    tenant = caller.tenant
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
    college = publishing_college(session, caller)
    parent, inherited = None, ()
    if definition.derives_from:
        parent = visible_campaign(session, tenant, definition.derives_from)
    if college is not None:
        check_college_parent(college, parent, tenant)
    if parent is not None:
        parent_definition = definition_of(parent)
        # the copy may name its parent in either form; it is compared with the parent as that names itself
        check_tightens(parent_definition, dataclasses.replace(definition, derives_from=parent_definition.id))
        if college is None:
            inherited = parent_definition.tracks.keys()  # they keep the parent's decision
    # A university publishes campaigns of its own (同济's 两优一先), but nothing in them may go above it.
    check_owner_reach(definition, "level2" if college else owner_level(tenant), inherited)
    campaign = Campaign(id=campaign_id, owner_id=tenant.id, derives_from=parent.id if parent else None,
                        title=definition.title, definition=definition.raw, published_at=clock.now(),
                        owner_org_id=college.id if college else None)
    session.add(campaign)
    session.flush()
    record_first_version(session, campaign, caller.actor)
    outbox.add(session, "campaign_published", tenant.id, published_event_data(campaign, definition))
    record_by(session, caller, "campaign.published", "campaign", campaign.id,
              {"title": short(campaign.title), "derives_from": campaign.derives_from,
               **({"owner_org_id": campaign.owner_org_id} if campaign.owner_org_id else {})})
    return campaign


def published_event_data(campaign: Campaign, definition: CampaignDefinition) -> dict:
    """`campaign_published` of a campaign as stored: a college's notice names its college (`owner_org_id`)."""
    data = campaign_event_data(definition, campaign.id, campaign.derives_from)
    if campaign.owner_org_id:
        data["owner_org_id"] = campaign.owner_org_id
    return data


def campaign_json(campaign: Campaign) -> dict:
    d = definition_of(campaign).to_dict()
    d.update({"id": campaign.id, "short_id": d["id"], "derives_from": campaign.derives_from,
              "owner": campaign.owner_id, "owner_org_id": campaign.owner_org_id,
              "published_at": beijing_iso(campaign.published_at)})
    session = object_session(campaign)
    if session is not None:
        d.update(version_fields(session, campaign))
    return d


# --------------------------------------------------------------------------- versions (operations/versions.py corrects)


def record_first_version(session, campaign: Campaign, published_by: str) -> None:
    """Version 1 of a campaign just published, so that its list of versions starts with it."""
    session.add(CampaignVersion(campaign_id=campaign.id, version=1, definition=campaign.definition, change_note=None,
                                published_at=campaign.published_at, published_by=published_by[:200]))


def version_fields(session, campaign: Campaign) -> dict:
    """What a campaign's JSON adds about its versions: the current one and its change note, every version (oldest
    first), and, for a derived copy that could not follow its parent's last correction, the conflicts to resolve."""
    rows = session.scalars(select(CampaignVersion).where(CampaignVersion.campaign_id == campaign.id)
                           .order_by(CampaignVersion.version)).all()
    versions = [{"version": r.version, "change_note": r.change_note, "published_at": beijing_iso(r.published_at)}
                for r in rows]
    current = next((v for v in versions if v["version"] == campaign.version), None)
    return {"version": campaign.version or 1, "change_note": current["change_note"] if current else None,
            "versions": versions, "follow_conflicts": campaign.follow_conflicts}


def visible_campaigns(session, tenant: Tenant) -> list[Campaign]:
    """The tenant's own campaigns and the ministry's it is in the audience of, oldest first."""
    return [c for c in session.scalars(
        select(Campaign).where(Campaign.owner_id.in_([tenant.id, MINISTRY])).order_by(Campaign.published_at)
    ) if c.owner_id == tenant.id or audience_refusal(session, tenant, c) is None]


def list_campaigns(session, tenant: Tenant) -> list[dict]:
    """The caller's own campaigns and the ministry's it is in the audience of."""
    rows = visible_campaigns(session, tenant)
    return [{"id": c.id, "short_id": definition_of(c).id, "title": c.title, "owner": c.owner_id,
             "owner_org_id": c.owner_org_id, "derives_from": c.derives_from,
             "published_at": beijing_iso(c.published_at)} for c in rows]


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


def root_campaign_id(session, campaign_id: str) -> str:
    campaign = session.get(Campaign, campaign_id)
    while campaign is not None and campaign.derives_from:
        campaign = session.get(Campaign, campaign.derives_from)
    return campaign.id if campaign is not None else campaign_id
