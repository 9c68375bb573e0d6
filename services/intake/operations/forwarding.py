"""Forwarding (择优报送): the works a round selected go to the level above."""
from __future__ import annotations

from sqlalchemy import func, select

from common import clock
from common.errors import Conflict, NotFound
from common.locale import LEVEL_LABELS
from services.intake.domain import submission as rules
from services.intake.domain.campaign import LEVELS
from services.intake.models import FileRecord, Org, Submission, Tenant
from services.intake.operations.campaigns import root_campaign_id
from services.intake.operations.submission_log import log
from services.intake.operations.submissions import submission_context


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
    definition, track, _ = submission_context(session, session.get(Tenant, round_tenant), moving[0][0])
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
