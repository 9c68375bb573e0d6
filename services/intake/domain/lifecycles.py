"""Intake's lifecycles: a submission (a work), a file of one, and a person's account.

Each is a `State` enum whose members carry the label users read, and a `Lifecycle` naming the
moves the use cases make; `Lifecycle.move` is the one place a state changes. The values are the
strings the database has always held (no migration).
Pure: no framework.
"""
from __future__ import annotations

from common.lifecycle import Lifecycle, State


class SubmissionState(State):
    DRAFT = "draft", "草稿"  # nothing submitted yet
    SUBMITTED = "submitted", "已提交"  # at least one stage; `stage` says the last, `complete` whether it was the final
    WITHDRAWN = "withdrawn", "已撤回"


# A work is submitted stage by stage (submitted -> submitted), and a change to the files of a submitted
# stage returns it to the stage before (still submitted) or to a draft (domain/submission.reopening_for_file).
# A withdrawal is final.
SUBMISSION = Lifecycle("submission", {
    None: {SubmissionState.DRAFT},
    SubmissionState.DRAFT: {SubmissionState.SUBMITTED, SubmissionState.WITHDRAWN},
    SubmissionState.SUBMITTED: {SubmissionState.DRAFT, SubmissionState.WITHDRAWN},
}, stamps={SubmissionState.SUBMITTED: "submitted_at", SubmissionState.WITHDRAWN: "withdrawn_at"})


class FileState(State):
    PENDING = "pending", "待上传"  # registered; the bytes have not arrived (or not been verified)
    RECEIVED = "received", "已收到"  # the folder backend received and verified the bytes; not yet confirmed
    STORED = "stored", "已保存"  # confirmed: part of the work
    DELETED = "deleted", "已删除"
    EXPIRED = "expired", "已过期"  # never confirmed within UPLOAD_TTL_S


# The states in which a file belongs to its work (the others are gone).
LIVE_FILE_STATES = (FileState.PENDING, FileState.RECEIVED, FileState.STORED)
# The states in which an upload is still open: its bytes may arrive, or it expires.
OPEN_UPLOAD_STATES = (FileState.PENDING, FileState.RECEIVED)

FILE = Lifecycle("file", {
    None: {FileState.PENDING},
    FileState.PENDING: {FileState.RECEIVED, FileState.STORED, FileState.DELETED, FileState.EXPIRED},
    FileState.RECEIVED: {FileState.STORED, FileState.DELETED, FileState.EXPIRED},
    FileState.STORED: {FileState.DELETED},
}, stamps={FileState.STORED: "stored_at"})


class AccountState(State):
    INVITED = "invited", "待设置密码"  # invited; no password yet (the invitation e-mail's link sets it)
    ACTIVE = "active", "已启用"
    DISABLED = "disabled", "已停用"  # by its home tenant's owner; signs in nowhere, keeps its grants


# Accepting the invitation activates an account (and stamps activated_at). Disabling is undone by
# enabling: back to active, or to invited when the person never set a password.
ACCOUNT = Lifecycle("account", {
    None: {AccountState.INVITED},
    AccountState.INVITED: {AccountState.ACTIVE, AccountState.DISABLED},
    AccountState.ACTIVE: {AccountState.DISABLED},
    AccountState.DISABLED: {AccountState.ACTIVE, AccountState.INVITED},
}, stamps={AccountState.ACTIVE: "activated_at"})
