"""Forwarding (择优报送): the works a round selected go to the level above, all or none."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from common import clock
from common.levels import LEVELS
from services.intake.domain import submission as rules
from services.intake.models import Campaign, Org, Submission, Tenant
from services.intake.operations.audit import REVIEW, record
from services.intake.operations.campaigns import definition_of, root_campaign_id
from services.intake.operations.files import stored_files_of
from services.intake.operations.submission_log import log


def forward_selection(session, outbox, round_tenant: str, data: dict) -> list[Submission]:
    """Forward the works a round selected to the level above, all or none, if it was confirmed by the level's
    forwarding deadline (rules.check_forward_deadline: judged by `confirmed_at`, not by when it arrived).

    A redelivered selection forwards nothing twice: works already at the target
    level are skipped. A final round's selection (to_level None: the ministry's,
    or the level where the track's decision says the selection ends) forwards
    nothing: its result is logged on each work it concerns.
    """
    now = clock.now()
    if data["to_level"] is None:
        _record_final_selection(session, data)
        return []
    facts, works = _selection_facts(session, round_tenant, data)
    moving = rules.decide_forward(facts)
    if not moving:
        return []
    tenant = session.get(Tenant, round_tenant)
    root = root_campaign_id(session, moving[0].campaign_id)
    for forwarding in moving:
        _forward(session, outbox, tenant, works[forwarding.work_id], forwarding, data, root, now)
    # one row for the selection, in the log of the tenant whose round chose: review's admin confirmed it there
    record(session, tenant.id, REVIEW, "selection.forwarded", "round", data["round_id"], {
        "track": data["track"], "level": data["level"], "to_level": data["to_level"],
        "submission_ids": [forwarding.work_id for forwarding in moving]})
    return [works[forwarding.work_id][0] for forwarding in moving]


def _record_final_selection(session, data: dict) -> None:
    """Each work's result (「获表彰（优秀共产党员）」…) as a `decided` row of its append-only submission log; a
    redelivered selection is handled once (the event handler's processed-event table)."""
    for decided in rules.decide_final(data):
        if session.get(Submission, decided.work_id) is not None:  # a university's round names only its own
            log(session, decided.work_id, "decided", decided.detail)


def _selection_facts(session, round_tenant: str, data: dict) -> tuple[rules.SelectionFacts, dict]:
    """The selected works as intake holds them, with the track and the works already forwarded of each campaign
    they belong to; and the rows themselves, by id, to apply the decision to."""
    selected, works = [], {}
    for sid in data["selected"]:
        sub = session.get(Submission, sid)
        if sub is None:
            selected.append(rules.SelectedWork(sid))
            continue
        org = session.get(Org, sub.org_id)
        works[sid] = (sub, org)
        selected.append(rules.SelectedWork(sid, True, sub.tenant_id, sub.track, sub.title, sub.state, sub.complete,
                                           sub.forwarded_to, org.level, sub.campaign_id))
    campaigns = {sub.campaign_id for sub, _ in works.values() if sub.tenant_id == round_tenant}
    facts = rules.SelectionFacts(
        tenant_id=round_tenant, track_key=data["track"], level=data["level"], to_level=data["to_level"],
        works=tuple(selected),
        tracks={c: definition_of(session.get(Campaign, c)).tracks.get(data["track"]) for c in campaigns},
        already={c: _already_forwarded(session, round_tenant, c, data) for c in campaigns},
        confirmed_at=confirmed_at(data))
    return facts, works


def confirmed_at(data: dict) -> datetime:
    """When review's admin confirmed the selection, as the event says. An event from before review sent
    `confirmed_at` is judged by intake's clock on handling it: the envelope's occurred_at is the wall clock, not
    the platform clock the deadlines are compared with (a rehearsal runs in 2020)."""
    if data.get("confirmed_at"):
        return datetime.fromisoformat(data["confirmed_at"])
    return clock.now()


def _already_forwarded(session, round_tenant: str, campaign_id: str, data: dict) -> int:
    """Works of the campaign's track this level (the round's owner org, at level2) forwarded to `to_level` or above."""
    reached = [lv for lv in LEVELS if LEVELS.index(lv) >= LEVELS.index(data["to_level"])]
    already = select(func.count()).select_from(Submission).join(Org, Org.id == Submission.org_id).where(
        Submission.tenant_id == round_tenant, Submission.campaign_id == campaign_id,
        Submission.track == data["track"], Submission.forwarded_to.in_(reached))
    if data["level"] == "level2":
        owner = data["owner_org_id"]
        already = already.where((Org.parent_id == owner) | (Org.id == owner))
    return session.scalar(already)


def _forward(session, outbox, tenant: Tenant, work: tuple[Submission, Org], forwarding: rules.Forwarding, data: dict,
             root: str, now) -> None:
    sub, org = work
    to_level = data["to_level"]
    sub.forwarded_to, sub.forwarded_at = to_level, now
    log(session, sub.id, "forwarded", {"to": to_level, "round_id": data["round_id"]})
    files = stored_files_of(session, sub)
    outbox.add(session, "submission_forwarded", tenant.id, {
        "submission_id": sub.id, "campaign_id": sub.campaign_id, "track": sub.track, "org_id": org.id,
        "org_name": org.name, "org_level": org.level, "from_level": forwarding.from_level, "to_level": to_level,
        "title": sub.title, "receipt_no": sub.receipt_no, "forwarded_at": now.isoformat(),
        "fields": sub.fields, "tenant_name": tenant.name, "root_campaign_id": root,
        "files": [{"file_id": f.id, "kind": f.kind, "object_key": f.object_key, "size": f.declared_size,
                   "content_type": f.content_type, "sha256": f.declared_sha256, "verdict": f.check_verdict}
                  for f in files],
    })
