"""The role walk (issue #15): every page route of review, notify and intake, with a session of every role.

Each service's page routes are read from its running container (common.web's HtmlPage entrypoints, the way
test_tenant_isolation's `routes` reads them), so a page added later without a decision about who may open it
fails here until its row is written. Each row of a table below says what every role gets:

    200            the page (or the file)
    303 /x         a redirect to /x (`303 /sign-in`: sent to sign in; `/x*`: to any path that starts so)
    401            not signed in: the sign-in page, with `Location: /sign-in`
    401 form       the same form again saying the code, password or link was wrong (the role may use it)
    401 key        an API's JSON answer to a call without a key: a page's session is no API credential
    403            signed in, but not as someone this page is for
    404            no such object, or outside the role's scope: answered as a missing one, word for word
    <a> | <b>      a route with an id: <a> for an object inside the role's scope, <b> for one outside it and for a
                   missing one (`-`: nothing is inside this role's scope)

The roles are people of 东南大学 (owner, 部门管理员 of 组织部 and of 宣传部, 组织管理员 of one college, a viewer),
an expert (with reviewer rows in review), the ministry's 思政司 部门管理员 and a ministry viewer, a person with no
grant, and a visitor with no session. 东南大学's campaign routes every track to 组织部, so its 宣传部 admin is
signed in with nothing in scope. Review and notify get their people from intake's tickets (common.handoff),
minted with the service's secret as intake's page mints them; intake's people are invited through the API, set
their password on the invitation page and sign in for real (owners and department admins with an authenticator).

Every POST carries the role's own CSRF token, read from a page it may open, so a refusal is the role's and not
the token's; the sign-in forms carry their own pre-session token. Mismatches are gathered over the whole walk and
reported together: route, role, expected, found.
"""
from __future__ import annotations

import re
import time
import uuid

import pyotp
import pytest
import requests
from sqlalchemy import select

from common import handoff
from common.events import make_event
from common.web import HtmlPage, web_secret
from tests.conftest import wait_until
from tests.integration.test_review_people import _staff, review, submitted, world  # noqa: F401  (world and review are fixtures)
from tests.integration.test_review_service import INTAKE, admin, csrf, publish
from tests.security.test_tenant_isolation import routes

ROLES = ("owner", "organisation", "propaganda", "college", "viewer", "expert", "sizheng", "ministry_viewer",
         "no_grants", "anonymous")
SEU = {"tenant": "seu", "tenant_kind": "university", "tenant_name": "东南大学"}
MINISTRY = {"tenant": "ministry", "tenant_kind": "ministry", "tenant_name": "教育部思想政治工作司"}
EXPERT_EMAIL = "walk.expert@example.edu.cn"
MISSING = "0" * 32


def grant(where: dict, role: str, department: str | None = None, org_id: str | None = None) -> dict:
    return {**where, "role": role, "department": department, "org_id": org_id}


# The grants each role's ticket carries to review and notify (the org is review's copy of 计算机科学与工程学院党委).
TICKET_GRANTS = {
    "owner": [grant(SEU, "owner")],
    "organisation": [grant(SEU, "department_admin", "organisation")],
    "propaganda": [grant(SEU, "department_admin", "propaganda")],
    "college": [grant(SEU, "org_admin", org_id="o-cse")],
    "viewer": [grant(SEU, "viewer")],
    "expert": [grant(SEU, "expert")],
    "sizheng": [grant(MINISTRY, "department_admin", "sizheng")],
    "ministry_viewer": [grant(MINISTRY, "viewer")],
    "no_grants": [],
}


def table(*cells: str) -> dict[str, str]:
    """One row of a walk table: a cell per role, in the order of ROLES."""
    assert len(cells) == len(ROLES), cells
    return dict(zip(ROLES, cells))


def same(cell: str) -> dict[str, str]:
    """A row where every role gets the same answer (public routes: what they answer does not depend on who asks)."""
    return table(*[cell] * len(ROLES))


def page_routes(container) -> set[tuple[str, str]]:
    return {(e.method, e.url) for e in container.entrypoints if isinstance(e, HtmlPage)}


def filled(url: str, ids: dict) -> str:
    for name, value in ids.items():
        url = url.replace(f"<string:{name}>", value).replace(f"<path:{name}>", value).replace(f"<{name}>", value)
    return url


def split(cell: str) -> tuple[str, str]:
    """(inside, outside) of a cell; a cell without `|` answers the same for both."""
    inside, _, outside = cell.partition(" | ")
    return inside, outside or inside


def answer_of(r: requests.Response) -> str:
    """The answer as the tables write it."""
    if r.status_code in (301, 302, 303, 307):
        return f"{r.status_code} {r.headers.get('Location', '')}"
    if r.status_code == 401 and "json" in r.headers.get("Content-Type", ""):
        return "401 key"
    if r.status_code == 401:
        # sent to sign in (and back to the page after: `?next=`), or the same form again
        return "401" if r.headers.get("Location", "").partition("?")[0] == "/sign-in" else "401 form"
    return str(r.status_code)


def matches(found: str, expected: str) -> bool:
    if found == expected:
        return True
    # a location ending in * names a prefix: the notice after an action, the next work after a score
    return expected.endswith("*") and found.startswith(expected[:-1])


def said(r: requests.Response) -> str:
    """What a refusal tells the person (the page's message, or the API's), for the report."""
    if "json" in r.headers.get("Content-Type", ""):
        try:
            return str(r.json().get("error", {}).get("message", ""))
        except ValueError:
            return ""
    body = re.sub(r"\s+", " ", r.text[:6000])
    found = re.search(r'role="alert">(.*?)<|<main class="error"><h1>.*?</h1><p>(.*?)</p>', body)
    return next((g for g in found.groups() if g), "") if found else ""


class Walk:
    """The answers of one service's walk against its table; every mismatch is reported at once. Refusals of objects
    outside a role's scope are kept by kind, to check that each reads word for word as a missing object's."""

    def __init__(self, service: str):
        self.service, self.wrong, self.seen = service, [], 0
        self.refusals: dict[tuple, set[str]] = {}

    def check(self, role: str, method: str, route: str, path: str, expected: str, r: requests.Response) -> None:
        self.seen += 1
        found = answer_of(r)
        if r.status_code >= 500 or not matches(found, expected):
            self.wrong.append(f"{method} {route} ({path}) as {role}: expected {expected}, found {found} — {said(r)}")

    def refused(self, role: str, method: str, route: str, path: str, idents: list[str], r: requests.Response) -> None:
        """A call about objects outside the role's scope (`idents`, wherever the request named them): its refusal,
        without the ids, beside the refusals of the same call about other objects and missing ones."""
        if r.status_code in (403, 404):
            text = r.text
            for ident in idents:
                path, text = path.replace(ident, "{id}"), text.replace(ident, "{id}")
            self.refusals.setdefault((role, method, route, path, r.status_code), set()).add(text)

    def assert_clean(self) -> None:
        for (role, method, route, path, status), texts in sorted(self.refusals.items()):
            if len(texts) > 1:
                self.wrong.append(f"{method} {route} ({path}) as {role}: {status} for an object outside the scope "
                                  "reads otherwise than for a missing one")
        assert not self.wrong, f"{self.service}: {len(self.wrong)} of {self.seen} answers differ:\n" + "\n".join(self.wrong)


# =========================================================================== review

