"""The upload lifecycle of a work's files: register, receive the bytes, complete, delete, expire.

A file is registered (pending) with an upload target: the folder backend's own URL, or a presigned S3
upload. The bytes arrive there (the folder backend checks them as they arrive: received); the portal
then completes the upload, and the file is stored once its size and SHA-256 match what was declared.
Uploads never completed within UPLOAD_TTL_S expire. Each state change goes through `files.move_file`.

Receiving, completing and deleting take the service's `transaction` (a context manager factory) rather
than a session: the object store's work (gigabytes streamed, a multipart merged, an upload aborted) runs
between two transactions, so no transaction stays open while the bytes move.
"""
from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, BinaryIO

from sqlalchemy import select

from common import clock
from common.document_names import named_after_org
from common.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from common.objectstore import OffsetMismatch, SizeExceeded, UploadBusy, new_key, part_count
from services.intake.domain import submission as rules
from services.intake.domain.filetype import check_declared_type
from services.intake.domain.lifecycles import OPEN_UPLOAD_STATES, FileState
from services.intake.models import FileRecord, Submission
from services.intake.operations.audit import record_by, short
from services.intake.operations.files import expired_uploads, file_json, get_file, mismatch_error, move_file, safe_name
from services.intake.operations.idempotency import forget_idempotency_keys
from services.intake.operations.orgs import org_names
from services.intake.operations.reopening import reopen_for_file
from services.intake.operations.submissions import ensure_editable, lock_for_change, submission_context
from services.intake.operations.tenants import Caller

log = logging.getLogger(__name__)

Transaction = Callable[[], Any]  # the service's `db.transaction`: `with transaction() as session:`
CallerOf = Callable[[Any], Caller]  # who is calling, authenticated in a session


def _audit(session, caller: Caller, action: str, f: FileRecord) -> None:
    record_by(session, caller, action, "file", f.id, {"submission_id": f.submission_id, "kind": f.kind,
                                                      "name": short(f.original_name, 100), "size": f.declared_size})


def register_file(session, outbox, caller: Caller, sub: Submission, body: dict, store, public_url: str,
                  ttl_s: int) -> tuple[FileRecord, dict, dict | None]:
    """A new file of a work; the third value says how the work left a submitted stage it belonged to."""
    tenant = caller.tenant
    lock_for_change(session, sub)
    definition, track, org = submission_context(session, tenant, sub)
    ensure_editable(session, track, org, sub, "上传文件")
    rules.check_file_kind(track, body["kind"], body["size"])
    check_declared_type(body["kind"], body.get("content_type"))
    part_digests = declared_part_digests(body)
    now = clock.now()
    given = safe_name(body["filename"])
    name = upload_name(track, org, given)
    f = FileRecord(tenant_id=tenant.id, submission_id=sub.id, kind=body["kind"],
                   original_name=name, content_type=body.get("content_type") or
                   "application/octet-stream", declared_size=body["size"], declared_sha256=body["sha256"].lower(),
                   expires_at=now + timedelta(seconds=ttl_s), created_at=now)
    f.id = secrets.token_hex(16)
    f.object_key = new_key(tenant.id, f.id)
    if name != given:
        f.renamed_from = given  # not stored: the portal reads it once, in this response (file_json)
    _audit(session, caller, "file.added", f)
    reopened = reopen_for_file(session, outbox, sub, track, org, f.kind, "file_added", name, f.id, caller=caller)
    if store.kind == "folder":
        f.upload_token = secrets.token_urlsafe(32)
        target = {"method": "PUT", "url": f"{public_url}/api/v1/uploads/{f.upload_token}",
                  "headers": {"Content-Type": "application/octet-stream"}}
    else:
        t = store.upload_target(f.object_key, f.declared_size, f.content_type, f.declared_sha256, part_digests)
        f.upload_id = t.upload_id
        if t.upload_id and any(p.get("headers") for p in t.parts):
            f.part_sha256 = part_digests  # the part URLs signed them: confirmation checks S3's composite of them
        target = t.to_dict()
    session.add(f)
    move_file(session, f, FileState.PENDING)
    return f, target, reopened


