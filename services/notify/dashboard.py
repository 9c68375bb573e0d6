"""The ministry's dashboard: progress per university and per track, as numbers ready to draw.

`aggregate` asks the progress read model three GROUP BY questions (in total,
per track, per university), so 3,000 universities and a million works cost a
few thousand summed rows, never the works themselves. The functions below it
are pure: they shape those sums into the charts the page draws (HTML bars), the histogram of
universities by submission rate, and the list of those furthest behind — the
names an organisation department needs when it picks up the phone.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, false, func, or_, select

from common.campaign.audience import includes
from services.notify import access, people, periods, readmodel
from services.notify.lifecycles import WorkState
from services.notify.models import CampaignCopy, Contact, Progress, SubmissionCopy, TenantName

BUCKETS = 10  # 0–10 %, 10–20 %, … 90–100 %
LAGGARDS = 20
_SUMS = ("orgs_expected", "orgs_submitted", "works_submitted", "works_in_progress", "works_withdrawn",
         "works_forwarded")


@dataclass(frozen=True)
class Filters:
    campaign: str | None = None  # the ministry's campaign id (a university's copy derives from it)
    track: str | None = None


def _sums():
    return [func.coalesce(func.sum(getattr(Progress, name)), 0).label(name) for name in _SUMS]


def view(session, scope: people.Scope, filters: Filters) -> dict:
    """The dashboard page of what the visitor may see (people.scope_of): every university, one, or its departments'."""
    routes = None
    if scope.departments is not None:
        own = [(c.campaign_id, c.tracks) for c in session.scalars(
            select(CampaignCopy).where(CampaignCopy.tenant == scope.tenant))]
        routes = people.routed_tracks(own, scope.departments)
    data = aggregate(session, scope.tenant, filters, routes)
    if routes is not None:  # the track menu offers only the department's tracks
        data["track_labels"] = {k: v for k, v in data["track_labels"].items() if k in {t for _, t in routes}}
    viewer = access.tenant_label(session, scope.tenant) + people.department_label(scope.departments)
    return {**page(data, scope.tenant, viewer, filters), "university": scope.tenant,
            "choices": [(u.tenant, u.name + people.department_label(u.departments)) for u in scope.choices]}


def aggregate(session, tenant: str | None, filters: Filters, routes: list[tuple[str, str]] | None = None) -> dict:
    """Totals, per track and per university for the caller (tenant None: the ministry, every university).

    `routes`, when given, are the only (campaign, track) pairs counted: a department admin's.
    """
    where = []
    if tenant is not None:
        where.append(Progress.tenant == tenant)
    if routes is not None:
        where.append(or_(*[and_(Progress.campaign_id == c, Progress.track == t) for c, t in routes])
                     if routes else false())
    if filters.track:
        where.append(Progress.track == filters.track)
    if filters.campaign:
        copies = select(CampaignCopy.campaign_id).where(
            (CampaignCopy.derives_from == filters.campaign) | (CampaignCopy.campaign_id == filters.campaign))
        where.append(Progress.campaign_id.in_(copies))
    total = session.execute(select(*_sums()).where(*where)).one()._asdict()
    # a recurring track's rows count their current period (readmodel.refresh): the table names it
    tracks = [{**row._asdict(), "period": periods.period_label(row.period) if row.period else None}
              for row in session.execute(select(Progress.track, func.max(Progress.period).label("period"), *_sums())
                                         .where(*where).group_by(Progress.track).order_by(Progress.track))]
    universities = [row._asdict() for row in session.execute(
        select(Progress.tenant, TenantName.name, *_sums()).outerjoin(TenantName, TenantName.tenant == Progress.tenant)
        .where(*where).group_by(Progress.tenant, TenantName.name))]
    # The rows count org × track slots (an org expected in three tracks is three). An organisation department counts
    # its orgs, so one university's page counts each org once. Across 3,000 universities that would read a million
    # works on every view (3.8 s against 51 ms at p95 in bench_notify), so the ministry's page keeps the slots and
    # says so (「组织·赛道」): the share of what is owed that came in, which is what ranks universities fairly.
    unit = "组织·赛道"
    if tenant is not None:
        expected, submitted = distinct_orgs(session, where).get(tenant, (0, 0))
        for row in (total, *universities):
            row["orgs_expected"], row["orgs_submitted"] = expected, submitted
        unit = "组织"
    labels = readmodel.track_labels(session)
    campaigns = [(c.campaign_id, c.title) for c in session.scalars(
        select(CampaignCopy).where(CampaignCopy.derives_from.is_(None)).order_by(CampaignCopy.campaign_id))]
    without = [] if tenant is not None or routes is not None else without_org_list(session, filters)
    return {"total": total, "tracks": tracks, "universities": universities, "track_labels": labels,
            "campaigns": campaigns, "without_org_list": without, "unit": unit}