# The rounds each role administers (review's domain/scope.py). 东南大学 routes every track to 组织部.
REVIEW_SCOPE = {
    "owner": {"seu_story", "seu_cse", "seu_me", "seu_material"},
    "organisation": {"seu_story", "seu_cse", "seu_me", "seu_material"},
    "college": {"seu_cse"},  # its college's round of its branches' works, not the university's
    "sizheng": {"ministry_story"},
}
# The round each administering role runs every action on: its own, so one role's actions never meet another's.
ACTION_ROUND = {"owner": "seu_me", "organisation": "seu_material", "college": "seu_cse", "sizheng": "ministry_story"}
ADMIN_DONE = "303 /rounds/*"  # an action done: back to the round page (or its ranking) with a notice


def admin_row(inside: str) -> dict[str, str]:
    """A round route: `inside` for a round the role administers, 404 for any other; 401 without a session."""
    others = {"propaganda": "- | 404", "expert": "- | 404",
              "viewer": "401", "ministry_viewer": "401", "no_grants": "401", "anonymous": "401"}
    return {role: others.get(role, f"{inside} | 404") for role in ROLES}


#                                               owner         organisation  propaganda    college       viewer
#                                               expert        sizheng       ministry_viewer no_grants   anonymous
REVIEW_WALK = {
    ("GET", "/health"): same("200"),  # not a page; the walk reads every route the container has
    ("GET", "/static/<path:name>"): same("200"),
    ("GET", "/sign-in"): same("200"),
    ("POST", "/sign-in"): same("401 form"),  # a wrong key, with the form's own token
    ("GET", "/sign-in/<string:token>"): same("200"),  # the button page of an e-mailed link changes nothing
    ("POST", "/sign-in/<string:token>"): same("401 form"),  # a link that does not exist: its page, offering a new one
    ("POST", "/sign-in/<string:token>/resend"): same("200"),  # the same answer for a real link or a made-up one
    ("POST", "/sign-in/resend"): same("200"),  # an address: the same answer whether or not it is an expert's
    # the role's ticket: a session (to the home page), or no role in review (403, no session)
    ("POST", "/sign-in/ticket"): table("303 /", "303 /", "303 /", "303 /", "403",
                                       "303 /", "303 /", "403", "403", "401"),
    ("GET", "/files/<string:token>"): same("404"),  # a capability: a forged link is no file, whoever holds it
    ("GET", "/"): table("200", "200", "200", "200", "303 /sign-in",
                        "303 /tasks", "200", "303 /sign-in", "303 /sign-in", "303 /sign-in"),
    ("GET", "/tasks"): table("200", "200", "200", "200", "401",
                             "200", "200", "401", "401", "401"),
    ("GET", "/queue"): table("303 /tasks", "303 /tasks", "303 /tasks", "303 /tasks", "401",
                             "303 /tasks", "303 /tasks", "401", "401", "401"),
    # an assignment is inside an expert's scope when it is one of their reviewer rows; admins score nothing
    ("GET", "/works/<string:assignment_id>"): table("- | 404", "- | 404", "- | 404", "- | 404", "401",
                                                    "200 | 404", "- | 404", "401", "401", "401"),
    ("POST", "/works/<string:assignment_id>/score"): table("- | 404", "- | 404", "- | 404", "- | 404", "401",
                                                           "303 /works/* | 404", "- | 404", "401", "401", "401"),
    # the autosave answers in JSON: without a session the page keeps the marks and offers to sign in
    ("POST", "/works/<string:assignment_id>/draft"): table("- | 404", "- | 404", "- | 404", "- | 404", "401 key",
                                                           "200 | 404", "- | 404", "401 key", "401 key", "401 key"),
    ("POST", "/works/<string:assignment_id>/decline"): table("- | 404", "- | 404", "- | 404", "- | 404", "401",
                                                             "303 /tasks | 404", "- | 404", "401", "401", "401"),
    # a message to the work's discussion: the expert's own work has none open (no 分歧大), said on its page
    ("POST", "/works/<string:assignment_id>/discussion"): table("- | 404", "- | 404", "- | 404", "- | 404", "401",
                                                                "303 /works/* | 404", "- | 404", "401", "401", "401"),
    ("GET", "/rounds/<string:round_id>"): admin_row("200"),
    ("GET", "/rounds/<string:round_id>/ranking"): admin_row("200"),
    ("GET", "/rounds/<string:round_id>/export.xlsx"): admin_row("200"),
    ("GET", "/rounds/<string:round_id>/entries/<string:submission_id>"): admin_row("200"),  # a work's reviews
    ("POST", "/rounds/<string:round_id>/settings"): admin_row(ADMIN_DONE),
    ("POST", "/rounds/<string:round_id>/reviewers"): admin_row(ADMIN_DONE),
    ("POST", "/rounds/<string:round_id>/reviewers/import"): admin_row(ADMIN_DONE),
    ("POST", "/rounds/<string:round_id>/reviewers/<string:reviewer_id>/remove"): admin_row(ADMIN_DONE),
    ("POST", "/rounds/<string:round_id>/reviewers/<string:reviewer_id>/invite"): admin_row(ADMIN_DONE),
    ("POST", "/rounds/<string:round_id>/assignments"): admin_row(ADMIN_DONE),
    ("POST", "/rounds/<string:round_id>/assign"): admin_row(ADMIN_DONE),
    ("POST", "/rounds/<string:round_id>/assignments/<string:assignment_id>/remove"): admin_row(ADMIN_DONE),
    ("POST", "/rounds/<string:round_id>/conflicts"): admin_row(ADMIN_DONE),
    ("POST", "/rounds/<string:round_id>/invite"): admin_row(ADMIN_DONE),
    ("POST", "/rounds/<string:round_id>/close"): admin_row(ADMIN_DONE),
    ("POST", "/rounds/<string:round_id>/reopen"): admin_row(ADMIN_DONE),
    ("POST", "/rounds/<string:round_id>/selection"): admin_row(ADMIN_DONE),
    ("POST", "/rounds/<string:round_id>/entries/<string:submission_id>/discussion/open"): admin_row(ADMIN_DONE),
    ("POST", "/rounds/<string:round_id>/entries/<string:submission_id>/discussion"): admin_row(ADMIN_DONE),
    ("POST", "/sign-out"): table("303 /sign-in", "303 /sign-in", "303 /sign-in", "303 /sign-in", "401",
                                 "303 /sign-in", "303 /sign-in", "401", "401", "401"),
}
COLLEAGUE_EMAIL = "walk.colleague@example.edu.cn"
MARKS = {"mark_thought": "8", "mark_appeal": "7", "mark_form": "9"}  # the story rubric


def mint(config: dict, service: str, role: str, email: str | None = None) -> str:
    """The ticket intake's page would post for this role's person (common.handoff), with the service's secret."""
    return handoff.issue_ticket(web_secret(config), service, account_id=f"walk-{role}", name=f"走查{role}",
                                email=email or f"{role}@walk.example.edu.cn", grants=TICKET_GRANTS[role],
                                session=uuid.uuid5(uuid.NAMESPACE_URL, role).hex * 2,
                                session_expires=time.time() + 3600)


def hand_over(base: str, config: dict, service: str, role: str, email: str | None = None):
    """A browser that posted the role's ticket (the anonymous visitor posts none); the browser and the answer."""
    web = requests.Session()
    data = {} if role == "anonymous" else {handoff.TICKET_FIELD: mint(config, service, role, email)}
    return web, web.post(f"{base}/sign-in/ticket", data=data, allow_redirects=False, timeout=10)


