"""The mails notify writes, and the message log they are written to.

Each mail's context is built here from the event (or the due reminder) that causes it, rendered
from the university's or our template, and added to the message log by `enqueue` in the same
transaction as the event's other effects, under a unique key: a redelivered event adds nothing.
The send loop (outgoing.py) delivers what the log holds.
"""
from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from eventlet import tpool
from sqlalchemy import select

from common.campaign.model import DECISION_KINDS
from common.db import serialize_on, utcnow
from common.levels import forward_limit
from common.locale import BEIJING, LEVEL_LABELS, ROUND_LABELS, beijing_iso, beijing_minute as beijing
from services.notify import announcement, hooks, portal, readmodel, reminders
from services.notify.contact import tenant_name as _tenant_name, whom_to_ask
from services.notify.lifecycles import MESSAGE, MessageState, WorkState
from services.notify.models import (
    CampaignCopy,
    Contact,
    FileCopy,
    ForwardedWork,
    MessageAttachment,
    MessageLog,
    SubmissionCopy,
    TenantName,
)

log = logging.getLogger(__name__)
VERDICT_LABELS = {"warnings": "通过（有建议）", "failed": "未通过"}


def enqueue(session, templates, *, kind: str, tenant: str, recipient: str, dedupe_key: str, context: dict,
            attachments: list[dict] | None = None, about: tuple[str | None, str | None] = (None, None)) -> bool:
    """Add a message to the log unless one with this key exists; True if added.

    Every mail's context has `contact`, whom its reader asks (contact.whom_to_ask), about the campaign and track
    `about` names, unless the caller says it. `attachments`: files stored with `store_attachment`."""
    if session.scalar(select(MessageLog.id).where(MessageLog.dedupe_key == dedupe_key)) is not None:
        return False
    context = {"contact": whom_to_ask(session, tenant, *about), **context}
    rendered = templates.render(kind, tenant, context)
    if rendered.template_error:
        log.warning("tenant %s: template for %s not used: %s", tenant, kind, rendered.template_error)
    message = MessageLog(dedupe_key=dedupe_key, kind=kind, tenant=tenant, recipient=recipient,
                         subject=rendered.subject, body=rendered.body, html_body=rendered.html,
                         template_error=rendered.template_error, attempts=0, next_attempt_at=utcnow(),
                         attachments=attachments or None)
    MESSAGE.move(message, MessageState.PENDING)
    session.add(message)
    return True


def stage_labels(session, campaign_id: str, track: str, stage: str) -> dict:
    """What a mail calls the campaign, track and stage: their titles from the campaign notify keeps."""
    campaign = session.get(CampaignCopy, campaign_id)
    spec = campaign.tracks.get(track, {}) if campaign else {}
    return {"campaign": campaign.title if campaign else campaign_id, "track": spec.get("label", track),
            "stage": spec.get("stage_labels", {}).get(stage, stage)}


# ------------------------------------------------------------------ mails caused by events


def notice_attachment(event) -> tuple[str, bytes] | None:
    """The notice as a Word document (name, bytes), or None without a notice. Built in tpool: python-docx is CPU
    work (a 20,000-character notice); the caller builds it before its transaction opens."""
    d = event.data
    if not d.get("notice"):
        return None
    name = announcement.attachment_name(d.get("short_title"), d["title"])
    return name, tpool.execute(announcement.notice_document, d["title"], d["notice"],
                               datetime.fromisoformat(event.occurred_at))


