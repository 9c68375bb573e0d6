"""A monthly record (「月度组织生活」, issue #16) over real HTTP against a real RabbitMQ: 石油大学 publishes its 2020
online 组织生活 (common/campaign/definitions/own/upc-zuzhishenghuo-2020.yaml) under its own key; a branch records
March's meeting, a second March record is over the monthly quota, April's is taken in April, and a record of March
sent in April is late (`deadline_passed`), one of May sent in April early (`period_not_open`).
"""
from datetime import datetime

import pytest

from common import clock
from common.campaign import DEFINITIONS_DIR
from tests.integration.test_intake_api import Portal, error_of, start_intake

UPC_ORGS = ("名称,层级,上级组织\n"
            "石油工程学院党委,二级党组织,\n"
            "石油工程学院研钻井19-2党支部,党支部,石油工程学院党委\n").encode("utf-8")
MONTHLY = (DEFINITIONS_DIR / "own" / "upc-zuzhishenghuo-2020.yaml").read_text(encoding="utf-8")
BRANCH = "石油工程学院研钻井19-2党支部"


@pytest.fixture
def intake(db_url, make_config, start_service):
    from common.db import Store
    from services.intake import admin, operations as ops

    env = start_intake(db_url, make_config, start_service)
    # 石油大学 joins as an operator adds a university: a tenant and its portal's key
    store = Store(db_url)
    with store.transaction() as s:
        admin.ensure_tenant(s, "upc", "中国石油大学", "university")
        key = ops.issue_key(s, admin.StandaloneOutbox(), "upc")
    store.dispose()
    upc = Portal(env["base"], key)
    r = upc("POST", "/api/v1/orgs/import", data=UPC_ORGS, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    clock.set_start(datetime.fromisoformat("2020-03-10T09:00:00+08:00"))
    r = upc("POST", "/api/v1/campaigns", data=MONTHLY.encode("utf-8"), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    yield {**env, "upc": upc, "campaign": r.json()}
    clock.set_start(None)


def record(upc, held_on: str) -> dict:
    return upc.draft("upc-zuzhishenghuo-2020", "monthly_record", BRANCH, **{
        "title": f"{BRANCH}{held_on[5:7]}月组织生活", "held_on": held_on,
        "platforms": ["xuexi_qiangguo", "wechat"], "form": "study_discussion", "attendance": 18,
        "topic": "学习习近平总书记给北京大学援鄂医疗队全体“90后”党员的回信",
        "summary": "支部党员通过“学习强国”学习回信原文，在微信群围绕回信精神展开讨论。"})


def submit(upc, work: dict):
    return upc("POST", f"/api/v1/submissions/{work['id']}/submit")


def test_a_branch_records_one_meeting_a_month_in_its_month(intake):
    upc = intake["upc"]
    assert intake["campaign"]["tracks"]["monthly_record"]["recurrence"] == {
        "first": "2020-03", "last": "2020-06", "field": "held_on"}

    # March's record, in March
    march = record(upc, "2020-03-08")
    r = submit(upc, march)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "submitted" and r.json()["receipt_no"].startswith("UPC-20200310-")

    # a second record of March: one a month (the quota counts per month)
    body = error_of(submit(upc, record(upc, "2020-03-09")), 409, "quota_exceeded")
    assert "每月（本件属于2020年3月）最多提交 1 件" in body["message"]

    # April's meeting cannot be recorded in March
    april = record(upc, "2020-04-08")
    body = error_of(submit(upc, april), 409, "period_not_open")
    assert body["field"] == "fields.held_on" and "2020年4月" in body["message"]

    # in April it is taken, although March's record stands: another month, another quota
    clock.set_start(datetime.fromisoformat("2020-04-10T09:00:00+08:00"))
    r = submit(upc, april)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "submitted"

    # a record of March sent in April is late, and says by when it was due
    body = error_of(submit(upc, record(upc, "2020-03-28")), 409, "deadline_passed")
    assert "2020年3月的记录截止时间为 2020年03月31日 23:59" in body["message"]
    assert body["expected"] == "2020-03-31T23:59:59+08:00"

    # a record dated outside March–June names the months
    body = error_of(submit(upc, record(upc, "2020-02-20")), 422, "period_outside_recurrence")
    assert "2020年3月至2020年6月" in body["message"]

    # and March's submitted record is closed with its month
    error_of(upc("PATCH", f"/api/v1/submissions/{march['id']}", json={"fields": {"attendance": 19}}),
             409, "deadline_passed")
    listed = upc("GET", "/api/v1/submissions", params={"campaign_id": "upc-zuzhishenghuo-2020",
                                                       "state": "submitted"}).json()["items"]
    assert sorted(w["fields"]["held_on"] for w in listed) == ["2020-03-08", "2020-04-08"]