def form_of(web: requests.Session, url: str) -> str:
    """The token of a sign-in form (bound to the pre-session cookie its page sets in this browser)."""
    from tests.signin import form_token

    return form_token(web.get(url, timeout=10).text)


@pytest.fixture
def review_world(world):  # noqa: F811
    """test_review_people's five rounds, 东南大学's 教育素材 round and the ministry's national round; an expert with
    one work in 东南大学's university round (a colleague has the other) and one in 武汉科技大学's."""
    from services.review.models import Assignment, Reviewer, Round
    from tests.integration.test_review_service import ORG_NAMES, OTHER_KEY, forwarded

    base, store = world["base"], world["store"]
    publish(world["amqp"], INTAKE, submitted("seu", "o-ee", ORG_NAMES["o-ee"], "level2", track="material"),
            forwarded("seu", 1))

    def both():
        with store.transaction() as s:
            found = {(r.tenant, r.track, r.level): r.id for r in s.scalars(select(Round))}
        wanted = {"seu_material": ("seu", "material", "university"), "ministry_story": ("ministry", "story", "ministry")}
        return all(k in found for k in wanted.values()) and {name: found[k] for name, k in wanted.items()}

    rounds = {**world["rounds"], **wait_until(both, timeout=20, what="the material round and the ministry's round")}
    _staff(admin(base), base, rounds["seu_story"], EXPERT_EMAIL, COLLEAGUE_EMAIL)
    _staff(admin(base, OTHER_KEY), base, rounds["wust_story"], EXPERT_EMAIL)
    with store.transaction() as s:
        rows = s.execute(select(Assignment.id, Reviewer.email, Reviewer.round_id)
                         .join(Reviewer, Reviewer.id == Assignment.reviewer_id)).all()
    works = {"own": next(a for a, e, r in rows if e == EXPERT_EMAIL and r == rounds["seu_story"]),
             "own_elsewhere": next(a for a, e, r in rows if e == EXPERT_EMAIL and r == rounds["wust_story"]),
             "colleagues": next(a for a, e, _ in rows if e == COLLEAGUE_EMAIL)}
    return {**world, "rounds": rounds, "works": works}


def _round_facts(store) -> dict[str, tuple]:
    """What an action on a round would change: its state and settings, its reviewers, its assignments."""
    from services.review.models import Assignment, Reviewer, Round

    with store.transaction() as s:
        return {r.id: (r.state, r.reviewers_per_work, r.scoring_deadline,
                       sorted(s.execute(select(Reviewer.email, Reviewer.active).where(Reviewer.round_id == r.id)).all()),
                       sorted(s.execute(select(Assignment.id, Assignment.state).where(Assignment.round_id == r.id)).all()))
                for r in s.scalars(select(Round))}


def _objects_of(store, round_id: str) -> dict[str, str]:
    """A real reviewer, assignment and work of a round (else ids that exist nowhere): outside objects are real ones."""
    from services.review.models import Assignment, Entry, Reviewer

    with store.transaction() as s:
        return {"reviewer_id": s.scalar(select(Reviewer.id).where(Reviewer.round_id == round_id)) or MISSING,
                "assignment_id": s.scalar(select(Assignment.id).where(Assignment.round_id == round_id)) or MISSING,
                "submission_id": s.scalar(select(Entry.submission_id).where(Entry.round_id == round_id)) or MISSING}


def _intruding_form(action: str, objects: dict) -> dict:
    """A form that would change the round if the action were allowed."""
    table_ = "姓名,邮箱\n闯入者,intruder@example.cn\n".encode()
    return {"/settings": {"data": {"reviewers_per_work": "7"}},
            "/reviewers": {"data": {"name": "闯入者", "email": "intruder@example.cn"}},
            "/reviewers/import": {"data": {}, "files": {"file": ("专家.csv", table_, "text/csv")}},
            "/assignments": {"data": {"reviewer_id": objects["reviewer_id"], "submission_id": objects["submission_id"]}},
            "/conflicts": {"data": {"reviewer_id": objects["reviewer_id"], "submission_id": objects["submission_id"]}},
            "/selection": {"data": {"selected": [objects["submission_id"]]}},
            }.get(action, {"data": {}})


def _review_inside(env: dict, role: str, round_id: str):
    """Every action on a round the role administers, in an order in which each one is done (303): yields
    (action, path, request arguments), and reads the ids each next step needs once the previous one is done."""
    from services.review.models import Assignment, Entry, Reviewer

    store, prefix = env["store"], f"/rounds/{round_id}"
    first, second = f"walk.first.{role}@example.edu.cn", f"walk.second.{role}@example.edu.cn"
    yield "/settings", prefix + "/settings", {"data": {"reviewers_per_work": "1", "scoring_deadline": ""}}
    yield "/reviewers", prefix + "/reviewers", {"data": {"name": "走查专家甲", "email": first}}
    yield "/reviewers/import", prefix + "/reviewers/import", {
        "data": {}, "files": {"file": ("专家.csv", f"姓名,邮箱\n走查专家乙,{second}\n".encode(), "text/csv")}}
    with store.transaction() as s:
        ids = dict(s.execute(select(Reviewer.email, Reviewer.id).where(Reviewer.round_id == round_id)).all())
        work = s.scalar(select(Entry.submission_id).where(Entry.round_id == round_id))
    yield "/assignments", prefix + "/assignments", {"data": {"reviewer_id": ids[first], "submission_id": work}}
    yield "/assign", prefix + "/assign", {"data": {}}
    with store.transaction() as s:
        manual = s.scalar(select(Assignment.id).where(Assignment.reviewer_id == ids[first], Assignment.manual))
    yield "/assignments/<string:assignment_id>/remove", f"{prefix}/assignments/{manual}/remove", {"data": {}}
    yield "/conflicts", prefix + "/conflicts", {"data": {"reviewer_id": ids[first], "submission_id": work,
                                                         "reason": "走查：登记回避"}}
    yield "/reviewers/<string:reviewer_id>/remove", f"{prefix}/reviewers/{ids[second]}/remove", {"data": {}}
    yield "/invite", prefix + "/invite", {"data": {}}
    # a work's discussion (专家讨论), opened by the admin, then a message: both back to the work's page
    yield ("/entries/<string:submission_id>/discussion/open", f"{prefix}/entries/{work}/discussion/open", {"data": {}})
    yield ("/entries/<string:submission_id>/discussion", f"{prefix}/entries/{work}/discussion",
           {"data": {"body": "走查：请各位专家再看一看"}})
    yield "/close", prefix + "/close", {"data": {"confirmed": "1"}}  # experts may have work open (issue #17 item 5)
    yield "/reopen", prefix + "/reopen", {"data": {}}
    yield None, prefix + "/close", {"data": {"confirmed": "1"}}  # closed again: only a closed round selects
    yield "/selection", prefix + "/selection", {"data": {"selected": []}}


