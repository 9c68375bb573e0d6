"""The announcement of a published campaign (活动通知): who is told, what the mail says of each track, and the
notice as a Word document to attach. Pure: the event's data and notify's copies in; recipients, mail contexts and
bytes out. messages.queue_campaign_announcement gathers the copies and adds the mails to the log.

Who is told follows who acts next. The ministry's campaign goes to every university's organisation department
(the mailbox of `tenant_registered`): a university runs it by publishing its own copy, and the ministry knows no
org below a university. A university's copy, or its own campaign, goes to its orgs at the levels its tracks take
submissions from (`submit_levels`), to the contact addresses of `orgs_imported`, as the deadline reminders do.

Who arrives later is told once (`late_recipients`): an org imported after its university's campaign went out, or
whose contact address was added or changed since, while the campaign still runs (`running`: not after its last
deadline), by the same rule of who is told. It gets the current version as a notice (活动通知), never as a
correction of a version it never saw, at most once per campaign (`late_dedupe_key`).
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone

import docx
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from common.campaign.audience import includes
from common.campaign.model import DEPARTMENTS, effective_at
from common.levels import forward_limit, in_subtree
from common.locale import beijing_minute as beijing
from services.notify import periods
from services.notify.casebook import BODY_FONT, HEADING_FONT, one_line, xml_safe
from services.notify.mail import header_text

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# Characters Windows refuses in a file name (a mail client saves the attachment under it)
_NOT_IN_FILE_NAMES = str.maketrans({c: "_" for c in '\\/:*?"<>|'})


@dataclass(frozen=True)
class Recipient:
    tenant: str  # the university whose message log holds the mail
    key: str  # who, in the dedupe key: the university's tenant, or the org's id
    name: str  # 东南大学, 计算机科学与工程学院党委
    email: str
    level: str  # "university", or the org's level: whose deadlines the mail gives


def recipients(publisher: str, tracks: dict, universities: list[dict], orgs: list[dict],
               audience: dict | None = None, owner_org_id: str | None = None) -> list[Recipient]:
    """Whom the campaign `publisher` published is announced to.

    universities: {"tenant", "name", "contact_email", "category"?} of every tenant notify knows (the ministry's own
    row is skipped); orgs: {"tenant", "org_id", "name", "level", "email", "parent_id"}. Without an address there is no
    one to mail. The ministry's campaign goes to the universities in its `audience` (common.campaign.audience: absent,
    every one; a university whose category is not registered is in an audience naming categories); a college's
    notice (`owner_org_id`) to the orgs under that college only.
    """
    if publisher == "ministry":
        return [Recipient(u["tenant"], u["tenant"], u["name"], u["contact_email"], "university")
                for u in sorted(universities, key=lambda u: u["tenant"])
                if u["tenant"] != "ministry" and u.get("contact_email")
                and includes(audience, u["tenant"], u.get("category"))]
    levels = {level for track in tracks.values() for level in track.get("submit_levels", [])}
    parent_of = {o["org_id"]: o.get("parent_id") for o in orgs}
    return [Recipient(o["tenant"], o["org_id"], o["name"], o["email"], o["level"])
            for o in sorted(orgs, key=lambda o: o["org_id"])
            if o["tenant"] == publisher and o["level"] in levels and o.get("email")
            and (owner_org_id is None or in_subtree(o["org_id"], owner_org_id, parent_of))]


def dedupe_key(campaign_id: str, version: int, recipient: Recipient) -> str:
    """Once per campaign, version and recipient: a correction (a new version) announces again."""
    return f"announce:{campaign_id}:v{version}:{recipient.key}"


def late_dedupe_key(campaign_id: str, recipient: Recipient) -> str:
    """Once per campaign and recipient, whichever version was current and whatever address it then had."""
    return f"announce-late:{campaign_id}:{recipient.key}"


def late_recipients(audience: list[Recipient], told: set[tuple[str, str]], told_late: set[str]) -> list[Recipient]:
    """Who of the campaign's audience (`recipients`) has not been told: no announcement of the current version went
    to its present address (`told`: {(recipient key, address)}), and it was never told late (`told_late`: keys)."""
    return [r for r in audience if (r.key, r.email) not in told and r.key not in told_late]


def last_deadline(tracks: dict) -> datetime | None:
    """The campaign's last moment: its latest stage deadline at any level, or a recurring track's last period's
    due moment; None when nothing in it has a deadline (a register kept open)."""
    moments = [datetime.fromisoformat(v) if isinstance(v, str) else v
               for track in tracks.values() for deadlines in (track.get("deadlines") or {}).values()
               for v in deadlines.values() if v]
    moments += [due for due in (periods.last_due(track) for track in tracks.values()) if due is not None]
    return max(moments, default=None)


def running(tracks: dict, now: datetime) -> bool:
    """A campaign still runs until its last deadline: after it, telling a newcomer would only tell it what it
    missed."""
    last = last_deadline(tracks)
    return last is None or now <= last


def kept(data: dict, attachment: dict | None) -> dict:
    """What a campaign copy keeps of its announcement beside title, tracks and version, to tell a later recipient
    (`attachment`: the stored notice document, as messages.store_attachment refers to it)."""
    return {"short_title": data.get("short_title"), "contacts": data.get("contacts") or [],
            "notice": data.get("notice"), "change_note": data.get("change_note"), "attachment": attachment,
            "owner_org_id": data.get("owner_org_id")}  # a college's notice: its later recipients are its own orgs


def track_lines(tracks: dict, level: str) -> list[dict]:
    """What each track asks of a recipient at `level`, in the definition's order: its stages with their opening
    and their deadline at the level (its own, else the nearest above), in Beijing time, and how many works.

    A university hears of every track of the ministry's campaign (it runs them all through its copy); an org only
    of those that take submissions from its level."""
    lines = []
    for key, track in tracks.items():
        if level != "university" and level not in track.get("submit_levels", []):
            continue
        opens = track.get("opens", {})
        stages = []
        for stage, deadlines in track.get("deadlines", {}).items():
            deadline = effective_at(deadlines, level)
            stages.append({"label": track.get("stage_labels", {}).get(stage, stage),
                           "opens": beijing(opens[stage]) if opens.get(stage) else None,
                           "deadline": beijing(deadline) if deadline else None})
        limit = forward_limit(track.get("forward", {}), track.get("quota", {}), level)
        office = DEPARTMENTS.get(track.get("department") or "")  # a university's office: 党委组织部, 党委宣传部
        lines.append({"label": track.get("label", key), "office": f"党委{office}" if office else "",
                      "limit": limit, "stages": stages, "recurring": bool(track.get("recurrence"))})
    return lines


def contact_lines(contacts: list[dict], issuer: str, university: bool) -> list[dict]:
    """Whom to ask, with their office as people say it (东南大学党委组织部; the ministry's 组织部 is not 党委's)."""
    out = []
    for c in contacts:
        office = DEPARTMENTS.get(c.get("department") or "", "")
        if office:
            office = f"{issuer}党委{office}" if university else f"{issuer}{office}"
        out.append({"name": c["name"], "office": office, "phone": c.get("phone"), "email": c.get("email")})
    return out


def mail_context(data: dict, publisher: str, issuer: str, recipient: Recipient, attachment: str | None,
                 late: bool = False) -> dict:
    """The template's context for one recipient (campaign_announcement.*.txt); `issuer` is the publisher's name.

    `late`: told after the campaign went out (its contact arrived later): the current version as a notice."""
    version = data.get("version") or 1
    return {"recipient_name": recipient.name, "university": recipient.level == "university", "issuer": issuer,
            "title": data["title"], "tracks": track_lines(data["tracks"], recipient.level),
            "contacts": contact_lines(data.get("contacts", []), issuer, publisher != "ministry"),
            "notice": data.get("notice"), "attachment": attachment,
            "correction": version > 1 and not late, "late": late, "version": version,
            "change_note": data.get("change_note") or ""}


def attachment_name(short_title: str | None, title: str) -> str:
    """「<short title>通知.docx」: one line, no character a file name cannot hold, short enough for any client."""
    name = header_text(short_title or title, 60).translate(_NOT_IN_FILE_NAMES).strip(" .")
    return f"{name or '活动'}通知.docx"


def notice_document(title: str, notice: str, issued_at: datetime | None = None) -> bytes:
    """The notice as DOCX bytes: the title, then each line of the notice as a paragraph, as its issuer wrote it.

    `issued_at` (the event's time) dates the document, so the same notice of the same event builds the same
    bytes and is stored once however many recipients it goes to."""
    document = docx.Document()
    for style, font in (("Normal", BODY_FONT), ("Title", HEADING_FONT)):
        fonts = document.styles[style].element.get_or_add_rPr().get_or_add_rFonts()
        fonts.attrib.pop(qn("w:eastAsiaTheme"), None)  # the theme's font would override the Chinese one
        fonts.set(qn("w:eastAsia"), font)
    props = document.core_properties
    props.title, props.author = one_line(title), ""
    when = issued_at or datetime.now(timezone.utc)
    props.created = props.modified = when.astimezone(timezone.utc).replace(tzinfo=None)
    heading = document.add_paragraph(one_line(title), style="Title")
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for line in xml_safe(notice).splitlines():
        if line.strip():
            document.add_paragraph(line.strip()).paragraph_format.first_line_indent = Pt(21)
    out = io.BytesIO()
    document.save(out)
    return _dated_zip(out.getvalue(), when)


def _dated_zip(data: bytes, when: datetime) -> bytes:
    """The package with every part dated `when`: python-docx dates each zip entry with the clock at saving, so
    two builds a second apart would differ and the attachment be stored twice."""
    stamp = when.astimezone(timezone.utc).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            target.writestr(zipfile.ZipInfo(entry.filename, date_time=stamp), source.read(entry.filename),
                            compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
