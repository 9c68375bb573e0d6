"""E-mail content and delivery policy: pure, no I/O besides reading templates.

Templates are Jinja2 text files in `templates/` (`<name>.subject.txt`,
`<name>.body.txt`), in Chinese. A university overrides one by placing a file of
the same name in `<TEMPLATE_DIR>/<tenant>/`; what it does not override falls
back to ours.
"""
from __future__ import annotations

import hashlib
import smtplib
from datetime import timedelta
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

DEFAULT_TEMPLATES = Path(__file__).with_name("templates")
MAX_ATTEMPTS = 8


class Templates:
    def __init__(self, override_root: str | None = None):
        self.override_root = Path(override_root) if override_root else None
        self._envs: dict[str, Environment] = {}

    def _env(self, tenant: str) -> Environment:
        if tenant not in self._envs:
            loaders = []
            if self.override_root is not None:
                loaders.append(FileSystemLoader(str(self.override_root / tenant)))
            loaders.append(FileSystemLoader(str(DEFAULT_TEMPLATES)))
            # Plain text mail: no HTML escaping; a missing value is an error, not a blank.
            self._envs[tenant] = Environment(loader=ChoiceLoader(loaders), undefined=StrictUndefined,
                                             autoescape=False, keep_trailing_newline=True)
        return self._envs[tenant]

    def render(self, name: str, tenant: str, context: dict) -> tuple[str, str]:
        env = self._env(tenant)
        subject = env.get_template(f"{name}.subject.txt").render(context).strip().replace("\n", " ")
        body = env.get_template(f"{name}.body.txt").render(context)
        return subject, body


def message_id(dedupe_key: str) -> str:
    """The same message always has the same Message-ID, so a resend is recognisable."""
    return f"<{hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]}@siyige.platform>"


def retry_delay(attempt: int) -> timedelta:
    """After the n-th failed attempt: 30 s, 1 min, 2 min, ... capped at 1 h."""
    return timedelta(seconds=min(30 * 2 ** max(0, attempt - 1), 3600))


def is_permanent(exc: Exception) -> bool:
    """A 5xx answer about the recipient will not change by retrying."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False