def queue_campaign_announcement(session, templates, event, notice: tuple[str, bytes] | None) -> int:
    """活动通知: a published campaign (or a correction of it: a new version) to its audience
    (announcement.recipients), with the notice attached as a Word document; once per campaign, version and
    recipient. How many were added. The copy keeps what the mail says, for those who arrive later
    (queue_late_announcements)."""
    d = event.data
    # who is there to tell is read after this: an org list or a university arriving at once waits, or is waited for
    serialize_on(session, "announcement", event.tenant)
    files, name = None, None
    if notice is not None:  # stored even with no one to tell yet: a later recipient gets it attached
        name, data = notice
        files = [store_attachment(session, name, announcement.DOCX_TYPE, data)]
    session.get(CampaignCopy, d["campaign_id"]).announcement = announcement.kept(d, files[0] if files else None)
    audience = announcement.recipients(event.tenant, d["tracks"], *_audience(session, event.tenant), d.get("audience"),
                                       owner_org_id=d.get("owner_org_id"))
    if not audience:
        return 0
    issuer = _tenant_name(session, event.tenant)
    version = d.get("version") or 1
    ask = whom_to_ask(session, event.tenant, d["campaign_id"])  # the publisher: who answers for the notice
    return sum(enqueue(session, templates, kind="campaign_announcement", tenant=r.tenant, recipient=r.email,
                       dedupe_key=announcement.dedupe_key(d["campaign_id"], version, r),
                       context={**announcement.mail_context(d, event.tenant, issuer, r, name), "contact": ask},
                       attachments=files)
               for r in audience)


def _audience(session, publisher: str) -> tuple[list[dict], list[dict]]:
    """(universities, orgs) whom a campaign of `publisher` may address: every university for the ministry's (with its
    category: the campaign's audience picks), the publisher's own orgs for a university's (announcement.recipients
    picks)."""
    if publisher == "ministry":
        return [{"tenant": t.tenant, "name": t.name, "contact_email": t.contact_email, "category": t.category}
                for t in session.scalars(select(TenantName))], []
    return [], [{"tenant": c.tenant, "org_id": c.org_id, "name": c.name, "level": c.level, "email": c.email,
                 "parent_id": c.parent_id} for c in session.scalars(select(Contact).where(Contact.tenant == publisher))]


def queue_late_announcements(session, templates, publisher: str, now: datetime) -> int:
    """活动通知 for those who arrived after `publisher`'s campaigns went out: an org imported later or whose address
    was added or changed (orgs_imported of a university), a university registered later (tenant_registered, for
    the ministry's campaigns). Each campaign still running (announcement.running) to each of its audience not told
    of its current version at its present address, once per campaign and recipient (announcement.late_recipients);
    a redelivered event or a second worker adds nothing (the processed event, the log's unique key, and the
    serialisation with the campaign's own announcement). How many were added."""
    serialize_on(session, "announcement", publisher)
    campaigns = [c for c in session.scalars(select(CampaignCopy).where(CampaignCopy.tenant == publisher)
                                            .order_by(CampaignCopy.campaign_id))
                 if announcement.running(c.tracks, now)]
    if not campaigns:
        return 0
    universities, orgs = _audience(session, publisher)
    issuer = _tenant_name(session, publisher)
    queued = 0
    for campaign in campaigns:
        audience = announcement.recipients(publisher, campaign.tracks, universities, orgs, campaign.audience,
                                           owner_org_id=(campaign.announcement or {}).get("owner_org_id"))
        told, told_late = _told(session, campaign, audience)
        late = announcement.late_recipients(audience, told, told_late)
        kept = campaign.announcement or announcement.kept({}, None)  # a copy from before 0015 kept nothing of it
        data = {"campaign_id": campaign.campaign_id, "title": campaign.title, "tracks": campaign.tracks,
                "version": campaign.version, **kept}
        attachment = kept.get("attachment")
        for r in late:
            queued += enqueue(session, templates, kind="campaign_announcement", tenant=r.tenant, recipient=r.email,
                              dedupe_key=announcement.late_dedupe_key(campaign.campaign_id, r),
                              context={**announcement.mail_context(data, publisher, issuer, r,
                                                                   attachment["name"] if attachment else None,
                                                                   late=True),
                                       "contact": whom_to_ask(session, publisher, campaign.campaign_id)},
                              attachments=[attachment] if attachment else None)
    if queued:
        log.info("%s: %d late campaign announcements queued", publisher, queued)
    return queued


