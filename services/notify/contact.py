"""Whom a mail tells its reader to ask (「如有疑问，请联系……」).

Every mail notify sends ends by naming a person or an office the reader can reach, because the platform's
address takes no replies: an org told its file failed, an expert whose sign-in link ran out, a secretary
whose receipt no longer holds must each know whom to call (issue #17 item 3). The answer is, in order:

1. the contacts the campaign's notice names, when the campaign is the recipient's university's own (its copy
   of the ministry's, or its own selection): they are the people who run it there, by phone and e-mail;
2. otherwise the office of the university that runs the work's track (党委组织部, or 党委宣传部 for a track the
   propaganda department runs), with the mailbox the university registered;
3. for the ministry's own mails (its national round, its experts): 教育部思政司.
"""
from __future__ import annotations

from common.campaign.model import DEPARTMENTS
from services.notify.models import CampaignCopy, TenantName

MINISTRY = "ministry"
MINISTRY_OFFICE = "教育部思政司"
MOST_CONTACTS = 2  # a mail names at most two people: more is a list nobody reads


def tenant_name(session, tenant: str) -> str:
    """Who a tenant is, as registered (教育部思想政治工作司, 东南大学); before registration the ministry is 教育部, and
    a university is 「学校」 rather than its slug, which means nothing to a reader."""
    row = session.get(TenantName, tenant)
    if row is not None:
        return row.name
    return "教育部" if tenant == MINISTRY else "学校"


def whom_to_ask(session, tenant: str, campaign_id: str | None = None, track: str | None = None) -> str:
    """The object of 「如有疑问，请联系…」 for a mail sent on `tenant`'s behalf about a campaign's track (both optional)."""
    copy = session.get(CampaignCopy, campaign_id) if campaign_id else None
    spec = (copy.tracks or {}).get(track or "", {}) if copy else {}
    department = spec.get("department")
    if copy is not None and copy.tenant == tenant:
        people = _people(session, tenant, (copy.announcement or {}).get("contacts") or [], department)
        if people:
            return "；".join(people)
    if tenant == MINISTRY:
        return MINISTRY_OFFICE
    row = session.get(TenantName, tenant)
    office = f"{tenant_name(session, tenant)}党委{DEPARTMENTS.get(department or '', DEPARTMENTS['organisation'])}"
    return f"{office}（{row.contact_email}）" if row is not None and row.contact_email else office


def _people(session, tenant: str, contacts: list[dict], department: str | None) -> list[str]:
    """The notice's contacts as a reader dials them: those of the track's office first (a 宣传报道 question goes to
    宣传部), then the rest, at most MOST_CONTACTS."""
    ordered = sorted(contacts, key=lambda c: (department is not None and c.get("department") != department))
    out = []
    for c in ordered[:MOST_CONTACTS]:
        office = DEPARTMENTS.get(c.get("department") or "")
        ways = [f"{tenant_name(session, tenant)}党委{office}" if office else "",
                f"电话 {c['phone']}" if c.get("phone") else "", f"邮箱 {c['email']}" if c.get("email") else ""]
        ways = [w for w in ways if w]
        out.append(f"{c['name']}（{'，'.join(ways)}）" if ways else c["name"])
    return out