def _review_calls(env: dict, role: str):
    """Every call of the role's walk but the ticket and signing out, in order: (route, path, request arguments,
    inside?). Round actions go to every round outside the role's scope (and a missing one) with a form that would
    change it; inside, they run once each on the role's own action round."""
    rounds, works = env["rounds"], env["works"]
    yield ("GET", "/health"), "/health", {}, False
    yield ("GET", "/static/<path:name>"), "/static/site.css", {}, False
    yield ("GET", "/sign-in"), "/sign-in", {}, False
    yield ("GET", "/sign-in/<string:token>"), f"/sign-in/no-such-link-{role}", {}, False
    yield ("GET", "/files/<string:token>"), f"/files/forged-{role}", {}, False
    for path in ("/", "/tasks", "/queue"):
        yield ("GET", path), path, {}, False
    mine = {"GET": works["own"], "score": works["own"], "draft": works["own_elsewhere"],
            "discussion": works["own"], "decline": works["own_elsewhere"]} if role == "expert" else {}
    outside = [works["colleagues"], MISSING] + ([] if role == "expert" else [works["own"], works["own_elsewhere"]])
    for action, route, form in (("GET", ("GET", "/works/<string:assignment_id>"), {}),
                                ("score", ("POST", "/works/<string:assignment_id>/score"), {**MARKS, "action": "submit"}),
                                ("draft", ("POST", "/works/<string:assignment_id>/draft"), {"mark_thought": "7"}),
                                ("discussion", ("POST", "/works/<string:assignment_id>/discussion"), {"body": "走查"}),
                                ("decline", ("POST", "/works/<string:assignment_id>/decline"),
                                 {"reason": "走查", "confirm": "on"})):
        for aid in ([mine[action]] if action in mine else []) + outside:
            suffix = "" if action == "GET" else f"/{action}"
            yield route, f"/works/{aid}{suffix}", ({} if action == "GET" else {"data": form}), aid in mine.values()
    scope = REVIEW_SCOPE.get(role, set())
    for name, round_id in [*sorted(rounds.items()), ("missing", MISSING)]:
        for suffix in ("", "/ranking", "/export.xlsx"):
            yield ("GET", f"/rounds/<string:round_id>{suffix}"), f"/rounds/{round_id}{suffix}", {}, name in scope
        work = _objects_of(env["store"], round_id)["submission_id"] if round_id != MISSING else MISSING
        yield (("GET", "/rounds/<string:round_id>/entries/<string:submission_id>"), f"/rounds/{round_id}/entries/{work}",
               {}, name in scope)
    actions = [route for method, route in REVIEW_WALK if method == "POST" and route.startswith("/rounds/")]
    for name, round_id in [*sorted(rounds.items()), ("missing", MISSING)]:
        if name in scope:
            continue
        objects = _objects_of(env["store"], round_id) if round_id != MISSING else {
            "reviewer_id": MISSING, "assignment_id": MISSING, "submission_id": MISSING}
        for route in actions:
            action = route.removeprefix("/rounds/<string:round_id>")
            yield ("POST", route), filled(route, {"round_id": round_id, **objects}), _intruding_form(action, objects), False
    if role in ACTION_ROUND:
        for action, path, kwargs in _review_inside(env, role, rounds[ACTION_ROUND[role]]):
            yield (("POST", f"/rounds/<string:round_id>{action}") if action else None), path, kwargs, True


def _with_token(kwargs: dict, token: str | None) -> dict:
    return {**kwargs, "data": {**kwargs.get("data", {}), **({"csrf_token": token} if token else {})}}


def test_every_review_route_answers_each_role_as_its_table_says(review_world):
    env = review_world
    base, config, store, rounds = env["base"], env["config"], env["store"], env["rounds"]
    found = routes(env["container"])
    assert found == set(REVIEW_WALK), (f"classify these review routes in REVIEW_WALK: {sorted(found - set(REVIEW_WALK))}; "
                                       f"gone: {sorted(set(REVIEW_WALK) - found)}")
    before = _round_facts(store)
    walk = Walk("review")
    for role in ROLES:
        expect = {route: split(cell) for route, cell in ((route, row[role]) for route, row in REVIEW_WALK.items())}
        web, r = hand_over(base, config, "review", role, EXPERT_EMAIL if role == "expert" else None)
        walk.check(role, "POST", "/sign-in/ticket", "/sign-in/ticket", expect[("POST", "/sign-in/ticket")][0], r)
        token = csrf(web.get(base + ("/tasks" if role == "expert" else "/"), timeout=10).text) \
            if r.status_code == 303 else None
        # the sign-in forms, each with its own form's token: a wrong key, a link that does not exist
        r = web.post(f"{base}/sign-in", data={"api_key": f"sk_walk_wrong_{role}", "csrf_token": form_of(
            web, f"{base}/sign-in")}, allow_redirects=False, timeout=10)
        walk.check(role, "POST", "/sign-in", "/sign-in", expect[("POST", "/sign-in")][0], r)
        link = f"{base}/sign-in/no-such-link-{role}"
        r = web.post(link, data={"csrf_token": form_of(web, link)}, allow_redirects=False, timeout=10)
        walk.check(role, "POST", "/sign-in/<string:token>", link, expect[("POST", "/sign-in/<string:token>")][0], r)
        r = web.post(f"{link}/resend", data={"csrf_token": form_of(web, link)}, allow_redirects=False, timeout=10)
        walk.check(role, "POST", "/sign-in/<string:token>/resend", f"{link}/resend",
                   expect[("POST", "/sign-in/<string:token>/resend")][0], r)

        for route, path, kwargs, inside in _review_calls(env, role):
            method = route[0] if route else "POST"
            r = web.request(method, base + path, allow_redirects=False, timeout=30,
                            **(_with_token(kwargs, token) if method == "POST" else kwargs))
            if route is None:  # a step that only sets up the next one
                assert r.status_code == 303, (role, path, r.status_code, r.text[:300])
                continue
            walk.check(role, method, route[1], path, expect[route][0 if inside else 1], r)
            if not inside:  # a round or an assignment outside the scope reads as a missing one
                walk.refused(role, method, route[1], path, re.findall(r"[0-9a-f]{32}", path), r)
        r = web.post(f"{base}/sign-out", data={"csrf_token": token} if token else {}, allow_redirects=False, timeout=10)
        walk.check(role, "POST", "/sign-out", "/sign-out", expect[("POST", "/sign-out")][0], r)
    walk.assert_clean()
    # the rounds no role acted on are as they were: every refused action changed nothing (the expert's decline
    # of their own work in 武汉科技大学's round is the one change there)
    after = _round_facts(store)
    acted = {rounds[name] for name in ACTION_ROUND.values()}
    for round_id in set(rounds.values()) - acted:
        if round_id == rounds["wust_story"]:
            state, k, deadline, reviewers, assignments = before[round_id]
            declined = [(a, "declined" if a == env["works"]["own_elsewhere"] else s) for a, s in assignments]
            before[round_id] = (state, k, deadline, reviewers, declined)
        assert after[round_id] == before[round_id], round_id


# =========================================================================== notify

