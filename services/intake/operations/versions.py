"""Correcting a published campaign: a new version with a change note; its copies follow; its works are flagged.

`publish_version` is the use case of `POST /api/v1/campaigns/{id}/versions`. In one transaction:

1. the owner's new definition passes every check publishing makes (parse, tightening against its parent,
   what its owner may reach), keeps its id and parent, and becomes the campaign's version n + 1;
2. each copy derived from it follows (common.campaign.follow): a copy that merges cleanly gets its own next
   version (「随上级活动更正：…」) and its own copies follow in turn; a copy with conflicts is left as it was and
   its owner is told: a row in its audit log (`campaign.follow_conflict`) and `follow_conflicts` on the campaign,
   which GET /campaigns/{id} shows until the owner publishes a version that resolves them;
3. every submitted work of each changed campaign is judged by the new rules (domain/rechecks.py): what they would
   refuse becomes a flag (`rule_flags` of the work), the work stays submitted.

Every changed campaign announces itself again (`campaign_published` with `version` and `change_note`) through the
outbox, so media, review and notify replace their copies. A refused correction leaves no version, no event and
no flag (the request's transaction is rolled back).
"""
from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select

from common import clock
from common.campaign import CampaignDefinition, check_owner_reach, check_tightens, parse_definition
from common.campaign.follow import follow
from common.errors import Forbidden, Unprocessable
from common.locale import beijing_iso
from common.text import strip_invisible
from services.intake.domain.lifecycles import SubmissionState
from services.intake.domain.rechecks import SubmittedWork, flags_under
from services.intake.models import Campaign, CampaignVersion, Org, Submission, SubmissionRuleFlag, Tenant
from services.intake.operations.audit import acting, record, record_by, short
from services.intake.operations.campaigns import (
    campaign_owner_level,
    definition_of,
    find_campaign,
    published_event_data,
    visible_campaign,
)
from services.intake.operations.orgs import org_names
from services.intake.operations.submission_log import touch
from services.intake.operations.tenants import Caller

CHANGE_NOTE_MAX = 200
FOLLOW_NOTE = "随上级活动更正：{note}"


# --------------------------------------------------------------------------- the use case


def publish_version(session, outbox, who: Caller | Tenant, campaign_ref: str, body: dict) -> Campaign:
    """Publish the owner's corrected definition of `campaign_ref` as its next version; its copies follow."""
    caller = acting(who)
    campaign = _owned_campaign(session, caller, campaign_ref)
    note = check_change_note(body.get("change_note"))
    definition = _checked_definition(session, caller.tenant, campaign, body.get("definition"))
    old_raw = campaign.definition
    _add_version(session, outbox, campaign, definition, note, caller.actor)
    record_by(session, caller, "campaign.versioned", "campaign", campaign.id,
              {"title": short(campaign.title), "version": campaign.version, "change_note": note})
    campaign.follow_conflicts = None  # the owner's own correction passed the checks against its parent
    _after_correction(session, outbox, campaign, old_raw, note, caller.actor, seen={campaign.id})
    return campaign


def check_change_note(note: Any) -> str:
    """One line of at most 200 characters saying what was corrected (更正说明)."""
    if not isinstance(note, str) or not strip_invisible(note).strip():
        raise Unprocessable("请在 change_note 中用一句话说明这次更正改了什么（如「故事正文字数上限改为200字」），"
                            f"最多 {CHANGE_NOTE_MAX} 个字符；现为空。", code="change_note_missing", field="change_note",
                            expected=f"1–{CHANGE_NOTE_MAX} 个字符的一行文字", found=note)
    note = note.strip()
    if any(ch in note for ch in "\r\n\u2028\u2029"):
        raise Unprocessable("更正说明（change_note）应为一行文字，现含换行；"
                            "请写成一句话，详细内容写在活动的通知正文（notice）中。",
                            code="change_note_multiline", field="change_note", expected="一行文字", found=note[:60])
    if len(note) > CHANGE_NOTE_MAX:
        raise Unprocessable(f"更正说明（change_note）最多 {CHANGE_NOTE_MAX} 个字符，现为 {len(note)} 个；请删减，"
                            "详细内容写在活动的通知正文（notice）中。", code="change_note_too_long", field="change_note",
                            expected=CHANGE_NOTE_MAX, found=len(note))
    return note


