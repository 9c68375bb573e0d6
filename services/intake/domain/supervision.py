"""Supervision (督查): who in a person's scope is due to submit and has not, how late, and whom a reminder goes to.

A university's campaign says which org levels submit each track (`submit_levels`) and by when (a deadline per
stage and level). An org is behind in a track while it has not submitted every stage of it: no work at all, only
withdrawn ones, a draft never submitted, or a work whose later stages are still due. Its row names the first
stage it still owes, that stage's deadline for its level (an extension granted to the org moves it, as it moves
the deadline a submit is checked against), the newest change to any of its works in the track, and how late it
is. A stage without a deadline (a rolling report) is still owed: the row says so and is never late.

The ministry watches the universities instead: a university is behind in a track of the ministry's campaign
while it has forwarded (择优报送) no work of that track to the ministry. Only the tracks the ministry expects works
in count: a forwarding limit for the university level that is not 0 (组织生活会 records stay in the university)
and a university-level deadline on the track's last stage (a rolling report is no one's laggard nationally).

Who sees what comes from the person's grants in the tenant (README "People and roles"):

    owner             单位管理员   every track, every org; may remind
    department_admin  部门管理员   the tracks the campaign routes to its department: each track's `department`,
                                   which a university may set otherwise than people.DEPARTMENT_TRACKS (东南大学
                                   routes every track to 组织部); 思政司 every track of the ministry; may remind
    org_admin         组织管理员   every track, the orgs of its subtree (its own org and those under it); may remind
    viewer            查看者       the tenant, or one org's subtree; reads only

Several grants in one tenant add up; a row may be reminded when a grant that may remind covers it. A reminder
goes to the rows that may be reminded, have a contact address and were not reminded in the same track today.
Pure: no framework; the time is given.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from common.campaign import Track
from common.errors import Forbidden, NotFound
from common.levels import LEVELS, forward_limit, in_subtree
from common.locale import LEVEL_LABELS
from services.intake.domain.lifecycles import SubmissionState
from services.intake.domain.people import Role, department_covers, grant_label
from services.intake.domain.submission import deadline_for, submitted_stages

SUPERVISING_ROLES = (Role.OWNER, Role.DEPARTMENT_ADMIN, Role.ORG_ADMIN, Role.VIEWER)
REMINDING_ROLES = (Role.OWNER, Role.DEPARTMENT_ADMIN, Role.ORG_ADMIN)
MINISTRY_KIND = "ministry"
_DAY_S = 86400.0

# What a row's status says (the org's works in the track, or the university's forwarding).
STATUS_TEXTS = {
    "none": "尚未创建作品",
    "withdrawn": "作品已撤回，尚无有效作品",
    "draft": "已创建草稿，尚未提交",
    "partial": "已提交“{done}”，“{stage}”尚未提交",
    "not_forwarded": "尚未向教育部报送作品（校内已提交 {submitted} 件）",
}


# --------------------------------------------------------------------------- scope


@dataclass(frozen=True)
class Reach:
    """One grant's part of a tenant's supervision: which tracks, which orgs, and whether it may remind."""

    role: str
    department: str | None = None  # a department admin's
    org_id: str | None = None  # an org admin's or an org viewer's subtree; None: every org
    label: str = ""  # the grant as people read it: 部门管理员（党委宣传部）

    @property
    def may_remind(self) -> bool:
        return self.role in REMINDING_ROLES

    def covers_track(self, track: Track) -> bool:
        return self.role != Role.DEPARTMENT_ADMIN or department_covers(self.department, track.key, track.department)

    def covers_org(self, org_id: str, parent_of: Mapping[str, str | None]) -> bool:
        return self.org_id is None or in_subtree(org_id, self.org_id, parent_of)


@dataclass(frozen=True)
class TenantScope:
    """A tenant the person supervises, with the grants that make up their reach in it."""

    tenant: str
    name: str
    kind: str  # university | ministry
    reaches: tuple[Reach, ...]

    @property
    def ministry(self) -> bool:
        return self.kind == MINISTRY_KIND

    @property
    def may_remind(self) -> bool:
        return any(r.may_remind for r in self.reaches)


def _reach_of(grant: Mapping) -> Reach | None:
    role = grant.get("role")
    if role not in SUPERVISING_ROLES:
        return None
    if role == Role.DEPARTMENT_ADMIN and not grant.get("department"):
        return None  # intake never grants one without its department; a bad grant reaches nothing rather than all
    if role == Role.ORG_ADMIN and not grant.get("org_id"):
        return None
    org_id = grant.get("org_id") if role in (Role.ORG_ADMIN, Role.VIEWER) else None
    department = grant.get("department") if role == Role.DEPARTMENT_ADMIN else None
    return Reach(str(role), department, org_id, grant_label(str(role), department, grant.get("org_name")))


def tenants_supervised(grants: Iterable[Mapping]) -> list[TenantScope]:
    """The tenants the person's grants let them supervise, in the order of their first grant there."""
    order: list[str] = []
    found: dict[str, dict] = {}
    for grant in grants:
        reach = _reach_of(grant)
        if reach is None or not grant.get("tenant"):
            continue
        tenant = str(grant["tenant"])
        if tenant not in found:
            order.append(tenant)
            found[tenant] = {"name": grant.get("tenant_name") or tenant, "kind": grant.get("tenant_kind") or "university",
                             "reaches": []}
        if reach not in found[tenant]["reaches"]:
            found[tenant]["reaches"].append(reach)
    return [TenantScope(t, found[t]["name"], found[t]["kind"], tuple(found[t]["reaches"])) for t in order]


