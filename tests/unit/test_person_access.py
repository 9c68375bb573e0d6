"""What a person's signed-in session may do through intake's API (domain/keys.person_access): the hosted submission
pages act with exactly the person's grants, never more than their own key could hold."""
from services.intake.domain.keys import ALL_SCOPES, WHOLE_TENANT, Reach, person_access

SUBMIT = frozenset({"submit"})


def test_an_owner_acts_for_the_whole_tenant_with_every_scope():
    access = person_access([("owner", None, None, None), ("org_admin", None, "o-cse", "level2")])
    assert access.scopes == ALL_SCOPES and access.reach == WHOLE_TENANT


# as the tenant's campaigns route their tracks (people.department_covers)
ROUTED = {"organisation": frozenset({"lecture", "story", "meeting_report"}), "propaganda": frozenset({"material", "report"})}


def test_a_department_admin_submits_in_the_departments_tracks_of_every_org():
    access = person_access([("department_admin", "organisation", None, None)], ROUTED)
    assert access.scopes == SUBMIT
    assert access.reach == Reach(tracks=frozenset({"lecture", "story", "meeting_report"}))
    both = person_access([("department_admin", "organisation", None, None), ("department_admin", "propaganda", None, None)],
                         ROUTED)
    assert both.reach.tracks == frozenset({"lecture", "story", "meeting_report", "material", "report"})
    assert both.reach.org_ids is None


def test_a_department_its_university_routes_nothing_to_submits_nothing():
    assert person_access([("department_admin", "propaganda", None, None)], {"organisation": ROUTED["organisation"]}) is None


def test_the_ministrys_sizheng_covers_every_track():
    assert person_access([("department_admin", "sizheng", None, None)]).reach == WHOLE_TENANT


def test_an_org_admin_reaches_their_orgs_and_a_colleges_admin_also_publishes():
    branch = person_access([("org_admin", None, "o-cse-1", "branch")])
    assert branch.scopes == SUBMIT and branch.reach == Reach(org_ids=frozenset({"o-cse-1"}))
    college = person_access([("org_admin", None, "o-cse", "level2"), ("org_admin", None, "o-me-2", "branch")])
    assert college.scopes == frozenset({"submit", "publish"})
    assert college.reach == Reach(org_ids=frozenset({"o-cse", "o-me-2"}))


def test_a_department_grant_outweighs_an_org_grant_never_their_union():
    access = person_access([("org_admin", None, "o-cse", "level2"), ("department_admin", "propaganda", None, None)], ROUTED)
    assert access.reach == Reach(tracks=frozenset({"material", "report"}))  # not every track of o-cse as well


def test_experts_viewers_and_no_grants_open_no_api():
    assert person_access([]) is None
    assert person_access([("expert", None, None, None)]) is None
    assert person_access([("viewer", None, "o-cse", "level2"), ("viewer", None, None, None)]) is None
    assert person_access([("org_admin", None, None, None)]) is None  # an org admin grant always names its org
    assert person_access([("department_admin", "no-such-department", None, None)]) is None