def _owned_campaign(session, caller: Caller, ref: str) -> Campaign:
    """The caller's own campaign: one it cannot see answers 404 as every campaign route does, the ministry's 403; a
    college's org admin corrects its college's notices only (the university's own reaches them all)."""
    tenant = caller.tenant
    campaign = visible_campaign(session, tenant, ref)
    if caller.reach.org_ids is not None and campaign.owner_org_id not in caller.reach.org_ids:
        raise Forbidden(f"活动「{campaign.title}」不是您管理的组织发布的，组织管理员只能更正本组织发布的活动通知。"
                        "要改动学校的活动，请联系单位管理员。", code="not_campaign_owner", field="campaign_id",
                        expected=sorted(caller.reach.org_ids), found=campaign.owner_org_id or campaign.owner_id)
    if campaign.owner_id != tenant.id:
        raise Forbidden(f"活动「{campaign.title}」由{'教育部' if campaign.owner_id == 'ministry' else campaign.owner_id}发布，"
                        "只有发布单位可以更正它。要改动本单位的要求，请更正本单位的派生活动"
                        "（POST /api/v1/campaigns/{本单位活动 id}/versions）。",
                        code="not_campaign_owner", field="campaign_id", expected=campaign.owner_id, found=tenant.id)
    return campaign


def _checked_definition(session, tenant: Tenant, campaign: Campaign, doc: Any) -> CampaignDefinition:
    """The new definition, judged as publishing judges one, keeping the campaign's id and parent."""
    if not isinstance(doc, (dict, str)):
        raise Unprocessable("definition 应为活动定义（对象，或 YAML 文本），即更正后的完整定义。", code="validation_failed",
                            field="definition", expected="object", found=type(doc).__name__)
    definition = parse_definition(doc)
    current = definition_of(campaign)
    if definition.id != current.id:
        raise Unprocessable(f"新版本应保留活动 id「{current.id}」，现为「{definition.id}」；更正不改 id，"
                            "要发布另一个活动请用 POST /api/v1/campaigns。", code="version_id_changed", field="id",
                            expected=current.id, found=definition.id)
    parent = None
    if definition.derives_from:
        parent = find_campaign(session, tenant, definition.derives_from)
    if (parent.id if parent else None) != campaign.derives_from:
        raise Unprocessable(f"新版本应与原活动派生自同一上级活动（derives_from: {current.derives_from}），"
                            f"现为 {definition.derives_from}；更正不改上级活动。", code="version_parent_changed",
                            field="derives_from", expected=current.derives_from, found=definition.derives_from)
    inherited = ()
    if parent is not None:
        parent_definition = definition_of(parent)
        check_tightens(parent_definition, dataclasses.replace(definition, derives_from=parent_definition.id))
        inherited = _inherited(campaign, parent_definition)
    check_owner_reach(definition, campaign_owner_level(campaign, tenant), inherited)
    if definition.raw == campaign.definition:
        raise Unprocessable(f"新版本与活动「{current.short_title}」的第 {campaign.version} 版完全相同，没有可发布的更正；"
                            "请提交改动后的完整定义。", code="version_unchanged", field="definition")
    return definition


def _add_version(session, outbox, campaign: Campaign, definition: CampaignDefinition, note: str,
                 published_by: str) -> None:
    campaign.version = (campaign.version or 1) + 1
    campaign.definition, campaign.title = definition.raw, definition.title
    session.add(CampaignVersion(campaign_id=campaign.id, version=campaign.version, definition=definition.raw,
                                change_note=note, published_at=clock.now(), published_by=published_by[:200]))
    session.flush()
    outbox.add(session, "campaign_published", campaign.owner_id,
               {**published_event_data(campaign, definition), "version": campaign.version, "change_note": note})


# --------------------------------------------------------------------------- what follows a correction