def _told(session, campaign: CampaignCopy, audience: list) -> tuple[set[tuple[str, str]], set[str]]:
    """Who of `audience` was told of the campaign: ({(recipient key, address)} of its current version's
    announcements, {keys told late}); looked up by their exact keys, on the log's unique index."""
    current = {announcement.dedupe_key(campaign.campaign_id, campaign.version, r): r.key for r in audience}
    late = {announcement.late_dedupe_key(campaign.campaign_id, r): r.key for r in audience}
    told = {(current[key], to) for key, to in session.execute(
        select(MessageLog.dedupe_key, MessageLog.recipient).where(MessageLog.dedupe_key.in_(current)))}
    told_late = {late[key] for key in session.scalars(select(MessageLog.dedupe_key).where(MessageLog.dedupe_key.in_(late)))}
    return told, told_late


def store_attachment(session, name: str, content_type: str, data: bytes) -> dict:
    """Keep a file's bytes once (by their SHA-256) and say how a message refers to it."""
    sha = hashlib.sha256(data).hexdigest()
    if session.get(MessageAttachment, sha) is None:
        session.add(MessageAttachment(sha256=sha, data=data))
    return {"name": name, "content_type": content_type, "sha256": sha, "size": len(data)}



def queue_receipt(session, templates, event) -> None:
    """The receipt of a submitted stage, to the org's contact address the event carries."""
    d = event.data
    if not d.get("contact_email"):
        return
    enqueue(session, templates, kind="receipt", tenant=event.tenant, recipient=d["contact_email"],
            dedupe_key=f"receipt:{d['receipt_no']}", about=(d["campaign_id"], d["track"]), context={
                **d, **stage_labels(session, d["campaign_id"], d["track"], d["stage"]),
                "submitted_at": beijing(d["submitted_at"])})


def queue_check_result(session, templates, event, file: FileCopy) -> None:
    """Tell the org what to fix in a file media checked; a clean pass needs no e-mail."""
    d = event.data
    if d["verdict"] == "passed":
        return
    contact = session.get(Contact, file.org_id)
    if contact is None or not contact.email:
        return
    enqueue(session, templates, kind="check_result", tenant=event.tenant, recipient=contact.email,
            dedupe_key=f"check:{d['file_id']}:{d['checked_at']}", about=_work_of(session, file.submission_id), context={
                "org_name": contact.name, "file_name": file.name, "verdict": d["verdict"],
                "verdict_label": VERDICT_LABELS[d["verdict"]], "findings": d["findings"]})


def _work_of(session, submission_id: str) -> tuple[str | None, str | None]:
    """The campaign and track of a work notify has heard was submitted; (None, None) before that."""
    copy = session.get(SubmissionCopy, submission_id)
    return (copy.campaign_id, copy.track) if copy is not None else (None, None)


def queue_reopened(session, templates, event) -> None:
    """Tell the org that its receipt no longer holds: a change it did not make should not go unnoticed."""
    d = event.data
    if not d.get("contact_email"):
        return
    enqueue(session, templates, kind="reopened", tenant=event.tenant, recipient=d["contact_email"],
            dedupe_key=f"reopened:{d['submission_id']}:{d['reopened_at']}", about=(d["campaign_id"], d["track"]), context={
                **d, **stage_labels(session, d["campaign_id"], d["track"], d["reopened_stage"]),
                "reopened_at": beijing(d["reopened_at"])})


def queue_account_invite(session, templates, event) -> None:
    """The link where an invited person sets their password; the same event mails once."""
    d = event.data
    enqueue(session, templates, kind="account_invite", tenant=event.tenant, recipient=d["email"],
            dedupe_key=f"account-invite:{event.event_id}", context={**d, "expires": beijing(d["link_expires_at"])})


# A link asked for by e-mail (account_link_requested): which mail says what it is for.
LINK_MAILS = {"sign_in": "sign_in_link", "password_reset": "password_reset_link"}


