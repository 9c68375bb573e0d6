"""Tenant isolation over every endpoint of the portal API (issue #7).

The test walks intake's OpenAPI document: every operation must be listed in ACCESS
below, so an endpoint added later without a decision about who may reach what fails
here until it is classified. With 武汉科技大学's key, each of 东南大学's objects answers
404 (the same answer as an id that does not exist, so nothing about it leaks), each
list leaves them out, and nothing of 东南大学's changes.
"""
import hashlib
import json

import pytest
import yaml

from services.intake.service import OPENAPI
from tests.integration.test_intake_api import intake  # noqa: F401  (fixture)
from tests.integration.test_notify_service import notify, smtp  # noqa: F401  (fixtures)

PLANTED_TITLE = "东南大学绝密作品标题甲乙丙"
PLANTED_FILE = "东南大学秘密文件名.mp4"

# What each operation may touch, for a caller of another university:
#   "public"      no key (health, the API document)
#   "capability"  the URL's token is the credential (an upload target handed out with the file)
#   "own"         only the caller's own objects can be named (lists, the caller's own data, imports)
#   "foreign"     names another university's object (in the path or the body): must answer 404
ACCESS = {
    ("get", "/health"): "public",
    ("get", "/api/v1/openapi.json"): "public",
    ("get", "/api/v1/me"): "own",
    ("get", "/api/v1/campaigns"): "own",
    ("post", "/api/v1/campaigns"): "foreign",  # a copy deriving from 东南大学's campaign
    ("get", "/api/v1/campaigns/{campaign_id}"): "foreign",
    ("post", "/api/v1/campaigns/{campaign_id}/versions"): "foreign",  # correcting 东南大学's copy
    ("get", "/api/v1/orgs"): "own",
    ("post", "/api/v1/orgs/import"): "own",  # rows name parents by name, within the caller's own file
    ("get", "/api/v1/orgs/template.xlsx"): "own",
    ("get", "/api/v1/orgs/{org_id}"): "foreign",
    ("get", "/api/v1/submissions"): "own",
    ("post", "/api/v1/submissions"): "foreign",  # with 东南大学's org
    ("get", "/api/v1/submissions/{submission_id}"): "foreign",
    ("patch", "/api/v1/submissions/{submission_id}"): "foreign",
    ("post", "/api/v1/submissions/{submission_id}/submit"): "foreign",
    ("post", "/api/v1/submissions/{submission_id}/withdraw"): "foreign",
    ("get", "/api/v1/submissions/{submission_id}/receipts"): "foreign",
    ("post", "/api/v1/submissions/{submission_id}/files"): "foreign",
    ("put", "/api/v1/uploads/{token}"): "capability",
    ("get", "/api/v1/uploads/{token}"): "capability",
    ("get", "/api/v1/files/{file_id}"): "foreign",
    ("delete", "/api/v1/files/{file_id}"): "foreign",
    ("post", "/api/v1/files/{file_id}/complete"): "foreign",
    ("get", "/api/v1/extensions"): "own",
    ("post", "/api/v1/extensions"): "foreign",  # for 东南大学's org
    # People (issue #15): accounts are global (one per e-mail), but a tenant sees only those whose home it is or
    # that it granted a role, and of their grants only its own. Inviting with another university's org reads as
    # an org that does not exist (422 org_not_found in details: tests/integration/test_intake_accounts.py).
    ("get", "/api/v1/accounts"): "own",
    ("post", "/api/v1/accounts"): "own",
    ("post", "/api/v1/accounts/import"): "own",  # orgs are named by name, within the caller's own tree
    ("get", "/api/v1/accounts/{account_id}"): "foreign",
    ("patch", "/api/v1/accounts/{account_id}"): "foreign",
    ("post", "/api/v1/accounts/{account_id}/grants"): "foreign",
    ("delete", "/api/v1/accounts/{account_id}/grants/{grant_id}"): "foreign",
    ("post", "/api/v1/accounts/{account_id}/disable"): "foreign",
    ("post", "/api/v1/accounts/{account_id}/enable"): "foreign",
    ("post", "/api/v1/accounts/{account_id}/second-factor/reset"): "foreign",
    ("get", "/api/v1/audit"): "own",
    ("get", "/api/v1/audit.xlsx"): "own",
    # Keys (issue #15): a tenant lists and issues only its own; another tenant's key id reads as a missing one.
    ("get", "/api/v1/keys"): "own",
    ("post", "/api/v1/keys"): "own",
    ("post", "/api/v1/keys/{key_id}/rotate"): "foreign",
    ("delete", "/api/v1/keys/{key_id}"): "foreign",
    ("get", "/api/v1/sso"): "own",  # one provider per tenant, its own
    ("put", "/api/v1/sso"): "own",
    ("delete", "/api/v1/sso"): "own",
}
METHODS = {"get", "put", "post", "patch", "delete"}


