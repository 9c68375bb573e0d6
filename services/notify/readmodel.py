"""The ministry's progress read model, kept from events; one row per university,
campaign, track and submitting level, recomputed for its key when touched."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from common import clock, filetypes
from common.campaign.audience import includes
from common.db import utcnow
from common.document_names import export_stems
from common.locale import beijing_iso
from services.notify import periods
from services.notify.lifecycles import WorkState
from services.notify.models import CampaignCopy, Contact, Counter, FileCopy, ForwardedWork, Progress, SubmissionCopy, TenantName


def next_seq(session) -> int:
    counter = session.get(Counter, "progress", with_for_update=True)
    if counter is None:
        counter = Counter(name="progress", value=0)
        session.add(counter)
    counter.value += 1
    return counter.value


def refresh(session, tenant: str, campaign_id: str, track: str, level: str, now: datetime | None = None) -> Progress:
    """Recount one row. A recurring track's row counts the works of the period the platform's clock stands in
    (periods.counted_period): each month's 组织生活 records against the orgs expected, not every month's at once."""
    key = (SubmissionCopy.tenant == tenant, SubmissionCopy.campaign_id == campaign_id,
           SubmissionCopy.track == track, SubmissionCopy.level == level)
    counted = periods.counted_period(track_spec(session, campaign_id, track), now or clock.now())
    if counted is not None:
        key = (*key, SubmissionCopy.period == counted.key)
    counts = {(state, complete): n for state, complete, n in session.execute(
        select(SubmissionCopy.state, SubmissionCopy.complete, func.count()).where(*key)
        .group_by(SubmissionCopy.state, SubmissionCopy.complete))}
    orgs_submitted = session.scalar(select(func.count(func.distinct(SubmissionCopy.org_id)))
                              .where(*key, SubmissionCopy.state == WorkState.SUBMITTED))
    expected = session.scalar(select(func.count()).select_from(Contact).where(Contact.tenant == tenant,
                                                                        Contact.level == level))
    seq = next_seq(session)  # before a new row is added: autoflush would insert it without one
    row = session.get(Progress, (tenant, campaign_id, track, level))
    if row is None:
        row = Progress(tenant=tenant, campaign_id=campaign_id, track=track, level=level, works_forwarded=0, seq=seq)
        session.add(row)
    row.orgs_expected, row.orgs_submitted = expected, orgs_submitted
    row.period = counted.key if counted is not None else None
    row.works_submitted = counts.get((WorkState.SUBMITTED, True), 0)
    row.works_in_progress = counts.get((WorkState.SUBMITTED, False), 0)
    row.works_withdrawn = counts.get((WorkState.WITHDRAWN, True), 0) + counts.get((WorkState.WITHDRAWN, False), 0)
    row.works_forwarded = session.scalar(select(func.count()).select_from(ForwardedWork).where(
        ForwardedWork.tenant == tenant, ForwardedWork.campaign_id == campaign_id, ForwardedWork.track == track,
        ForwardedWork.org_level == level, ForwardedWork.to_level == "ministry"))
    row.seq, row.updated_at = seq, utcnow()
    return row


def refresh_campaign(session, campaign: CampaignCopy) -> None:
    if campaign.tenant == "ministry":
        return  # progress is of universities; they report under their own copies
    kept = set()
    if in_audience(session, campaign):
        for track_key, track in campaign.tracks.items():
            for level in track.get("submit_levels", []):
                refresh(session, campaign.tenant, campaign.campaign_id, track_key, level)
                kept.add((track_key, level))
    # a corrected campaign may drop a track or a submitting level: its rows would count orgs it no longer expects
    for row in session.scalars(select(Progress).where(Progress.tenant == campaign.tenant,
                                                      Progress.campaign_id == campaign.campaign_id)):
        if (row.track, row.level) not in kept:
            session.delete(row)


def in_audience(session, campaign: CampaignCopy) -> bool:
    """Whether the university of `campaign` (its copy) is in the audience of the campaign it derives from (the
    ministry's 四个一 2020 is for 直属高校 and 部省合建高校): a copy made by a university outside it (before its
    category was set) counts no orgs expected, so the ministry's dashboard and feed do not show it behind."""
    parent = session.get(CampaignCopy, campaign.derives_from) if campaign.derives_from else None
    if parent is None or parent.tenant == campaign.tenant or not parent.audience:
        return True
    university = session.get(TenantName, campaign.tenant)
    return includes(parent.audience, campaign.tenant, university.category if university is not None else None)


def refresh_copies_of(session, campaign_id: str) -> None:
    """Recount the copies derived from a campaign whose audience changed."""
    for copy in session.scalars(select(CampaignCopy).where(CampaignCopy.derives_from == campaign_id)):
        refresh_campaign(session, copy)


