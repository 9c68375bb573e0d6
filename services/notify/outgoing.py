"""The send loops: due mail to the mail server, due webhook deliveries to their receivers.

Each outcome is recorded in its own transaction as soon as it is known: in the message log
(sent; a temporary failure retried with backoff; a permanent refusal failed, and reported to the
university) or in the delivery log. The timers of service.py call these.
"""
from __future__ import annotations

import functools
import logging
import time

from sqlalchemy import select

from common import destinations
from common.db import utcnow
from services.notify import delivery, hooks, mail, messages, webhooks
from services.notify.lifecycles import MESSAGE, MessageState
from services.notify.mailer import build_message
from services.notify.models import MessageAttachment, MessageLog

log = logging.getLogger(__name__)
SEND_BATCH = 50


# ------------------------------------------------------------------ mail


def send_due_mail(db, mail_server) -> int:
    """Deliver pending messages whose time has come, batch by batch until none is due; how many were sent."""
    sent = 0
    while True:
        with db.transaction() as session:
            rows = due_messages(session)
        if not rows:
            return sent
        batch, built = _build(db, mail_server, rows)
        if not built:
            continue
        accepted, outcomes = _send(db, mail_server, batch, built)
        sent += accepted
        if len(rows) < SEND_BATCH or all(e is not None for e in outcomes):
            return sent  # the rest waits for its retry time


def due_messages(session) -> list[tuple]:
    due = session.scalars(select(MessageLog).where(MessageLog.state == MessageState.PENDING,
                                                   MessageLog.next_attempt_at <= utcnow())
                          .order_by(MessageLog.id).limit(SEND_BATCH)).all()
    return [(m.id, m.dedupe_key, m.recipient, m.subject, m.body, m.html_body, attachment_files(session, m.attachments))
            for m in due]


def attachment_files(session, listed: list[dict] | None) -> list[tuple[str, str, bytes | None]]:
    """(name, content type, bytes) of a message's files; None for bytes no longer stored (build_message refuses)."""
    files = []
    for a in listed or []:
        stored = session.get(MessageAttachment, a["sha256"])  # the identity map: a batch's shared notice loads once
        files.append((a["name"], a["content_type"], stored.data if stored is not None else None))
    return files


def _build(db, mail_server, rows: list[tuple]) -> tuple[list[tuple], list]:
    """The mail of each row; a message that cannot be built fails on its own, now, and the rest go out."""
    batch, built = [], []
    for row in rows:
        message_id, key, to, subject, body, html, files = row
        try:
            built.append(build_message(mail_server.sender, to, subject, body, mail.message_id(key), html, files))
            batch.append(row)
        except Exception as exc:
            with db.transaction() as session:
                attempt_failed(session, mail_server.templates, session.get(MessageLog, message_id), exc)
    return batch, built


def _send(db, mail_server, batch: list[tuple], built: list) -> tuple[int, list]:
    accepted = 0

    def record(index: int, error: Exception | None) -> None:
        # One commit per message, right after the mail server's answer: after a crash only the
        # message between its answer and this commit can go out again (with the same Message-ID).
        nonlocal accepted
        with db.transaction() as session:
            message = session.get(MessageLog, batch[index][0])
            if error is None:
                MESSAGE.move(message, MessageState.SENT, at=utcnow())
                message.attempts, message.last_error = message.attempts + 1, None
                accepted += 1
            else:
                attempt_failed(session, mail_server.templates, message, error)

    outcomes = mail_server.mailer.send_many(built, on_outcome=record)
    return accepted, outcomes


def attempt_failed(session, templates, message: MessageLog, exc: Exception) -> None:
    """Count a failed attempt; a message that failed for good is reported to its university."""
    _count_failure(message, exc)
    if message.state == MessageState.FAILED:
        messages.queue_address_failed(session, templates, message)


def _count_failure(message: MessageLog, exc: Exception) -> None:
    message.attempts += 1
    # mail.Unbuildable carries a Chinese reason for the organisation department; other errors are
    # the mail server's own words
    message.last_error = (str(exc) if isinstance(exc, mail.Unbuildable) else f"{type(exc).__name__}: {exc}")[:1000]
    if mail.is_permanent(exc) or message.attempts >= mail.MAX_ATTEMPTS:
        MESSAGE.move(message, MessageState.FAILED)
        log.warning("message %s to %s failed for good: %s", message.id, message.recipient, message.last_error)
    else:
        message.next_attempt_at = utcnow() + mail.retry_delay(message.attempts)


# ------------------------------------------------------------------ webhooks


def start_due_deliveries(db, sender) -> int:
    """Start the due deliveries there is room for, signed; each runs on its own in the pool.

    The caller does not wait for them: a slow receiver holds its own deliveries, not the next tick.
    """
    with db.transaction() as session:
        claimed = hooks.claim_due(session, utcnow(), sender.flights, sender.lease, destinations.destination_key)
    for delivery_id, lanes, url, secret, body, event_type, active in claimed:
        sender.flights.start(delivery_id, lanes, functools.partial(
            deliver, db, sender, delivery_id, url, secret, body, event_type, active))
    return len(claimed)


def deliver(db, sender, delivery_id: str, url: str, secret: str, body: str, event_type: str, active: bool) -> None:
    """One attempt of one delivery (none if its subscription was deleted), recorded in the delivery log."""
    if active:
        data = body.encode("utf-8")
        # Real time, whatever the platform clock says: receivers check the timestamp against
        # their own clock (5 minutes), and a rehearsal's clock stands in 2020.
        headers = webhooks.signature_headers(data, secret, int(time.time()), delivery_id, event_type)
        outcome = delivery.attempt(url, sender.policy, sender.resolve, data, headers, sender.total_s)
    else:
        outcome = delivery.Outcome(None, "订阅已删除")
    with db.transaction() as session:
        hooks.record_outcome(session, delivery_id, outcome.status, outcome.summary, active)