# Notify's pages show progress: a ministry grant (owner, department admin, viewer) sees every university; at a
# university the owner, a whole-university viewer and department admins (their routed tracks: 东南大学's 宣传部 none)
# one university at a time; org admins, experts and people with no grant open nothing (services/notify/people.py).
# A university outside the person's grants, or one that does not exist, answers 403 (people.scope_of), the same.
NOTIFY_SIGNED_IN = "303 /dashboard"
#                                        owner        organisation propaganda   college  viewer
#                                        expert       sizheng      ministry_viewer no_grants anonymous
NOTIFY_WALK = {
    ("GET", "/static/<path:name>"): same("200"),
    ("GET", "/sign-in"): same("200"),
    ("POST", "/sign-in"): same("401 form"),  # a wrong key, with the form's own token
    ("POST", "/sign-in/ticket"): table(NOTIFY_SIGNED_IN, NOTIFY_SIGNED_IN, NOTIFY_SIGNED_IN, "403", NOTIFY_SIGNED_IN,
                                       "403", NOTIFY_SIGNED_IN, NOTIFY_SIGNED_IN, "403", "401"),
    ("GET", "/dashboard"): table("200 | 403", "200 | 403", "200 | 403", "401", "200 | 403",
                                 "401", "200", "200", "401", "401"),
    ("GET", "/library"): table("200", "200", "200", "401", "200",
                               "401", "200", "200", "401", "401"),
    ("GET", "/library/casebook.docx"): table("200", "200", "200", "401", "200",
                                             "401", "200", "200", "401", "401"),
    ("POST", "/sign-out"): table("303 /sign-in", "303 /sign-in", "303 /sign-in", "401", "303 /sign-in",
                                 "401", "303 /sign-in", "303 /sign-in", "401", "401"),
}
# Notify's API takes keys, never a page's session: with only the role's cookie, every call is not signed in.
NOTIFY_API = {("GET", "/health"): same("200"),
              ("GET", "/api/v1/openapi.json"): same("200"),  # the API document is public, as intake's is
              ("GET", "/files/<string:token>"): same("404")}  # a capability: a forged link is no file
NOTIFY_API_DEFAULT = same("401 key")


@pytest.fixture
def notify_world(make_config, start_service, sqlite_url):
    """Notify with 东南大学's and 武汉科技大学's campaigns, orgs and a story each, and the ministry's campaign.

    Every role's calls come from one address: the limit on wrong keys (tested in test_rate_limits) is lifted so the
    walk's API calls without a key all answer what one would.
    """
    from common.campaign import campaign_event_data, load_builtin_definitions
    from services.notify.service import NotifyService
    from tests.integration.test_notify_dashboard import wust_events
    from tests.integration.test_notify_people import wust_story
    from tests.integration.test_notify_service import ORGS, key_events, publish as to_notify, seu_campaign, story_submitted

    config = make_config("notify", DATABASE_URL=sqlite_url, WEB_SECRET="test-secret", MAIL_URL="smtp://127.0.0.1:9",
                         RATE_BAD_KEYS="100000")
    container = start_service(NotifyService, config)
    base = "http://" + config["WEB_SERVER_ADDRESS"]
    ministry_campaign = make_event("campaign_published", "ministry",
                                   campaign_event_data(load_builtin_definitions()["siyige-2020"]))
    to_notify(config["AMQP_URI"], key_events("seu", "university", "东南大学", "sk_seu"),
              key_events("wust", "university", "武汉科技大学", "sk_wust"), ministry_campaign, seu_campaign(),
              *wust_events(), ORGS, story_submitted(), wust_story())
    web, r = hand_over(base, config, "notify", "ministry_viewer")
    assert r.status_code == 303, r.text
    wait_until(lambda: "<b>2</b>件作品已提交" in web.get(f"{base}/dashboard", timeout=10).text, timeout=20,
               what="both stories on the ministry's dashboard")
    return {"container": container, "config": config, "base": base}


def _notify_calls(role: str, api: set):
    yield ("GET", "/static/<path:name>"), "/static/site.css", {}, False
    yield ("GET", "/sign-in"), "/sign-in", {}, False
    yield ("GET", "/dashboard"), "/dashboard", {}, True
    yield ("GET", "/dashboard"), "/dashboard?university=seu", {}, True
    yield ("GET", "/dashboard"), "/dashboard?university=wust", {}, False
    yield ("GET", "/dashboard"), "/dashboard?university=no-such-university", {}, False
    yield ("GET", "/library"), "/library", {}, True
    yield ("GET", "/library/casebook.docx"), "/library/casebook.docx", {}, True
    ids = {"token": f"forged-{role}", "sub_id": MISSING, "delivery_id": MISSING}
    for method, url in sorted(api):
        yield (method, url), filled(url, ids), ({"data": {}} if method != "GET" else {}), False


def test_every_notify_route_answers_each_role_as_its_table_says(notify_world):
    env = notify_world
    base, config = env["base"], env["config"]
    found = routes(env["container"])
    pages = page_routes(env["container"])
    assert pages == set(NOTIFY_WALK), (f"classify these notify pages in NOTIFY_WALK: {sorted(pages - set(NOTIFY_WALK))}; "
                                       f"gone: {sorted(set(NOTIFY_WALK) - pages)}")
    api = found - pages
    walk = Walk("notify")
    for role in ROLES:
        expect = {route: split(row[role]) for route, row in NOTIFY_WALK.items()}
        expect.update({route: split(NOTIFY_API.get(route, NOTIFY_API_DEFAULT)[role]) for route in api})
        web, r = hand_over(base, config, "notify", role)
        walk.check(role, "POST", "/sign-in/ticket", "/sign-in/ticket", expect[("POST", "/sign-in/ticket")][0], r)
        token = csrf(web.get(f"{base}/dashboard", timeout=10).text) if r.status_code == 303 else None
        r = web.post(f"{base}/sign-in", data={"api_key": f"sk_walk_wrong_{role}", "csrf_token": form_of(
            web, f"{base}/sign-in")}, allow_redirects=False, timeout=10)
        walk.check(role, "POST", "/sign-in", "/sign-in", expect[("POST", "/sign-in")][0], r)
        for route, path, kwargs, inside in _notify_calls(role, api):
            r = web.request(route[0], base + path, allow_redirects=False, timeout=60,
                            **(_with_token(kwargs, token) if route[0] != "GET" else kwargs))
            walk.check(role, route[0], route[1], path, expect[route][0 if inside else 1], r)
            if not inside:  # a university not theirs: as one that does not exist
                walk.refused(role, route[0], route[1], path, ["wust", "no-such-university"], r)
        r = web.post(f"{base}/sign-out", data={"csrf_token": token} if token else {}, allow_redirects=False, timeout=10)
        walk.check(role, "POST", "/sign-out", "/sign-out", expect[("POST", "/sign-out")][0], r)
    walk.assert_clean()


# =========================================================================== intake

# Intake's people sign in for real. A person half-way through signing in (password right, the authenticator's code
# still due: an owner here) is a role of its own on intake's pages: it opens nothing but the code page.
INTAKE_ROLES = (*ROLES[:-1], "halfway", "anonymous")
INTAKE_GRANTS = {  # (the tenant that invites, the grants); the college is 计算机科学与工程学院党委
    "owner": ("seu", [{"role": "owner"}]),
    "organisation": ("seu", [{"role": "department_admin", "department": "organisation"}]),
    "propaganda": ("seu", [{"role": "department_admin", "department": "propaganda"}]),
    "college": ("seu", [{"role": "org_admin", "org_id": "计算机科学与工程学院党委"}]),
    "viewer": ("seu", [{"role": "viewer"}]),
    "expert": ("seu", [{"role": "expert"}]),
    "sizheng": ("ministry", [{"role": "department_admin", "department": "sizheng"}]),
    "ministry_viewer": ("ministry", [{"role": "viewer"}]),
    "no_grants": ("seu", [{"role": "viewer"}]),  # then removed: an account with no grant left
}
# The track each role's supervision covers (东南大学 routes every track to 组织部: its 宣传部 supervises none).
SUPERVISED_TRACK = {"owner": "story", "organisation": "story", "college": "story", "viewer": "story",
                    "sizheng": "story", "ministry_viewer": "story"}


