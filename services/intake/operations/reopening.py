"""A change to the files of a submitted stage returns the work to before that stage."""
from __future__ import annotations

from sqlalchemy import select

from common import clock
from common.errors import Conflict
from common.locale import LEVEL_LABELS
from services.intake.domain import submission as rules
from services.intake.domain.lifecycles import SubmissionState
from services.intake.models import Org, Receipt, Submission
from services.intake.operations.audit import MEDIA, record, short
from services.intake.operations.submissions import move_submission
from services.intake.operations.tenants import Caller


def reopen_for_file(session, outbox, sub: Submission, track, org: Org, kind: str, reason: str, name: str,
                     file_id: str | None, by_portal: bool = True, caller: Caller | None = None) -> dict | None:
    """Apply the rule of the files of a submitted stage (domain/submission.py) to one change; None when the
    change touches no submitted stage. Returns what the caller is told.

    `caller`: who changed the file (the API's caller); None is media's newer check failing a file
    (operations/checks.py). Either way the reopening is a row of the audit log of its own: receipts were voided."""
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
    sub.stage, sub.complete = (back.key if back else None), False
    sub.receipt_no = latest.get(back.key) if back else None
    sub.submitted_at = sub.submitted_at if back else None
    sub.updated_at = now
    move_submission(session, sub, SubmissionState.SUBMITTED if back else SubmissionState.DRAFT, "reopened",
                    {"reason": reason, "file_id": file_id, "stage": reopening.stage.key, "voided_receipts": voided})
    record(session, sub.tenant_id, caller.actor if caller else MEDIA, "submission.reopened", "submission", sub.id,
           {"title": short(sub.title), "track": sub.track, "org_id": org.id, "org_name": short(org.name),
            "stage": reopening.stage.key, "reason": reason, "file_id": file_id, "voided_receipts": voided},
           caller.address if caller else None)
    outbox.add(session, "submission_reopened", sub.tenant_id, {
        "submission_id": sub.id, "campaign_id": sub.campaign_id, "track": sub.track, "org_id": org.id,
        "org_name": org.name, "org_level": org.level, "title": sub.title, "stage": sub.stage,
        "stages_submitted": [s.key for s in left],
        "reopened_stage": reopening.stage.key, "reason": reason, "file_id": file_id, "voided_receipts": voided,
        "reopened_at": now.isoformat(), "message": reopening.message, "contact_email": org.contact_email})
    return {"state": sub.state, "stage": sub.stage, "receipt_no": sub.receipt_no, "voided_receipts": voided,
            "reason": reason, "file_id": file_id, "message": reopening.message}