def choose_tenant(grants: Iterable[Mapping], wanted: str | None) -> tuple[TenantScope, list[TenantScope]]:
    """The tenant a page shows (`wanted`, else the first) and every one the person may pick.

    No supervising grant anywhere: 403. A tenant they supervise nothing in answers 404 whether or not it exists.
    """
    scopes = tenants_supervised(grants)
    if not scopes:
        raise Forbidden("督查页面供单位管理员、部门管理员、组织管理员和查看者使用，您在任何单位都没有这些角色。"
                        "如需查看，请联系本单位的单位管理员为您授予相应角色。", code="no_supervision_grant",
                        expected=[r.value for r in SUPERVISING_ROLES], found=None)
    if not wanted:
        return scopes[0], scopes
    chosen = next((s for s in scopes if s.tenant == wanted), None)
    if chosen is None:
        raise NotFound(f"找不到单位“{wanted[:40]}”的督查情况：没有这个单位，或您在该单位没有可督查的角色。"
                       f"可选的单位：{'、'.join(s.name for s in scopes)}。", code="tenant_not_found", found=wanted[:40])
    return chosen, scopes


# --------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class OrgFacts:
    id: str
    name: str
    level: str  # level2 | branch
    parent_id: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None


@dataclass(frozen=True)
class WorkFacts:
    """One work of an org in the campaign: its state, the last stage it submitted, when it last changed."""

    org_id: str
    track: str
    status: str  # a SubmissionState value
    stage: str | None
    updated_at: datetime


@dataclass(frozen=True)
class UniversityFacts:
    tenant: str
    name: str
    contact_email: str | None = None


@dataclass(frozen=True)
class UniversityWorks:
    """A university's works in one track of the ministry's campaign (its own derived copy included)."""

    submitted: int = 0  # works with a stage submitted, not withdrawn
    forwarded: int = 0  # works forwarded to the ministry
    last_activity: datetime | None = None


# --------------------------------------------------------------------------- the lists


@dataclass(frozen=True)
class Behind:
    """One org (or, for the ministry, one university) behind in a track."""

    org_id: str  # for the ministry: the university's tenant slug
    name: str
    level: str
    status: str  # a key of STATUS_TEXTS
    status_text: str
    stage: str | None  # the stage still owed
    stage_label: str
    deadline: datetime | None  # for the org's level, with its extension; None: the stage has none
    extended: bool
    last_activity: datetime | None
    days_late: int  # 0: not late (yet)
    may_remind: bool
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None


@dataclass(frozen=True)
class LevelList:
    level: str
    label: str
    expected: int  # orgs of the level in scope that submit the track
    behind: tuple[Behind, ...]


@dataclass(frozen=True)
class TrackList:
    key: str
    label: str
    levels: tuple[LevelList, ...]
    may_remind: bool  # a grant that may remind covers the track

    @property
    def rows(self) -> list[Behind]:
        return [row for level in self.levels for row in level.behind]

    @property
    def expected(self) -> int:
        return sum(level.expected for level in self.levels)

    @property
    def done(self) -> int:
        return self.expected - len(self.rows)


def days_late(deadline: datetime | None, now: datetime) -> int:
    """Whole days past the deadline, any part of a day counting as one (an hour late is 逾期 1 天); 0 before it."""
    if deadline is None or now <= deadline:
        return 0
    return max(1, math.ceil((now - deadline).total_seconds() / _DAY_S))


def _order(rows: Iterable[Behind]) -> tuple[Behind, ...]:
    """The latest first; then the nearest deadline (none last), then by name."""
    return tuple(sorted(rows, key=lambda r: (-r.days_late, r.deadline.timestamp() if r.deadline else math.inf, r.name)))


def _org_row(track: Track, org: OrgFacts, works: list[WorkFacts], extensions: Mapping[tuple[str, str, str], datetime],
             now: datetime, may_remind: bool) -> Behind | None:
    """The org's row in the track, or None when it has submitted every stage."""
    done: set[str] = set()
    for work in works:
        if work.status == SubmissionState.SUBMITTED and work.stage:
            done.update(s.key for s in submitted_stages(track, work.stage))
    owed = next((s for s in track.stages if s.key not in done), None)
    if owed is None:
        return None
    if any(s.key in done for s in track.stages):
        status = "partial"
        text = STATUS_TEXTS[status].format(done="、".join(s.label for s in track.stages if s.key in done), stage=owed.label)
    else:
        live = [w for w in works if w.status != SubmissionState.WITHDRAWN]
        status = "draft" if live else "withdrawn" if works else "none"
        text = STATUS_TEXTS[status]
    extension = extensions.get((org.id, track.key, owed.key))
    deadline = deadline_for(track, owed.key, org.level, extension).effective
    last = max((w.updated_at for w in works), default=None)
    return Behind(org.id, org.name, org.level, status, text, owed.key, owed.label, deadline,
                  extension is not None and deadline == extension, last, days_late(deadline, now), may_remind,
                  org.contact_name, org.contact_email, org.contact_phone)