def distinct_orgs(session, where: list) -> dict[str, tuple[int, int]]:  # one university's: `where` names it
    """{university: (orgs expected, orgs that submitted)} over the progress rows `where` selects, each org once: an
    org is expected when its level submits in one of the rows, and has submitted when a work of it counts in one (a
    recurring row's current period only, as the row does)."""
    rows = select(Progress.tenant, Progress.campaign_id, Progress.track, Progress.level, Progress.period) \
        .where(*where).subquery()
    levels = select(rows.c.tenant, rows.c.level).distinct().subquery()
    expected = dict(session.execute(
        select(Contact.tenant, func.count(func.distinct(Contact.org_id)))
        .join(levels, and_(Contact.tenant == levels.c.tenant, Contact.level == levels.c.level))
        .group_by(Contact.tenant)).all())
    submitted = dict(session.execute(
        select(SubmissionCopy.tenant, func.count(func.distinct(SubmissionCopy.org_id)))
        .join(rows, and_(SubmissionCopy.tenant == rows.c.tenant, SubmissionCopy.campaign_id == rows.c.campaign_id,
                         SubmissionCopy.track == rows.c.track, SubmissionCopy.level == rows.c.level,
                         or_(rows.c.period.is_(None), SubmissionCopy.period == rows.c.period)))
        .where(SubmissionCopy.state == WorkState.SUBMITTED).group_by(SubmissionCopy.tenant)).all())
    return {t: (expected.get(t, 0), submitted.get(t, 0)) for t in {*expected, *submitted}}


def without_org_list(session, filters: Filters) -> list[dict]:
    """The universities that have imported no org list yet: the furthest behind of all, though no row counts them
    (no org is expected of them). Those the filtered campaign is not for are left out."""
    audience = None
    if filters.campaign:
        root = session.get(CampaignCopy, filters.campaign)
        audience = root.audience if root is not None else None
    listed = select(Contact.tenant).distinct()
    return [{"tenant": t.tenant, "name": t.name} for t in session.scalars(
        select(TenantName).where(TenantName.tenant != "ministry", TenantName.tenant.not_in(listed))
        .order_by(TenantName.tenant)) if includes(audience, t.tenant, t.category)]


def rate(submitted: int, expected: int) -> float | None:
    return submitted / expected if expected else None


def histogram(universities: list[dict]) -> list[int]:
    """How many universities have each tenth of their orgs submitted (100 % falls in the last bucket)."""
    counts = [0] * BUCKETS
    for u in universities:
        r = rate(u["orgs_submitted"], u["orgs_expected"])
        if r is not None:
            counts[min(BUCKETS - 1, int(r * BUCKETS))] += 1
    return counts


def laggards(universities: list[dict], n: int = LAGGARDS) -> list[dict]:
    """The universities furthest behind: lowest share of orgs submitted, then most orgs missing."""
    known = [u for u in universities if u["orgs_expected"]]
    known.sort(key=lambda u: (u["orgs_submitted"] / u["orgs_expected"],
                              -(u["orgs_expected"] - u["orgs_submitted"]), u["tenant"]))
    return [{"tenant": u["tenant"], "name": u["name"] or u["tenant"], "orgs_expected": u["orgs_expected"],
             "orgs_submitted": u["orgs_submitted"], "missing": u["orgs_expected"] - u["orgs_submitted"],
             "rate": round(100 * u["orgs_submitted"] / u["orgs_expected"], 1),
             "works_submitted": u["works_submitted"], "works_forwarded": u["works_forwarded"]} for u in known[:n]]


