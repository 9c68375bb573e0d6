"""Material through intake's API: items counted as the notice counts them, a work case's document, file names.

东南大学: 「各基层党组织提交1-2个工作案例，10件左右图片和音视频素材」 (pictures and clips count one item each, at most
10 per college); a 工作案例 needs its document. 武汉科技大学: 「教育素材的文档命名为“党组织名称+作品名称”」 — intake
puts the college's name in front of a file's name when it is registered.
"""
import hashlib
import io
from datetime import datetime

import requests

from common import clock
from tests.integration.test_intake_api import announce_check, error_of, intake  # noqa: F401  (fixture)

MATERIAL_OPEN = datetime.fromisoformat("2020-09-10T10:00:00+08:00")  # the stage opens 2020-09-01 (「秋季开学后」)
CSE = "计算机科学与工程学院党委"
TYPES = {"image": "image/jpeg", "document": "application/pdf", "video": "video/mp4"}


def stored_file(env, tenant, submission_id, kind, name, n):
    """Register, upload, complete and check one file (as media would); its registration's answer."""
    portal, data = env[tenant], f"{kind}-{n}".encode() * 10
    r = portal("POST", f"/api/v1/submissions/{submission_id}/files", json={
        "kind": kind, "filename": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        "content_type": TYPES[kind]})
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert requests.put(ticket["upload"]["url"], data=io.BytesIO(data), timeout=30).status_code == 200
    assert portal("POST", f"/api/v1/files/{ticket['file']['id']}/complete").status_code == 200
    announce_check(env, ticket["file"]["id"], submission_id, "passed", tenant=tenant)
    return ticket["file"]


def test_pictures_count_one_item_each_and_a_work_case_needs_its_document(intake):  # noqa: F811
    seu = intake["seu"]
    clock.set_start(MATERIAL_OPEN)
    first = seu.draft("siyige-2020-seu", "material", CSE, title="战疫瞬间（一）", form="media")
    for n in range(7):
        stored_file(intake, "seu", first["id"], "image", f"照片{n}.jpg", n)
    assert seu("POST", f"/api/v1/submissions/{first['id']}/submit").status_code == 200

    second = seu.draft("siyige-2020-seu", "material", CSE, title="战疫瞬间（二）", form="media")
    for n, kind in enumerate(("image", "image", "video", "image")):
        stored_file(intake, "seu", second["id"], kind, f"素材{n}", 10 + n)
    body = error_of(seu("POST", f"/api/v1/submissions/{second['id']}/submit"), 409, "too_many_items")
    assert (body["expected"], body["found"]) == (10, 11)  # 7 in, 4 more: a file is an item, not a work
    assert "已提交 7 件" in body["message"] and "减到 3 个以内" in body["message"]
    files = seu("GET", f"/api/v1/submissions/{second['id']}").json()["files"]
    assert seu("DELETE", f"/api/v1/files/{files[-1]['id']}").status_code == 200
    assert seu("POST", f"/api/v1/submissions/{second['id']}/submit").status_code == 200  # 10 now

    case = seu.draft("siyige-2020-seu", "material", CSE, title="“四早”工作法", form="work_case")
    stored_file(intake, "seu", case["id"], "image", "现场.jpg", 20)
    body = error_of(seu("POST", f"/api/v1/submissions/{case['id']}/submit"), 422, "file_missing")
    assert body["field"] == "files.document" and "工作案例需附文档" in body["message"]
    stored_file(intake, "seu", case["id"], "document", "四早工作法.pdf", 21)
    done = seu("POST", f"/api/v1/submissions/{case['id']}/submit")
    assert done.status_code == 200 and done.json()["state"] == "submitted"


def test_wust_files_a_document_under_the_colleges_name(intake):  # noqa: F811
    wust = intake["wust"]
    clock.set_start(MATERIAL_OPEN)
    work = wust.draft("siyige-2020-wust", "material", "资源与环境工程学院党委", title="资源与环境工程学院党委抗疫纪实",
                      form="work_case")
    given = stored_file(intake, "wust", work["id"], "document", "抗疫纪实终稿.pdf", 1)
    assert given["name"] == "资源与环境工程学院党委抗疫纪实终稿.pdf" and given["renamed_from"] == "抗疫纪实终稿.pdf"
    kept = stored_file(intake, "wust", work["id"], "image", "资源与环境工程学院党委合影.jpg", 2)
    assert kept["name"] == "资源与环境工程学院党委合影.jpg" and "renamed_from" not in kept
    listed = wust("GET", f"/api/v1/submissions/{work['id']}").json()["files"]
    assert sorted(f["name"] for f in listed) == ["资源与环境工程学院党委合影.jpg", "资源与环境工程学院党委抗疫纪实终稿.pdf"]
    assert wust("POST", f"/api/v1/submissions/{work['id']}/submit").status_code == 200