def itable(*cells: str) -> dict[str, str]:
    """A row of intake's walk: a cell per role of INTAKE_ROLES."""
    assert len(cells) == len(INTAKE_ROLES), cells
    return dict(zip(INTAKE_ROLES, cells))


def isame(cell: str) -> dict[str, str]:
    return itable(*[cell] * len(INTAKE_ROLES))


SIGNED_OUT = "303 /sign-in"
ENROLLED = "303 /?done=second_factor"
#                                        owner      organisation propaganda college    viewer
#                                        expert     sizheng      ministry_viewer no_grants halfway  anonymous
INTAKE_WALK = {
    ("GET", "/static/<path:name>"): isame("200"),
    ("GET", "/"): itable("200", "200", "200", "200", "200",
                         "200", "200", "200", "200", SIGNED_OUT, SIGNED_OUT),
    ("GET", "/sign-in"): itable("303 /", "303 /", "303 /", "303 /", "303 /",
                                "303 /", "303 /", "303 /", "303 /", "200", "200"),
    # the hosted submission pages' shell: what a person may do there, the API says (their session's reach)
    ("GET", "/submit"): itable(*["200"] * 9, SIGNED_OUT, SIGNED_OUT),
    ("POST", "/sign-in"): isame("401 form"),  # an address with no account, with the form's own token
    ("GET", "/sign-in/code"): itable("403", "403", "403", "403", "403",
                                     "403", "403", "403", "403", "200", "401"),
    ("POST", "/sign-in/code"): itable("403", "403", "403", "403", "403",
                                      "403", "403", "403", "403", "401 form", "401"),  # a wrong code
    # enrolling an authenticator by choice (the right code: done); one in use is never shown again (409)
    ("GET", "/account/second-factor"): itable("409", "409", "409", "200", "200",
                                              "200", "409", "200", "200", "403", "401"),
    ("POST", "/account/second-factor"): itable("409", "409", "409", ENROLLED, ENROLLED,
                                               ENROLLED, "409", ENROLLED, ENROLLED, "403", "401"),
    ("GET", "/go/<string:service>"): itable(*["200 | 404"] * 9, "403", "401"),  # review and notify; no other
    # a person's own API keys: an owner issues one for a tenant it owns, a college's org admin one for its college
    # (submit and publish only: the walk's `admin` scope is refused, 422); a key not theirs answers 404
    ("GET", "/account/keys"): itable(*["200"] * 9, "403", "401"),
    ("POST", "/account/keys"): itable("201 | 404", "- | 404", "- | 404", "422 | 404", *["- | 404"] * 5, "403", "401"),
    ("POST", "/account/keys/<string:key_id>/revoke"): itable("303 /account/keys | 404", *["- | 404"] * 8, "403", "401"),
    ("GET", "/sign-in/link"): isame("200"),
    ("POST", "/sign-in/link"): isame("200"),  # the same answer whether the address has an account or not
    ("GET", "/password-reset"): isame("200"),
    ("POST", "/password-reset"): isame("200"),
    ("GET", "/sign-in/link/<string:token>"): isame("404"),  # a link that does not exist
    ("POST", "/sign-in/link/<string:token>"): isame("404"),
    ("GET", "/password-reset/<string:token>"): isame("404"),
    ("POST", "/password-reset/<string:token>"): isame("404"),
    ("GET", "/invitations/<string:token>"): isame("404"),
    ("POST", "/invitations/<string:token>"): isame("404"),
    ("GET", "/sso/<string:tenant>/start"): isame("404"),  # 东南大学 has no provider of its own
    ("GET", "/sso/<string:tenant>/callback"): isame("400"),  # no sign-in flow was started from here
    # the audit log is its owners': another tenant, or one that does not exist, answers 404
    ("GET", "/audit"): itable("200 | 404", "403", "403", "403", "403",
                              "403", "403", "403", "403", "403", "401"),
    ("GET", "/audit.xlsx"): itable("200 | 404", "403", "403", "403", "403",
                                   "403", "403", "403", "403", "403", "401"),
    # supervision: inside, the person's own tenant (and a track it covers); outside, another tenant or a track not
    # theirs (东南大学's 宣传部 has none)
    ("GET", "/supervision"): itable("200 | 404", "200 | 404", "200 | 404", "200 | 404", "200 | 404",
                                    "403", "200 | 404", "200 | 404", "403", "403", "401"),
    ("GET", "/supervision.xlsx"): itable("200 | 404", "200 | 404", "200 | 404", "200 | 404", "200 | 404",
                                         "403", "200 | 404", "200 | 404", "403", "403", "401"),
    ("POST", "/supervision/remind"): itable("200 | 404", "200 | 404", "- | 404", "200 | 404", "403 | 404",
                                            "403", "200 | 404", "403 | 404", "403", "403", "401"),
    ("POST", "/sign-out"): itable(*["303 /sign-in"] * 9, "303 /sign-in", "401"),
}
# Intake's API takes a key, or a person's session with its CSRF token in X-CSRF-Token (the hosted submission pages):
# with only the role's cookie, as a page of another site would send it, every call is refused before anything (403
# csrf_failed); half-way through signing in is not signed in. test_intake_api_with_a_persons_session walks it with
# the token.
INTAKE_API = {("GET", "/health"): isame("200"),
              ("GET", "/api/v1/openapi.json"): isame("200"),
              ("PUT", "/api/v1/uploads/<string:token>"): isame("404"),  # a capability: a forged target is none
              ("GET", "/api/v1/uploads/<string:token>"): isame("404"),
              ("GET,POST,PUT,PATCH,DELETE", "/api/v1/<path:rest>"): isame("404")}  # no such operation
# the key (or the session's token) before the body: a caller without one learns nothing of its rules
INTAKE_API_DEFAULT = itable(*["403"] * 9, "401 key", "401 key")


def intake_member(intake: dict, db, role: str) -> dict:
    """The role's person: invited by their tenant's key, password set on the invitation page, signed in (with the
    authenticator where their roles need one); their browser, authenticator secret and e-mail."""
    from tests.integration.test_intake_accounts import STRONG, invitations_sent, invite, link_of, open_form, submit
    from tests.integration.test_intake_signin import enrol, post_form, sign_in

    base = intake["base"]
    tenant, grants = INTAKE_GRANTS[role]
    portal = intake[tenant]
    grants = [{**g, "org_id": portal.org_id(g["org_id"])} if "org_id" in g else g for g in grants]
    email = f"walk.{role.replace('_', '-')}@example.edu.cn"
    r = invite(portal, email, *grants, name=f"走查{role}")
    assert r.status_code == 201, r.text
    account = r.json()
    url = link_of(invitations_sent(db, email)[-1])
    browser, page = open_form(url)
    assert submit(browser, url, STRONG, page=page).status_code == 200
    if role == "no_grants":
        r = portal("DELETE", f"/api/v1/accounts/{account['id']}/grants/{account['grants'][0]['id']}")
        assert r.status_code == 200 and not r.json()["grants"], r.text
    web, r = sign_in(base, email)
    secret = None
    if r.headers.get("Location") == "/account/second-factor":
        secret, page = enrol(web, base)
        r = post_form(web, f"{base}/account/second-factor", page, code=pyotp.TOTP(secret).now())
    assert r.status_code == 303 and r.headers["Location"] == "/", (role, r.status_code, r.text[:300])
    return {"web": web, "secret": secret, "email": email}