def behind_orgs(tracks: Iterable[Track], orgs: Iterable[OrgFacts], works: Iterable[WorkFacts],
                extensions: Mapping[tuple[str, str, str], datetime], reaches: Iterable[Reach],
                now: datetime) -> list[TrackList]:
    """Per track in scope and per submitting level, the orgs in scope that are behind.

    `extensions`: (org id, track, stage) -> the extended deadline. Tracks no grant covers are left out.
    """
    reaches, orgs = tuple(reaches), list(orgs)
    parent_of = {o.id: o.parent_id for o in orgs}
    works_of: dict[tuple[str, str], list[WorkFacts]] = {}
    for work in works:
        works_of.setdefault((work.org_id, work.track), []).append(work)
    lists = []
    for track in tracks:
        covering = [r for r in reaches if r.covers_track(track)]
        if not covering:
            continue
        levels = []
        for level in (lv for lv in LEVELS if lv in track.submit_levels):
            rows, expected = [], 0
            for org in (o for o in orgs if o.level == level):
                seen_by = [r for r in covering if r.covers_org(org.id, parent_of)]
                if not seen_by:
                    continue
                expected += 1
                row = _org_row(track, org, works_of.get((org.id, track.key), []), extensions, now,
                               any(r.may_remind for r in seen_by))
                if row is not None:
                    rows.append(row)
            levels.append(LevelList(level, LEVEL_LABELS.get(level, level), expected, _order(rows)))
        lists.append(TrackList(track.key, track.label, tuple(levels), any(r.may_remind for r in covering)))
    return lists


def ministry_expects(track: Track) -> bool:
    """Whether the ministry expects forwarded works in the track by a deadline."""
    if forward_limit(track.forward, track.quota, "university") == 0:
        return False
    return track.forwarding_deadline("university") is not None


def behind_universities(tracks: Iterable[Track], universities: Iterable[UniversityFacts],
                        works: Mapping[tuple[str, str], UniversityWorks], reaches: Iterable[Reach],
                        now: datetime) -> list[TrackList]:
    """Per track of the ministry's campaign it expects works in, the universities that forwarded none.

    `works`: (university, track) -> what the university holds in the track.
    """
    reaches, universities = tuple(reaches), list(universities)
    lists = []
    for track in tracks:
        covering = [r for r in reaches if r.covers_track(track)]
        if not covering or not ministry_expects(track):
            continue
        last, deadline = track.stages[-1], track.forwarding_deadline("university")
        rows = []
        for uni in universities:
            held = works.get((uni.tenant, track.key), UniversityWorks())
            if held.forwarded:
                continue
            rows.append(Behind(uni.tenant, uni.name, "university", "not_forwarded",
                               STATUS_TEXTS["not_forwarded"].format(submitted=held.submitted), last.key, last.label,
                               deadline, False, held.last_activity, days_late(deadline, now),
                               any(r.may_remind for r in covering), contact_email=uni.contact_email))
        level = LevelList("university", LEVEL_LABELS["university"], len(universities), _order(rows))
        lists.append(TrackList(track.key, track.label, (level,), any(r.may_remind for r in covering)))
    return lists


# --------------------------------------------------------------------------- reminding


@dataclass(frozen=True)
class Reminding:
    """Who a reminder in one track goes to, and who it leaves out and why."""

    send: tuple[Behind, ...]
    already: tuple[Behind, ...]  # reminded in this track today
    without_address: tuple[Behind, ...]  # no contact e-mail: the org list needs one


def decide_reminder(listing: TrackList, reminded_today: set[str]) -> Reminding:
    """The rows of the track a reminder goes to: those a grant that may remind covers, with an address, not
    reminded in the track today (a double click sends once). Read-only grants only: 403."""
    if not listing.may_remind:
        raise Forbidden(f"您在“{listing.label}”只有查看权限，不能发送督办提醒。"
                        "如需提醒，请联系单位管理员或负责该赛道的部门管理员。", code="may_not_remind",
                        expected=[r.value for r in REMINDING_ROLES], found="viewer")
    rows = [r for r in listing.rows if r.may_remind]
    already = tuple(r for r in rows if r.org_id in reminded_today)
    fresh = [r for r in rows if r.org_id not in reminded_today]
    return Reminding(tuple(r for r in fresh if r.contact_email), already,
                     tuple(r for r in fresh if not r.contact_email))


def reach_label(reaches: Iterable[Reach], track: Track) -> str:
    """How a reminder names the asker's role for a track: the grants that may remind and cover it."""
    labels = [r.label for r in reaches if r.may_remind and r.covers_track(track)]
    return "、".join(dict.fromkeys(labels))
