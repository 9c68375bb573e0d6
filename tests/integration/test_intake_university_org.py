"""A university's party committee submits (issue #16): the plan's 「高校各级党组织负责人为本组织成员讲授一堂专题微党课」
includes the 学校党委书记. SEU registers its 学校党委 in its org list; it drafts a lecture in the ministry's campaign,
where the university's own round weighs it with what the colleges forwarded, and the university forwards it to
the ministry like any other. Where a track does not take the university's own works (SEU's copy), it is refused.
Real HTTP, a real RabbitMQ.
"""
from kombu import Connection, Exchange

from common.events import make_event
from tests.conftest import wait_until
from tests.integration.test_intake_api import announce_check, error_of, intake  # noqa: F401  (the fixture)

CSV = {"Content-Type": "text/csv"}
ORGS = "名称,层级,上级组织\n东南大学党委,学校党委,\n土木工程学院党委,二级党组织,\n".encode()


def lecture(seu, campaign: str, org: str):
    return seu("POST", "/api/v1/submissions", json={
        "campaign_id": campaign, "track": "lecture", "org_id": seu.org_id(org),
        "fields": {"title": "让党旗在防控疫情斗争第一线高高飘扬", "lecturers": ["左书记"], "planned_date": "2020-07-01",
                   "theme": "让党旗在防控疫情斗争第一线高高飘扬"}})


def select_for_ministry(env, submission_id: str) -> None:
    """The university's round confirms its selection, as review announces it (twice: forwarded once)."""
    ev = make_event("selection_made", "seu", {
        "round_id": "rd-seu-lecture", "campaign_id": "siyige-2020", "track": "lecture", "level": "university",
        "to_level": "ministry", "owner_org_id": None, "selected": [submission_id], "not_selected": [],
        "results": [{"submission_id": submission_id, "tenant": "seu", "rank": 1, "selected": True}]})
    with Connection(env["config"]["AMQP_URI"]) as conn:
        for _ in range(2):
            conn.Producer().publish(ev.to_dict(), exchange=Exchange("review.events", type="topic", durable=True),
                                    routing_key="selection_made", serializer="json", delivery_mode=2)


def test_a_university_party_committee_submits_its_lecture_and_the_university_forwards_it(intake):  # noqa: F811
    seu = intake["seu"]
    r = seu("POST", "/api/v1/orgs/import", data=ORGS, headers=CSV)
    assert r.status_code == 200, r.text
    committee = seu("GET", "/api/v1/orgs", params={"level": "university"}).json()["items"]
    assert [(o["name"], o["level"], o["parent_id"]) for o in committee] == [("东南大学党委", "university", None)]

    # the ministry's plan takes lectures from every level of party org, the 学校党委 included
    r = lecture(seu, "siyige-2020", "东南大学党委")
    assert r.status_code == 201, r.text
    work = r.json()
    done = seu("POST", f"/api/v1/submissions/{work['id']}/submit")
    assert done.status_code == 200 and done.json()["stage"] == "registration", done.text
    # and its video, checked: the work is complete, so it can be forwarded
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4000
    file_id, put = seu.upload(work["id"], "video", "书记党课.mp4", video)
    assert put.status_code == 200 and seu("POST", f"/api/v1/files/{file_id}/complete").status_code == 200
    announce_check(intake, file_id, work["id"], "passed")
    done = seu("POST", f"/api/v1/submissions/{work['id']}/submit")
    assert done.status_code == 200 and done.json()["complete"] is True, done.text
    # one lecture per org: the committee's second is refused, a college's first is not
    second = lecture(seu, "siyige-2020", "东南大学党委")
    if second.status_code == 201:
        error_of(seu("POST", f"/api/v1/submissions/{second.json()['id']}/submit"), 409, "quota_exceeded")
    else:
        error_of(second, 409, "quota_exceeded")
    assert lecture(seu, "siyige-2020", "土木工程学院党委").status_code == 201

    # SEU's own copy asks its colleges only: the committee is told who submits there
    body = error_of(lecture(seu, "siyige-2020-seu", "东南大学党委"), 403, "level_not_allowed")
    assert body["found"] == "university" and "二级党组织" in body["message"]

    # the university's round chose it: it goes to the ministry once, however often the choice is delivered
    select_for_ministry(intake, work["id"])
    wait_until(lambda: seu("GET", f"/api/v1/submissions/{work['id']}").json()["forwarded_to"] == "ministry",
               what="the committee's lecture forwarded")
    forwarded = seu("GET", "/api/v1/submissions", params={"campaign_id": "siyige-2020", "track": "lecture"}).json()
    assert [(w["org_id"], w["forwarded_to"]) for w in forwarded["items"] if w["forwarded_to"]] == [
        (work["org_id"], "ministry")]


def test_an_org_list_with_two_party_committees_or_a_committee_with_a_parent_is_refused_whole(intake):  # noqa: F811
    seu = intake["seu"]
    two = "名称,层级,上级组织\n东南大学党委,学校党委,\n东南大学委员会,校党委,\n建筑学院党委,二级党组织,\n".encode()
    body = error_of(seu("POST", "/api/v1/orgs/import", data=two, headers=CSV), 422, "org_import_invalid")
    assert [(d["row"], d["code"]) for d in body["details"]] == [(3, "second_university_org")]
    assert "东南大学党委" in body["details"][0]["message"]
    assert seu("GET", "/api/v1/orgs", params={"q": "建筑学院党委"}).json()["items"] == []  # nothing half-imported

    assert seu("POST", "/api/v1/orgs/import", data=ORGS, headers=CSV).status_code == 200
    # the system already has one: another name for it in a later list is a second committee, the same name an update
    again = "名称,层级,上级组织\n中共东南大学委员会,学校党委,\n".encode()
    body = error_of(seu("POST", "/api/v1/orgs/import", data=again, headers=CSV), 422, "org_import_invalid")
    assert body["details"][0]["code"] == "second_university_org" and "系统中已登记" in body["details"][0]["message"]
    same = "名称,层级,上级组织,联系人\n东南大学党委,学校党委,,左书记\n".encode()
    assert seu("POST", "/api/v1/orgs/import", data=same, headers=CSV).status_code == 200

    under = "名称,层级,上级组织\n东南大学党委,学校党委,土木工程学院党委\n".encode()
    body = error_of(seu("POST", "/api/v1/orgs/import", data=under, headers=CSV), 422, "org_import_invalid")
    assert [d["code"] for d in body["details"]] == ["university_has_parent"]
