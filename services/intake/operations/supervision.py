"""Supervision (督查) use cases: the lists a signed-in person's page shows, their export, and the reminder sent to
every org (or, from the ministry, every university) of a list in one action.

Each gathers the facts of one tenant and campaign (orgs, works, extensions; for the ministry, every university's
forwarding counted in SQL) and lets domain/supervision.py decide who is behind. Nothing from the request reaches
a query unchecked: the tenant is picked among the person's grants, the campaign id must look like one before it
is looked up, the track among the campaign's keys.

A reminder is the `supervision_reminded` event (notify mails each contact) and an audit row, in one transaction.
The events of that kind in intake's outbox are the record of who was reminded: an org reminded in a track today
(Beijing time, platform clock) is not reminded again, so a double click, a second tab or a reload of the answer
sends nothing twice. On PostgreSQL the reminders of one list take turns (an advisory lock), so two clicks at once
cannot both read "not yet"; SQLite runs one writer at a time anyway.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from common.campaign.audience import Audience, includes
from common.db import serialize_on, utcnow
from common.errors import InvalidInput, NotFound
from common.locale import beijing_date, in_beijing
from common.tables import xlsx_cell
from services.intake.domain import supervision as rules
from services.intake.domain.lifecycles import SubmissionState
from services.intake.models import Campaign, Extension, Org, OutboxMessage, Submission, Tenant
from services.intake.operations.audit import record
from services.intake.operations.campaigns import audience_refusal, definition_of, find_campaign
from services.intake.operations.tenants import MINISTRY

EVENT = "supervision_reminded"
ACTION = "supervision.reminded"
# How a campaign id and a track key may look before anything is looked up (common.events: ID, TRACK).
_CAMPAIGN_REF = re.compile(r"[a-z0-9][a-z0-9.-]{0,63}")
_TRACK_KEY = re.compile(r"[a-z_]{2,40}")
# The outbox rows read for today's reminders: created (in real time) within this window. The day itself is the
# platform clock's, from each event's requested_at; two real days hold any Beijing day whatever the clock's offset.
_RECENT = timedelta(days=2)


@dataclass(frozen=True)
class View:
    """What the page and the export show: the tenant, the campaign, and the tracks' lists in scope."""

    scope: rules.TenantScope
    tenants: list[rules.TenantScope]
    campaigns: list[tuple[str, str]]  # (id, title) the person may pick, oldest first
    campaign_id: str | None
    campaign_title: str
    tracks: list[rules.TrackList]  # the one asked for, or every one in scope
    track_choices: list[tuple[str, str]]  # (key, label) of every track in scope
    track: str | None
    now: datetime
    definition_tracks: dict = field(default_factory=dict, repr=False)  # key -> domain Track


def _campaigns(session, scope: rules.TenantScope) -> list[Campaign]:
    """The campaigns a person may chase in: the ministry's own, or a university's and the ministry's it is in the
    audience of (campaigns.audience_refusal)."""
    owners = [MINISTRY] if scope.ministry else [scope.tenant, MINISTRY]
    found = session.scalars(select(Campaign).where(Campaign.owner_id.in_(owners)).order_by(Campaign.published_at,
                                                                                          Campaign.id))
    if scope.ministry:
        return list(found)
    tenant = session.get(Tenant, scope.tenant)
    return [c for c in found if c.owner_id == scope.tenant or audience_refusal(session, tenant, c) is None]


def _campaign(session, scope: rules.TenantScope, candidates: list[Campaign], ref: str | None) -> Campaign | None:
    """The campaign asked for (platform-wide or short id, in the tenant's scope), else the newest of its own (a
    university's derived copy), else the newest of the ministry's."""
    if ref:
        found = None
        if _CAMPAIGN_REF.fullmatch(ref):
            found = find_campaign(session, session.get(Tenant, scope.tenant), ref)
        if found is None or found not in candidates:
            raise NotFound(f"找不到活动“{ref[:64]}”：没有这个活动，或它不属于{scope.name}。请从页面上的活动中选择。",
                           code="campaign_not_found", found=ref[:64])
        return found
    own = [c for c in candidates if c.owner_id == scope.tenant]
    return (own or candidates or [None])[-1]


