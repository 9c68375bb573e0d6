"""Which of a platform person's role grants open notify's pages, and how much of the progress they show.

A person signed in on intake's pages arrives with their grants (common.handoff). notify's pages are for
those who watch progress; what a grant shows here (README "People and roles"):

- at the ministry, 单位管理员, 部门管理员 (思政司: every track) and 查看者 see every university;
- at a university, 单位管理员 and 查看者 of the whole university see all of its progress, and a
  部门管理员 the tracks its university routes to its department (党委组织部 or 党委宣传部), as the
  university's own campaign says (`department` of each track: SEU routes every track to 组织部);
- 组织管理员 and a 查看者 of one org open nothing here: progress is counted per university, track and
  level, never per org, so any page would show them more than their org;
- 评审专家 work in review, not here.

Pure: no framework. access.py asks it; dashboard.py applies the scope.
"""
from __future__ import annotations

from dataclasses import dataclass

from common.errors import Forbidden

TENANT_WIDE_ROLES = ("owner", "viewer")
DEPARTMENT_ADMIN = "department_admin"
# What a university's department admin is called on the pages (intake's people.py names them the same).
DEPARTMENT_LABELS = {"organisation": "党委组织部", "propaganda": "党委宣传部", "sizheng": "思政司"}


@dataclass(frozen=True)
class University:
    """A university the person may look at here, and which departments' tracks (None: every track)."""

    tenant: str
    name: str
    departments: tuple[str, ...] | None


def _opens_university_pages(grant: dict) -> bool:
    if grant.get("tenant_kind") != "university" or not grant.get("tenant"):
        return False
    if grant.get("role") in TENANT_WIDE_ROLES:
        return not grant.get("org_id")  # a viewer of one org: the dashboard cannot narrow to an org
    return grant.get("role") == DEPARTMENT_ADMIN and bool(grant.get("department"))


def universities_of(grants: list[dict]) -> list[University]:
    """The universities the grants show, in the order of the grants; a whole-university grant wins over departments."""
    order: list[str] = []
    names: dict[str, str] = {}
    departments: dict[str, set[str] | None] = {}
    for grant in grants:
        if not _opens_university_pages(grant):
            continue
        tenant = grant["tenant"]
        if tenant not in departments:
            order.append(tenant)
            names[tenant] = grant.get("tenant_name") or tenant
            departments[tenant] = set()
        if grant["role"] in TENANT_WIDE_ROLES:
            departments[tenant] = None
        elif departments[tenant] is not None:
            departments[tenant].add(grant["department"])
    return [University(t, names[t], None if departments[t] is None else tuple(sorted(departments[t])))
            for t in order]


def session_of(grants: list[dict]) -> dict | None:
    """What a person's web session here holds (role, tenant, the universities they may switch between), or None.

    The role is one the pages already know: "ministry" (every university) or "university" (one at a time).
    """
    for grant in grants:
        if grant.get("tenant_kind") == "ministry" and grant.get("role") in (*TENANT_WIDE_ROLES, DEPARTMENT_ADMIN):
            return {"role": "ministry", "tenant": grant.get("tenant")}
    universities = universities_of(grants)
    if not universities:
        return None
    return {"role": "university", "tenant": universities[0].tenant,
            "universities": [{"tenant": u.tenant, "name": u.name,
                              "departments": None if u.departments is None else list(u.departments)}
                             for u in universities]}


@dataclass(frozen=True)
class Scope:
    """What one dashboard page shows: every university (tenant None), or one, whole or by departments."""

    tenant: str | None
    departments: tuple[str, ...] | None = None
    choices: tuple[University, ...] = ()  # the universities the visitor may switch between (more than one: a menu)


def scope_of(visitor: dict, asked: str | None = None) -> Scope:
    """The part of the progress this visitor's page shows; `asked` is the university picked in the page's menu.

    A session opened with a key holds one tenant (or, the ministry's, all); a person's holds their universities.
    Asking for a university the visitor holds no grant in is refused (403), never shown.
    """
    if visitor["role"] == "ministry":
        return Scope(None)
    held = [University(u["tenant"], u.get("name") or u["tenant"],
                       None if u.get("departments") is None else tuple(u["departments"]))
            for u in visitor.get("universities") or [{"tenant": visitor["tenant"], "departments": None}]]
    if asked is None:
        chosen = held[0]
    else:
        chosen = next((u for u in held if u.tenant == asked), None)
        if chosen is None:
            raise Forbidden(f"您没有查看“{asked[:64]}”进度的权限。只能查看：{'、'.join(u.name for u in held)}。"
                            "请从页面上的高校菜单中选择；如需查看其他高校，请向该校单位管理员申请“查看者”角色。",
                            code="university_not_granted", expected=[u.tenant for u in held], found=asked[:64])
    return Scope(chosen.tenant, chosen.departments, tuple(held) if len(held) > 1 else ())


def department_label(departments: tuple[str, ...] | None) -> str:
    """The departments a page is narrowed to, as its heading names them ("" when not narrowed)."""
    return "、".join(DEPARTMENT_LABELS.get(d, d) for d in departments) if departments else ""


def routed_tracks(campaigns: list[tuple[str, dict]], departments: tuple[str, ...]) -> list[tuple[str, str]]:
    """(campaign id, track) of the tracks each campaign routes to one of `departments`."""
    return [(campaign_id, key) for campaign_id, tracks in campaigns for key, spec in tracks.items()
            if (spec or {}).get("department") in departments]