def queue_account_link(session, templates, event) -> None:
    """The single-use link a person asked for (to sign in, or to set a new password); the same event mails once.

    The mail says where the request came from, so someone who did not ask sees that it was not them.
    """
    d = event.data
    enqueue(session, templates, kind=LINK_MAILS[d["purpose"]], tenant=event.tenant, recipient=d["email"],
            dedupe_key=f"account-link:{event.event_id}",
            context={**d, "expires": beijing(d["link_expires_at"]), "requested_from": d.get("requested_from") or "未记录"})


def queue_reviewer_invite(session, templates, event) -> None:
    d = event.data
    enqueue(session, templates, kind="reviewer_invite", tenant=event.tenant, recipient=d["email"],
            dedupe_key=f"invite:{event.event_id}", about=(d.get("campaign_id"), d.get("track")),
            context={**d, "reminder": d.get("reminder", False), "expires": beijing(d["link_expires_at"]),
                     "deadline": beijing(d["deadline"]) if d.get("deadline") else None})


def queue_selection_results(session, templates, event) -> None:
    """Tell each org whose work was ranked whether it goes on, or, from a final round, what its result is."""
    d = event.data
    track = readmodel.track_spec(session, d["campaign_id"], d["track"])
    round_title = f"{track.get('label', d['track'])} · {ROUND_LABELS.get(d['level'], d['level'])}"
    decision = final_decision(d)
    decider = _decider_name(session, event.tenant) if decision else ""
    for result in d["results"]:
        copy = session.get(SubmissionCopy, result["submission_id"])
        contact = session.get(Contact, copy.org_id) if copy is not None else None
        if contact is None or not contact.email:
            continue
        outcome = selection_outcome(decision, result, decider) if decision else {"final": False, "ranked": True,
                                                                                 "verdict": "", "outcome": ""}
        enqueue(session, templates, kind="selection_result", tenant=contact.tenant,
                recipient=contact.email, dedupe_key=f"selection:{d['round_id']}:{result['submission_id']}",
                about=(copy.campaign_id, d["track"]),
                context={**result, "org_name": contact.name, "round_title": round_title,
                         "title": result.get("title", ""),
                         "to_level_label": LEVEL_LABELS.get(d["to_level"] or "", ""), **outcome})


def final_decision(data: dict) -> dict | None:
    """The decision of a final round's selection_made (to_level null); one from before decisions was the
    ministry's national selection. None: the round forwards its chosen works up."""
    if data["to_level"] is not None:
        return None
    return data.get("decision") or {"level": "ministry", "kind": "select", "label": DECISION_KINDS["select"]}


def _decider_name(session, tenant: str) -> str:
    """Who decided, as an org's mail says it: 教育部 (not its department's registered name), or the university."""
    return "教育部" if tenant == "ministry" else _tenant_name(session, tenant)


def selection_outcome(decision: dict, result: dict, decider: str) -> dict:
    """A final result in words, for the result mail: `outcome` completes 「您单位报送的作品“…”」 and `verdict`
    the subject (「获表彰（优秀共产党员）」); `decider` is who decided (东南大学, 教育部). A vetting has no ranking
    to tell (`ranked` False)."""
    kind, label, category = decision["kind"], decision.get("label") or "", result.get("category")
    words = _final_words(kind, label, category, decision.get("publicity_days"), result["selected"], decider,
                         result.get("reason"))
    return {"final": True, "ranked": kind != "vetting", **words}