def supervision_view(session, grants: list[dict], tenant: str | None, campaign_ref: str | None, track: str | None,
                     now: datetime) -> View:
    """The lists of the tenant (picked among the person's grants), campaign and track (None: every one in scope)."""
    scope, tenants = rules.choose_tenant(grants, tenant)
    candidates = _campaigns(session, scope)
    campaign = _campaign(session, scope, candidates, campaign_ref)
    choices = [(c.id, c.title) for c in candidates]
    if campaign is None:
        if track:
            raise NotFound(f"{scope.name}还没有可督查的活动，也就没有赛道“{track[:40]}”。", code="track_not_found",
                           found=track[:40])
        return View(scope, tenants, choices, None, "", [], [], None, now)
    tracks = definition_of(campaign).tracks
    lists = _lists(session, scope, campaign, tracks, now)
    in_scope = [(t.key, t.label) for t in lists]
    if track:
        lists = [t for t in lists if t.key == track] if _TRACK_KEY.fullmatch(track) else []
        if not lists:
            allowed = "、".join(f"{label}（{key}）" for key, label in in_scope) or "无"
            raise NotFound(f"在“{campaign.title}”中没有您可督查的赛道“{track[:40]}”。可督查的赛道：{allowed}。",
                           code="track_not_found", expected=[k for k, _ in in_scope], found=track[:40])
    return View(scope, tenants, choices, campaign.id, campaign.title, lists, in_scope, track or None, now, tracks)


def _lists(session, scope: rules.TenantScope, campaign: Campaign, tracks: dict, now: datetime) -> list[rules.TrackList]:
    if scope.ministry:
        return rules.behind_universities(tracks.values(), _universities(session, definition_of(campaign).audience),
                                         _forwarding(session, campaign.id), scope.reaches, now)
    orgs = [rules.OrgFacts(o.id, o.name, o.level, o.parent_id, o.contact_name, o.contact_email, o.contact_phone)
            for o in session.scalars(select(Org).where(Org.tenant_id == scope.tenant).order_by(Org.name))]
    works = [rules.WorkFacts(org_id, track, state, stage, updated_at) for org_id, track, state, stage, updated_at in
             session.execute(select(Submission.org_id, Submission.track, Submission.state, Submission.stage,
                                    Submission.updated_at)
                             .where(Submission.tenant_id == scope.tenant, Submission.campaign_id == campaign.id))]
    extensions = {(e.org_id, e.track, e.stage): e.until for e in session.scalars(
        select(Extension).where(Extension.tenant_id == scope.tenant, Extension.campaign_id == campaign.id))}
    return rules.behind_orgs(tracks.values(), orgs, works, extensions, scope.reaches, now)


def _universities(session, audience: Audience | None) -> list[rules.UniversityFacts]:
    """The universities the campaign is for (its audience): one outside it is neither expected nor behind."""
    return [rules.UniversityFacts(t.id, t.name, t.contact_email)
            for t in session.scalars(select(Tenant).where(Tenant.kind == "university").order_by(Tenant.id))
            if includes(audience, t.id, t.category)]


def _family(session, root_id: str) -> list[str]:
    """The campaign and every copy derived from it, at any depth (a handful of rows: read them all)."""
    parent = dict(session.execute(select(Campaign.id, Campaign.derives_from)).all())

    def root(cid: str | None) -> str | None:
        for _ in range(16):
            if cid is None or parent.get(cid) is None:
                return cid
            cid = parent[cid]
        return None

    return [cid for cid in parent if root(cid) == root_id]


def _forwarding(session, campaign_id: str) -> dict[tuple[str, str], rules.UniversityWorks]:
    """Per university and track: works submitted, works forwarded to the ministry, the newest change (one GROUP BY:
    the national table can hold a million works)."""
    submitted = func.sum(case((Submission.state == SubmissionState.SUBMITTED.value, 1), else_=0))
    forwarded = func.sum(case((Submission.forwarded_to == MINISTRY, 1), else_=0))
    rows = session.execute(
        select(Submission.tenant_id, Submission.track, submitted, forwarded, func.max(Submission.updated_at))
        .where(Submission.campaign_id.in_(_family(session, campaign_id)))
        .group_by(Submission.tenant_id, Submission.track))
    return {(tenant, track): rules.UniversityWorks(int(s or 0), int(f or 0), last)
            for tenant, track, s, f, last in rows}


# --------------------------------------------------------------------------- the reminder


@dataclass(frozen=True)
class Outcome:
    """What a reminder did, for the page to say."""

    track_label: str
    sent: int
    already: int
    without_address: tuple[str, ...]  # names of those with no contact e-mail


