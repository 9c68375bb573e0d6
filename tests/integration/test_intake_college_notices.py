"""A college publishes a notice to its branches (issue #16, "Who may publish what"): 机关党委's 《2020年4月份党支部
组织生活通知》 derives from the university's own half-year guidance. Its org admin acts with a key of their own, which
reaches their college and holds `submit` and `publish`, never `admin`. The notice must derive from a campaign the
university issued itself, goes nowhere above the college, takes works only from the college's subtree, is corrected
by that college or the university alone, and names its college in `campaign_published` (notify announces it to
that subtree). Losing the grant stops the key. Real HTTP, a real RabbitMQ, SQLite and PostgreSQL.
"""
from __future__ import annotations

import copy
from datetime import datetime

import pytest
import yaml
from sqlalchemy import select

from common import clock
from common.campaign import DEFINITIONS_DIR
from tests.integration.test_intake_accounts import db  # noqa: F401  (fixture)
from tests.integration.test_intake_api import Portal, error_of, intake  # noqa: F401  (fixture)

CSV = {"Content-Type": "text/csv"}
ORGS = ("名称,层级,上级组织,邮箱\n"
        "机关党委,二级党组织,,jiguan@seu.edu.cn\n"
        "机关第一党支部,党支部,机关党委,jg1@seu.edu.cn\n"
        "计算机学院党委,二级党组织,,cs@seu.edu.cn\n"
        "计算机学院教工党支部,党支部,计算机学院党委,cs1@seu.edu.cn\n").encode()
GUIDANCE = yaml.safe_load((DEFINITIONS_DIR / "own" / "upc-zuzhishenghuo-2020.yaml").read_text(encoding="utf-8"))


def guidance() -> dict:
    """The university's own half-year guidance (石油大学's, issued here by 东南大学)."""
    doc = copy.deepcopy(GUIDANCE)
    doc.update(id="zuzhishenghuo-2020", title="东南大学2020年上半年党支部线上组织生活",
               short_title="线上组织生活 2020 · 东南大学")
    return doc


def april_notice(parent: str = "zuzhishenghuo-2020") -> dict:
    """机关党委's April notice: the university's track, tightened (a shorter 开展情况)."""
    doc = guidance()
    doc.update(id="jiguan-2020-04", title="机关党委2020年4月份党支部组织生活通知", short_title="机关党委4月组织生活",
               derives_from=parent, notice="各党支部：请于4月30日前开展线上组织生活并提交记录。")
    summary = next(f for f in doc["tracks"]["monthly_record"]["fields"] if f["key"] == "summary")
    summary["max_chars"] = 1000
    return doc


def publish(portal, doc, path="/api/v1/campaigns"):
    return portal("POST", path, data=yaml.safe_dump(doc, allow_unicode=True).encode(),
                  headers={"Content-Type": "application/yaml"})


def record(portal, campaign, org):
    return portal("POST", "/api/v1/submissions", json={
        "campaign_id": campaign, "track": "monthly_record", "org_id": org, "fields": {
            "title": "4月组织生活", "held_on": "2020-04-10", "platforms": ["tencent_meeting"], "attendance": 12,
            "topic": "学习回信精神", "summary": "支部全体党员线上学习。"}})


@pytest.fixture
def seu(intake, db):  # noqa: F811
    portal = intake["seu"]
    assert portal("POST", "/api/v1/orgs/import", data=ORGS, headers=CSV).status_code == 200
    clock.set_start(datetime.fromisoformat("2020-04-01T09:00:00+08:00"))
    assert publish(portal, guidance()).status_code == 201
    return portal


def college_key(intake, db, org_id, scopes=("submit", "publish")):  # noqa: F811
    from services.intake.admin import StandaloneOutbox
    from services.intake.operations import keys as ops_keys
    from tests.integration.test_intake_signin import person

    account = person(intake, db, "jiguan.admin@seu.edu.cn", {"role": "org_admin", "org_id": org_id}, name="钱书记")
    with db.transaction() as session:
        created = ops_keys.create_personal_key(session, StandaloneOutbox(), account, "seu",
                                               {"label": "机关党委通知", "scopes": list(scopes)}, "127.0.0.1")
    return account, Portal(intake["base"], created["key"]), created


