"""File records: how a file reads, lookups, names, what a mismatch says, and the one place a file's state changes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from common.errors import DomainError, NotFound, Unprocessable
from common.locale import beijing_iso
from services.intake.domain.lifecycles import FILE, LIVE_FILE_STATES, OPEN_UPLOAD_STATES, FileState
from services.intake.models import FileRecord, Submission
from services.intake.operations.submission_log import log, touch
from services.intake.operations.tenants import Caller, within_reach


def file_json(f: FileRecord) -> dict:
    return {"id": f.id, "submission_id": f.submission_id, "kind": f.kind, "name": f.original_name,
            "content_type": f.content_type, "size": f.declared_size, "sha256": f.declared_sha256,
            "state": f.state, "created_at": beijing_iso(f.created_at), "stored_at": beijing_iso(f.stored_at),
            "expires_at": beijing_iso(f.expires_at) if f.state == FileState.PENDING else None,
            "check": {"verdict": f.check_verdict, "findings": f.check_findings or [], "facts": f.check_facts or {},
                      "checked_at": beijing_iso(f.checked_at)},
            # the name the portal gave, when registration put the org's name in front (「党组织名称+作品名称」)
            **({"renamed_from": f.renamed_from} if getattr(f, "renamed_from", None) else {})}


def safe_name(name: str) -> str:
    """The name as shown to people; never used as a path."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = "".join(ch for ch in base if ch.isprintable())
    if base in ("", ".", ".."):
        raise Unprocessable(f"文件名“{name}”无效。请使用包含作品名称的普通文件名，如“计算机学院党委战疫故事.docx”。",
                            code="invalid_filename", field="filename", found=name)
    return base[:255]


def get_file(session, who: Caller, file_id: str) -> FileRecord:
    """A live file of the caller's tenant whose work lies within its key's reach; any other answers as missing."""
    f = session.scalar(select(FileRecord).join(Submission, Submission.id == FileRecord.submission_id).where(
        FileRecord.id == file_id, FileRecord.tenant_id == who.tenant.id,
        FileRecord.state.not_in((FileState.DELETED, FileState.EXPIRED)),
        *within_reach(session, who, Submission.org_id, Submission.track)))
    if f is None:
        raise NotFound(f"找不到文件 {file_id}。", code="file_not_found", found=file_id)
    return f


def files_of(session, sub: Submission) -> list[FileRecord]:
    """The files that belong to a work (registered, received or stored)."""
    return session.scalars(select(FileRecord).where(
        FileRecord.submission_id == sub.id, FileRecord.state.in_(LIVE_FILE_STATES))).all()


def stored_files_of(session, sub: Submission) -> list[FileRecord]:
    return session.scalars(select(FileRecord).where(FileRecord.submission_id == sub.id,
                                                    FileRecord.state == FileState.STORED)).all()


def mismatch_error(f: FileRecord, size: int, sha256: str) -> DomainError:
    if size != f.declared_size:
        return Unprocessable(
            f"收到的文件大小为 {size} 字节，与申报的 {f.declared_size} 字节不符，文件未保存。请重新上传完整文件。",
            code="size_mismatch", expected=f.declared_size, found=size)
    return Unprocessable(
        "收到的文件内容与申报的 SHA-256 校验值不符（文件在传输中损坏或申报值有误），文件未保存。请重新计算校验值并重新上传。",
        code="checksum_mismatch", expected=f.declared_sha256, found=sha256)


def expired_uploads(session, now: datetime, limit: int = 500) -> list[FileRecord]:
    return session.scalars(select(FileRecord).where(
        FileRecord.state.in_(OPEN_UPLOAD_STATES), FileRecord.expires_at < now).limit(limit)).all()


# What the submission log says when a file reaches a state; bytes received and uploads expired are not logged.
_LOGGED = {FileState.PENDING: "file_registered", FileState.STORED: "file_stored", FileState.DELETED: "file_deleted"}


def move_file(session, f: FileRecord, target: FileState, at: datetime | None = None) -> None:
    """The one place a file's state changes: the move, its time, the upload URL closed once the upload is
    over (stored or expired), and the log row of the work."""
    FILE.move(f, target, at=at)
    if target in (FileState.STORED, FileState.EXPIRED):
        f.upload_token = None
    action = _LOGGED.get(target)
    if action is not None:
        detail = {"file_id": f.id, "kind": f.kind} if target == FileState.PENDING else {"file_id": f.id}
        log(session, f.submission_id, action, detail)
    else:
        touch(session, f.submission_id)  # the work's files changed: its updated_at moves all the same
