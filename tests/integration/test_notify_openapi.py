"""Notify's API document (issue #20, the integration surface): served like intake's, and the one source of its
query parameters.

The cursor parameter's name, the webhook body's fields and the feed row shape used to be found by trial. Now
services/notify/openapi.yaml documents every JSON route of notify, is served at `GET /api/v1/openapi.json`, and
every request's query string is checked against it before anything runs (an unknown parameter is refused, not
ignored). The tests walk the document and the running container, so a route added later without its entry fails.
"""
import re

import pytest
import requests
from jsonschema import Draft202012Validator

from common.events import make_event
from services.notify.service import OPENAPI
from tests.security.test_query_parameters import operations

NOTIFY = "services.notify.service:NotifyService"


@pytest.fixture
def notify(make_config, start_service, tmp_path):
    from services.notify.service import NotifyService

    (tmp_path / "data").mkdir(exist_ok=True)
    config = make_config("notify", DATABASE_URL=f"sqlite:///{tmp_path / 'notify.db'}", WEB_SECRET="test-secret")
    container = start_service(NotifyService, config)
    return {"container": container, "base": "http://" + config["WEB_SERVER_ADDRESS"]}


def error_of(r, status, code):
    assert r.status_code == status and r.headers["Content-Type"].startswith("application/json"), (r.status_code, r.text)
    error = r.json()["error"]
    assert error["code"] == code and error["message"], error
    return error


def test_the_document_is_served_and_lists_every_route_with_its_methods(notify):
    r = requests.get(notify["base"] + "/api/v1/openapi.json", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert doc == OPENAPI and "/api/v1/feed/progress" in doc["paths"]
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops if m != "parameters"}
    from common.web import HtmlPage

    served = set()
    for ext in notify["container"].entrypoints:
        url = getattr(ext, "url", None)
        if url and "<path:" not in url and not isinstance(ext, HtmlPage):  # pages for people are not the API
            for method in ext.method.split(","):
                served.add((method, re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", url)))
    assert len(served) >= 16 and served == documented


def test_the_document_is_valid_openapi_3():
    import openapi_spec_validator

    openapi_spec_validator.validate(OPENAPI)
    assert OPENAPI["openapi"].startswith("3.")
    # what was found by trial: the cursor's name, the feed row, the webhook body, the error envelope, the key
    params = {p["name"] for p in OPENAPI["components"]["parameters"].values()}
    assert {"cursor", "limit"} <= params
    schemas = OPENAPI["components"]["schemas"]
    assert {"ProgressRow", "ForwardedWork", "WebhookEvent", "Delivery", "SubscriptionCreate", "Error"} <= set(schemas)
    assert OPENAPI["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert OPENAPI["webhooks"]["delivery"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WebhookEvent"}


def test_a_webhook_body_is_what_the_document_says():
    """The body a receiver gets is the event's envelope (hooks.enqueue stores `event.to_dict()`)."""
    submitted = make_event("submission_submitted", "seu", {
        "submission_id": "s-1", "campaign_id": "siyige-2020-seu", "track": "story", "stage": "main",
        "final_stage": True, "org_id": "o-1", "org_name": "计算机学院党委", "org_level": "level2", "title": "故事",
        "receipt_no": "R-1", "submitted_at": "2020-07-14T02:00:00+00:00", "file_ids": []})
    withdrawn = make_event("submission_withdrawn", "seu", {
        "submission_id": "s-1", "campaign_id": "siyige-2020-seu", "track": "story", "org_id": "o-1",
        "withdrawn_at": "2020-07-14T03:00:00+00:00"})
    validator = Draft202012Validator({**OPENAPI, "$ref": "#/components/schemas/WebhookEvent"})
    for event in (submitted, withdrawn):
        assert not list(validator.iter_errors(event.to_dict()))
    assert list(validator.iter_errors({**withdrawn.to_dict(), "data": {"submission_id": "s-1"}}))


def test_every_operation_refuses_a_parameter_it_does_not_have_and_lists_those_it_has(notify):
    walked = 0
    for method, path, params, op in operations(OPENAPI):
        url = notify["base"] + re.sub(r"\{[^}]+\}", "x", path)
        error = error_of(requests.request(method, url, params={"zzz": "1"}, timeout=10), 400, "invalid_query")
        assert error["field"] == "zzz" and error["expected"] == sorted(params), (method, path, error)
        assert "400" in op["responses"], (method, path)
        walked += 1
    assert walked >= 16


@pytest.mark.parametrize("path,params,field,expected", [
    ("/api/v1/feed/progress", {"since": "abc"}, "since", ["cursor", "limit"]),
    ("/api/v1/feed/forwarded", {"page": "2"}, "page", ["cursor", "limit"]),
    ("/api/v1/feed/progress", {"limit": "501"}, "limit", [1, 500]),
    ("/api/v1/feed/progress", {"cursor": "x" * 65}, "cursor", "1–64 个字符"),
    ("/api/v1/messages", {"state": "faild"}, "state", ["pending", "sent", "failed"]),
    ("/api/v1/library", {"year": "二〇二〇"}, "year", "整数"),
])
def test_a_bad_query_is_refused_before_the_key_is_needed(notify, path, params, field, expected):
    error = error_of(requests.get(notify["base"] + path, params=params, timeout=10), 400, "invalid_query")
    assert (error["field"], error["expected"]) == (field, expected)


def test_a_good_query_goes_on_to_the_key_and_an_unknown_api_url_is_a_404_in_the_envelope(notify):
    r = requests.get(notify["base"] + "/api/v1/feed/progress", params={"limit": "5"}, timeout=10)
    error_of(r, 401, "missing_api_key")
    error = error_of(requests.get(notify["base"] + "/api/v1/feed/nothing", timeout=10), 404, "route_not_found")
    assert error["found"] == "GET /api/v1/feed/nothing"
    assert requests.get(notify["base"] + "/health", timeout=10).status_code == 200