def operations():
    return {(m, path) for path, item in OPENAPI["paths"].items() for m in item if m in METHODS}


def test_every_operation_of_the_api_document_is_classified():
    missing = operations() - set(ACCESS)
    assert not missing, f"classify these endpoints in ACCESS (who may reach what): {sorted(missing)}"
    assert not set(ACCESS) - operations(), "ACCESS lists operations the API no longer has"


@pytest.fixture
def two_universities(intake):  # noqa: F811
    seu, _wust = intake["seu"], intake["wust"]
    org = seu.org_id("计算机科学与工程学院党委")
    work = seu.draft("siyige-2020-seu", "lecture", "计算机科学与工程学院党委", title=PLANTED_TITLE,
                     lecturers=["张书记"], planned_date="2020-07-01")
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64
    r = seu("POST", f"/api/v1/submissions/{work['id']}/files", json={
        "kind": "video", "filename": PLANTED_FILE, "size": len(video),
        "sha256": hashlib.sha256(video).hexdigest(), "content_type": "video/mp4"})
    assert r.status_code == 201, r.text
    file_id = r.json()["file"]["id"]
    r = seu("POST", "/api/v1/extensions", json={
        "campaign_id": "siyige-2020-seu", "track": "lecture", "stage": "video", "org_id": org,
        "until": "2020-07-16T12:00:00+08:00", "reason": "东南大学延期理由"})
    assert r.status_code == 201, r.text
    r = seu("POST", "/api/v1/accounts", json={"name": "东南大学秘密人员", "email": "secret.person@seu.edu.cn",
                                              "grants": [{"role": "org_admin", "org_id": org}]})
    assert r.status_code == 201, r.text
    account = r.json()
    r = seu("POST", "/api/v1/keys", json={"label": "东南大学秘密门户", "scopes": ["submit"]})
    assert r.status_code == 201, r.text
    ids = {"campaign_id": "siyige-2020-seu", "org_id": org, "submission_id": work["id"], "file_id": file_id,
           "account_id": account["id"], "grant_id": account["grants"][0]["id"], "key_id": r.json()["id"]}
    return intake, ids


def foreign_request(method, path, ids):
    """The request that names 东南大学's object: in the path, and in a body valid for the schema."""
    url = path.format(**ids)
    body = None
    if (method, path) == ("post", "/api/v1/campaigns"):
        body = {"data": _wust_copy_deriving_from_seu().encode(), "headers": {"Content-Type": "application/yaml"}}
    elif (method, path) == ("post", "/api/v1/campaigns/{campaign_id}/versions"):
        body = {"json": {"definition": _seu_copy_corrected(), "change_note": "更正截止时间"}}
    elif (method, path) == ("post", "/api/v1/submissions"):
        body = {"json": {"campaign_id": "siyige-2020-seu", "track": "lecture", "org_id": ids["org_id"],
                         "fields": {"title": "冒名"}}}
    elif (method, path) == ("patch", "/api/v1/submissions/{submission_id}"):
        body = {"json": {"fields": {"title": "篡改"}}}
    elif path.endswith("/files") and method == "post":
        body = {"json": {"kind": "video", "filename": "x.mp4", "size": 10, "sha256": "0" * 64,
                         "content_type": "video/mp4"}}
    elif (method, path) == ("post", "/api/v1/accounts/{account_id}/grants"):
        body = {"json": {"role": "viewer"}}
    elif (method, path) == ("patch", "/api/v1/accounts/{account_id}"):
        body = {"json": {"staff_no": "2020999"}}
    elif (method, path) == ("post", "/api/v1/extensions"):
        body = {"json": {"campaign_id": "siyige-2020-wust", "track": "lecture", "stage": "video",
                         "org_id": ids["org_id"], "until": "2020-07-16T12:00:00+08:00"}}
    return method.upper(), url, body or {}


