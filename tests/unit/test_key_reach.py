"""A portal key's reach (services/intake/domain/keys.py Reach): some orgs with their subtrees and/or some tracks; what a
new key may ask for, every problem at once; how the reach reads and how a refusal names it."""
from __future__ import annotations

import pytest

from services.intake.domain import keys
from services.intake.domain.keys import WHOLE_TENANT, Reach

# 东南大学's tree: two colleges, a branch under the first, a group under that branch
PARENT_OF = {"cse": None, "me": None, "cse-b1": "cse", "cse-b1-g": "cse-b1"}
ORGS = {"cse": "计算机学院党委", "me": "机械学院党委", "cse-b1": "计算机学院教工第一党支部", "cse-b1-g": "党小组"}
TRACKS = {"lecture": "微党课", "story": "故事", "material": "教育材料"}


def test_an_org_reaches_its_whole_subtree_and_nothing_beside_it():
    reach = Reach(frozenset({"cse"}), None)
    assert [o for o in PARENT_OF if reach.covers_org(o, PARENT_OF)] == ["cse", "cse-b1", "cse-b1-g"]
    assert reach.orgs_within(PARENT_OF) == {"cse", "cse-b1", "cse-b1-g"}
    # a branch's key reaches the branch and below, never its college or a sibling
    branch = Reach(frozenset({"cse-b1"}), None)
    assert branch.orgs_within(PARENT_OF) == {"cse-b1", "cse-b1-g"}
    # several orgs add up
    assert Reach(frozenset({"cse-b1", "me"}), None).orgs_within(PARENT_OF) == {"cse-b1", "cse-b1-g", "me"}
    # an org the tree does not know (deleted later) is reached by nothing but itself, and a loop in bad data ends
    assert not reach.covers_org("elsewhere", PARENT_OF)
    assert not reach.covers_org("a", {"a": "b", "b": "a"})


def test_tracks_and_orgs_are_two_limits_and_both_must_hold():
    reach = Reach(frozenset({"cse"}), frozenset({"lecture"}))
    assert reach.covers("cse-b1", "lecture", PARENT_OF)
    assert not reach.covers("cse-b1", "story", PARENT_OF)
    assert not reach.covers("me", "lecture", PARENT_OF)
    tracks_only = Reach(None, frozenset({"story"}))
    assert tracks_only.covers("me", "story", PARENT_OF) and not tracks_only.covers("me", "lecture", PARENT_OF)
    assert tracks_only.orgs_within(PARENT_OF) is None  # no org limit: every org, not an empty set


def test_the_whole_tenant_is_no_reach_at_all():
    assert not WHOLE_TENANT.limited and WHOLE_TENANT.to_stored() is None
    assert WHOLE_TENANT.covers("anything", "any", {}) and WHOLE_TENANT.orgs_within(PARENT_OF) is None
    assert Reach.stored(None) == Reach.stored({}) == WHOLE_TENANT


def test_a_reach_is_stored_as_the_api_shows_it_an_axis_absent_when_not_limited():
    reach = Reach(frozenset({"me", "cse"}), None)
    assert reach.to_stored() == {"org_ids": ["cse", "me"]}
    assert Reach.stored(reach.to_stored()) == reach
    both = Reach(frozenset({"cse"}), frozenset({"story", "lecture"}))
    assert both.to_stored() == {"org_ids": ["cse"], "tracks": ["lecture", "story"]}
    assert Reach.stored(both.to_stored()) == both


def test_a_reach_reads_in_chinese_with_names_and_a_refusal_says_what_to_do():
    reach = Reach(frozenset({"cse"}), frozenset({"lecture"}))
    text = reach.describe(ORGS, TRACKS)
    assert "“计算机学院党委”" in text and "下级组织" in text and "“微党课”（lecture）" in text
    assert Reach(None, frozenset({"story"})).describe(ORGS, TRACKS).startswith("全部组织")
    message = keys.reach_refusal(reach, "机械学院党委", "微党课", ORGS, TRACKS)
    assert "“机械学院党委”" in message and "计算机学院党委" in message and "POST /api/v1/keys" in message


def codes(org_ids=None, tracks=None, scopes=("submit",), person=False):
    scopes = list(scopes) if isinstance(scopes, tuple) else scopes
    return [p.code for p in keys.reach_problems(org_ids, tracks, scopes, person, ORGS, TRACKS)]


@pytest.mark.parametrize(("org_ids", "tracks", "expected"), [
    (None, None, []),
    (["cse"], None, []),
    (None, ["lecture", "story"], []),
    (["cse", "me"], ["material"], []),
    ([], None, ["empty_key_reach"]),
    (None, [], ["empty_key_reach"]),
    ([], [], ["empty_key_reach", "empty_key_reach"]),
    (["cse", "cse"], None, ["duplicate_in_key_reach"]),
    ([f"o{i}" for i in range(201)], None, ["too_many_in_key_reach"]),
    ("cse", None, ["invalid_key_reach"]),
    ([1, 2], None, ["invalid_key_reach"]),
    (["x" * 65], None, ["invalid_key_reach"]),
    ([""], None, ["invalid_key_reach"]),
    (["cse", "nowhere"], None, ["unknown_reach_org"]),
    (None, ["poetry", "lecture", "dance"], ["unknown_reach_track", "unknown_reach_track"]),
    (["nowhere"], ["poetry"], ["unknown_reach_org", "unknown_reach_track"]),
])
def test_what_a_reach_may_be_every_problem_at_once(org_ids, tracks, expected):
    assert codes(org_ids, tracks) == expected


def test_two_hundred_orgs_are_allowed_when_they_exist():
    many = {f"o{i}": f"组织{i}" for i in range(200)}
    assert keys.reach_problems(list(many), None, ["submit"], False, many, TRACKS) == []


def test_only_a_portal_key_with_submit_has_a_reach_and_never_a_persons_own_key():
    assert codes(["cse"], scopes=("read:feeds",)) == ["reach_needs_submit", "reach_not_for_feeds"]
    assert codes(["cse"], scopes=("submit", "read:feeds")) == ["reach_not_for_feeds"]
    # scopes that are wrong themselves are new_key_problems' to report: nothing more is said of them here
    assert codes(["cse"], scopes="submit") == []
    [problem] = keys.reach_problems(["cse"], None, ["admin"], True, ORGS, TRACKS)
    assert problem.code == "reach_not_for_person_keys" and problem.field == "org_ids"
    assert "本人" in problem.message and "POST /api/v1/keys" in problem.message
    assert codes(None, ["lecture"], scopes=("admin",), person=True) == ["reach_not_for_person_keys"]
    assert codes(person=True) == []  # no reach asked: nothing to refuse


def test_every_problem_says_what_was_expected_what_was_found_and_what_to_do():
    problems = keys.reach_problems(["nowhere", "nowhere"], [], ["read:feeds"], False, ORGS, TRACKS)
    problems += keys.reach_problems(["nowhere"], ["poetry"], ["submit"], False, ORGS, TRACKS)
    assert {p.code for p in problems} == {"reach_needs_submit", "reach_not_for_feeds", "duplicate_in_key_reach",
                                          "empty_key_reach", "unknown_reach_org", "unknown_reach_track"}
    for p in problems:
        assert p.field in ("org_ids", "tracks", "scopes") and p.expected is not None and p.found is not None
        assert "请" in p.message, p.message
    unknown = next(p for p in problems if p.code == "unknown_reach_track")
    assert unknown.found == "poetry" and unknown.expected == sorted(TRACKS) and "lecture" in unknown.message
