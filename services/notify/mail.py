"""E-mail content and delivery policy: pure, no I/O besides reading templates.

Templates are Jinja2 files in `templates/` (`<name>.subject.txt`,
`<name>.body.txt`, optionally `<name>.body.html`), in Chinese. A university
overrides one by placing a file of the same name in `<TEMPLATE_DIR>/<tenant>/`;
what it does not override falls back to ours.

Everything that reaches a mail header goes through `header_text`: titles, org
and reviewer names, file names come from events, and one line separator in one
title used to make building the subject raise and stop the sender for every
university (issue #14).
"""
from __future__ import annotations

import hashlib
import re
import smtplib
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

DEFAULT_TEMPLATES = Path(__file__).with_name("templates")
MAX_ATTEMPTS = 8
# The message log's subject column holds 300; a subject is read on a phone's lock screen anyway.
SUBJECT_LIMIT = 200
# A university's template that writes more than this is cut there (a loop in a template must not
# fill the message log); ours write a few hundred characters.
RENDER_LIMIT = 100_000
# Tenant slugs as intake issues them; anything else never names a folder under TEMPLATE_DIR.
_TENANT_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# A plain addr-spec: no display name, no comments, no second address, nothing to fold.
_ADDRESS = re.compile(r"[^\s@<>(),;:\"\[\]\\]{1,64}@[^\s@<>(),;:\"\[\]\\]{1,253}")


class Unbuildable(ValueError):
    """A message that cannot be turned into mail; retrying builds the same bytes, so it fails for good."""


def header_text(value: object, limit: int = SUBJECT_LIMIT) -> str:
    """Any text as one line fit for a mail header. Never raises; the result has no line break.

    Control characters and line or paragraph separators (U+2028, U+2029, U+0085, CR, VT, FF,
    the file/group/record separators: everything `str.splitlines` splits on) become a space,
    lone surrogates (JSON can carry them) and invisible format characters (bidi overrides,
    zero-width) are dropped, runs of white space become one space, and the text is cut at
    `limit` characters with an ellipsis.
    """
    kept = []
    for ch in str(value):
        category = unicodedata.category(ch)
        if category in ("Cc", "Zl", "Zp"):
            kept.append(" ")
        elif category not in ("Cs", "Cf"):
            kept.append(ch)
    text = " ".join("".join(kept).split())
    if len(text) > limit:
        text = text[:limit - 1].rstrip() + "…"
    return text


def body_text(value: str) -> str:
    """A body that encodes as UTF-8: lone surrogates out, line ends as written otherwise."""
    return value.encode("utf-8", errors="replace").decode("utf-8") if _has_surrogate(value) else value


def _has_surrogate(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def recipient_address(value: str) -> str:
    """The recipient as a bare address, or Unbuildable: a line break or a comma in an address is
    a second recipient or a header being smuggled in, not something to clean up and send."""
    address = str(value).strip()
    if len(address) > 254 or not _ADDRESS.fullmatch(address) or header_text(address, 254) != address:
        raise Unbuildable(f"收件地址“{header_text(address, 80)}”不是有效的邮箱地址（应为 name@example.edu.cn 形式，"
                          "不含空白、换行或第二个地址），未发送。请在组织名单或专家名单中改正该邮箱后重新导入。")
    return address


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    html: str | None = None
    # Why the university's own template was not used (it failed; ours was used instead).
    template_error: str | None = None


class Templates:
    """Our templates, and each university's overrides rendered in Jinja2's sandbox.

    A university's template is not code we wrote: in the sandbox it cannot reach Python
    internals (`''.__class__.__mro__` raises SecurityError). When one fails for any reason,
    the message is rendered from our template instead and carries the reason, so the org still
    gets its receipt and the university sees what to fix (`GET /api/v1/messages`).
    """

    def __init__(self, override_root: str | None = None):
        self.override_root = Path(override_root) if override_root else None
        self._ours = self._environment(DEFAULT_TEMPLATES)
        self._theirs: dict[str, SandboxedEnvironment] = {}

    @staticmethod
    def _environment(folder: Path) -> SandboxedEnvironment:
        # Text parts are not escaped (mail clients show them as written); HTML parts are.
        # A missing value is an error, not a blank.
        return SandboxedEnvironment(loader=FileSystemLoader(str(folder)), undefined=StrictUndefined,
                                    autoescape=select_autoescape(enabled_extensions=("html", "htm"),
                                                                 default_for_string=False, default=False),
                                    keep_trailing_newline=True)

    def _override(self, tenant: str, filename: str) -> SandboxedEnvironment | None:
        if self.override_root is None or not _TENANT_SLUG.fullmatch(tenant or ""):
            return None
        folder = self.override_root / tenant
        if not (folder / filename).is_file():
            return None
        if tenant not in self._theirs:
            self._theirs[tenant] = self._environment(folder)
        return self._theirs[tenant]

    def _part(self, tenant: str, filename: str, context: dict, problems: list[str]) -> str | None:
        theirs = self._override(tenant, filename)
        if theirs is not None:
            try:
                return _render(theirs, filename, context)
            except Exception as exc:  # SecurityError, syntax, undefined values, a filter that raised ...
                problems.append(f"本校模板 {filename} 无法使用（{type(exc).__name__}: {header_text(exc, 300)}），"
                                "已改用平台默认模板。请改正 TEMPLATE_DIR 中的该模板。")
        if not (DEFAULT_TEMPLATES / filename).is_file():
            return None
        return _render(self._ours, filename, context)

    def render(self, name: str, tenant: str, context: dict) -> Rendered:
        problems: list[str] = []
        subject = self._part(tenant, f"{name}.subject.txt", context, problems)
        body = self._part(tenant, f"{name}.body.txt", context, problems)
        html = self._part(tenant, f"{name}.body.html", context, problems)
        return Rendered(subject=header_text(subject), body=body_text(body), html=body_text(html) if html else None,
                        template_error=" ".join(problems) or None)


def _render(env: SandboxedEnvironment, filename: str, context: dict) -> str:
    out, size = [], 0
    for chunk in env.get_template(filename).generate(context):
        out.append(chunk)
        size += len(chunk)
        if size > RENDER_LIMIT:
            break
    return "".join(out)[:RENDER_LIMIT]


def message_id(dedupe_key: str) -> str:
    """The same message always has the same Message-ID, so a resend is recognisable."""
    return f"<{hashlib.sha256(dedupe_key.encode('utf-8', errors='replace')).hexdigest()[:32]}@siyige.platform>"


def retry_delay(attempt: int) -> timedelta:
    """After the n-th failed attempt: 30 s, 1 min, 2 min, ... capped at 1 h."""
    return timedelta(seconds=min(30 * 2 ** max(0, attempt - 1), 3600))


def is_permanent(exc: Exception) -> bool:
    """A 5xx answer about the recipient will not change by retrying, nor will a message that
    cannot be built or serialised (anything that is not about the network or the server)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return not isinstance(exc, OSError)  # smtplib's errors are OSErrors too
