"""Sending e-mail: SMTP in production, a maildir folder on the embedded default."""
from __future__ import annotations

import mailbox
import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlparse


def build_message(sender: str, to: str, subject: str, body: str, message_id: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id
    msg.set_content(body, charset="utf-8")
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

        A failure to connect is every message's failure; a refused recipient is
        only that message's. `on_outcome(index, error)` is called as soon as each
        message's outcome is known, so the caller can record it before the next is
        sent: a crash then leaves at most one message whose sending is unrecorded.
        """
        outcomes: list[Exception | None] = []

        def settle(error: Exception | None) -> None:
            outcomes.append(error)
            if on_outcome is not None:
                on_outcome(len(outcomes) - 1, error)

        if self.url.scheme == "maildir":
            for m in messages:
                self.maildir.add(m)
                settle(None)
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
                except (OSError, smtplib.SMTPException) as exc:
                    settle(exc)
                    smtp.rset()
        return outcomes