def declared_part_digests(body: dict) -> list[str] | None:
    """The SHA-256 of each part the portal declared (`part_sha256`, optional), checked against the parts the file
    will be sent in: one up to 64 MiB (then it is the file's own SHA-256), else one per 64 MiB."""
    given = body.get("part_sha256")
    if given is None:
        return None
    digests = [d.lower() for d in given]
    count = part_count(body["size"])
    if len(digests) != count:
        raise InvalidInput(f"{body['size']} 字节的文件分 {count} 个分片上传（每片 64 MiB，最后一片为余下部分），"
                           f"part_sha256 应列出 {count} 个分片各自的 SHA-256，实际为 {len(digests)} 个。",
                           code="part_sha256_mismatch", field="part_sha256", expected=count, found=len(digests))
    if count == 1 and digests[0] != body["sha256"].lower():
        raise InvalidInput("不分片上传的文件只有一个分片，其 SHA-256 就是整个文件的 SHA-256（sha256），两者应相同。",
                           code="part_sha256_mismatch", field="part_sha256", expected=body["sha256"].lower(),
                           found=digests[0])
    return digests


def upload_name(track, org, given: str) -> str:
    """The name a file is filed under. Where the track has the naming rule (「党组织名称+作品名称」), a name that does
    not begin with the org's name gets it in front, rather than being refused: a branch secretary keeps moving, the
    portal shows the name the file now has (and `renamed_from`), and the 宣传部's folder sorts by college."""
    if not track.naming_rule:
        return given
    return named_after_org(given, org_names(org))[:255]


def _require_open_upload(session, token: str) -> FileRecord:
    f = session.scalar(select(FileRecord).where(FileRecord.upload_token == token))
    if f is None or f.state not in OPEN_UPLOAD_STATES or f.expires_at < clock.now():
        raise NotFound("上传地址无效或已过期。请重新申请上传。", code="upload_not_found")
    return f


def upload_offset(content_range: str | None, declared: int) -> int:
    """Where a PUT's bytes start: 0, or the start a resumed upload names in `Content-Range: bytes S-E/T` (the rest of
    the file: E is its last byte, T its declared size)."""
    if not content_range:
        return 0
    found = re.fullmatch(r"bytes (\d{1,15})-(\d{1,15})/(\d{1,15})", content_range.strip())
    if not found or int(found[2]) != declared - 1 or int(found[3]) != declared or int(found[1]) > int(found[2]):
        raise InvalidInput(f"续传的 Content-Range 应为“bytes 起点-{declared - 1}/{declared}”（从已收到的字节数起，发送文件的"
                           f"其余部分），实际为“{content_range[:80]}”。已收到多少字节请用 GET 上传地址查询（received）。",
                           code="invalid_content_range", field="Content-Range",
                           expected=f"bytes N-{declared - 1}/{declared}", found=content_range[:80])
    return int(found[1])


def upload_progress(transaction: Transaction, store, token: str) -> dict:
    """How much of an upload has arrived: where a client whose connection dropped goes on from."""
    with transaction() as session:
        f = _require_open_upload(session, token)
        key, declared, file_id, state = f.object_key, f.declared_size, f.id, f.state
    received = declared if state != FileState.PENDING else store.received(key)
    return {"file_id": file_id, "received": received, "size": declared, "state": state}


