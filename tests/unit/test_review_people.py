"""Review's scope rules for people signed in on the platform (services/review/domain/scope.py): which grants
administer rounds, and which rounds each of them covers."""
import pytest

from services.review.domain.scope import (
    AdminScope,
    RoundFacts,
    admin_scopes,
    administers,
    has_expert_grant,
    in_subtree,
    may_administer,
    normalise_email,
    scope_label,
    tenants_of,
)

# 东南大学's tree: two colleges, a branch under one, a sub-branch under that branch
TREE = {"o-cse": None, "o-me": None, "b-cse-1": "o-cse", "b-cse-1a": "b-cse-1", "b-me-1": "o-me"}


def grant(tenant="seu", role="owner", department=None, org_id=None, kind="university", name="东南大学"):
    return {"tenant": tenant, "tenant_kind": kind, "tenant_name": name, "role": role, "department": department,
            "org_id": org_id}


def rnd(track="story", level="university", tenant="seu", owner="", department="organisation"):
    return RoundFacts(tenant=tenant, track=track, level=level, owner_org_id=owner, department=department)


SEU_ROUNDS = {
    "story": rnd("story"),
    "material": rnd("material", department="propaganda"),
    "level2_cse": rnd("story", "level2", owner="o-cse"),
    "level2_me": rnd("material", "level2", owner="o-me", department="propaganda"),
}
OTHERS = {
    "wust_story": rnd("story", tenant="wust"),
    "wust_level2": rnd("story", "level2", tenant="wust", owner="o-cse"),  # the same org id in another tenant
    "ministry_story": rnd("story", "ministry", tenant="ministry"),
    "ministry_material": rnd("material", "ministry", tenant="ministry", department="propaganda"),
}
ALL = {**SEU_ROUNDS, **OTHERS}


def covered(*grants) -> set[str]:
    scopes = admin_scopes(grants)
    return {name for name, facts in ALL.items() if administers(scopes, facts, TREE)}


def test_an_owner_administers_every_round_of_its_tenant_and_nothing_else():
    assert covered(grant(role="owner")) == set(SEU_ROUNDS)


def test_a_department_admin_administers_the_rounds_of_the_tracks_its_campaign_routes_to_it():
    assert covered(grant(role="department_admin", department="propaganda")) == {"material", "level2_me"}
    assert covered(grant(role="department_admin", department="organisation")) == {"story", "level2_cse"}


def test_the_department_is_the_campaigns_not_a_fixed_list():
    # 东南大学 routes material to its 组织部: its 宣传部 has no material round there
    seu_material = rnd("material", department="organisation")
    propaganda = admin_scopes([grant(role="department_admin", department="propaganda")])
    assert not administers(propaganda, seu_material, TREE)
    assert not administers(propaganda, rnd("material", department=None), TREE)  # a copy without a department


def test_sizheng_at_the_ministry_administers_every_ministry_round_and_no_university_round():
    sizheng = grant("moe", "department_admin", "sizheng", kind="ministry", name="教育部")
    assert covered(sizheng) == {"ministry_story", "ministry_material"}
    # the ministry's rounds are tenant "ministry", whatever intake's slug of the ministry is
    assert admin_scopes([sizheng])[0].tenant == "ministry"
    assert covered(grant("moe", "owner", kind="ministry", name="教育部")) == {"ministry_story", "ministry_material"}


def test_an_org_admin_administers_only_the_level2_rounds_of_its_subtree():
    assert covered(grant(role="org_admin", org_id="o-cse")) == {"level2_cse"}
    assert covered(grant(role="org_admin", org_id="o-me")) == {"level2_me"}
    # a branch's admin: no level-2 round lies in a branch's subtree
    assert covered(grant(role="org_admin", org_id="b-cse-1")) == set()
    # a level-2 round whose org sits under the admin's org (a deeper tree) is theirs
    deeper = rnd("story", "level2", owner="b-cse-1")
    assert may_administer(admin_scopes([grant(role="org_admin", org_id="o-cse")])[0], deeper, TREE)
    assert not may_administer(admin_scopes([grant(role="org_admin", org_id="o-me")])[0], deeper, TREE)


def test_viewers_experts_and_bad_grants_administer_nothing():
    assert admin_scopes([grant(role="viewer"), grant(role="expert"), grant(role="viewer", org_id="o-cse")]) == []
    assert admin_scopes([grant(role="org_admin", org_id=None)]) == []  # never all of the tenant by mistake
    assert admin_scopes([grant(tenant="", role="owner")]) == []
    assert admin_scopes([{"role": "owner"}]) == []
    assert covered(grant(role="viewer"), grant(role="expert")) == set()


def test_grants_add_up_and_each_scope_is_kept_once():
    grants = [grant(role="org_admin", org_id="o-cse"), grant("wust", "owner", name="武汉科技大学"),
              grant(role="org_admin", org_id="o-cse")]
    assert covered(*grants) == {"level2_cse", "wust_story", "wust_level2"}
    scopes = admin_scopes(grants)
    assert len(scopes) == 2 and tenants_of(scopes) == ["seu", "wust"]


def test_a_department_or_org_on_the_wrong_role_widens_nothing():
    # a department admin's grant that also names an org stays the department's, not an org's
    scope = admin_scopes([grant(role="department_admin", department="propaganda", org_id="o-cse")])[0]
    assert scope.org_id is None and scope.department == "propaganda"


def test_the_scope_round_trips_through_the_session():
    scopes = admin_scopes([grant(role="org_admin", org_id="o-cse"), grant(role="department_admin", department="propaganda")])
    assert [AdminScope.from_dict(s.as_dict()) for s in scopes] == scopes


def test_subtrees_end_on_a_loop_in_a_bad_copy():
    loop = {"a": "b", "b": "a"}
    assert not in_subtree("a", "c", loop)
    assert in_subtree("a", "b", loop)
    assert not in_subtree("", "a", TREE)


@pytest.mark.parametrize("grants, expert", [
    ([grant(role="expert")], True), ([grant(role="viewer")], False), ([], False)])
def test_an_expert_grant(grants, expert):
    assert has_expert_grant(grants) is expert


def test_addresses_compare_trimmed_and_in_lower_case():
    assert normalise_email("  Wang@SEU.edu.cn ") == "wang@seu.edu.cn"
    assert normalise_email(None) == ""


def test_scopes_read_in_chinese():
    owner, propaganda, org = admin_scopes([grant(role="owner"), grant(role="department_admin", department="propaganda"),
                                          grant(role="org_admin", org_id="o-cse")])
    assert scope_label(owner) == "单位管理员"
    assert scope_label(propaganda) == "部门管理员（党委宣传部）"
    assert scope_label(org, "计算机科学与工程学院党委") == "组织管理员（计算机科学与工程学院党委）"