def roll_periods(session, now: datetime) -> int:
    """Recount the rows of recurring tracks whose counted period is no longer the current one (a new month began);
    how many. A timer runs it: no event marks the turn of a month."""
    rolled = 0
    for campaign in session.scalars(select(CampaignCopy).where(CampaignCopy.tenant != "ministry")):
        if not in_audience(session, campaign):
            continue
        for track_key, track in campaign.tracks.items():
            counted = periods.counted_period(track, now)
            if counted is None:
                continue
            for level in track.get("submit_levels", []):
                row = session.get(Progress, (campaign.tenant, campaign.campaign_id, track_key, level))
                if row is None or row.period != counted.key:
                    refresh(session, campaign.tenant, campaign.campaign_id, track_key, level, now)
                    rolled += 1
    return rolled


def refresh_tenant(session, tenant: str) -> None:
    for campaign in session.scalars(select(CampaignCopy).where(CampaignCopy.tenant == tenant)):
        refresh_campaign(session, campaign)


def row_json(row: Progress, names: dict[str, str], campaigns: dict[str, CampaignCopy]) -> dict:
    campaign = campaigns.get(row.campaign_id)
    track = campaign.tracks.get(row.track, {}) if campaign else {}
    return {
        "tenant": row.tenant, "tenant_name": names.get(row.tenant, row.tenant), "campaign_id": row.campaign_id,
        "base_campaign_id": campaign.derives_from if campaign else None, "track": row.track,
        "track_label": track.get("label", row.track), "level": row.level, "period": row.period,
        "orgs_expected": row.orgs_expected,
        "orgs_submitted": row.orgs_submitted,
        "works": {"submitted": row.works_submitted, "in_progress": row.works_in_progress,
                  "withdrawn": row.works_withdrawn, "forwarded": row.works_forwarded},
        "updated_at": beijing_iso(row.updated_at), "seq": row.seq,
    }


def rows_after(session, seq: int, limit: int, tenant: str | None) -> list[dict]:
    query = select(Progress).where(Progress.seq > seq)
    if tenant is not None:
        query = query.where(Progress.tenant == tenant)
    rows = session.scalars(query.order_by(Progress.seq).limit(limit)).all()
    # only the names and campaigns this page needs: at national scale there are thousands
    names = {t.tenant: t.name for t in session.scalars(
        select(TenantName).where(TenantName.tenant.in_({r.tenant for r in rows})))}
    campaigns = {c.campaign_id: c for c in session.scalars(
        select(CampaignCopy).where(CampaignCopy.campaign_id.in_({r.campaign_id for r in rows})))}
    return [row_json(r, names, campaigns) for r in rows]


def record_forwarded(session, tenant: str, d: dict, keywords: list[str] | None = None) -> None:
    """Keep a forwarded work (the highest level it reached), with the keywords of its text, and recount its
    progress row."""
    seq = next_seq(session)
    row = session.get(ForwardedWork, d["submission_id"])
    if row is None:
        row = ForwardedWork(submission_id=d["submission_id"], seq=seq)
        session.add(row)
    row.tenant, row.tenant_name, row.campaign_id = tenant, d.get("tenant_name", tenant), d["campaign_id"]
    row.root_campaign_id, row.track, row.org_name = d.get("root_campaign_id"), d["track"], d["org_name"]
    row.org_level, row.to_level, row.title, row.receipt_no = d["org_level"], d["to_level"], d["title"], d["receipt_no"]
    row.fields, row.files, row.seq, row.keywords = d["fields"], d["files"], seq, keywords
    row.forwarded_at = datetime.fromisoformat(d["forwarded_at"])
    session.flush()
    refresh(session, tenant, d["campaign_id"], d["track"], d["org_level"])


def forwarded_after(session, seq: int, limit: int, tenant: str | None) -> list[ForwardedWork]:
    """The ministry (tenant None) sees only what reached it; a university, all it forwarded."""
    query = select(ForwardedWork).where(ForwardedWork.seq > seq)
    query = query.where(ForwardedWork.to_level == "ministry") if tenant is None else query.where(
        ForwardedWork.tenant == tenant)
    return session.scalars(query.order_by(ForwardedWork.seq).limit(limit)).all()


def forwarded_page(session, seq: int, limit: int, tenant: str | None, links) -> list[dict]:
    """The forwarded works after change number `seq` the caller may see, with links to their files."""
    rows = forwarded_after(session, seq, limit, tenant)
    types = checked_types(session, rows)
    named = named_tracks(session, rows)
    return [forwarded_json(r, links, types, (r.campaign_id, r.track) in named) for r in rows]


