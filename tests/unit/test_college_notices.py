"""A college's notice to its branches (issue #16): the scope that publishes, an org admin's own key, and whom notify
announces the notice to. Pure rules."""
from __future__ import annotations

import pytest

from services.intake.domain import keys
from services.notify import announcement

ORGS = [
    {"tenant": "seu", "org_id": "jiguan", "name": "机关党委", "level": "level2", "email": "jg@seu.edu.cn", "parent_id": None},
    {"tenant": "seu", "org_id": "jg-1", "name": "机关第一党支部", "level": "branch", "email": "jg1@seu.edu.cn",
     "parent_id": "jiguan"},
    {"tenant": "seu", "org_id": "cs", "name": "计算机学院党委", "level": "level2", "email": "cs@seu.edu.cn", "parent_id": None},
    {"tenant": "seu", "org_id": "cs-1", "name": "计算机学院教工党支部", "level": "branch", "email": "cs1@seu.edu.cn",
     "parent_id": "cs"},
]
BRANCH_TRACK = {"monthly_record": {"submit_levels": ["branch"]}}


@pytest.mark.parametrize("held, allowed", [
    (["admin"], True),  # whoever manages the tenant publishes its campaigns
    (["publish"], True),
    (None, True),  # a key from before scopes has every scope
    (["submit"], False),
    (["read:feeds"], False),
])
def test_publishing_needs_publish_or_admin(held, allowed):
    assert keys.allows(held, keys.Scope.PUBLISH) is allowed
    assert keys.ROUTE_SCOPES[("POST", "/api/v1/campaigns")] == keys.Scope.PUBLISH
    assert keys.ROUTE_SCOPES[("POST", "/api/v1/campaigns/{campaign_id}/versions")] == keys.Scope.PUBLISH


def test_publish_implies_nothing_else():
    assert not keys.allows(["publish"], keys.Scope.ADMIN) and not keys.allows(["publish"], keys.Scope.SUBMIT)


def test_an_org_admins_own_key_holds_submit_and_publish_never_admin():
    assert keys.new_key_problems("通知", ["submit", "publish"], 30, for_person=True, org_admin=True) == []
    [problem] = keys.new_key_problems("通知", ["admin", "submit"], 30, for_person=True, org_admin=True)
    assert (problem.code, problem.found) == ("scope_not_for_org_admin", "admin") and "单位管理员" in problem.message
    # an integration key never publishes: publishing is done by a person
    [problem] = keys.new_key_problems("门户", ["publish"], 30, for_person=False)
    assert problem.code == "admin_scope_not_for_integrations"


def test_a_colleges_notice_is_announced_to_its_own_branches_only():
    told = announcement.recipients("seu", BRANCH_TRACK, [], ORGS, owner_org_id="jiguan")
    assert [r.key for r in told] == ["jg-1"]
    everyone = announcement.recipients("seu", BRANCH_TRACK, [], ORGS)
    assert sorted(r.key for r in everyone) == ["cs-1", "jg-1"]


def test_what_a_campaign_keeps_for_later_recipients_names_its_college():
    kept = announcement.kept({"owner_org_id": "jiguan", "notice": "各党支部："}, None)
    assert kept["owner_org_id"] == "jiguan"
    assert announcement.kept({}, None)["owner_org_id"] is None
