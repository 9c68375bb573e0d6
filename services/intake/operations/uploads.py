"""The upload lifecycle of a work's files: register, confirm, delete."""
from __future__ import annotations

import secrets
from datetime import timedelta

from common import clock
from common.errors import Conflict
from common.objectstore import new_key
from services.intake.domain import submission as rules
from services.intake.domain.filetype import check_declared_type
from services.intake.models import FileRecord, Submission, Tenant
from services.intake.operations.files import mismatch_error, safe_name
from services.intake.operations.reopening import reopen_for_file
from services.intake.operations.submission_log import log
from services.intake.operations.submissions import ensure_editable, lock_for_change, submission_context


def register_file(session, outbox, tenant: Tenant, sub: Submission, body: dict, store, public_url: str,
                  ttl_s: int) -> tuple[FileRecord, dict, dict | None]:
    """A new file of a work; the third value says how the work left a submitted stage it belonged to."""
    lock_for_change(session, sub)
    definition, track, org = submission_context(session, tenant, sub)
    ensure_editable(session, definition, track, org, sub, "上传文件")
    rules.check_file_kind(track, body["kind"], body["size"])
    check_declared_type(body["kind"], body.get("content_type"))
    now = clock.now()
    name = safe_name(body["filename"])
    f = FileRecord(tenant_id=tenant.id, submission_id=sub.id, kind=body["kind"],
                   original_name=name, content_type=body.get("content_type") or
                   "application/octet-stream", declared_size=body["size"], declared_sha256=body["sha256"].lower(),
                   state="pending", expires_at=now + timedelta(seconds=ttl_s), created_at=now)
    f.id = secrets.token_hex(16)
    f.object_key = new_key(tenant.id, f.id)
    reopened = reopen_for_file(session, outbox, sub, track, org, f.kind, "file_added", name, f.id)
    if store.kind == "folder":
        f.upload_token = secrets.token_urlsafe(32)
        target = {"method": "PUT", "url": f"{public_url}/api/v1/uploads/{f.upload_token}",
                  "headers": {"Content-Type": "application/octet-stream"}}
    else:
        t = store.upload_target(f.object_key, f.declared_size, f.content_type)
        f.upload_id = t.upload_id
        target = t.to_dict()
    session.add(f)
    log(session, sub.id, "file_registered", {"file_id": f.id, "kind": f.kind})
    return f, target, reopened


def confirm_file(session, outbox, tenant: Tenant, f: FileRecord, verified_size: int | None,
                 verified_sha: str | None) -> FileRecord:
    """Mark a verified file stored and announce it; the caller did the verification."""
    if f.state == "stored":
        return f  # a retried confirmation is fine
    if verified_size is None:
        raise Conflict("尚未收到文件内容。请先按上传地址上传文件，再确认。", code="upload_missing",
                       expected="已上传", found="未上传")
    if verified_size != f.declared_size or verified_sha != f.declared_sha256:
        raise mismatch_error(f, verified_size, verified_sha or "")
    sub = session.get(Submission, f.submission_id)
    f.state, f.stored_at, f.upload_token = "stored", clock.now(), None
    log(session, sub.id, "file_stored", {"file_id": f.id})
    outbox.add(session, "file_uploaded", tenant.id, {
        "file_id": f.id, "submission_id": sub.id, "campaign_id": sub.campaign_id, "track": sub.track,
        "kind": f.kind, "object_key": f.object_key, "size": f.declared_size, "sha256": f.declared_sha256,
        "content_type": f.content_type, "original_name": f.original_name, "org_id": sub.org_id})
    return f


def delete_file(session, outbox, tenant: Tenant, f: FileRecord) -> tuple[FileRecord, dict | None]:
    """The file is gone; the second value says how the work left a submitted stage it belonged to."""
    sub = session.get(Submission, f.submission_id)
    lock_for_change(session, sub)
    definition, track, org = submission_context(session, tenant, sub)
    ensure_editable(session, definition, track, org, sub, "删除文件")
    f.state = "deleted"
    log(session, sub.id, "file_deleted", {"file_id": f.id})
    return f, reopen_for_file(session, outbox, sub, track, org, f.kind, "file_deleted", f.original_name, f.id)
