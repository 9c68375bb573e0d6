"""A campaign's audience (issue #16): the ministry's plan is 「在教育部直属高校和部省合建高校开展」.

Parsed and refused like every key of the format, narrowed only in a copy, carried by `campaign_published` (and
absent from old events), and who is in it: a 地方高校 is not, a university whose category is not registered is.
"""
from __future__ import annotations

import copy

import pytest

from common.campaign import (
    Audience,
    PublishedCampaign,
    campaign_event_data,
    check_tightens,
    load_builtin_definitions,
    parse_definition,
)
from common.campaign.audience import category_label, includes
from common.errors import Unprocessable
from common.events import make_event, validate_envelope


def ministry() -> dict:
    return copy.deepcopy(load_builtin_definitions()["siyige-2020"].raw)


def seu() -> dict:
    return copy.deepcopy(load_builtin_definitions()["siyige-2020-seu"].raw)


def test_the_ministry_plan_is_for_direct_and_co_built_universities():
    definition = load_builtin_definitions()["siyige-2020"]
    assert definition.audience == Audience(categories=("direct", "co_built"))
    assert definition.audience.describe() == "教育部直属高校、部省合建高校"
    assert parse_definition(definition.to_dict()) == definition  # the round trip keeps it
    # the universities' copies do not repeat it
    assert load_builtin_definitions()["siyige-2020-seu"].audience is None


def test_who_is_in_an_audience():
    plan = Audience(categories=("direct", "co_built"))
    assert plan.includes("seu", "direct") and plan.includes("x", "co_built")
    assert not plan.includes("hbkj", "local")
    assert plan.includes("new-one", None)  # not registered: the operator's omission does not hide the campaign
    named = Audience(universities=("seu",))
    assert named.includes("seu", "local") and not named.includes("wust", "direct")
    assert not named.includes("wust", None)  # a list of names is a list of names
    both = Audience(categories=("direct",), universities=("hbkj",))
    assert both.includes("hbkj", "local") and both.includes("seu", "direct") and not both.includes("x", "local")
    assert includes(None, "anyone", "local") and includes({"categories": ["local"]}, "x", "local")
    assert category_label("local") == "地方高校" and category_label(None) == "未登记类别"


@pytest.mark.parametrize("audience, field", [
    ({"categories": ["provincial"]}, "audience.categories.0"),
    ({"categories": []}, "audience.categories"),
    ({"universities": ["SEU!"]}, "audience.universities.0"),
    ({}, "audience"),
    ({"schools": ["seu"]}, "audience.schools"),
    ("direct", "audience"),
])
def test_a_wrong_audience_is_refused_with_its_place(audience, field):
    doc = ministry()
    doc["audience"] = audience
    with pytest.raises(Unprocessable) as caught:
        parse_definition(doc)
    assert caught.value.code == "campaign_invalid"
    assert field in [d["field"] for d in caught.value.details], caught.value.details


def test_a_copy_may_narrow_the_audience_and_never_widen_it():
    parent = parse_definition(ministry())
    child = seu()
    child["audience"] = {"categories": ["direct"]}
    check_tightens(parent, parse_definition(child))  # narrower
    child["audience"] = {"categories": ["direct", "local"]}
    with pytest.raises(Unprocessable) as caught:
        check_tightens(parent, parse_definition(child))
    assert caught.value.code == "campaign_loosens_parent"
    (detail,) = caught.value.details
    assert detail["field"] == "audience.categories" and detail["found"] == ["local"]
    assert "地方高校" in detail["message"] and "教育部直属高校、部省合建高校" in detail["message"]
    # a university named under a parent that names categories only: the format cannot tell it is narrower
    child["audience"] = {"universities": ["seu"]}
    with pytest.raises(Unprocessable) as caught:
        check_tightens(parent, parse_definition(child))
    assert [d["field"] for d in caught.value.details] == ["audience.universities"]
    # a parent for everyone: a copy may name any audience
    doc = ministry()
    del doc["audience"]
    check_tightens(parse_definition(doc), parse_definition(child))


def test_campaign_published_carries_the_audience_and_old_events_have_none():
    definition = load_builtin_definitions()["siyige-2020"]
    data = campaign_event_data(definition)
    assert data["audience"] == {"categories": ["direct", "co_built"]}
    event = make_event("campaign_published", "ministry", data)
    back = PublishedCampaign.from_event(validate_envelope(event.to_dict()).data)
    assert back.audience == definition.audience
    assert PublishedCampaign.from_event(back.to_event()) == back
    old = {k: v for k, v in data.items() if k != "audience"}
    make_event("campaign_published", "ministry", old)  # still valid
    assert PublishedCampaign.from_event(old).audience is None
    assert "audience" not in campaign_event_data(load_builtin_definitions()["siyige-2020-seu"])


def test_tenant_registered_carries_the_category_and_old_payloads_still_validate():
    base = {"name": "东南大学", "kind": "university", "contact_email": "seuzzb@126.com"}
    make_event("tenant_registered", "seu", base)  # before categories
    make_event("tenant_registered", "seu", {**base, "category": "direct"})
    make_event("tenant_registered", "seu", {**base, "category": None})
    with pytest.raises(Exception):
        make_event("tenant_registered", "seu", {**base, "category": "provincial"})
