"""Campaign ids are scoped by owner (issue #14 item 13).

They were one global namespace: `POST /api/v1/campaigns` answered 409 for another university's id while
`GET` answered 404 (an existence oracle), and a university could squat an id before the ministry used
it. Now a university's campaign is `<university>.<id>` platform-wide; the API takes the short id in the
caller's scope. Over real HTTP against a real intake.
"""
import copy
import json

import pytest

from common import clock
from common.campaign import load_builtin_definitions
from tests.integration.test_intake_api import error_of, start_intake


@pytest.fixture
def intake(db_url, make_config, start_service):
    yield start_intake(db_url, make_config, start_service)
    clock.set_start(None)


def copy_of(builtin: str, new_id: str, derives_from: str | None = "siyige-2020") -> dict:
    raw = json.loads(json.dumps(copy.deepcopy(load_builtin_definitions()[builtin].raw), default=str))
    raw.update(id=new_id, derives_from=derives_from)
    return raw


def test_two_universities_publish_the_same_short_id(intake):
    seu, wust = intake["seu"], intake["wust"]
    for portal, builtin, tenant in ((seu, "siyige-2020-seu", "seu"), (wust, "siyige-2020-wust", "wust")):
        r = portal("POST", "/api/v1/campaigns", json=copy_of(builtin, "lianyou-2021"))
        assert r.status_code == 201, r.text
        assert (r.json()["id"], r.json()["short_id"], r.json()["owner"]) == (f"{tenant}.lianyou-2021",
                                                                            "lianyou-2021", tenant)
    # each sees its own under the short id, and under the platform-wide one
    assert seu("GET", "/api/v1/campaigns/lianyou-2021").json()["id"] == "seu.lianyou-2021"
    assert wust("GET", "/api/v1/campaigns/lianyou-2021").json()["id"] == "wust.lianyou-2021"
    assert seu("GET", "/api/v1/campaigns/seu.lianyou-2021").status_code == 200
    error_of(seu("GET", "/api/v1/campaigns/wust.lianyou-2021"), 404, "campaign_not_found")
    # works go to the caller's own campaign, by either form of its id
    for ref in ("lianyou-2021", "seu.lianyou-2021"):
        work = seu.draft(ref, "story", "机械工程学院党委", title="故事")
        assert work["campaign_id"] == "seu.lianyou-2021"
    listed = seu("GET", "/api/v1/submissions", params={"campaign_id": "lianyou-2021"}).json()
    assert listed["total"] == 2
    # publishing the same short id again is the caller's own conflict, and says so
    error_of(seu("POST", "/api/v1/campaigns", json=copy_of("siyige-2020-seu", "lianyou-2021")), 409, "campaign_exists")


def test_a_university_cannot_learn_whether_another_universitys_id_exists(intake):
    """Every answer wust gets about seu's `siyige-2020-seu` is the answer for an id nobody has."""
    wust = intake["wust"]
    taken, free = "siyige-2020-seu", "siyige-2020-nobody"

    def answers(ref):
        get = wust("GET", f"/api/v1/campaigns/{ref}")
        derive = wust("POST", "/api/v1/campaigns", json=copy_of("siyige-2020-wust", "probe-2021", ref))
        draft = wust("POST", "/api/v1/submissions", json={"campaign_id": ref, "track": "story",
                                                          "org_id": wust.org_id("资源与环境工程学院党委")})
        return [(r.status_code, r.json()["error"]["code"], r.json()["error"]["message"].replace(ref, "<id>"))
                for r in (get, derive, draft)]

    assert answers(taken) == answers(free)
    assert answers("seu." + taken) == answers("seu." + free)
    assert answers(taken)[0][:2] == (404, "campaign_not_found")
    # and publishing the very id seu uses is no collision: it is wust's own
    r = wust("POST", "/api/v1/campaigns", json=copy_of("siyige-2020-wust", taken))
    assert r.status_code == 201 and r.json()["id"] == f"wust.{taken}"
    r = wust("POST", "/api/v1/campaigns", json=copy_of("siyige-2020-wust", free))
    assert r.status_code == 201 and r.json()["id"] == f"wust.{free}"
    assert intake["seu"]("GET", f"/api/v1/campaigns/{taken}").json()["owner"] == "seu"  # seu's untouched


def test_a_university_cannot_take_an_id_the_ministry_uses_later(intake):
    seu, wust, ministry = intake["seu"], intake["wust"], intake["ministry"]
    r = seu("POST", "/api/v1/campaigns", json=copy_of("siyige-2020-seu", "siyige-2021"))
    assert r.status_code == 201 and r.json()["id"] == "seu.siyige-2021"
    # the ministry publishes the same id afterwards: nothing of seu's stands in its way
    r = ministry("POST", "/api/v1/campaigns", json=copy_of("siyige-2020", "siyige-2021", derives_from=None))
    assert r.status_code == 201, r.text
    assert r.json()["id"] == "siyige-2021" and r.json()["owner"] == "ministry"
    # every other university sees the ministry's; seu keeps its own under the short id and reaches the
    # ministry's under `ministry.`
    assert wust("GET", "/api/v1/campaigns/siyige-2021").json()["owner"] == "ministry"
    assert seu("GET", "/api/v1/campaigns/siyige-2021").json()["id"] == "seu.siyige-2021"
    assert seu("GET", "/api/v1/campaigns/ministry.siyige-2021").json()["id"] == "siyige-2021"
    # a copy derived from the ministry's by its qualified name is checked against it and stored with it
    r = seu("POST", "/api/v1/campaigns", json=copy_of("siyige-2020-seu", "siyige-2021-seu", "ministry.siyige-2021"))
    assert r.status_code == 201 and r.json()["derives_from"] == "siyige-2021"
    # a short id the ministry already uses would be ambiguous in the university's scope: refused, and the
    # ministry's ids are public, so saying so reveals nothing
    error = error_of(wust("POST", "/api/v1/campaigns", json=copy_of("siyige-2020-wust", "siyige-2020", "ministry.siyige-2020")),
                     409, "campaign_exists")
    assert "教育部" in error["message"]


def test_an_id_too_long_once_qualified_is_refused_with_the_room_left(intake):
    long_id = "x" * 62  # a valid definition id, but seu. + 62 > 64
    error = error_of(intake["seu"]("POST", "/api/v1/campaigns", json=copy_of("siyige-2020-seu", long_id)),
                     422, "campaign_id_too_long")
    assert error["expected"] == 60 and "seu." in error["message"]