def receive_upload(transaction: Transaction, store, token: str, content_length: int | None,
                   stream: BinaryIO, content_range: str | None = None) -> tuple[int, dict]:
    """The folder backend's upload URL: the token authorises, like a presigned URL. The bytes are checked
    against the declared size and SHA-256 once all have arrived; a mismatch keeps nothing. A connection that
    drops keeps what arrived, and a PUT with `Content-Range` goes on from there (202 until the file is whole)."""
    with transaction() as session:
        f = _require_open_upload(session, token)
        key, declared, file_id = f.object_key, f.declared_size, f.id
    offset = upload_offset(content_range, declared)
    if content_length is not None and offset + content_length > declared:
        raise PayloadTooLarge(f"申报的文件大小为 {declared} 字节，本次从第 {offset} 字节起发送 {content_length} 字节。"
                              f"请上传申报的那个文件，或重新申请上传。", code="size_mismatch",
                              expected=declared - offset, found=content_length)
    try:
        stored = store.receive(key, stream, offset, declared)
    except SizeExceeded:
        raise PayloadTooLarge(f"发送的内容超过申报的 {declared} 字节，已丢弃。请上传申报的那个文件，或重新申请上传。",
                              code="size_mismatch", expected=declared) from None
    except OffsetMismatch as exc:
        raise Conflict(f"此文件已收到 {exc.received} 字节，续传应从第 {exc.received} 字节起，实际从第 {offset} 字节起。"
                       f"请按 Content-Range: bytes {exc.received}-{declared - 1}/{declared} 发送其余部分。",
                       code="upload_offset_mismatch", expected=exc.received, found=offset) from None
    except UploadBusy:
        raise Conflict("此文件的另一个上传请求正在进行。请等它结束（或中断）后，查询已收到的字节数再续传。",
                       code="upload_in_progress") from None
    if stored is None:
        return 202, {"file_id": file_id, "received": store.received(key), "size": declared, "state": FileState.PENDING}
    with transaction() as session:
        f = session.get(FileRecord, file_id)
        if stored.size != f.declared_size or stored.sha256 != f.declared_sha256:
            store.delete(key)
            raise mismatch_error(f, stored.size, stored.sha256)
        if f.state in OPEN_UPLOAD_STATES:
            move_file(session, f, FileState.RECEIVED)
        elif f.state != FileState.STORED:
            # deleted or expired while the bytes arrived: the upload URL is no longer valid, the bytes are not kept
            store.delete(key)
            raise NotFound("上传地址无效或已过期。请重新申请上传。", code="upload_not_found")
        state = f.state  # stored: completed by a retry while these same bytes arrived; nothing to change
    return 200, {"file_id": file_id, "received": stored.size, "size": stored.size, "sha256": stored.sha256,
                 "state": state}


def complete_upload(transaction: Transaction, store, outbox, caller_of: CallerOf, file_id: str,
                    parts: list | None) -> dict:
    """The portal says the bytes are up: verify them (received already, or stat S3's object after merging
    its parts), then store the file and announce it."""
    with transaction() as session:
        f = get_file(session, caller_of(session), file_id)
        state, key, upload_id, part_digests = f.state, f.object_key, f.upload_id, f.part_sha256
        declared = (f.declared_size, f.declared_sha256)
    size, sha = _verified(store, state, key, upload_id, declared, parts, part_digests)
    with transaction() as session:
        caller = caller_of(session)
        return file_json(confirm_file(session, outbox, caller, get_file(session, caller, file_id), size, sha))


def _verified(store, state: str, key: str, upload_id: str | None, declared: tuple[int, str],
              parts: list | None, part_digests: list[str] | None = None) -> tuple[int | None, str | None]:
    """The size and SHA-256 of the bytes as they stand (None: not there); a mismatching object is removed.

    S3 proves the object by the checksums it verified as the bytes arrived where it can (S3Store.checked_stat: the
    signed SHA-256 of a single PUT, the composite of the declared part digests); else it is read back whole."""
    if state == FileState.RECEIVED:
        return declared  # verified while the bytes arrived
    if state != FileState.PENDING or store.kind != "s3":
        return None, None
    if upload_id:
        _merge_parts(store, key, upload_id, parts, part_digests, part_count(declared[0]))
    stat = store.checked_stat(key, declared[1], part_digests if upload_id else None)
    if stat is None:
        return None, None
    if (stat.size, stat.sha256) != declared:
        store.delete(key)
    return stat.size, stat.sha256


