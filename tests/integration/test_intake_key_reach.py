"""Portal keys limited to some orgs or tracks (issue #15), over HTTP against a running intake with a real RabbitMQ, on
SQLite and PostgreSQL.

东南大学 issues a key for 计算机科学与工程学院党委 (with its branch below it) and the lecture track only. That key
lists and opens only those works, files, extensions and orgs; everything else of 东南大学's answers exactly as an id
that does not exist (as another university's objects do) and stays unchanged; a new work outside the reach is refused
403 key_reach. A walk over every route the submit scope opens fails when a new route is not classified here.
"""
from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import select

from services.intake.domain.keys import ROUTE_SCOPES, Scope
from tests.integration.test_intake_accounts import db  # noqa: F401  (fixture)
from tests.integration.test_intake_api import Portal, error_of, intake  # noqa: F401  (fixture)

CSE = "计算机科学与工程学院党委"
BRANCH = "计算机科学与工程学院教工第一党支部"
ME = "机械工程学院党委"
MISSING = "0" * 32
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64


def outbox(db, name):  # noqa: F811
    from services.intake.models import OutboxMessage

    with db.transaction() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.event_type == name).order_by(OutboxMessage.id))
        return [r.envelope for r in rows]


def lecture(portal, org, title, campaign="siyige-2020-seu"):
    return portal.draft(campaign, "lecture", org, title=title, lecturers=["王书记"], planned_date="2020-07-01",
                        theme="让党旗在防控疫情斗争第一线高高飘扬")


def register_file(portal, submission_id, name):
    r = portal("POST", f"/api/v1/submissions/{submission_id}/files", json={
        "kind": "video", "filename": name, "size": len(VIDEO), "sha256": hashlib.sha256(VIDEO).hexdigest(),
        "content_type": "video/mp4"})
    assert r.status_code == 201, r.text
    return r.json()["file"]["id"]