def _seu_copy_corrected() -> str:
    from common.campaign import DEFINITIONS_DIR

    doc = yaml.safe_load((DEFINITIONS_DIR / "siyige-2020-seu.yaml").read_text(encoding="utf-8"))
    doc["title"] += "（更正）"
    return yaml.safe_dump(doc, allow_unicode=True)


def _wust_copy_deriving_from_seu() -> str:
    from common.campaign import DEFINITIONS_DIR

    text = (DEFINITIONS_DIR / "siyige-2020-wust.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    doc["id"], doc["derives_from"] = "wust-copy-of-seu", "siyige-2020-seu"
    return yaml.safe_dump(doc, allow_unicode=True)


@pytest.mark.parametrize("caller", ["wust", "ministry"])
def test_another_universitys_objects_answer_like_missing_ones_on_every_endpoint(two_universities, caller):
    """404 for another university; the ministry, which sees only aggregates and forwarded works (in notify),
    gets 404 too, or 403 where the operation is a university's own; always what a missing id gets."""
    env, ids = two_universities
    seu, other = env["seu"], env[caller]
    before = seu("GET", f"/api/v1/submissions/{ids['submission_id']}").json()
    for (method, path), access in sorted(ACCESS.items()):
        if access != "foreign":
            continue
        verb, url, body = foreign_request(method, path, ids)
        r = other(verb, url, **body)
        assert r.status_code in (403, 404), (caller, verb, url, r.status_code, r.text[:300])
        assert r.status_code == 403 or r.json()["error"]["code"].endswith("_not_found"), (verb, url, r.text[:300])
        # the same answer as for an object that does not exist
        missing = {k: "0" * 32 if k != "campaign_id" else "no-such-campaign" for k in ids}
        verb, url_missing, body_missing = foreign_request(method, path, missing)
        r2 = other(verb, url_missing, **body_missing)
        assert (r2.status_code, r2.json()["error"]["code"]) == (r.status_code, r.json()["error"]["code"]), url
    after = seu("GET", f"/api/v1/submissions/{ids['submission_id']}").json()
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"}
    assert after["title"] == PLANTED_TITLE and after["state"] == "draft"
    assert seu("GET", f"/api/v1/files/{ids['file_id']}").status_code == 200
    account = seu("GET", f"/api/v1/accounts/{ids['account_id']}").json()
    assert account["state"] == "invited" and [g["id"] for g in account["grants"]] == [ids["grant_id"]]
    assert account["staff_no"] is None  # a PATCH naming the account changed nothing
    keys = {k["id"]: k for k in seu("GET", "/api/v1/keys").json()["items"]}
    assert keys[ids["key_id"]]["state"] == "active" and len(keys) == 2  # not rotated, not revoked


@pytest.mark.parametrize("caller", ["wust", "ministry"])
def test_lists_and_own_data_never_show_another_universitys_objects(two_universities, caller):
    env, ids = two_universities
    wust = env[caller]
    planted = [PLANTED_TITLE, PLANTED_FILE, "东南大学延期理由", "计算机科学与工程学院党委", "东南大学秘密人员",
               "secret.person@seu.edu.cn", "东南大学秘密门户", *ids.values()]
    planted.remove("siyige-2020-seu")  # campaign ids are listed only if visible; checked separately below
    for (method, path), access in sorted(ACCESS.items()):
        if access != "own" or method != "get":
            continue
        r = wust("GET", path)
        assert r.status_code == 200, (path, r.text[:300])
        text = r.content.decode("utf-8", errors="replace") if "json" in r.headers["Content-Type"] else ""
        leaked = [p for p in planted if p in text]
        assert not leaked, (path, leaked)
    campaigns = {c["id"] for c in wust("GET", "/api/v1/campaigns").json()["items"]}
    assert "siyige-2020-seu" not in campaigns and "siyige-2020" in campaigns
    # the query filters cannot reach across either
    for params in ({"q": PLANTED_TITLE}, {"org_id": ids["org_id"]}, {"campaign_id": "siyige-2020-seu"}):
        assert wust("GET", "/api/v1/submissions", params=params).json()["total"] == 0
    assert not wust("GET", "/api/v1/orgs", params={"q": "计算机科学与工程学院"}).json()["items"]
    assert "东南大学" not in json.dumps(wust("GET", "/api/v1/extensions",
                                             params={"campaign_id": "siyige-2020-seu"}).json(), ensure_ascii=False)


def test_an_upload_token_is_the_only_way_to_its_target(two_universities):
    env, _ = two_universities
    import requests

    for method in ("PUT", "GET"):  # the bytes, and how many of them arrived (to resume)
        r = requests.request(method, env["base"] + "/api/v1/uploads/not-a-token", data=b"x", timeout=10)
        assert r.status_code == 404 and r.json()["error"]["code"].endswith("not_found"), (method, r.text)


# --------------------------------------------------------------------------- notify: feeds, messages, webhooks

# Notify has no API document; its routes are walked from the running service's entrypoints instead.
NOTIFY_ACCESS = {
    ("GET", "/health"): "public",
    ("GET", "/api/v1/openapi.json"): "public",
    ("GET", "/static/<path:name>"): "public",
    ("GET", "/sign-in"): "public",
    ("POST", "/sign-in"): "public",
    ("POST", "/sign-in/ticket"): "public",  # a person handed on from intake (common.handoff)
    ("POST", "/sign-out"): "own",
    ("GET", "/dashboard"): "own",
    ("GET", "/api/v1/feed/progress"): "own",
    ("GET", "/api/v1/feed/progress.atom"): "own",
    ("GET", "/api/v1/feed/progress.xlsx"): "own",
    ("GET", "/api/v1/feed/forwarded"): "own",
    ("GET", "/api/v1/feed/forwarded.atom"): "own",
    ("GET", "/api/v1/feed/forwarded.xlsx"): "own",
    ("GET", "/files/<string:token>"): "capability",
    ("GET", "/api/v1/messages"): "own",
    ("POST", "/api/v1/webhooks"): "own",
    ("GET", "/api/v1/webhooks"): "own",
    ("DELETE", "/api/v1/webhooks/<string:sub_id>"): "foreign",
    ("GET", "/api/v1/webhooks/<string:sub_id>/deliveries"): "foreign",
    ("POST", "/api/v1/webhooks/<string:sub_id>/deliveries/<string:delivery_id>/replay"): "foreign",
    # The education material library: its national shelf is shared with every university by design; a
    # university's own shelf (its own 素材库) is its own (library.shelves_for; tests/integration/test_notify_library.py).
    ("GET", "/api/v1/library"): "shelved",
    ("GET", "/api/v1/library/casebook.docx"): "shelved",
    ("GET", "/library"): "shelved",
    ("GET", "/library/casebook.docx"): "shelved",
}


def routes(container) -> set[tuple[str, str]]:
    from nameko.web.handlers import HttpRequestHandler

    return {(e.method, e.url) for e in container.entrypoints if isinstance(e, HttpRequestHandler)}


def text_of(response) -> str:
    kind = response.headers.get("Content-Type", "")
    if "spreadsheetml" in kind:
        import io

        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(response.content))
        return "\n".join(str(v) for ws in book for row in ws.iter_rows(values_only=True) for v in row if v)
    return response.content.decode("utf-8", errors="replace")


