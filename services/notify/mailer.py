"""Sending e-mail: SMTP in production, a maildir folder on the embedded default."""
from __future__ import annotations

import mailbox
import smtplib
from collections.abc import Callable
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from urllib.parse import urlparse

from services.notify.mail import Unbuildable, body_text, header_text, recipient_address


def sender_address(configured: str) -> tuple[str, str]:
    """MAIL_FROM ("四个一行动平台 <noreply@example>") as (display name, address); ValueError if it is not one.

    Checked when the service starts: a bad setting must stop the service, not fail every message.
    """
    name, addr = parseaddr(configured)
    if not addr:
        raise ValueError(f"MAIL_FROM {configured!r} is not an address (expected 'Name <user@host>')")
    return name, recipient_address(addr)


def build_message(sender: str | tuple[str, str], to: str, subject: str, body: str, message_id: str,
                  html: str | None = None, attachments: list[tuple[str, str, bytes | None]] = ()) -> EmailMessage:
    """One message; every header goes through `header_text`, the recipient must be one bare address.

    `sender` is MAIL_FROM or (display name, address); `attachments` are (file name, content type, bytes),
    a file whose bytes are gone (None) makes the message Unbuildable. Raises `mail.Unbuildable` for a
    recipient that is not an address; nothing else raises for any text a subject, a display name or a
    body can hold (tests/unit/test_notify_mail.py tries arbitrary Unicode).
    """
    name, addr = sender_address(sender) if isinstance(sender, str) else sender
    msg = EmailMessage()
    msg["From"] = Address(display_name=header_text(name), addr_spec=recipient_address(addr))
    msg["To"] = recipient_address(to)
    msg["Subject"] = header_text(subject)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = header_text(message_id)
    msg.set_content(body_text(body), charset="utf-8")
    if html:
        msg.add_alternative(body_text(html), subtype="html", charset="utf-8")
    for name, content_type, data in attachments:
        if data is None:
            raise Unbuildable(f"附件“{header_text(name, 80)}”已不在平台上，邮件未发送。请联系平台管理员。")
        maintype, _, subtype = content_type.partition("/")
        # a Chinese file name is written as RFC 2231 says (filename*=utf-8''...), which mail clients decode
        msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream",
                           filename=header_text(name, 120))
    return msg


class Mailer:
    def __init__(self, url: str):
        self.url = urlparse(url)
        if self.url.scheme == "maildir":
            self.maildir = mailbox.Maildir(Path(self.url.path), create=True)
        elif self.url.scheme != "smtp":
            raise ValueError(f"unknown MAIL_URL {url!r} (expected smtp://host:port or maildir:///path)")

    def send_many(self, messages: list[EmailMessage],
                  on_outcome: Callable[[int, Exception | None], None] | None = None) -> list[Exception | None]:
        """Send over one connection; the outcome of each message, in order.

        A failure to connect is every message's failure; a refused recipient, or a message that
        cannot be serialised, is only that message's. `on_outcome(index, error)` is called as soon
        as each message's outcome is known, so the caller can record it before the next is
        sent: a crash then leaves at most one message whose sending is unrecorded.
        """
        outcomes: list[Exception | None] = []

        def settle(error: Exception | None) -> None:
            outcomes.append(error)
            if on_outcome is not None:
                on_outcome(len(outcomes) - 1, error)

        if self.url.scheme == "maildir":
            for m in messages:
                try:
                    self.maildir.add(m)
                    settle(None)
                except (ValueError, TypeError, LookupError) as exc:  # this message's bytes, not the folder
                    settle(exc)
            return outcomes
        try:
            smtp = smtplib.SMTP(self.url.hostname, self.url.port or 25, timeout=30)
        except (OSError, smtplib.SMTPException) as exc:
            for _ in messages:
                settle(exc)
            return outcomes
        with smtp:
            for m in messages:
                try:
                    smtp.send_message(m)
                    settle(None)
                except smtplib.SMTPServerDisconnected as exc:
                    while len(outcomes) < len(messages):
                        settle(exc)
                    break
                except Exception as exc:  # a refusal, or this message's bytes: the next one still goes
                    settle(exc)
                    try:
                        smtp.rset()
                    except (OSError, smtplib.SMTPException) as lost:
                        while len(outcomes) < len(messages):
                            settle(lost)
                        break
        return outcomes