def _final_words(kind: str, label: str, category: str | None, days: int | None, selected: bool, decider: str,
                 reason: str | None = None) -> dict:
    where = f"在{decider}的评选中"
    if kind == "vetting":
        why = f"，原因：{reason}" if reason else ""
        return ({"verdict": "审核通过", "outcome": f"已通过{decider}的审核"} if selected else
                {"verdict": "审核未通过", "outcome": f"未通过{decider}的审核{why}"})
    if not selected:
        return {"verdict": "未入选", "outcome": f"{where}本次未入选。感谢您单位的积极参与"}
    if kind == "award":
        honour = f"{category}表彰" if category else (label if label.endswith("表彰") else f"{label}表彰")
        return {"verdict": f"获表彰（{category}）" if category else "获表彰", "outcome": f"{where}获{honour}"}
    if kind == "publicity":
        period = f" {days} 天" if days else ""
        return {"verdict": "入选公示", "outcome": f"{where}入选，现予公示{period}，公示期满无异议后结果生效"}
    if kind == "library":
        return {"verdict": "入库", "outcome": f"已被{decider}收入{label or '素材库'}"}
    named = "" if label in ("", DECISION_KINDS["select"]) else f"（{label}）"
    return {"verdict": "入选", "outcome": f"{where}入选{named}"}


def queue_publicity_ended(session, templates, event) -> int:
    """公示期满: tell each org whose work was published that the period is over and the result stands; the same
    event (or a second one for the same round) mails each work once. How many were added."""
    d = event.data
    track = readmodel.track_spec(session, d["campaign_id"], d["track"])
    round_title = f"{track.get('label', d['track'])} · {ROUND_LABELS.get(d['level'], d['level'])}"
    decider = _decider_name(session, event.tenant)
    queued = 0
    for work in d["works"]:
        copy = session.get(SubmissionCopy, work["submission_id"])
        contact = session.get(Contact, copy.org_id) if copy is not None else None
        if contact is None or not contact.email:
            continue
        queued += enqueue(session, templates, kind="publicity_ended", tenant=contact.tenant, recipient=contact.email,
                          dedupe_key=f"publicity-ended:{d['round_id']}:{work['submission_id']}",
                          about=(copy.campaign_id, d["track"]),
                          context={**publicity_ended_words(d, decider), "org_name": contact.name,
                                   "title": work["title"], "round_title": round_title})
    return queued


def publicity_ended_words(data: dict, decider: str) -> dict:
    """The 公示期满 mail's facts in words: who published, from which day through which (Beijing dates)."""
    start = datetime.fromisoformat(data["confirmed_at"]).astimezone(BEIJING).date()
    label = data["label"]
    named = "" if label == DECISION_KINDS["publicity"] else f"（{label}）"
    return {"decider": decider, "label": label, "named": named, "days": data["publicity_days"],
            "start": f"{start.year}年{start.month}月{start.day}日",
            "until": "{0}年{1}月{2}日".format(*map(int, data["until"].split("-")))}


def queue_supervision_reminders(session, templates, event) -> int:
    """督办: one mail to each org (or university) a person reminded, to the contact the event carries; the same
    event mails each recipient once. How many were added."""
    d = event.data
    asked = d["asked_by"]
    queued = 0
    for r in d["recipients"]:
        queued += enqueue(session, templates, kind="supervision_reminder", tenant=event.tenant,
                          recipient=r["contact_email"], dedupe_key=f"supervision:{event.event_id}:{r['org_id']}",
                          context={"org_name": r["name"], "contact_name": r.get("contact_name"),
                                   "university": r["level"] == "university", "campaign": d["campaign_title"],
                                   "track": d["track_label"], "stage": r["stage_label"],
                                   "deadline": beijing(r["deadline"]) if r["deadline"] else None,
                                   "days_late": r["days_late"], "tenant_name": d["tenant_name"],
                                   "asked_by": asked["name"], "asked_role": asked["role"],
                                   "asked_email": asked["email"]})
    return queued


# ------------------------------------------------------------------ mails of notify's own