@pytest.fixture
def intake_people(make_config, start_service, sqlite_url):
    """Intake (东南大学's and 武汉科技大学's org trees, the three campaigns) and a signed-in person of every role.

    Every role's tries come from one address: the per-address limits on failed sign-ins and on calls with a wrong key
    (tested in test_rate_limits) are lifted so each answer is the role's, not the limit's.
    """
    from common import clock
    from common.db import Store
    from tests.integration.test_intake_api import start_intake

    intake = start_intake(sqlite_url, make_config, start_service, WEB_SECRET="test-secret",
                          RATE_FAILED_SIGN_INS_PER_ADDRESS="100000", RATE_BAD_KEYS="100000")
    db = Store(sqlite_url)
    people = {role: intake_member(intake, db, role) for role in INTAKE_GRANTS}
    from tests.integration.test_intake_signin import sign_in

    web, r = sign_in(intake["base"], people["owner"]["email"])  # the password only: the code is still due
    assert r.status_code == 303 and r.headers["Location"] == "/sign-in/code", r.text[:300]
    people["halfway"] = {"web": web, "secret": people["owner"]["secret"], "email": people["owner"]["email"]}
    people["anonymous"] = {"web": requests.Session(), "secret": None, "email": None}
    yield {**intake, "people": people, "db": db}
    db.dispose()
    clock.set_start(None)


def _wrong_code(secret: str | None) -> str:
    """A well-formed code the authenticator does not show now (nor a step either side)."""
    valid = {pyotp.TOTP(secret).at(time.time() + 30 * d) for d in (-1, 0, 1)} if secret else set()
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def _intake_calls(role: str, person: dict, api: set, keys):
    """Every call of the role's walk but signing out: (route, path, request arguments, inside?, token kind).
    `keys(email)`: the ids of the person's own API keys, and of 东南大学's keys that are not theirs.

    The token kind says which token a POST carries: the session's ("session"), the pre-session token of the public
    forms ("form"), or the session's with the code of the authenticator the enrolment page showed ("code")."""
    tag = role.replace("_", "-")
    yield ("GET", "/static/<path:name>"), "/static/hand_on.js", {}, False, None
    for path in ("/", "/sign-in", "/sign-in/code", "/account/second-factor", "/sign-in/link", "/password-reset", "/submit"):
        yield ("GET", path), path, {}, False, None
    # the code of the authenticator the page just showed (being enrolled, or enrolled already)
    yield ("POST", "/account/second-factor"), "/account/second-factor", {"data": {}}, False, "code"
    for service, inside in (("review", True), ("notify", True), ("elsewhere", False)):
        yield ("GET", "/go/<string:service>"), f"/go/{service}", {}, inside, None
    for url in ("/sign-in/link/<string:token>", "/password-reset/<string:token>", "/invitations/<string:token>"):
        path = filled(url, {"token": f"no-such-link-{tag}"})
        yield ("GET", url), path, {}, False, None
        yield ("POST", url), path, {"data": {"password": "走查用的密码足够长2020", "password_confirmation":
                                             "走查用的密码足够长2020"}}, False, "form"
    yield ("GET", "/sso/<string:tenant>/start"), "/sso/seu/start", {}, False, None
    yield ("GET", "/sso/<string:tenant>/callback"), "/sso/seu/callback?code=x&state=y", {}, False, None
    yield ("POST", "/sign-in"), "/sign-in", {"data": {"email": f"nobody.{tag}@example.edu.cn",
                                                      "password": "走查用的错误密码2020"}}, False, "form"
    for path in ("/sign-in/link", "/password-reset"):
        yield ("POST", path), path, {"data": {"email": f"nobody.{tag}@example.edu.cn"}}, False, "form"
    for page in ("/audit", "/audit.xlsx"):
        yield ("GET", page), page, {}, True, None
        for tenant in ("wust", "no-such-tenant"):
            yield ("GET", page), f"{page}?tenant={tenant}", {}, False, None
    track = SUPERVISED_TRACK.get(role)
    for page in ("/supervision", "/supervision.xlsx"):
        yield ("GET", page), page, {}, True, None
        yield ("GET", page), f"{page}?track=story", {}, track == "story", None
        yield ("GET", page), f"{page}?track=no-such-track", {}, False, None
        for tenant in ("wust", "no-such-tenant"):
            yield ("GET", page), f"{page}?tenant={tenant}", {}, False, None
    new_key = {"label": f"走查密钥{tag}", "scopes": ["admin"], "expires_in_days": "30"}
    yield ("GET", "/account/keys"), "/account/keys", {}, False, None
    yield ("POST", "/account/keys"), "/account/keys", {"data": {**new_key, "tenant": "seu"}}, role in ("owner", "college"), \
        "session"
    yield ("POST", "/account/keys"), "/account/keys", {"data": {**new_key, "tenant": "wust"}}, False, "session"
    revoke = ("POST", "/account/keys/<string:key_id>/revoke")
    own, others = keys(person["email"])  # read now: the key the POST above issued, if it did
    for key_id in own:
        yield revoke, f"/account/keys/{key_id}/revoke", {"data": {}}, True, "session"
    for key_id in (*others, MISSING):
        yield revoke, f"/account/keys/{key_id}/revoke", {"data": {}}, False, "session"
    remind = ("POST", "/supervision/remind")
    yield remind, remind[1], {"data": {"track": "story"}}, track == "story", "session"
    yield remind, remind[1], {"data": {"track": "no-such-track"}}, False, "session"
    for tenant in ("wust", "no-such-tenant"):
        yield remind, remind[1], {"data": {"tenant": tenant, "track": "story"}}, False, "session"
    yield ("POST", "/sign-in/code"), "/sign-in/code", {"data": {"code": _wrong_code(person["secret"])}}, False, "session"
    ids = {"token": f"forged-{tag}", "rest": f"walk-no-such-operation-{tag}"}
    for method, url in sorted(api):
        for verb in method.split(",")[:1]:  # the fallback answers every method alike: its first is enough
            path = filled(url, {**ids, **{name: MISSING for name in re.findall(r"<string:(\w+)>", url)}})
            yield (method, url), path, {"verb": verb, **({} if verb == "GET" else {"json": {}})}, False, None