def reminded_today(session, tenant: str, campaign_id: str, track: str, now: datetime) -> set[str]:
    """The orgs (universities) of the list reminded today, Beijing day of the platform clock: from the events sent."""
    day = beijing_date(now)
    found: set[str] = set()
    rows = session.scalars(select(OutboxMessage.envelope).where(
        OutboxMessage.event_type == EVENT, OutboxMessage.tenant == tenant, OutboxMessage.created_at >= utcnow() - _RECENT))
    for envelope in rows:
        data = envelope["data"]
        if data["campaign_id"] == campaign_id and data["track"] == track and beijing_date(data["requested_at"]) == day:
            found.update(r["org_id"] for r in data["recipients"])
    return found


def remind(session, outbox, person: dict, grants: list[dict], tenant: str | None, campaign_ref: str | None,
           track: str | None, address: str | None, now: datetime) -> Outcome:
    """Remind every org of one track's list that a grant of the person may remind; the event and its audit row
    commit together. `person`: the visitor (account_id, name, email)."""
    if not track:
        raise InvalidInput("请选择要提醒的赛道（每次提醒一个赛道的未提交名单）。", code="track_required", field="track",
                           expected="赛道", found=None)
    view = supervision_view(session, grants, tenant, campaign_ref, track, now)
    if view.campaign_id is None:
        raise NotFound(f"{view.scope.name}还没有可督查的活动。", code="campaign_not_found", found=campaign_ref)
    [listing] = view.tracks
    serialize_on(session, "supervision", view.scope.tenant, view.campaign_id, listing.key)
    decision = rules.decide_reminder(listing, reminded_today(session, view.scope.tenant, view.campaign_id,
                                                             listing.key, now))
    if decision.send:
        asked_as = rules.reach_label(view.scope.reaches, view.definition_tracks[listing.key])
        outbox.add(session, EVENT, view.scope.tenant, {
            "campaign_id": view.campaign_id, "campaign_title": view.campaign_title, "track": listing.key,
            "track_label": listing.label, "tenant_name": view.scope.name, "requested_at": now.isoformat(),
            "asked_by": {"account_id": person["account_id"], "name": person["name"], "email": person["email"],
                         "role": asked_as},
            "recipients": [{"org_id": r.org_id, "name": r.name, "level": r.level, "contact_email": r.contact_email,
                            "contact_name": r.contact_name, "stage": r.stage, "stage_label": r.stage_label,
                            "deadline": r.deadline.isoformat() if r.deadline else None, "days_late": r.days_late}
                           for r in decision.send]})
        record(session, view.scope.tenant, f"account:{person['account_id']} ({person['name']})"[:200], ACTION,
               "campaign", view.campaign_id, {"track": listing.key, "count": len(decision.send)}, address)
    return Outcome(listing.label, len(decision.send), len(decision.already),
                         tuple(r.name for r in decision.without_address))


# --------------------------------------------------------------------------- the export

EXPORT_HEADER = ["赛道", "层级", "{who}", "联系人", "联系邮箱", "联系电话", "状态", "待提交阶段", "截止时间（北京时间）",
                 "逾期天数", "最近活动（北京时间）"]


def _naive_beijing(when: datetime | None) -> datetime | None:
    return in_beijing(when).replace(tzinfo=None) if when else None  # Excel keeps no zone: the header says Beijing


def supervision_xlsx(view: View, title: str) -> bytes:
    """The lists as one sheet, a row per org (university) behind. Names, contacts and titles are people's text:
    every cell goes through `xlsx_cell`, so none is a formula."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("督查名单")
    who = "高校" if view.scope.ministry else "组织"
    ws.append([xlsx_cell(ws, title, font=Font(bold=True))])
    ws.append([xlsx_cell(ws, h.format(who=who), font=Font(bold=True)) for h in EXPORT_HEADER])
    for listing in view.tracks:
        for level in listing.levels:
            for r in level.behind:
                ws.append([*(xlsx_cell(ws, v) for v in (listing.label, level.label, r.name, r.contact_name,
                                                        r.contact_email, r.contact_phone, r.status_text, r.stage_label)),
                           xlsx_cell(ws, _naive_beijing(r.deadline), number_format="yyyy-mm-dd hh:mm"),
                           xlsx_cell(ws, r.days_late),
                           xlsx_cell(ws, _naive_beijing(r.last_activity), number_format="yyyy-mm-dd hh:mm")])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