def queue_reminders(session, templates, now: datetime) -> int:
    """Queue the deadline reminders due today (不掉队); how many were added (a second run adds none)."""
    campaigns = [{"campaign_id": c.campaign_id, "tenant": c.tenant, "title": c.title, "tracks": c.tracks}
                 for c in session.scalars(select(CampaignCopy).where(CampaignCopy.tenant != "ministry"))]
    contacts = {c.org_id: c for c in session.scalars(select(Contact))}
    submitted = {(x.campaign_id, x.track, stage, x.org_id)
                 for x in session.scalars(select(SubmissionCopy).where(SubmissionCopy.state == WorkState.SUBMITTED))
                 for stage in x.stages}
    due = reminders.due_reminders(
        now, campaigns, [{"tenant": c.tenant, "org_id": c.org_id, "level": c.level} for c in contacts.values()],
        submitted)
    queued = _enqueue_due(session, templates, "reminder", due, campaigns, contacts, lambda r, track: {
        "stage": track.get("stage_labels", {}).get(r.stage, r.stage), "deadline": beijing(r.deadline)})
    return queued + _queue_period_reminders(session, templates, now, campaigns, contacts)


def _enqueue_due(session, templates, kind: str, due: list, campaigns: list[dict], contacts: dict, context_of) -> int:
    """Each due reminder to its org's address (none: nobody to tell), with what every reminder says (the org, the
    campaign, the track, the days left) and what `context_of(reminder, track)` adds; how many were added."""
    by_id = {c["campaign_id"]: c for c in campaigns}
    queued = 0
    for r in due:
        contact = contacts[r.org_id]
        track = by_id[r.campaign_id]["tracks"][r.track]
        _tell_portal(session, kind, r, contact, by_id[r.campaign_id], track)
        if not contact.email:
            continue
        queued += enqueue(session, templates, kind=kind, tenant=r.tenant, recipient=contact.email,
                          dedupe_key=r.dedupe_key, about=(r.campaign_id, r.track), context={
                              "org_name": contact.name, "campaign": by_id[r.campaign_id]["title"],
                              "track": track.get("label", r.track), "days_left": r.days_left,
                              **context_of(r, track)})
    return queued


def _tell_portal(session, kind: str, r, contact, campaign: dict, track: dict) -> None:
    """The reminder also to the university's portal (webhook `deadline_reminder`), with or without an address."""
    data = {"campaign_id": r.campaign_id, "campaign_title": campaign["title"], "track": r.track,
            "track_label": track.get("label", r.track), "days_left": r.days_left, "org_id": r.org_id,
            "org_name": contact.name, "org_level": contact.level}
    if kind == "period_reminder":
        data.update(deadline=r.due.isoformat(), period=r.period, period_label=r.period_label)
    else:
        data.update(deadline=r.deadline.isoformat(), stage=r.stage,
                    stage_label=track.get("stage_labels", {}).get(r.stage, r.stage))
    hooks.enqueue(session, portal.deadline_reminder("period" if kind == "period_reminder" else "submit", r.dedupe_key,
                                                    r.tenant, utcnow().isoformat(), data))


def _queue_period_reminders(session, templates, now: datetime, campaigns: list[dict], contacts: dict) -> int:
    """A recurring track's record of the current period, to each org that has not submitted it, once per org, track
    and period (reminders.due_period_reminders)."""
    recurring = [c for c in campaigns if any(t.get("recurrence") for t in c["tracks"].values())]
    if not recurring:
        return 0
    submitted = {(x.campaign_id, x.track, x.period, x.org_id) for x in session.scalars(
        select(SubmissionCopy).where(SubmissionCopy.state == WorkState.SUBMITTED, SubmissionCopy.period.is_not(None),
                                     SubmissionCopy.campaign_id.in_([c["campaign_id"] for c in recurring])))}
    due = reminders.due_period_reminders(
        now, recurring, [{"tenant": c.tenant, "org_id": c.org_id, "level": c.level} for c in contacts.values()],
        submitted)
    return _enqueue_due(session, templates, "period_reminder", due, recurring, contacts,
                        lambda r, track: {"period": r.period_label, "due": beijing(r.due)})