def test_every_intake_route_answers_each_role_as_its_table_says(intake_people):
    from tests.signin import form_token

    env = intake_people
    base = env["base"]
    found = routes(env["container"])
    pages = page_routes(env["container"])
    assert pages == set(INTAKE_WALK), (f"classify these intake pages in INTAKE_WALK: {sorted(pages - set(INTAKE_WALK))}; "
                                       f"gone: {sorted(set(INTAKE_WALK) - pages)}")
    api = found - pages

    def keys(email):
        from services.intake.models import Account, ApiKey

        with env["db"].transaction() as session:
            rows = session.execute(select(ApiKey.id, Account.email).outerjoin(Account, Account.id == ApiKey.account_id)
                                   .where(ApiKey.tenant_id == "seu")).all()
        return [k for k, e in rows if e == email], [k for k, e in rows if e != email]

    walk = Walk("intake")
    revealed = set()  # the roles whose enrolment page shows the authenticator they already sign in with
    for role in INTAKE_ROLES:
        person = env["people"][role]
        web = person["web"]
        expect = {route: split(row[role]) for route, row in INTAKE_WALK.items()}
        expect.update({route: split(INTAKE_API.get(route, INTAKE_API_DEFAULT)[role]) for route in api})
        own = web.get(base + ("/sign-in/code" if role == "halfway" else "/"), timeout=10)
        tokens = {"session": form_token(own.text) if own.status_code == 200 else None,
                  "form": form_of(web, f"{base}/password-reset")}
        shown = None  # the authenticator secret the enrolment page showed
        for route, path, kwargs, inside, kind in _intake_calls(role, person, api, keys):
            kwargs = dict(kwargs)
            method = kwargs.pop("verb", route[0])
            if kind == "code":
                code = pyotp.TOTP(shown).at(time.time() + 30) if shown else _wrong_code(None)
                kwargs["data"] = {"code": code}
            token = tokens["form" if kind == "form" else "session"]
            if kind and token:
                kwargs["data"] = {**kwargs["data"], "csrf_token": token}
            r = web.request(method, base + path, allow_redirects=False, timeout=60, **kwargs)
            walk.check(role, method, route[1], path, expect[route][0 if inside else 1], r)
            if not inside:  # another tenant, a track or key not theirs: as one that does not exist
                form = {k: v for k, v in kwargs.get("data", {}).items() if k != "csrf_token"}
                named = f"{path} {sorted(form.items()) if form else ''}"
                walk.refused(role, method, route[1], named, [x for x in ("wust", "no-such-tenant", "story", "no-such-track")
                                                              if x in named] + re.findall(r"[0-9a-f]{32}", path), r)
            if path == "/account/second-factor" and method == "GET" and r.status_code == 200:
                shown = re.search(r'<code class="secret">([A-Z2-7]+)</code>', r.text).group(1)
                if shown == person["secret"]:
                    revealed.add(role)
        r = web.post(f"{base}/sign-out", data={"csrf_token": tokens["session"]} if tokens["session"] else {},
                     allow_redirects=False, timeout=10)
        walk.check(role, "POST", "/sign-out", "/sign-out", expect[("POST", "/sign-out")][0], r)
    if revealed:  # whoever holds the session a moment would keep the second factor for good
        walk.wrong.append(f"GET /account/second-factor shows the authenticator in use to {sorted(revealed)}")
    walk.assert_clean()


# --------------------------------------------------------------------------- intake's API with a person's session

# What each role's session may do through the API, with its CSRF token (domain/keys.person_access): 东南大学's own
# campaign routes every track to 组织部, the ministry's routes 教育素材 and 成果宣传报道 to 宣传部, so its 宣传部 admin
# submits those, and no story; 思政司 acts for the ministry.
SESSION_ME = itable("200", "200", "200", "200", "403", "403", "200", "403", "403", "401 key", "401 key")
# the works each role's session lists, of two stories: one in the college, one in another college
SESSION_SEES = {"owner": {"cse", "me"}, "organisation": {"cse", "me"}, "propaganda": set(), "college": {"cse"}}


def test_intake_api_with_a_persons_session_follows_their_grants(intake_people):
    """The hosted submission pages call the API with the person's session: each role acts with exactly its grants'
    reach and scopes, a call without the session's own token is refused whatever else it carries, and what a
    person does is logged as theirs."""
    from services.intake.models import AuditEntry
    from tests.signin import form_token

    env = intake_people
    base, seu = env["base"], env["seu"]
    works = {"cse": seu.draft("siyige-2020-seu", "story", "计算机科学与工程学院党委", title="走查：计算机学院的故事")["id"],
             "me": seu.draft("siyige-2020-seu", "story", "机械工程学院党委", title="走查：机械学院的故事")["id"]}
    wrong = []
    for role in INTAKE_ROLES:
        web = env["people"][role]["web"]
        page = web.get(base + ("/sign-in/code" if role == "halfway" else "/"), timeout=10)
        token = form_token(page.text) if page.status_code == 200 and role != "halfway" else "no-token"

        def call(method, path, token=token, **kw):
            return web.request(method, base + "/api/v1" + path, headers={"X-CSRF-Token": token, **kw.pop("headers", {})},
                               timeout=30, **kw)

        r = call("GET", "/me")
        if answer_of(r) != SESSION_ME[role]:
            wrong.append(f"GET /me as {role}: expected {SESSION_ME[role]}, found {answer_of(r)} {r.text[:200]}")
        if role in ("halfway", "anonymous"):
            continue
        # the cookie alone, or with another token (a page of another site, a token from another session): refused
        for forged in ("", "0" * 64, form_token(env["people"]["owner"]["web"].get(base + "/", timeout=10).text)
                       if role != "owner" else "0" * 64):
            r = call("GET", "/submissions", token=forged)
            if r.status_code != 403 or r.json()["error"]["code"] != "csrf_failed":
                wrong.append(f"GET /submissions as {role} with token {forged[:8]!r}: {r.status_code} {r.text[:200]}")
        if role not in SESSION_SEES:
            continue
        listed = {w["id"] for w in call("GET", "/submissions", params={"per_page": 200}).json()["items"]}
        seen = {name for name, work_id in works.items() if work_id in listed}
        if seen != SESSION_SEES[role]:
            wrong.append(f"GET /submissions as {role}: sees {sorted(seen)}, expected {sorted(SESSION_SEES[role])}")
        for name, work_id in works.items():
            r = call("GET", f"/submissions/{work_id}")
            expected = 200 if name in SESSION_SEES[role] else 404
            if r.status_code != expected:
                wrong.append(f"GET /submissions/<{name}> as {role}: {r.status_code}, expected {expected}")
        # a tenant the person has no role in reads as no role, never as that tenant
        r = call("GET", "/submissions", headers={"X-Siyige-Tenant": "wust"})
        if r.status_code != 403 or r.json()["error"]["code"] != "no_submitting_role":
            wrong.append(f"GET /submissions for wust as {role}: {r.status_code} {r.text[:200]}")
        # managing the tenant needs the owner
        r = call("GET", "/keys")
        if r.status_code != (200 if role == "owner" else 403):
            wrong.append(f"GET /keys as {role}: {r.status_code} {r.text[:200]}")
    assert not wrong, "\n".join(wrong)

    # the college's admin writes a work of their college, and cannot write one of another
    web = env["people"]["college"]["web"]
    token = form_token(web.get(base + "/", timeout=10).text)
    headers = {"X-CSRF-Token": token, "Idempotency-Key": "walk-college-1"}
    body = {"campaign_id": "siyige-2020-seu", "track": "story", "fields": {"title": "走查：院系管理员的作品"}}
    r = web.post(base + "/api/v1/submissions", json={**body, "org_id": seu.org_id("计算机科学与工程学院党委")},
                 headers=headers, timeout=30)
    assert r.status_code == 201, r.text
    created = r.json()["id"]
    r = web.post(base + "/api/v1/submissions", json={**body, "org_id": seu.org_id("机械工程学院党委")},
                 headers={**headers, "Idempotency-Key": "walk-college-2"}, timeout=30)
    assert r.status_code in (403, 404) and r.json()["error"]["code"] != "internal_error", r.text
    with env["db"].transaction() as session:
        actors = {a for a, in session.execute(select(AuditEntry.actor).where(AuditEntry.object_id == created))}
    assert actors and all(a.startswith("account:") and "走查college" in a for a in actors), actors
