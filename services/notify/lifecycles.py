"""Notify's lifecycles: its copy of a work, a message in the message log, a webhook delivery.

Each is a `State` enum whose members carry the label users read, and a `Lifecycle` naming the
moves notify makes; `Lifecycle.move` is the one place a state changes. The values are the strings
the database, the API (`GET /api/v1/messages?state=...`, a delivery's `state`) and the progress
counts have always held (no migration).
Pure: no framework.
"""
from __future__ import annotations

from common.lifecycle import Lifecycle, State


class WorkState(State):
    """Notify's copy of a work (SubmissionCopy), as intake's events describe it."""

    SUBMITTED = "submitted", "已提交"
    WITHDRAWN = "withdrawn", "已撤回"
    DRAFT = "draft", "未提交"  # reopened with no stage left in


# Events may arrive in any order, so a copy may start in any state. A withdrawal is final in intake:
# nothing moves a withdrawn copy again.
WORK = Lifecycle("work copy", {
    None: {WorkState.SUBMITTED, WorkState.WITHDRAWN, WorkState.DRAFT},
    WorkState.SUBMITTED: {WorkState.WITHDRAWN, WorkState.DRAFT},
    WorkState.DRAFT: {WorkState.SUBMITTED, WorkState.WITHDRAWN},
})


class MessageState(State):
    PENDING = "pending", "待发送"
    SENT = "sent", "已发送"
    FAILED = "failed", "发送失败"


# pending -> sent, or -> failed (refused for good or out of attempts). Replicas look for due mail
# without locking it, so two may send the same message (with the same Message-ID) and each records
# the mail server's answer: the later record stands, whichever it is.
MESSAGE = Lifecycle("message", {
    None: {MessageState.PENDING},
    MessageState.PENDING: {MessageState.SENT, MessageState.FAILED},
    MessageState.SENT: {MessageState.FAILED},
    MessageState.FAILED: {MessageState.SENT},
}, stamps={MessageState.SENT: "sent_at"})


class DeliveryState(State):
    PENDING = "pending", "待投递"
    DELIVERED = "delivered", "已投递"
    FAILED = "failed", "投递失败"


# pending -> delivered, or -> failed (out of attempts, or its subscription deleted); a replay makes any
# delivery pending again. An attempt whose claim outlived its lease (a stalled process) records its
# outcome over the newer attempt's, as it always has.
DELIVERY = Lifecycle("webhook delivery", {
    None: {DeliveryState.PENDING},
    DeliveryState.PENDING: {DeliveryState.DELIVERED, DeliveryState.FAILED},
    DeliveryState.DELIVERED: {DeliveryState.PENDING, DeliveryState.FAILED},
    DeliveryState.FAILED: {DeliveryState.PENDING, DeliveryState.DELIVERED},
}, stamps={DeliveryState.DELIVERED: "delivered_at"})
