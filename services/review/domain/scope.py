"""Who may do what in review, for a person signed in on the platform (issue #15): their admin scopes.

Intake's ticket (common.handoff) carries the person's grants, each a role in one tenant. Review reads
three of them as the right to administer rounds:

    owner             单位管理员   every round of its tenant
    department_admin  部门管理员   the rounds of its tenant whose track routes to its department, as the
                                   round's campaign says (tracks[track]["department"]: a university may route
                                   material and report to 组织部, as 东南大学 does); 思政司 (`sizheng`, at the
                                   ministry) every round of the ministry
    org_admin         组织管理员   the level-2 rounds of its org and of the orgs under it (a 院系党委's own round
                                   of its branches' works); nothing at the university's level
    viewer            查看者       nothing to administer here (dashboards are notify's)
    expert            评审专家     no round to administer; what they score comes from review's reviewer rows

A round outside every scope answers exactly as a missing one (404), as another university's does.
Pure: no framework.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

from common.levels import in_subtree

MINISTRY = "ministry"  # review's tenant of the ministry's rounds, whatever intake calls the ministry
ADMIN_ROLES = ("owner", "department_admin", "org_admin")
EXPERT_ROLE = "expert"
EVERY_TRACK = "sizheng"  # the ministry's 思政司 sees every track
LEVEL2 = "level2"
ROLE_LABELS = {"owner": "单位管理员", "department_admin": "部门管理员", "org_admin": "组织管理员"}
DEPARTMENT_LABELS = {"organisation": "党委组织部", "propaganda": "党委宣传部", "sizheng": "思政司"}


@dataclass(frozen=True)
class AdminScope:
    """One grant that lets a person administer rounds: a role in one of review's tenants."""

    tenant: str  # a university's slug, or "ministry"
    role: str  # owner | department_admin | org_admin
    department: str | None = None
    org_id: str | None = None
    tenant_name: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> AdminScope:
        return cls(tenant=str(data["tenant"]), role=str(data["role"]), department=data.get("department"),
                   org_id=data.get("org_id"), tenant_name=str(data.get("tenant_name") or ""))


@dataclass(frozen=True)
class RoundFacts:
    """What the rules need of a round."""

    tenant: str
    track: str
    level: str  # level2 | university | ministry
    owner_org_id: str = ""  # the level-2 org of a level-2 round
    department: str | None = None  # where the round's campaign routes its track


def normalise_email(email: str | None) -> str:
    """Addresses compare trimmed and in lower case (review stores reviewers' that way)."""
    return (email or "").strip().lower()


def review_tenant(grant: Mapping) -> str:
    """The tenant a grant is in, as review names it: the ministry's rounds are all tenant "ministry"."""
    return MINISTRY if grant.get("tenant_kind") == MINISTRY else str(grant.get("tenant") or "")


def admin_scopes(grants: Iterable[Mapping]) -> list[AdminScope]:
    """The grants that administer rounds, in the order given, each once; the other roles are left out."""
    scopes: list[AdminScope] = []
    for g in grants:
        if g.get("role") not in ADMIN_ROLES or not review_tenant(g):
            continue
        if g.get("role") == "org_admin" and not g.get("org_id"):
            continue  # intake never grants one without its org; a bad grant administers nothing rather than all
        scope = AdminScope(tenant=review_tenant(g), role=str(g["role"]),
                           department=g.get("department") if g.get("role") == "department_admin" else None,
                           org_id=g.get("org_id") if g.get("role") == "org_admin" else None,
                           tenant_name=str(g.get("tenant_name") or ""))
        if scope not in scopes:
            scopes.append(scope)
    return scopes


def has_expert_grant(grants: Iterable[Mapping]) -> bool:
    return any(g.get("role") == EXPERT_ROLE for g in grants)


def may_administer(scope: AdminScope, rnd: RoundFacts, parent_of: Mapping[str, str | None]) -> bool:
    """Whether one admin scope covers the round; `parent_of` is the org tree of the round's tenant."""
    if scope.tenant != rnd.tenant:
        return False
    if scope.role == "owner":
        return True
    if scope.role == "department_admin":
        if scope.department == EVERY_TRACK and rnd.tenant == MINISTRY:
            return True
        return bool(scope.department) and scope.department == rnd.department
    if scope.role == "org_admin":
        return rnd.level == LEVEL2 and bool(scope.org_id) and in_subtree(rnd.owner_org_id, scope.org_id, parent_of)
    return False


def administers(scopes: Iterable[AdminScope], rnd: RoundFacts, parent_of: Mapping[str, str | None]) -> bool:
    return any(may_administer(s, rnd, parent_of) for s in scopes)


def tenants_of(scopes: Iterable[AdminScope]) -> list[str]:
    """The tenants the scopes are in, in order, each once."""
    return list(dict.fromkeys(s.tenant for s in scopes))


def needs_org_tree(scopes: Iterable[AdminScope], tenant: str) -> bool:
    return any(s.role == "org_admin" and s.tenant == tenant for s in scopes)


def scope_label(scope: AdminScope, org_name: str | None = None) -> str:
    """How the page names a scope: 单位管理员, 部门管理员（党委宣传部）, 组织管理员（计算机学院党委）."""
    role = ROLE_LABELS.get(scope.role, scope.role)
    if scope.role == "department_admin" and scope.department:
        return f"{role}（{DEPARTMENT_LABELS.get(scope.department, scope.department)}）"
    if scope.role == "org_admin":
        return f"{role}（{org_name or scope.org_id}）"
    return role