def _after_correction(session, outbox, campaign: Campaign, old_raw: dict, note: str, actor: str,
                      seen: set[str]) -> None:
    """Flag the campaign's works under its new rules, then let each copy follow (and theirs, in turn)."""
    flag_submitted_works(session, campaign)
    copies = session.scalars(select(Campaign).where(Campaign.derives_from == campaign.id).order_by(Campaign.id)).all()
    for child in copies:
        if child.id in seen:  # a parent chain never loops; a guard costs nothing
            continue
        seen.add(child.id)
        _follow(session, outbox, campaign, old_raw, child, note, actor, seen)


def _follow(session, outbox, parent: Campaign, old_parent_raw: dict, child: Campaign, note: str, actor: str,
            seen: set[str]) -> None:
    merged, conflicts = follow(old_parent_raw, parent.definition, child.definition)
    owner = session.get(Tenant, child.owner_id)
    if not conflicts:
        conflicts = _reach_conflicts(merged, campaign_owner_level(child, owner), _inherited(child, definition_of(parent)))
    follows_actor = f"{actor} (follows {parent.id} v{parent.version})"
    if conflicts:
        child.follow_conflicts = {"parent_id": parent.id, "parent_version": parent.version, "change_note": note,
                                  "conflicts": conflicts}
        record(session, child.owner_id, follows_actor, "campaign.follow_conflict", "campaign", child.id,
               {"title": short(child.title), "parent_id": parent.id, "parent_version": parent.version,
                "paths": [c["path"] for c in conflicts][:20]})
        return
    child.follow_conflicts = None
    if merged == child.definition:
        return  # the copy overrode everything the correction touched: nothing of it changes
    child_note = FOLLOW_NOTE.format(note=note)
    old_raw = child.definition
    _add_version(session, outbox, child, parse_definition(merged), child_note, follows_actor)
    record(session, child.owner_id, follows_actor, "campaign.versioned", "campaign", child.id,
           {"title": short(child.title), "version": child.version, "change_note": child_note})
    _after_correction(session, outbox, child, old_raw, child_note, actor, seen)


def _inherited(campaign: Campaign, parent: CampaignDefinition):
    """The tracks a copy keeps its parent's reach for: all of a university's copy; none of a college's notice, in which
    nothing goes above the college (operations/campaigns.py says why)."""
    return () if campaign.owner_org_id else parent.tracks.keys()


def _reach_conflicts(merged: dict, level: str, inherited) -> list[dict]:
    """What the followed copy would reach above its owner (a track the parent added that ends above it)."""
    try:
        check_owner_reach(parse_definition(merged), level, inherited)
    except Unprocessable as error:
        return [{"path": p["field"], "code": error.code, "expected": p["expected"], "found": p["found"],
                 "message": p["message"]} for p in error.details]
    return []


def flag_submitted_works(session, campaign: Campaign) -> int:
    """Flag each submitted work of `campaign` that its current version's rules would refuse; how many were."""
    definition = definition_of(campaign)
    works = session.scalars(select(Submission).where(Submission.campaign_id == campaign.id,
                                                     Submission.state == SubmissionState.SUBMITTED.value)).all()
    flagged, now = 0, clock.now()
    for sub in works:
        org = session.get(Org, sub.org_id)
        work = SubmittedWork(track=sub.track, stage=sub.stage, org_level=org.level, org_names=tuple(org_names(org)),
                             title=sub.title, fields=sub.fields)
        flags = flags_under(definition, work)
        for flag in flags:
            session.add(SubmissionRuleFlag(submission_id=sub.id, campaign_id=campaign.id, version=campaign.version,
                                           code=flag.code[:40], field=flag.field, message=flag.message,
                                           flagged_at=now))
        if flags:
            touch(session, sub.id, now)  # its answer's rule_flags changed
        flagged += bool(flags)
    return flagged


# --------------------------------------------------------------------------- reading


def rule_flags_of(session, submission_id: str) -> list[dict]:
    rows = session.scalars(select(SubmissionRuleFlag).where(SubmissionRuleFlag.submission_id == submission_id)
                           .order_by(SubmissionRuleFlag.id)).all()
    return [{"version": r.version, "code": r.code, "field": r.field, "message": r.message,
             "flagged_at": beijing_iso(r.flagged_at)} for r in rows]