def _merge_parts(store, key: str, upload_id: str, parts: list | None, part_digests: list[str] | None,
                 count: int) -> None:
    if not parts:
        raise InvalidInput("分片上传需要在确认时提供每个分片的 part_number 和 etag。", code="parts_missing",
                           field="parts", expected="parts", found=None)
    numbers = sorted(p["part_number"] for p in parts)
    if numbers != list(range(1, count + 1)):
        # S3 would merge whichever parts it is given (part numbers may have gaps): a part S3 refused (BadDigest) and
        # left out would make an object without it, read back only to be refused
        missing = sorted(set(range(1, count + 1)) - set(numbers))
        raise InvalidInput(f"此文件分 {count} 个分片上传，确认时应列出第 1 至第 {count} 个分片各一次"
                           + (f"，缺少第 {'、'.join(map(str, missing[:20]))} 个" if missing else "")
                           + "。请重新上传失败的分片后再确认。", code="parts_missing", field="parts",
                           expected=count, found=numbers[:100])
    try:
        store.complete_multipart(key, upload_id, parts, part_digests)
    except Exception as exc:  # noqa: BLE001 - S3 says which part is wrong
        raise InvalidInput(f"合并分片失败：{exc}。请检查每个分片都已上传成功后重试。",
                           code="multipart_failed", found=str(exc)[:300]) from None


def confirm_file(session, outbox, caller: Caller, f: FileRecord, verified_size: int | None,
                 verified_sha: str | None) -> FileRecord:
    """Mark a verified file stored and announce it; the caller did the verification."""
    if f.state == FileState.STORED:
        return f  # a retried confirmation is fine
    if verified_size is None:
        raise Conflict("尚未收到文件内容。请先按上传地址上传文件，再确认。", code="upload_missing",
                       expected="已上传", found="未上传")
    if verified_size != f.declared_size or verified_sha != f.declared_sha256:
        raise mismatch_error(f, verified_size, verified_sha or "")
    sub = session.get(Submission, f.submission_id)
    move_file(session, f, FileState.STORED, at=clock.now())
    _audit(session, caller, "file.stored", f)
    outbox.add(session, "file_uploaded", caller.tenant.id, {
        "file_id": f.id, "submission_id": sub.id, "campaign_id": sub.campaign_id, "track": sub.track,
        "kind": f.kind, "object_key": f.object_key, "size": f.declared_size, "sha256": f.declared_sha256,
        "content_type": f.content_type, "original_name": f.original_name, "org_id": sub.org_id})
    return f


def delete_file(session, outbox, caller: Caller, f: FileRecord) -> tuple[FileRecord, dict | None]:
    """The file is gone; the second value says how the work left a submitted stage it belonged to."""
    sub = session.get(Submission, f.submission_id)
    lock_for_change(session, sub)
    definition, track, org = submission_context(session, caller.tenant, sub)
    ensure_editable(session, track, org, sub, "删除文件")
    move_file(session, f, FileState.DELETED)
    _audit(session, caller, "file.deleted", f)
    return f, reopen_for_file(session, outbox, sub, track, org, f.kind, "file_deleted", f.original_name, f.id,
                              caller=caller)


def discard_file(transaction: Transaction, store, outbox, caller_of: CallerOf, file_id: str) -> dict:
    """DELETE of a file: deleted in one transaction, its bytes (or its unfinished upload) removed after."""
    with transaction() as session:
        caller = caller_of(session)
        f, reopened = delete_file(session, outbox, caller, get_file(session, caller, file_id))
        key, upload_id = f.object_key, f.upload_id
    store.abort(key, upload_id)
    return {"id": file_id, "state": FileState.DELETED.value, **({"reopened": reopened} if reopened else {})}


def clean_abandoned_uploads(transaction: Transaction, store, ttl_s: float) -> None:
    """Uploads never confirmed within UPLOAD_TTL_S expire and their bytes are removed; old Idempotency-Keys
    are forgotten on the same round."""
    with transaction() as session:
        expired = expired_uploads(session, clock.now())
        targets = [(f.object_key, f.upload_id) for f in expired]
        for f in expired:
            move_file(session, f, FileState.EXPIRED)
        forget_idempotency_keys(session, clock.now())
    for key, upload_id in targets:
        try:
            store.abort(key, upload_id)
        except Exception:  # noqa: BLE001 - try again next round is not needed: state already says expired
            log.exception("could not remove abandoned upload %s", key)
    partials = store.clean_partials(ttl_s)
    if targets or partials:
        log.info("cleaned %d abandoned uploads, %d partial files", len(targets), partials)