def named_tracks(session, rows: list[ForwardedWork]) -> set[tuple[str, str]]:
    """(campaign, track) of `rows` whose campaign has the naming rule 「党组织名称+作品名称」."""
    campaigns = session.scalars(select(CampaignCopy).where(CampaignCopy.campaign_id.in_({r.campaign_id for r in rows})))
    return {(c.campaign_id, key) for c in campaigns for key, spec in (c.tracks or {}).items() if spec.get("naming_rule")}


def checked_types(session, rows: list[ForwardedWork]) -> dict[str, str]:
    """file id -> the type media determined from the file's content, for the files of `rows`."""
    ids = [f["file_id"] for row in rows for f in row.files]
    if not ids:
        return {}
    found = session.execute(select(FileCopy.file_id, FileCopy.content_type).where(FileCopy.file_id.in_(ids))).all()
    return {file_id: ctype for file_id, ctype in found if ctype}


def forwarded_json(row: ForwardedWork, links, types: dict[str, str], naming_rule: bool = False) -> dict:
    """A forwarded work with links to its files, each under the type media determined (the declared one
    is only a claim; a file media has not typed is an opaque download), named 「党组织名称+作品名称」 where the
    campaign has the naming rule."""
    names: dict[str, int] = {}
    files = []
    stems = export_stems(row.title, [row.org_name], [f["kind"] for f in row.files]) if naming_rule else None
    for index, f in enumerate(row.files):
        names[f["kind"]] = names.get(f["kind"], 0) + 1
        ctype = types.get(f["file_id"]) or filetypes.GENERIC
        stem = stems[index] if stems else f"{row.title}-{f['kind']}{names[f['kind']]}"
        name = filetypes.with_extension(stem, ctype)
        files.append({"file_id": f["file_id"], "kind": f["kind"], "size": f["size"], "name": name,
                      "content_type": ctype, "sha256": f.get("sha256"),
                      "url": links.url(f["object_key"], name, ctype)})
    return {"submission_id": row.submission_id, "tenant": row.tenant, "tenant_name": row.tenant_name,
            "campaign_id": row.campaign_id, "base_campaign_id": row.root_campaign_id, "track": row.track,
            "org_name": row.org_name, "org_level": row.org_level, "to_level": row.to_level, "title": row.title,
            "receipt_no": row.receipt_no, "fields": row.fields, "keywords": row.keywords or [], "files": files,
            "forwarded_at": beijing_iso(row.forwarded_at), "seq": row.seq}


def track_spec(session, campaign_id: str, track: str) -> dict:
    """A track as the campaign notify keeps describes it ({} if the campaign is unknown here)."""
    campaign = session.get(CampaignCopy, campaign_id)
    return campaign.tracks.get(track, {}) if campaign else {}


# (database, campaign id) -> (version, {track key: label}): a version's tracks never change, and reading 3,000
# copies' tracks (JSON) on every dashboard view cost a second; only a campaign new here, or of a newer version, is
# read again. Keyed by the database too: a process that serves two (the tests do) must not mix their campaigns.
_labels_of: dict[tuple[str, str], tuple[int, dict[str, str]]] = {}


def track_labels(session) -> dict[str, str]:
    """Track key -> its Chinese label: the ministry's campaigns name theirs, and a university's copy
    names the tracks it adds of its own (武汉科技大学's 红色防火墙台账)."""
    ministry_first = CampaignCopy.derives_from.is_not(None)  # False sorts first
    database = str(session.get_bind().url)
    known = session.execute(select(CampaignCopy.campaign_id, CampaignCopy.version)
                            .order_by(ministry_first, CampaignCopy.campaign_id)).all()
    stale = [campaign_id for campaign_id, version in known
             if _labels_of.get((database, campaign_id), (None,))[0] != version]
    for chunk in (stale[i:i + 500] for i in range(0, len(stale), 500)):
        for c in session.execute(select(CampaignCopy.campaign_id, CampaignCopy.version, CampaignCopy.tracks)
                                 .where(CampaignCopy.campaign_id.in_(chunk))):
            _labels_of[(database, c.campaign_id)] = (
                c.version, {k: spec.get("label", k) for k, spec in (c.tracks or {}).items()})
    labels: dict[str, str] = {}
    for campaign_id, _ in known:
        for key, label in _labels_of.get((database, campaign_id), (None, {}))[1].items():
            labels.setdefault(key, label)
    return labels


def happened_before(when: datetime, other: datetime | None) -> bool:
    """True when `when` is earlier than `other` (nothing is earlier than a time we never saw)."""
    return other is not None and when < other


def latest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a