def queue_forward_reminders(session, templates, now: datetime) -> int:
    """Queue the reminders to universities that have forwarded nothing in a track 3 and 1 days before its university
    deadline (reminders.due_forward_reminders); how many were added (a second run, on any replica, adds none: the
    message log's unique key). They go to the university's 组织部 mailbox (contact_email of tenant_registered):
    notify keeps no list of the department admins responsible for a track."""
    campaigns = [{"campaign_id": c.campaign_id, "tenant": c.tenant, "title": c.title, "derives_from": c.derives_from,
                  "tracks": c.tracks, "audience": c.audience} for c in session.scalars(select(CampaignCopy))]
    tenants = {t.tenant: t for t in session.scalars(select(TenantName).where(TenantName.tenant != "ministry"))}
    # a forwarded work from before events named its root campaign: the root is what its campaign derives from
    roots = {c["campaign_id"]: c["derives_from"] or c["campaign_id"] for c in campaigns}
    forwarded = {(tenant, root or roots.get(campaign_id, campaign_id), track)
                 for tenant, root, campaign_id, track in session.execute(
        select(ForwardedWork.tenant, ForwardedWork.root_campaign_id, ForwardedWork.campaign_id, ForwardedWork.track)
        .where(ForwardedWork.to_level == "ministry").distinct())}
    due = reminders.due_forward_reminders(now, campaigns, sorted(tenants), forwarded,
                                          {slug: t.category for slug, t in tenants.items()})
    by_id = {c["campaign_id"]: c for c in campaigns}
    queued = 0
    for r in due:
        university = tenants[r.tenant]
        campaign = by_id[r.campaign_id]
        track = campaign["tracks"][r.track]
        limit = forward_limit(track.get("forward", {}), track.get("quota", {}), "university")
        hooks.enqueue(session, portal.deadline_reminder("forward", r.dedupe_key, r.tenant, utcnow().isoformat(), {
            "campaign_id": r.campaign_id, "campaign_title": campaign["title"], "track": r.track,
            "track_label": track.get("label", r.track), "deadline": r.deadline.isoformat(), "days_left": r.days_left,
            "forward_limit": limit}))
        if not university.contact_email:
            continue
        queued += enqueue(session, templates, kind="forward_reminder", tenant=r.tenant,
                          recipient=university.contact_email, dedupe_key=r.dedupe_key, context={
                              "tenant_name": university.name, "campaign": campaign["title"],
                              "track": track.get("label", r.track), "deadline": beijing(r.deadline),
                              "days_left": r.days_left, "limit": limit,
                              "propaganda": track.get("department") == "propaganda"})
    return queued


def queue_address_failed(session, templates, message: MessageLog) -> None:
    """Tell the university's organisation department that an address cannot be reached (once per message)."""
    tenant = session.get(TenantName, message.tenant)
    if message.kind == "address_failed" or tenant is None or not tenant.contact_email:
        return  # never report a report: a dead admin mailbox would loop
    enqueue(session, templates, kind="address_failed", tenant=message.tenant, recipient=tenant.contact_email,
            dedupe_key=f"address_failed:{message.id}", context={
                "tenant_name": tenant.name, "recipient": message.recipient, "subject": message.subject,
                "error": message.last_error or "", "attempts": message.attempts})


# ------------------------------------------------------------------ the message log, as the API lists it


def log_page(session, tenant: str | None, state: str | None, limit: int) -> dict:
    """The newest `limit` messages of `tenant` (None: every university), of one state if given."""
    query = select(MessageLog)
    if tenant is not None:
        query = query.where(MessageLog.tenant == tenant)
    if state:
        query = query.where(MessageLog.state == state)
    rows = session.scalars(query.order_by(MessageLog.id.desc()).limit(limit))
    return {"items": [{"id": m.id, "kind": m.kind, "recipient": m.recipient, "subject": m.subject,
                       "state": m.state, "attempts": m.attempts, "last_error": m.last_error,
                       "template_error": m.template_error, "created_at": beijing_iso(m.created_at),
                       "sent_at": beijing_iso(m.sent_at)} for m in rows]}