def test_a_colleges_org_admin_publishes_a_notice_its_branches_alone_submit_to(intake, db, seu):  # noqa: F811
    from common.errors import Unprocessable
    from services.intake.admin import StandaloneOutbox
    from services.intake.models import OutboxMessage
    from services.intake.operations import keys as ops_keys

    jiguan, cs = seu.org_id("机关党委"), seu.org_id("计算机学院党委")
    account, college, created = college_key(intake, db, jiguan)
    assert created["reach"] == {"org_ids": [jiguan]} and created["scopes"] == ["publish", "submit"]
    # an org admin's key never manages the tenant
    with pytest.raises(Unprocessable) as refused, db.transaction() as session:
        ops_keys.create_personal_key(session, StandaloneOutbox(), account, "seu",
                                     {"label": "越权", "scopes": ["admin"]}, "127.0.0.1")
    assert [d["code"] for d in refused.value.details] == ["scope_not_for_org_admin"]
    error_of(college("POST", "/api/v1/orgs/import", data=ORGS, headers=CSV), 403, "key_scope")

    # the notice: published by the college, named by it in the answer and in the event
    r = publish(college, april_notice())
    assert r.status_code == 201, r.text
    notice = r.json()
    assert (notice["id"], notice["owner"], notice["owner_org_id"], notice["derives_from"]) == (
        "seu.jiguan-2020-04", "seu", jiguan, "seu.zuzhishenghuo-2020")
    with db.transaction() as session:
        events = [m.envelope["data"] for m in session.scalars(select(OutboxMessage).where(
            OutboxMessage.event_type == "campaign_published"))]
    assert {e["campaign_id"]: e.get("owner_org_id") for e in events}["seu.jiguan-2020-04"] == jiguan
    assert {e["campaign_id"]: e.get("owner_org_id") for e in events}["seu.zuzhishenghuo-2020"] is None
    # every caller of the university sees it
    assert "seu.jiguan-2020-04" in {c["id"] for c in seu("GET", "/api/v1/campaigns").json()["items"]}

    # the college's branch submits; a branch of another college cannot, whoever asks
    mine = record(college, "jiguan-2020-04", seu.org_id("机关第一党支部"))
    assert mine.status_code == 201, mine.text
    body = error_of(record(seu, "jiguan-2020-04", seu.org_id("计算机学院教工党支部")), 403, "outside_campaign_orgs")
    assert "机关党委" in body["message"] and body["expected"] == jiguan
    # and the college's key reaches no other college's works at all
    error_of(record(college, "zuzhishenghuo-2020", seu.org_id("计算机学院教工党支部")), 403, "key_reach")

    # corrections: the college corrects its own notice, not the university's
    corrected = april_notice()
    next(f for f in corrected["tracks"]["monthly_record"]["fields"] if f["key"] == "summary")["max_chars"] = 800
    r = college("POST", "/api/v1/campaigns/jiguan-2020-04/versions",
                json={"definition": yaml.safe_dump(corrected, allow_unicode=True), "change_note": "开展情况字数上限改为800字"})
    assert r.status_code in (200, 201), r.text
    error_of(college("POST", "/api/v1/campaigns/zuzhishenghuo-2020/versions",
                     json={"definition": yaml.safe_dump(guidance(), allow_unicode=True), "change_note": "改动"}),
             403, "not_campaign_owner")
    assert cs != jiguan


@pytest.mark.parametrize("parent, code, status", [
    ("siyige-2020", "must_derive_from_university", 403),  # the ministry's: the university derives, then its colleges
    (None, "must_derive_from_university", 403),  # a campaign of the college's own, deriving from nothing
])
def test_a_colleges_notice_derives_from_its_universitys_campaign(intake, db, seu, parent, code, status):  # noqa: F811
    _, college, _ = college_key(intake, db, seu.org_id("机关党委"))
    doc = april_notice(parent)
    if parent == "siyige-2020":
        doc = yaml.safe_load((DEFINITIONS_DIR / "siyige-2020-seu.yaml").read_text(encoding="utf-8"))
        doc.update(id="jiguan-siyige", derives_from="siyige-2020")
    body = error_of(publish(college, doc), status, code)
    assert body["field"] == "derives_from" and "本校" in body["message"]
    assert "seu." + doc["id"] not in {c["id"] for c in seu("GET", "/api/v1/campaigns").json()["items"]}


def test_nothing_in_a_colleges_notice_goes_above_the_college(intake, db, seu):  # noqa: F811
    """A track the college scores and sends up would wait for a university round that never opens."""
    _, college, _ = college_key(intake, db, seu.org_id("机关党委"))
    doc = april_notice()
    doc["tracks"]["monthly_record"]["rubric"] = [{"key": "quality", "label": "质量", "weight": 100, "max": 10}]
    doc["tracks"]["monthly_record"]["decision"] = {"level": "university", "kind": "select"}
    r = publish(college, doc)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] in ("decision_above_owner", "campaign_loosens_parent"), r.text
    assert "seu.jiguan-2020-04" not in {c["id"] for c in seu("GET", "/api/v1/campaigns").json()["items"]}


def test_a_branchs_admin_gets_no_key_and_losing_the_grant_stops_the_colleges_key(intake, db, seu):  # noqa: F811
    from common.errors import NotFound
    from services.intake.admin import StandaloneOutbox
    from services.intake.operations import keys as ops_keys
    from tests.integration.test_intake_signin import person

    branch_admin = person(intake, db, "jg1.admin@seu.edu.cn", {"role": "org_admin", "org_id": seu.org_id("机关第一党支部")},
                          name="孙委员")
    with pytest.raises(NotFound), db.transaction() as session:
        ops_keys.create_personal_key(session, StandaloneOutbox(), branch_admin, "seu",
                                     {"label": "支部", "scopes": ["submit"]}, "127.0.0.1")

    account, college, _ = college_key(intake, db, seu.org_id("机关党委"))
    assert college("GET", "/api/v1/campaigns").status_code == 200
    grants = seu("GET", f"/api/v1/accounts/{account}").json()["grants"]
    [grant] = [g for g in grants if g["role"] == "org_admin"]
    assert seu("DELETE", f"/api/v1/accounts/{account}/grants/{grant['id']}").status_code == 200
    error_of(college("GET", "/api/v1/campaigns"), 401, "invalid_api_key")