# What each series means, its name in the legend and its colour: one table, so a colour means the same on every
# chart and in every legend. Submitted is green; what is still owed is a warning colour, never green.
SERIES = {
    "submitted": ("已提交", "#2e7d32"),
    "missing": ("未提交", "#e65100"),
    "in_progress": ("进行中", "#1565c0"),
    "withdrawn": ("已撤回", "#757575"),
    "forwarded": ("已报送教育部", "#6a1b9a"),
    "universities": ("高校数", "#5c6bc0"),
}
EMPTY = "暂无数据"


def bar_chart(caption: str, rows: list[tuple[str, list[list[tuple[str, int]]], str]]) -> dict:
    """A horizontal bar chart the page draws as HTML: each row's label in a column of its own, beside its bars.

    `rows`: (label, bars, value text); a bar is a stack of (series, count). The browser wraps a long label within
    its column, so no label is cut or laid over another, and each row's tooltip (`title`) repeats the full name
    with its numbers. Widths are shares of the longest bar. Nothing to draw (no row, or only zeros): `empty`, and
    the page says 「暂无数据」 instead of drawing bare axes.
    """
    scale = max((sum(n for _, n in bar) for _, bars, _ in rows for bar in bars), default=0)
    drawn, legend = [], []
    for label, bars, value in rows:
        shaped = []
        for bar in bars:
            shaped.append([{"series": key, "name": SERIES[key][0], "colour": SERIES[key][1], "value": n,
                            "width": f"{100 * n / scale:.2f}%" if scale else "0%"} for key, n in bar])
            legend += [key for key, _ in bar if key not in legend]
        numbers = "，".join(f"{s['name']} {s['value']}" for bar in shaped for s in bar)
        drawn.append({"label": label, "bars": shaped, "value": value, "title": f"{label}：{numbers}"})
    # every row's number column as wide as the widest, so all bars start and end at the same place and compare
    return {"caption": caption, "rows": drawn, "empty": scale == 0, "value_width": max((len(v) for *_, v in rows), default=1),
            "legend": [{"series": key, "name": SERIES[key][0], "colour": SERIES[key][1]} for key in legend]}


def charts(data: dict) -> dict:
    """The charts the page draws (its tables print the same numbers), and the histogram's series for its table."""
    labels = data["track_labels"]
    tracks = data["tracks"]
    names = [labels.get(t["track"], t["track"]) + (f"（{t['period']}）" if t.get("period") else "") for t in tracks]
    counts = histogram(data["universities"])
    buckets = [f"{10 * i}–{10 * (i + 1)}%" for i in range(BUCKETS)]
    orgs = [(name, [[("submitted", t["orgs_submitted"]),
                     ("missing", max(0, t["orgs_expected"] - t["orgs_submitted"]))]],
             f"{t['orgs_submitted']} / {t['orgs_expected']}") for name, t in zip(names, tracks)]
    # forwarded works are submitted works the ministry has received: a bar of their own, not a stack on the others
    works = [(name, [[("submitted", t["works_submitted"]), ("in_progress", t["works_in_progress"]),
                      ("withdrawn", t["works_withdrawn"])], [("forwarded", t["works_forwarded"])]],
              str(t["works_submitted"] + t["works_in_progress"] + t["works_withdrawn"])) for name, t in zip(names, tracks)]
    return {
        "orgs": bar_chart("各赛道：组织提交情况", orgs),
        "works": bar_chart("各赛道：作品状态", works),
        "rates": bar_chart("高校按组织提交率分布", [(b, [[("universities", n)]], str(n)) for b, n in zip(buckets, counts)]),
        "histogram": counts,
        "buckets": buckets,
    }


def page(data: dict, tenant: str | None, viewer: str, filters: Filters) -> dict:
    """What dashboard.html shows of `aggregate`'s sums, for the ministry (tenant None) or one university."""
    drawn = charts(data)
    return {"viewer": viewer, "filters": filters, "total": data["total"], "tracks": data["tracks"],
            "track_labels": data["track_labels"], "campaigns": data["campaigns"], "show_universities": tenant is None,
            "universities": len(data["universities"]), "laggards": laggards(data["universities"]),
            "unit": data.get("unit", "组织"), "without_org_list": data.get("without_org_list", [])[:LAGGARDS],
            "without_org_list_more": max(0, len(data.get("without_org_list", [])) - LAGGARDS),
            "heading": "全国高校进度" if tenant is None else f"{viewer}进度", "charts": drawn}