def extension(portal, org_id, track, stage, until):
    r = portal("POST", "/api/v1/extensions", json={"campaign_id": "siyige-2020-seu", "track": track, "stage": stage,
                                                   "org_id": org_id, "until": until, "reason": f"{track} 延期"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture
def reach_world(intake, db):  # noqa: F811
    """东南大学's works in and out of the limited key's reach, with a file and an extension each, and the key."""
    seu, base = intake["seu"], intake["base"]
    orgs = {name: seu.org_id(name) for name in (CSE, BRANCH, ME)}
    works = {
        "cse_lecture": lecture(seu, CSE, "计算机学院党课"),
        # a branch's lecture in the ministry's campaign (SEU's own lets only level-2 orgs submit it): in the subtree
        "branch_lecture": lecture(seu, BRANCH, "教工第一党支部党课", campaign="siyige-2020"),
        "me_lecture": lecture(seu, ME, "机械学院党课绝密标题"),  # a sibling college: out of reach
        "cse_story": seu.draft("siyige-2020-seu", "story", CSE, title="计算机学院故事绝密标题", text="故事。"),  # another track
    }
    files = {k: register_file(seu, w["id"], f"{k}.mp4") for k, w in works.items()}
    extensions = {
        "cse_lecture": extension(seu, orgs[CSE], "lecture", "video", "2020-07-20T12:00:00+08:00"),
        "me_lecture": extension(seu, orgs[ME], "lecture", "video", "2020-07-20T12:00:00+08:00"),
        "cse_story": extension(seu, orgs[CSE], "story", "submission", "2020-07-25T12:00:00+08:00"),
    }
    issued_before = len(outbox(db, "api_key_issued"))
    r = seu("POST", "/api/v1/keys", json={"label": "计算机学院党课门户", "scopes": ["submit"],
                                          "org_ids": [orgs[CSE]], "tracks": ["lecture"]})
    assert r.status_code == 201, r.text
    key = r.json()
    return {"env": intake, "db": db, "orgs": orgs, "works": works, "files": files, "extensions": extensions,
            "key": key, "limited": Portal(base, key["key"]), "issued_before": issued_before}


IN_REACH = ("cse_lecture", "branch_lecture")
OUT_OF_REACH = ("me_lecture", "cse_story")


def test_a_limited_key_lists_only_its_orgs_works_files_and_extensions(reach_world):
    w, limited, seu = reach_world, reach_world["limited"], reach_world["env"]["seu"]
    listed = limited("GET", "/api/v1/submissions", params={"per_page": 200}).json()
    assert sorted(s["id"] for s in listed["items"]) == sorted(w["works"][k]["id"] for k in IN_REACH)
    assert listed["total"] == 2
    # the filters narrow within the reach, never past it
    assert limited("GET", "/api/v1/submissions", params={"org_id": w["orgs"][ME]}).json()["total"] == 0
    assert limited("GET", "/api/v1/submissions", params={"track": "story"}).json()["total"] == 0
    assert limited("GET", "/api/v1/submissions", params={"org_id": w["orgs"][BRANCH]}).json()["total"] == 1
    orgs = limited("GET", "/api/v1/orgs", params={"per_page": 200}).json()
    assert sorted(o["name"] for o in orgs["items"]) == sorted([CSE, BRANCH]) and orgs["total"] == 2
    assert limited("GET", f"/api/v1/orgs/{w['orgs'][BRANCH]}").json()["name"] == BRANCH
    extensions = limited("GET", "/api/v1/extensions").json()["items"]
    assert [e["id"] for e in extensions] == [w["extensions"]["cse_lecture"]]
    for k in IN_REACH:
        work = w["works"][k]
        assert limited("GET", f"/api/v1/submissions/{work['id']}").json()["files"][0]["id"] == w["files"][k]
        assert limited("GET", f"/api/v1/files/{w['files'][k]}").status_code == 200
        assert limited("GET", f"/api/v1/submissions/{work['id']}/receipts").json() == {"items": []}
    # within reach it works as any portal key: edit, delete a file, submit, withdraw
    cse = w["works"]["cse_lecture"]["id"]
    assert limited("PATCH", f"/api/v1/submissions/{cse}", json={"fields": {"outline": "提要"}}).status_code == 200
    assert limited("DELETE", f"/api/v1/files/{w['files']['cse_lecture']}").json()["state"] == "deleted"
    r = limited("POST", f"/api/v1/submissions/{cse}/submit")
    assert r.status_code == 200 and r.json()["stage"] == "registration", r.text
    assert len(limited("GET", f"/api/v1/submissions/{cse}/receipts").json()["items"]) == 1
    assert limited("POST", f"/api/v1/submissions/{cse}/withdraw").json()["state"] == "withdrawn"

    # the university's own key still sees everything
    every = seu("GET", "/api/v1/submissions", params={"per_page": 200}).json()
    assert every["total"] == 4 and seu("GET", "/api/v1/orgs").json()["total"] == 3
    assert len(seu("GET", "/api/v1/extensions").json()["items"]) == 3


def _same_as_missing(r, r_missing, ids):
    """The answer names nothing it would not name for an id that does not exist: status, code, message, fields."""
    text = r.text
    for value in ids.values():
        text = text.replace(value, "<id>")
    text_missing = r_missing.text.replace(MISSING, "<id>")
    return r.status_code == r_missing.status_code and json.loads(text) == json.loads(text_missing)


def test_another_colleges_or_another_tracks_work_answers_as_a_missing_one_and_is_not_changed(reach_world):
    w, limited, seu = reach_world, reach_world["limited"], reach_world["env"]["seu"]
    before = {k: seu("GET", f"/api/v1/submissions/{w['works'][k]['id']}").json() for k in OUT_OF_REACH}
    for k in OUT_OF_REACH:
        sid, fid = w["works"][k]["id"], w["files"][k]
        for method, path, body in (
                ("GET", f"/api/v1/submissions/{sid}", None),
                ("PATCH", f"/api/v1/submissions/{sid}", {"fields": {"title": "篡改"}}),
                ("POST", f"/api/v1/submissions/{sid}/submit", None),
                ("POST", f"/api/v1/submissions/{sid}/withdraw", None),
                ("GET", f"/api/v1/submissions/{sid}/receipts", None),
                ("POST", f"/api/v1/submissions/{sid}/files", {"kind": "video", "filename": "x.mp4", "size": 10,
                                                             "sha256": "0" * 64, "content_type": "video/mp4"}),
                ("GET", f"/api/v1/files/{fid}", None),
                ("POST", f"/api/v1/files/{fid}/complete", None),
                ("DELETE", f"/api/v1/files/{fid}", None)):
            r = limited(method, path, **({"json": body} if body else {}))
            assert r.status_code == 404, (k, method, path, r.text)
            missing = limited(method, path.replace(sid, MISSING).replace(fid, MISSING), **({"json": body} if body else {}))
            assert _same_as_missing(r, missing, {"sid": sid, "fid": fid}), (method, path, r.text, missing.text)
    r = limited("GET", f"/api/v1/orgs/{w['orgs'][ME]}")
    assert _same_as_missing(r, limited("GET", f"/api/v1/orgs/{MISSING}"), {"org": w["orgs"][ME]}), r.text
    error_of(r, 404, "org_not_found")
    # nothing of theirs changed: the title, the state, the file
    for k in OUT_OF_REACH:
        after = seu("GET", f"/api/v1/submissions/{w['works'][k]['id']}").json()
        assert {x: v for x, v in after.items() if x != "updated_at"} == {
            x: v for x, v in before[k].items() if x != "updated_at"}
        assert after["state"] == "draft" and seu("GET", f"/api/v1/files/{w['files'][k]}").json()["state"] == "pending"


def test_a_new_work_outside_the_reach_is_refused_naming_the_reach(reach_world):
    w, limited = reach_world, reach_world["limited"]
    body = {"campaign_id": "siyige-2020-seu", "track": "lecture", "org_id": w["orgs"][ME],
            "fields": {"title": "机械学院党课"}}
    error = error_of(limited("POST", "/api/v1/submissions", json=body), 403, "key_reach")
    assert error["field"] == "org_id" and CSE in error["message"] and ME in error["message"]
    assert "下级组织" in error["message"] and "专题微党课" in error["message"] and "POST /api/v1/keys" in error["message"]
    assert error["expected"] == {"org_ids": [w["orgs"][CSE]], "tracks": ["lecture"]}
    story = {"campaign_id": "siyige-2020-seu", "track": "story", "org_id": w["orgs"][CSE], "fields": {"title": "故事"}}
    error = error_of(limited("POST", "/api/v1/submissions", json=story), 403, "key_reach")
    assert error["field"] == "track" and "战疫故事汇" in error["message"]
    # an org of no one here reads as before: missing, not refused
    error_of(limited("POST", "/api/v1/submissions", json={**body, "org_id": MISSING}), 404, "org_not_found")
    # a branch under the college is within reach
    r = limited("POST", "/api/v1/submissions", json={"campaign_id": "siyige-2020", "track": "lecture",
                                                     "org_id": w["orgs"][BRANCH], "fields": {"title": "支部党课"}})
    assert r.status_code == 201, r.text
    # a retry key another (wider) key used never replays its answer to the limited key
    seu = w["env"]["seu"]
    first = seu("POST", "/api/v1/submissions", json=body, headers={"Idempotency-Key": "reach-k1"})
    assert first.status_code == 201
    again = limited("POST", "/api/v1/submissions", json=body, headers={"Idempotency-Key": "reach-k1"})
    assert again.status_code != 201 and first.json()["id"] not in again.text
    assert seu("GET", "/api/v1/submissions", params={"org_id": w["orgs"][ME]}).json()["total"] == 2


def test_the_reach_is_shown_logged_kept_by_rotation_and_announced_with_its_reach(reach_world):
    w, seu, base = reach_world, reach_world["env"]["seu"], reach_world["env"]["base"]
    reach = {"org_ids": [w["orgs"][CSE]], "tracks": ["lecture"]}
    assert w["key"]["reach"] == reach
    listed = {k["id"]: k for k in seu("GET", "/api/v1/keys").json()["items"]}
    assert listed[w["key"]["id"]]["reach"] == reach and all(
        k["reach"] is None for i, k in listed.items() if i != w["key"]["id"])
    [row] = seu("GET", "/api/v1/audit", params={"action": "key.issued"}).json()["items"]
    assert row["detail"]["reach"] == reach and row["object_id"] == w["key"]["id"]
    # announced with its reach, so notify (whose webhooks and pages are the whole university's) can refuse it
    assert outbox(w["db"], "api_key_issued")[-1]["data"]["reach"] == reach
    assert len(outbox(w["db"], "api_key_issued")) == w["issued_before"] + 1

    r = seu("POST", f"/api/v1/keys/{w['key']['id']}/rotate", json={"overlap_hours": 0})
    assert r.status_code == 201, r.text
    successor = r.json()
    assert successor["reach"] == reach and successor["previous"]["reach"] == reach
    new = Portal(base, successor["key"])
    assert sorted(s["id"] for s in new("GET", "/api/v1/submissions").json()["items"]) == sorted(
        w["works"][k]["id"] for k in IN_REACH)
    error_of(new("GET", f"/api/v1/submissions/{w['works']['me_lecture']['id']}"), 404, "submission_not_found")
    error_of(w["limited"]("GET", "/api/v1/submissions"), 401, "invalid_api_key")  # overlap 0: the old one is gone
    [rotated] = seu("GET", "/api/v1/audit", params={"action": "key.rotated"}).json()["items"]
    assert rotated["detail"]["reach"] == reach
    assert outbox(w["db"], "api_key_issued")[-1]["data"]["reach"] == reach  # the successor's
    # a key for the whole university is announced without one
    assert seu("POST", "/api/v1/keys", json={"label": "全校门户", "scopes": ["submit"]}).json()["reach"] is None
    assert "reach" not in outbox(w["db"], "api_key_issued")[-1]["data"]


@pytest.mark.parametrize(("extra", "codes"), [
    ({"org_ids": ["nowhere"]}, ["unknown_reach_org"]),
    ({"tracks": ["poetry"]}, ["unknown_reach_track"]),
    ({"org_ids": []}, ["empty_key_reach"]),
    ({"org_ids": [], "tracks": []}, ["empty_key_reach", "empty_key_reach"]),
    ({"tracks": ["lecture", "lecture"]}, ["duplicate_in_key_reach"]),
    ({"org_ids": [f"org-{i}" for i in range(201)]}, ["too_many_in_key_reach"]),
    ({"org_ids": ["x" * 65]}, ["invalid_key_reach"]),
    ({"scopes": ["read:feeds"], "tracks": ["lecture"]}, ["reach_needs_submit", "reach_not_for_feeds"]),
    ({"scopes": ["submit", "read:feeds"], "tracks": ["lecture"]}, ["reach_not_for_feeds"]),
])
def test_a_bad_reach_is_refused_with_what_was_expected_found_and_what_to_do(intake, db, extra, codes):  # noqa: F811
    seu = intake["seu"]
    keys_before = len(seu("GET", "/api/v1/keys").json()["items"])
    r = seu("POST", "/api/v1/keys", json={"label": "门户", "scopes": ["submit"], **extra})
    details = error_of(r, 422, "key_invalid")["details"]
    assert [d["code"] for d in details] == codes
    for d in details:
        assert d["field"] in ("org_ids", "tracks", "scopes") and d["expected"] is not None and d["found"] is not None
        assert "请" in d["message"]
    assert len(seu("GET", "/api/v1/keys").json()["items"]) == keys_before  # nothing issued


def test_another_universitys_org_is_unknown_and_a_persons_own_key_never_has_a_reach(intake, db):  # noqa: F811
    from common.errors import Unprocessable
    from services.intake.admin import StandaloneOutbox
    from services.intake.operations import keys as ops_keys
    from tests.integration.test_intake_signin import person

    wust_org = intake["wust"].org_id("资源与环境工程学院党委")
    r = intake["seu"]("POST", "/api/v1/keys", json={"label": "门户", "scopes": ["submit"], "org_ids": [wust_org]})
    [detail] = error_of(r, 422, "key_invalid")["details"]
    assert detail["code"] == "unknown_reach_org" and detail["found"] == wust_org and detail["field"] == "org_ids"
    assert "GET /api/v1/orgs" in detail["message"]

    account_id = person(intake, db, "owner.reach@seu.edu.cn", {"role": "owner"}, name="周书记")
    body = {"label": "本人脚本", "scopes": ["admin", "submit"], "expires_in_days": 30, "tracks": ["lecture"]}
    with pytest.raises(Unprocessable) as refused, db.transaction() as session:
        ops_keys.create_personal_key(session, StandaloneOutbox(), account_id, "seu", body, "127.0.0.1")
    assert refused.value.code == "key_invalid"
    assert [d["code"] for d in refused.value.details] == ["reach_not_for_person_keys"]
    assert "本人" in refused.value.message
    with db.transaction() as session:
        created = ops_keys.create_personal_key(session, StandaloneOutbox(), account_id, "seu",
                                               {k: v for k, v in body.items() if k != "tracks"}, "127.0.0.1")
    assert created["reach"] is None


# --------------------------------------------------------------------------- the walk over every submit route

# What each route the submit scope opens does with a limited key, on 东南大学's objects outside its reach:
#   "object"       names one (in the path): answers as a missing id does (404, the same body)
#   "create"       makes one for an org or track outside: 403 key_reach
#   "list"         lists: leaves them out
#   "definitions"  campaign definitions: no work in them, the same for every key of the tenant
# A route added to ROUTE_SCOPES with submit fails here until someone decides which it is (and makes it so).
REACH_WALK = {
    ("GET", "/api/v1/campaigns"): "definitions",
    ("GET", "/api/v1/campaigns/{campaign_id}"): "definitions",
    ("GET", "/api/v1/orgs"): "list",
    ("GET", "/api/v1/orgs/{org_id}"): "object",
    ("GET", "/api/v1/submissions"): "list",
    ("POST", "/api/v1/submissions"): "create",
    ("GET", "/api/v1/submissions/{submission_id}"): "object",
    ("PATCH", "/api/v1/submissions/{submission_id}"): "object",
    ("POST", "/api/v1/submissions/{submission_id}/submit"): "object",
    ("POST", "/api/v1/submissions/{submission_id}/withdraw"): "object",
    ("GET", "/api/v1/submissions/{submission_id}/receipts"): "object",
    ("POST", "/api/v1/submissions/{submission_id}/files"): "object",
    ("GET", "/api/v1/files/{file_id}"): "object",
    ("DELETE", "/api/v1/files/{file_id}"): "object",
    ("POST", "/api/v1/files/{file_id}/complete"): "object",
    ("GET", "/api/v1/extensions"): "list",
}

BODIES = {
    ("PATCH", "/api/v1/submissions/{submission_id}"): {"fields": {"title": "篡改"}},
    ("POST", "/api/v1/submissions/{submission_id}/files"): {
        "kind": "video", "filename": "x.mp4", "size": 10, "sha256": "0" * 64, "content_type": "video/mp4"},
}


def test_every_submit_route_is_classified_for_a_limited_key():
    submit_routes = {route for route, scope in ROUTE_SCOPES.items() if scope == Scope.SUBMIT}
    assert submit_routes - set(REACH_WALK) == set(), "classify these routes in REACH_WALK (and limit them to the reach)"
    assert set(REACH_WALK) - submit_routes == set()


def test_the_walk_every_submit_route_keeps_a_limited_key_within_its_reach(reach_world):
    w, limited, seu = reach_world, reach_world["limited"], reach_world["env"]["seu"]
    planted = [w["works"][k]["id"] for k in OUT_OF_REACH] + [w["files"][k] for k in OUT_OF_REACH] + [
        w["orgs"][ME], "机械学院党课绝密标题", "计算机学院故事绝密标题", w["extensions"]["me_lecture"],
        w["extensions"]["cse_story"]]
    for k in OUT_OF_REACH:
        ids = {"submission_id": w["works"][k]["id"], "file_id": w["files"][k], "org_id": w["orgs"][ME],
               "campaign_id": "siyige-2020-seu"}
        for (method, path), kind in sorted(REACH_WALK.items()):
            body = BODIES.get((method, path))
            r = limited(method, path.format(**ids), **({"json": body} if body else {}))
            if kind == "object":
                missing = limited(method, path.format(**{x: MISSING for x in ids}), **({"json": body} if body else {}))
                assert r.status_code == 404 and _same_as_missing(r, missing, ids), (k, method, path, r.text)
            elif kind == "create":
                body = {"campaign_id": "siyige-2020-seu", "track": "story" if k == "cse_story" else "lecture",
                        "org_id": w["orgs"][CSE if k == "cse_story" else ME], "fields": {"title": "越界"}}
                error_of(limited(method, path, json=body), 403, "key_reach")
            elif kind == "list":
                assert r.status_code == 200, (path, r.text)
                leaked = [p for p in planted if p in r.text]
                assert not leaked and r.json()["items"], (path, leaked)
            else:
                assert r.status_code == 200 and r.json() == seu(method, path.format(**ids)).json(), path
    # nothing out of reach changed, nothing was created outside it
    for k in OUT_OF_REACH:
        work = seu("GET", f"/api/v1/submissions/{w['works'][k]['id']}").json()
        assert work["state"] == "draft" and work["title"] == w["works"][k]["title"]
        assert [f["id"] for f in work["files"]] == [w["files"][k]]
    assert seu("GET", "/api/v1/submissions").json()["total"] == 4
