"""Which of a platform person's grants open notify's pages, and how much progress each page shows (people.py)."""
import pytest

from common.errors import Forbidden
from services.notify import people


def grant(role, tenant="seu", kind="university", name="东南大学", department=None, org_id=None):
    return {"tenant": tenant, "tenant_kind": kind, "tenant_name": name, "role": role, "department": department,
            "org_id": org_id}


MINISTRY = {"kind": "ministry", "tenant": "ministry", "name": "教育部思想政治工作司"}
WUST = {"tenant": "wust", "name": "武汉科技大学"}


@pytest.mark.parametrize("held", [grant("viewer", **MINISTRY), grant("owner", **MINISTRY),
                                  grant("department_admin", department="sizheng", **MINISTRY)])
def test_the_ministrys_owners_department_admins_and_viewers_see_every_university(held):
    # with a university grant before it: the widest view wins
    assert people.session_of([grant("viewer", **WUST), held]) == {"role": "ministry", "tenant": "ministry"}


def test_a_university_owner_or_viewer_sees_the_whole_university():
    for role in ("owner", "viewer"):
        assert people.session_of([grant(role)]) == {"role": "university", "tenant": "seu", "universities": [
            {"tenant": "seu", "name": "东南大学", "departments": None}]}


def test_a_department_admin_sees_its_departments_and_a_whole_university_grant_wins():
    propaganda = grant("department_admin", department="propaganda")
    organisation = grant("department_admin", department="organisation")
    assert people.session_of([propaganda])["universities"][0]["departments"] == ["propaganda"]
    assert people.session_of([propaganda, organisation])["universities"][0]["departments"] == \
        ["organisation", "propaganda"]
    assert people.session_of([propaganda, grant("viewer")])["universities"][0]["departments"] is None
    assert people.session_of([grant("owner"), propaganda])["universities"][0]["departments"] is None


@pytest.mark.parametrize("grants", [
    [],
    [grant("expert")],
    [grant("expert", **MINISTRY)],
    [grant("org_admin", org_id="o-cse")],  # progress is not counted per org: any page would show more than its org
    [grant("viewer", org_id="o-cse")],
    [grant("department_admin")],  # no department: nothing to narrow to, so nothing
    [grant("owner", kind="reviewer-pool")],
], ids=["none", "expert", "ministry-expert", "org-admin", "org-viewer", "no-department", "unknown-kind"])
def test_experts_org_admins_and_org_viewers_open_nothing_here(grants):
    assert people.session_of(grants) is None


def test_several_universities_are_kept_in_the_order_of_the_grants_and_the_first_is_shown():
    held = people.session_of([grant("expert"), grant("viewer", **WUST),
                              grant("department_admin", department="organisation"), grant("org_admin", org_id="x")])
    assert held["tenant"] == "wust"
    assert held["universities"] == [{"tenant": "wust", "name": "武汉科技大学", "departments": None},
                                    {"tenant": "seu", "name": "东南大学", "departments": ["organisation"]}]


def test_a_key_session_is_its_own_tenant_or_every_university():
    assert people.scope_of({"role": "ministry", "tenant": "ministry"}) == people.Scope(None)
    assert people.scope_of({"role": "university", "tenant": "seu"}) == people.Scope("seu")
    with pytest.raises(Forbidden):
        people.scope_of({"role": "university", "tenant": "seu"}, "wust")


def test_a_person_switches_only_between_the_universities_they_hold_a_grant_in():
    visitor = {"role": "university", "tenant": "wust", **people.session_of(
        [grant("viewer", **WUST), grant("department_admin", department="propaganda")])}
    first = people.scope_of(visitor)
    assert (first.tenant, first.departments) == ("wust", None)
    assert [u.tenant for u in first.choices] == ["wust", "seu"]
    seu = people.scope_of(visitor, "seu")
    assert (seu.tenant, seu.departments) == ("seu", ("propaganda",))
    with pytest.raises(Forbidden) as refused:
        people.scope_of(visitor, "pku")
    assert refused.value.status == 403 and refused.value.expected == ["wust", "seu"]
    assert "武汉科技大学、东南大学" in refused.value.message
    # one university: no menu
    assert people.scope_of({"role": "university", "tenant": "seu", **people.session_of([grant("owner")])}).choices == ()


def test_a_department_sees_the_tracks_its_universitys_campaign_routes_to_it():
    seu = ("seu.siyige-2020-seu", {"lecture": {"department": "organisation"}, "material": {"department": "organisation"}})
    wust = ("wust.siyige-2020-wust", {"lecture": {"department": "organisation"}, "material": {"department": "propaganda"},
                                      "odd": None})
    assert people.routed_tracks([seu, wust], ("propaganda",)) == [("wust.siyige-2020-wust", "material")]
    assert people.routed_tracks([seu], ("propaganda",)) == []  # SEU routes everything to 组织部
    assert len(people.routed_tracks([seu, wust], ("organisation", "propaganda"))) == 4


def test_a_narrowed_page_names_its_departments():
    assert people.department_label(None) == ""
    assert people.department_label(("organisation", "propaganda")) == "党委组织部、党委宣传部"
