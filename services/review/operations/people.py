"""People signed in on the platform (issue #15, common.handoff): what a person is here, the rounds their
grants let them administer, the works they score in every round, and the end of their sessions.

A person's web session has role "person"; its data keeps their admin scopes (domain/scope.py) as the
ticket gave them (a grant removed ends the session: intake announces `account_sessions_ended`). Whether
they review is read from the reviewer rows of their e-mail on every request, not kept: an admin may add
them to a round after they signed in, or take them out.
"""
from __future__ import annotations

from sqlalchemy import select

from common import handoff
from services.review.domain import scope
from services.review.domain.lifecycles import RoundState, ScoreState
from services.review.models import Assignment, OrgCopy, Reviewer, Round, WebSession
from services.review.operations.blind_views import queue, reviewer_assignment
from services.review.operations.copies import tenant_name, track_of
from services.review.operations.rounds import blind_title, listed, round_not_found, round_of_admin, rounds_of

PERSON = "person"  # the web session's role for a person signed in with intake's ticket


# --------------------------------------------------------------------------- signing in, and out


def person_session(session, person: dict) -> dict | None:
    """The web session a person gets here, or None when review has nothing for them (403).

    An admin scope comes from a grant; an expert is anyone with an expert grant or an active reviewer row
    under their e-mail, in any round of any tenant: an expert invited by e-mail only keeps working.
    """
    grants = person.get("grants") or []
    scopes = scope.admin_scopes(grants)
    expert = scope.has_expert_grant(grants) or bool(reviewer_ids(session, person.get("email")))
    if not scopes and not expert:
        return None
    return {"role": PERSON, "tenant": None, "scopes": [s.as_dict() for s in scopes], "expert": expert}


def end_person_sessions(session, data: dict) -> int:
    """`account_sessions_ended`: the sessions opened from that intake session (a sign-out), or all of the person's."""
    return handoff.end_person_sessions(session, WebSession, data["account_id"], data.get("intake_session"))


# --------------------------------------------------------------------------- what they administer


def scopes_of(visitor: dict) -> list[scope.AdminScope]:
    return [scope.AdminScope.from_dict(s) for s in visitor.get("scopes") or []]


def _org_tree(session, tenant: str) -> dict[str, str | None]:
    return dict(session.execute(select(OrgCopy.org_id, OrgCopy.parent_id).where(OrgCopy.tenant == tenant)).all())


def _administers(session, scopes: list[scope.AdminScope], rnd: Round, trees: dict) -> bool:
    if scope.needs_org_tree(scopes, rnd.tenant) and rnd.tenant not in trees:
        trees[rnd.tenant] = _org_tree(session, rnd.tenant)
    facts = scope.RoundFacts(tenant=rnd.tenant, track=rnd.track, level=rnd.level, owner_org_id=rnd.owner_org_id or "",
                             department=track_of(session, rnd.campaign_id, rnd.track).get("department"))
    return scope.administers(scopes, facts, trees.get(rnd.tenant, {}))


def round_for_visitor(session, round_id: str, visitor: dict) -> Round:
    """The round if the visitor administers it; otherwise 404, word for word as for a missing round.

    A key's admin (role "admin") administers every round of the key's tenant, as before people came.
    """
    if visitor["role"] != PERSON:
        return round_of_admin(session, round_id, visitor["tenant"])
    rnd = session.get(Round, round_id)
    if rnd is None or not _administers(session, scopes_of(visitor), rnd, {}):
        raise round_not_found(round_id)
    return rnd


def home_of(session, visitor: dict) -> dict | None:
    """The home page: the rounds the visitor administers, grouped by tenant, and whether they have tasks.

    None for a person who administers nothing: their page is their task list.
    """
    if visitor["role"] != PERSON:
        tenant = visitor["tenant"]
        return {"groups": [{"tenant": tenant, "owner": tenant_name(session, tenant), "scopes": [],
                            "rounds": rounds_of(session, tenant)}], "tasks": False}
    scopes = scopes_of(visitor)
    if not scopes:
        return None
    tenants = scope.tenants_of(scopes)
    trees: dict = {}
    rows = session.scalars(select(Round).where(Round.tenant.in_(tenants)).order_by(Round.created_at)).all()
    mine = listed(session, [r for r in rows if _administers(session, scopes, r, trees)])
    groups = []
    for tenant in tenants:
        in_tenant = [s for s in scopes if s.tenant == tenant]
        groups.append({"tenant": tenant, "owner": _tenant_label(session, in_tenant[0]),
                       "scopes": [scope.scope_label(s, _org_name(session, s.org_id)) for s in in_tenant],
                       "rounds": [row for row in mine if row["round"].tenant == tenant]})
    expert = bool(visitor.get("expert")) or bool(reviewer_ids(session, visitor.get("email")))
    return {"groups": groups, "tasks": expert}


def _tenant_label(session, s: scope.AdminScope) -> str:
    known = tenant_name(session, s.tenant)  # the slug itself when review has no copy of the tenant yet
    return s.tenant_name if known == s.tenant and s.tenant_name else known


def _org_name(session, org_id: str | None) -> str | None:
    org = session.get(OrgCopy, org_id) if org_id else None
    return org.name if org else None


# --------------------------------------------------------------------------- what they score


def reviewer_ids(session, email: str | None) -> list[str]:
    """The active reviewer rows of an address, in every round and tenant."""
    address = scope.normalise_email(email)
    if not address:
        return []
    return list(session.scalars(select(Reviewer.id).where(Reviewer.email == address, Reviewer.active)))


def tasks_of(session, email: str | None) -> list[dict]:
    """Every round the person reviews in, open ones first and the nearest deadline first, with their works, blind."""
    address = scope.normalise_email(email)
    rows = session.execute(select(Reviewer.id, Round).join(Round, Round.id == Reviewer.round_id)
                           .where(Reviewer.email == address, Reviewer.active)).all() if address else []
    out = []
    for reviewer_id, rnd in rows:
        items = queue(session, reviewer_id)
        out.append({"round": rnd, "title": blind_title(session, rnd), "works": items,
                    "done": sum(i["state"] == ScoreState.SUBMITTED for i in items)})
    out.sort(key=lambda t: (t["round"].state != RoundState.OPEN, t["round"].scoring_deadline is None,
                            t["round"].scoring_deadline.timestamp() if t["round"].scoring_deadline else 0,
                            t["round"].created_at.timestamp()))
    return out


def assignment_for_visitor(session, visitor: dict, assignment_id: str) -> Assignment:
    """An assignment the visitor scores: a reviewer's own (link sign-in), or one of any active reviewer row of a
    person's e-mail. Anything else is 404, as if it did not exist."""
    if visitor["role"] != PERSON:
        return reviewer_assignment(session, visitor["reviewer_id"], assignment_id)
    a = session.get(Assignment, assignment_id)
    reviewer = session.get(Reviewer, a.reviewer_id) if a is not None else None
    mine = reviewer is not None and reviewer.active and reviewer.email == scope.normalise_email(visitor.get("email"))
    # the same check and answer as a reviewer's: a foreign id reads exactly as a missing one
    return reviewer_assignment(session, reviewer.id if mine else "", assignment_id)
