"""Notify's copies of other services' data, kept from their events: one use case per event.

Campaigns, tenants, API keys and orgs from intake; works and their files from intake and media;
forwarded works from review. Each runs in its event's once-only transaction (`handles(..., once=True)`)
and recounts the progress rows it touches (readmodel.py).
"""
from __future__ import annotations

import logging
from datetime import datetime

from eventlet import tpool
from sqlalchemy import delete

from common.campaign.versions import version_of
from common.copies import name_tenant, record_key_issued, record_key_revoked, takes_campaign_version
from services.notify import library, periods, readmodel
from services.notify.lifecycles import WORK, WorkState
from services.notify.models import ApiKeyCopy, CampaignCopy, Contact, FileCopy, SubmissionCopy, TenantName, WebSession

log = logging.getLogger(__name__)

# ------------------------------------------------------------------ intake's campaigns, tenants, keys and orgs


def record_campaign_published(session, event) -> bool:
    """Replace the copy of a campaign by the published version; False (nothing changed) if the copy is newer.

    Events come at least once and the dead letters may replay an old `campaign_published` after a correction:
    an older version than the copy's is ignored, so labels, stages and deadlines never go back.
    """
    d = event.data
    version = version_of(d)
    if not takes_campaign_version(session, CampaignCopy, d["campaign_id"], version, log):
        return False
    before = session.get(CampaignCopy, d["campaign_id"])
    audience_before = before.audience if before is not None else None
    campaign = session.merge(CampaignCopy(campaign_id=d["campaign_id"], tenant=event.tenant, title=d["title"],
                                          derives_from=d["derives_from"], tracks=d["tracks"], version=version,
                                          audience=d.get("audience")))
    session.flush()
    readmodel.refresh_campaign(session, campaign)
    if campaign.tenant == "ministry" and campaign.audience != audience_before:
        readmodel.refresh_copies_of(session, campaign.campaign_id)  # who is counted under it changed
    return True


def record_tenant_registered(session, event) -> None:
    """A tenant's name, where to report addresses that fail for good, and its category (sent again when an operator
    sets it): a university that leaves or joins a campaign's audience is no longer, or now, counted under it."""
    d = event.data
    tenant = name_tenant(session, TenantName, event.tenant, d["name"])
    changed = tenant.category != d.get("category")
    tenant.contact_email, tenant.category = d["contact_email"], d.get("category")
    if changed:
        session.flush()
        readmodel.refresh_tenant(session, event.tenant)


def record_api_key_issued(session, event) -> None:
    record_key_issued(session, ApiKeyCopy, TenantName, event.tenant, event.data, needs=("submit", "read:feeds"))


def record_api_key_revoked(session, event) -> None:
    record_key_revoked(session, ApiKeyCopy, WebSession, event.data)  # signed in with it: signed out now


def record_orgs_imported(session, event) -> None:
    session.execute(delete(Contact).where(Contact.tenant == event.tenant))
    for org in event.data["orgs"]:
        session.add(Contact(org_id=org["org_id"], tenant=event.tenant, name=org["name"], level=org["level"],
                            parent_id=org.get("parent_id"), email=org.get("contact_email")))
    session.flush()
    readmodel.refresh_tenant(session, event.tenant)


# ------------------------------------------------------------------ works, from intake


def work_copy(session, tenant: str, d: dict, level: str, state: WorkState) -> SubmissionCopy:
    """Notify's copy of a work, made on the first event about it with the state that event implies."""
    copy = session.get(SubmissionCopy, d["submission_id"])
    if copy is None:
        copy = SubmissionCopy(submission_id=d["submission_id"], tenant=tenant, campaign_id=d["campaign_id"],
                              track=d["track"], org_id=d["org_id"], level=level, stages=[], complete=False)
        WORK.move(copy, state)
        session.add(copy)
    return copy


def record_submission_submitted(session, event) -> None:
    d = event.data
    copy = work_copy(session, event.tenant, d, d["org_level"], WorkState.SUBMITTED)
    submitted_at = datetime.fromisoformat(d["submitted_at"])
    copy.level = d["org_level"]
    # A reopening that overtook this event undid this stage already; the count stays as it left it.
    if not readmodel.happened_before(submitted_at, copy.last_reopened_at):
        copy.stages = sorted(set(copy.stages) | {d["stage"]})
        if copy.state != WorkState.WITHDRAWN:  # a withdrawal that overtook this event wins: it is final in intake
            WORK.move(copy, WorkState.SUBMITTED)
        copy.complete = copy.complete or d["final_stage"]
        copy.last_submitted_at = readmodel.latest(copy.last_submitted_at, submitted_at)
        # a recurring track's record counts in its month (the event's fields; a campaign not known here: no period)
        copy.period = periods.work_period(readmodel.track_spec(session, d["campaign_id"], d["track"]), d.get("fields"))
    session.flush()
    readmodel.refresh(session, event.tenant, d["campaign_id"], d["track"], d["org_level"])


def record_submission_withdrawn(session, event) -> None:
    d = event.data
    # Out of order, the submission's event is still on its way: the copy made here remembers
    # the withdrawal, so that event does not count the work as submitted when it arrives.
    contact = session.get(Contact, d["org_id"])
    copy = work_copy(session, event.tenant, d, contact.level if contact else "level2", WorkState.WITHDRAWN)
    WORK.move(copy, WorkState.WITHDRAWN)
    session.flush()
    readmodel.refresh(session, event.tenant, copy.campaign_id, copy.track, copy.level)


def record_submission_reopened(session, event) -> None:
    """A file of a submitted stage changed: the work counts as submitted only up to the stages still in."""
    d = event.data
    copy = work_copy(session, event.tenant, d, d["org_level"], WorkState.DRAFT)
    reopened_at = datetime.fromisoformat(d["reopened_at"])
    # A submission after this reopening that arrived first already counts the work as it is now.
    if copy.state != WorkState.WITHDRAWN and not readmodel.happened_before(reopened_at, copy.last_submitted_at):
        copy.stages = [st for st in copy.stages if st in d["stages_submitted"]]
        copy.complete = False
        WORK.move(copy, WorkState.SUBMITTED if copy.stages else WorkState.DRAFT)
        copy.last_reopened_at = readmodel.latest(copy.last_reopened_at, reopened_at)
    session.flush()
    readmodel.refresh(session, event.tenant, copy.campaign_id, copy.track, copy.level)


def record_submission_forwarded(session, event, store, segmenter) -> None:
    """A work forwarded upward, with the keywords of its prose and of the text media read in its files."""
    d = event.data
    text = library.work_text(session, store, d["fields"], d["files"], d["campaign_id"], d["track"])
    keywords = [w for w, _ in tpool.execute(segmenter.keywords, text, 8)] if text else []
    readmodel.record_forwarded(session, event.tenant, d, keywords)


# ------------------------------------------------------------------ files, from intake and media


def record_file_uploaded(session, event) -> None:
    d = event.data
    session.merge(FileCopy(file_id=d["file_id"], tenant=event.tenant, submission_id=d["submission_id"],
                           org_id=d["org_id"], name=d["original_name"]))


def record_file_checked(session, event) -> FileCopy:
    """Remember what the file is (the type media determined, which its links serve it under) and where
    media put its text."""
    d = event.data
    text_key = (d.get("derived") or {}).get("text")
    file = session.get(FileCopy, d["file_id"])
    if file is None:
        # the upload's event is still on its way: retry later rather than lose the type or the mail
        raise LookupError(f"file {d['file_id']} not known yet")
    file.content_type = (d.get("facts") or {}).get("content_type")
    if text_key:
        file.text_key = text_key
    return file
