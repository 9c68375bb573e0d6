"""Sending e-mail: SMTP in production, a maildir folder on the embedded default."""
from __future__ import annotations

import mailbox
import smtplib
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

    def send(self, msg: EmailMessage) -> None:
        if self.url.scheme == "maildir":
            self.maildir.add(msg)
            return
        with smtplib.SMTP(self.url.hostname, self.url.port or 25, timeout=30) as smtp:
            smtp.send_message(msg)
