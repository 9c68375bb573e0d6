"""The ministry's 四个一 2020 is for 教育部直属高校 and 部省合建高校 (「在教育部直属高校和部省合建高校开展」, issue #16),
over real HTTP against a real RabbitMQ: a 地方高校 does not find it in its list, cannot read it, derive a copy from
it nor submit into it (403 not_in_audience, saying whom it is for); 东南大学 (直属高校) does all of it; a university
whose category is not registered is not hidden from it; setting the category takes effect at once, and a draft
written while in the audience cannot be submitted after it left.
"""
import copy

import pytest
from sqlalchemy import select

from common.campaign import load_builtin_definitions
from tests.integration.test_intake_api import Portal, error_of, start_intake

ORGS = ("名称,层级,上级组织\n"
        "经济学院党委,二级党组织,\n"
        "经济学院教工第一党支部,党支部,经济学院党委\n").encode("utf-8")
STORY = {"title": "经济学院党委战疫故事", "text": "党员教师坚守一线，守护学生平安返校。"}


@pytest.fixture
def intake(db_url, make_config, start_service):
    from common import clock
    from common.db import Store
    from services.intake import admin, operations as ops

    env = start_intake(db_url, make_config, start_service)
    store = Store(db_url)
    with store.transaction() as s:
        admin.ensure_tenant(s, "hbue", "湖北经济学院", "university", category="local")  # a 地方高校
        admin.ensure_tenant(s, "newu", "新登记大学", "university")  # the operator gave no category
        keys = {t: ops.issue_key(s, admin.StandaloneOutbox(), t) for t in ("hbue", "newu")}
    store.dispose()
    portals = {t: Portal(env["base"], k) for t, k in keys.items()}
    for portal in portals.values():
        r = portal("POST", "/api/v1/orgs/import", data=ORGS, headers={"Content-Type": "text/csv"})
        assert r.status_code == 200, r.text
    yield {**env, **portals, "db_url": db_url}
    clock.set_start(None)


def set_category(db_url, slug, category):
    from common.db import Store
    from services.intake import admin, operations as ops

    store = Store(db_url)
    with store.transaction() as s:
        ops.set_category(s, admin.StandaloneOutbox(), slug, category)
    store.dispose()


def registered(db_url, slug) -> list[dict]:
    """The tenant_registered payloads intake's outbox holds for `slug`, oldest first."""
    from common.db import Store
    from services.intake.models import OutboxMessage

    store = Store(db_url)
    with store.transaction() as s:
        rows = s.scalars(select(OutboxMessage.envelope).where(OutboxMessage.event_type == "tenant_registered")
                         .order_by(OutboxMessage.id)).all()
    store.dispose()
    return [e["data"] for e in rows if e["tenant"] == slug]


def copy_of_ministry(new_id):
    doc = copy.deepcopy(load_builtin_definitions()["siyige-2020-wust"].raw)
    doc["id"] = new_id
    return doc


def story(portal, org="经济学院党委"):
    return portal("POST", "/api/v1/submissions", json={"campaign_id": "siyige-2020", "track": "story",
                                                       "org_id": portal.org_id(org), "fields": STORY})


def test_a_local_university_neither_sees_nor_uses_the_ministrys_campaign_and_a_direct_one_does(intake):
    seu, hbue = intake["seu"], intake["hbue"]
    # 东南大学, a 直属高校: lists the ministry's campaign, reads it with its audience, drafts into it
    assert "siyige-2020" in {c["id"] for c in seu("GET", "/api/v1/campaigns").json()["items"]}
    assert seu("GET", "/api/v1/campaigns/siyige-2020").json()["audience"] == {"categories": ["direct", "co_built"]}
    assert story(seu, "计算机科学与工程学院党委").status_code == 201

    # 湖北经济学院, a 地方高校: not in its list; read, submit, derive all answer 403 not_in_audience
    assert "siyige-2020" not in {c["id"] for c in hbue("GET", "/api/v1/campaigns").json()["items"]}
    body = error_of(hbue("GET", "/api/v1/campaigns/siyige-2020"), 403, "not_in_audience")
    assert "教育部直属高校、部省合建高校" in body["message"] and "地方高校" in body["message"]
    assert body["expected"] == {"categories": ["direct", "co_built"]}
    assert body["found"] == {"university": "hbue", "category": "local"}
    error_of(story(hbue), 403, "not_in_audience")
    error_of(hbue("GET", "/api/v1/campaigns/ministry.siyige-2020"), 403, "not_in_audience")
    error_of(hbue("POST", "/api/v1/campaigns", json=copy_of_ministry("siyige-2020-hbue")), 403, "not_in_audience")
    assert hbue("GET", "/api/v1/campaigns").json()["items"] == []  # nothing was published
    assert hbue("GET", "/api/v1/submissions").json()["total"] == 0
    # an unknown id still reads as missing, as before
    error_of(hbue("GET", "/api/v1/campaigns/siyige-2099"), 404, "campaign_not_found")


def test_a_university_without_a_category_is_not_hidden_from_it(intake):
    newu = intake["newu"]
    assert "siyige-2020" in {c["id"] for c in newu("GET", "/api/v1/campaigns").json()["items"]}
    assert story(newu).status_code == 201
    r = newu("POST", "/api/v1/campaigns", json=copy_of_ministry("siyige-2020-newu"))
    assert r.status_code == 201, r.text


def test_setting_the_category_takes_effect_at_once_and_is_announced(intake):
    hbue, db_url = intake["hbue"], intake["db_url"]
    assert registered(db_url, "hbue")[-1]["category"] == "local"
    set_category(db_url, "hbue", "co_built")  # the operator corrects it: a 部省合建高校
    assert registered(db_url, "hbue")[-1] == {"name": "湖北经济学院", "kind": "university", "contact_email": None,
                                              "category": "co_built"}
    work = story(hbue)
    assert work.status_code == 201, work.text
    set_category(db_url, "hbue", "local")
    assert "siyige-2020" not in {c["id"] for c in hbue("GET", "/api/v1/campaigns").json()["items"]}
    # the draft written while it was in the audience cannot be submitted now; it is still the university's
    error_of(hbue("POST", f"/api/v1/submissions/{work.json()['id']}/submit"), 403, "not_in_audience")
    assert hbue("GET", f"/api/v1/submissions/{work.json()['id']}").status_code == 200
    set_category(db_url, "hbue", "local")  # unchanged: nothing announced again
    assert [d["category"] for d in registered(db_url, "hbue")] == ["local", "co_built", "local"]


def test_the_ministrys_list_of_universities_behind_counts_only_its_audience(intake):
    from common.db import Store
    from services.intake.operations import supervision

    store = Store(intake["db_url"])
    with store.transaction() as s:
        behind = {u.tenant for u in supervision._universities(s, supervision.definition_of(
            s.get(supervision.Campaign, "siyige-2020")).audience)}
    store.dispose()
    assert behind == {"seu", "wust", "newu"}  # not 湖北经济学院 (地方高校)