def test_notify_never_shows_one_university_anothers_rows_messages_or_webhooks(notify):  # noqa: F811
    import requests

    from common.events import make_event
    from tests.conftest import wait_until
    from tests.integration.test_notify_dashboard import sign_in
    from tests.integration.test_notify_service import ORGS, key_events, publish, seu_campaign, story_submitted

    missing = routes(notify["container"]) - set(NOTIFY_ACCESS)
    assert not missing, f"classify these notify routes in NOTIFY_ACCESS: {sorted(missing)}"
    base = "http://" + notify["container"].config["WEB_SERVER_ADDRESS"]
    seu_key, wust_key = "sk_seu_isolation", "sk_wust_isolation"
    publish(notify["amqp"], key_events("seu", "university", "东南大学", seu_key),
            key_events("wust", "university", "武汉科技大学", wust_key), seu_campaign(), ORGS)
    seu = requests.Session()
    seu.headers["Authorization"] = f"Bearer {seu_key}"
    wust = requests.Session()
    wust.headers["Authorization"] = f"Bearer {wust_key}"
    sub = wait_until(lambda: (r := seu.post(f"{base}/api/v1/webhooks", json={
        "url": "http://127.0.0.1:9/hook", "event_types": ["submission_submitted"]}, timeout=10)).status_code == 201
        and r.json(), timeout=20, what="the key copies")
    forwarded = make_event("submission_forwarded", "seu", {
        "submission_id": "s-planted", "campaign_id": "siyige-2020-seu", "track": "story", "org_id": "o-cse",
        "org_name": "计算机科学与工程学院党委", "org_level": "level2", "from_level": "university",
        "to_level": "ministry", "title": PLANTED_TITLE, "receipt_no": "SEU-PLANTED-1",
        "forwarded_at": "2020-07-20T02:00:00+00:00", "fields": {"title": PLANTED_TITLE}, "files": []})
    publish(notify["amqp"], story_submitted(), forwarded)
    deliveries = wait_until(lambda: seu.get(f"{base}/api/v1/webhooks/{sub['id']}/deliveries", timeout=10)
                            .json()["items"], timeout=20, what="a webhook delivery")
    wait_until(lambda: seu.get(f"{base}/api/v1/messages", timeout=10).json()["items"], timeout=20,
               what="SEU's receipt in the message log")
    wait_until(lambda: PLANTED_TITLE in seu.get(f"{base}/api/v1/feed/forwarded", timeout=10).text, timeout=20,
               what="SEU's forwarded work in its own feed")
    planted = [PLANTED_TITLE, "SEU-PLANTED-1", "cse@demo.local", "计算机科学与工程学院党委", "东南大学", sub["id"],
               deliveries[0]["id"], "127.0.0.1:9"]

    ids = {"sub_id": sub["id"], "delivery_id": deliveries[0]["id"], "token": "x", "path:name": "x"}
    web, _ = sign_in(base, wust_key)
    for (method, url), access in sorted(NOTIFY_ACCESS.items()):
        path = url
        for name, value in ids.items():
            path = path.replace(f"<string:{name}>", value).replace(f"<{name}>", value)
        if access == "foreign":
            r = wust.request(method, base + path, timeout=10)
            assert r.status_code == 404, (method, path, r.status_code, r.text[:200])
            assert r.json()["error"]["code"].endswith("_not_found")
        elif access == "own" and method == "GET":
            r = (web if not path.startswith("/api/") else wust).get(base + path, timeout=30)
            assert r.status_code == 200, (path, r.status_code, r.text[:200])
            leaked = [p for p in planted if p in text_of(r)]
            assert not leaked, (path, leaked)
    # SEU's subscription is untouched, and its own key still sees everything above
    assert [s["id"] for s in seu.get(f"{base}/api/v1/webhooks", timeout=10).json()["items"]] == [sub["id"]]
    assert "cse@demo.local" in seu.get(f"{base}/api/v1/messages", timeout=10).text
