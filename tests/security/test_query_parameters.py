"""Query strings of the portal API (issue #14 item 11, intake's part).

`GET /api/v1/submissions?state=submited` and `level=level3` answered 200 with an empty list, and `%`
and `_` in `q` acted as SQL wildcards (`q=%25` listed every work). Every query parameter is now
checked against the API document in one place, and text filters match literally. The tests walk
the document, so an operation or parameter added later is covered without being named here.
Over real HTTP, on SQLite and PostgreSQL (whose LIKE escapes differ).
"""
import re

import pytest
import requests

from common import clock
from services.intake.service import OPENAPI
from tests.integration.test_intake_api import error_of, start_intake


@pytest.fixture
def intake(db_url, make_config, start_service):
    yield start_intake(db_url, make_config, start_service)
    clock.set_start(None)


def operations(openapi=OPENAPI):
    """(method, path, {query parameter: its spec}, operation) of every operation of an API document (intake's)."""
    shared = openapi["components"]["parameters"]
    for path, item in openapi["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            params = [shared[p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p
                      for p in item.get("parameters", []) + op.get("parameters", [])]
            yield method.upper(), path, {p["name"]: p for p in params if p["in"] == "query"}, op


def call(env, method, path, params):
    url = env["base"] + re.sub(r"\{[^}]+\}", "x", path)
    return env["seu"].http.request(method, url, params=params, timeout=30)


def test_every_operation_refuses_a_parameter_it_does_not_have_and_lists_those_it_has(intake):
    walked = 0
    for method, path, params, op in operations():
        r = call(intake, method, path, {"zzz": "1"})
        error = error_of(r, 400, "invalid_query")
        assert error["field"] == "zzz" and error["expected"] == sorted(params), (method, path, error)
        assert "zzz" in error["message"] and "400" in op["responses"], (method, path)
        walked += 1
    assert walked >= 20


def test_every_enum_parameter_refuses_a_value_outside_it_and_takes_every_value_in_it(intake):
    seen = set()
    for method, path, params, _ in operations():
        for name, spec in params.items():
            allowed = spec.get("schema", {}).get("enum")
            if not allowed or method != "GET" or "{" in path:
                continue
            seen.add((path, name))
            for wrong in (allowed[0] + "x", allowed[0][:-1], allowed[0].upper(), ""):
                error = error_of(call(intake, method, path, {name: wrong}), 400, "invalid_query")
                assert (error["field"], error["expected"], error["found"]) == (name, allowed, wrong)
            for right in allowed:
                assert call(intake, method, path, {name: right}).status_code == 200, (path, name, right)
    assert {("/api/v1/submissions", "state"), ("/api/v1/orgs", "level")} <= seen


@pytest.mark.parametrize("params,code", [
    ({"page": "abc"}, "not_an_integer"), ({"page": "0"}, "out_of_range"), ({"per_page": "201"}, "out_of_range"),
    ({"page": "1e3"}, "not_an_integer"), ({"page": "9" * 40}, "out_of_range"),
    ([("state", "draft"), ("state", "submitted")], "repeated_parameter"),
    ({"q": "x" * 201}, "bad_length"),
])
def test_a_malformed_value_is_refused_with_what_was_expected(intake, params, code):
    error = error_of(call(intake, "GET", "/api/v1/submissions", params), 400, "invalid_query")
    assert error["details"][0]["code"] == code and error["message"]


def test_every_problem_is_listed_at_once(intake):
    error = error_of(call(intake, "GET", "/api/v1/submissions", {"state": "submited", "level": "level3", "page": "0"}),
                     400, "invalid_query")
    assert {(d["field"], d["code"]) for d in error["details"]} == {
        ("state", "not_allowed"), ("level", "unknown_parameter"), ("page", "out_of_range")}


TITLES = ["党员100%到岗", "计算机学院故事", "下划线_标题", "红色/防火墙", "反斜杠\\故事", "百分之百"]


def test_percent_and_underscore_in_q_are_text_not_wildcards(intake):
    seu = intake["seu"]
    ids = {seu.draft("siyige-2020-seu", "story", "机械工程学院党委", title=t)["id"]: t for t in TITLES}
    for q in ("%", "_", "%%", "100%", "/", "\\", "%_%", "_%", "[", "'", "故事", "下划线_"):
        r = seu("GET", "/api/v1/submissions", params={"q": q, "per_page": "200"})
        assert r.status_code == 200, r.text
        found = {w["id"] for w in r.json()["items"]}
        assert found == {i for i, t in ids.items() if q in t}, (q, sorted(ids[i] for i in found))
    orgs = seu("GET", "/api/v1/orgs", params={"q": "%"}).json()
    assert orgs["total"] == 0
    assert seu("GET", "/api/v1/orgs", params={"q": "学院"}).json()["total"] == 3


def test_a_query_check_runs_before_the_key_is_needed_and_says_nothing_else(intake):
    r = requests.get(intake["base"] + "/api/v1/submissions", params={"state": "x"}, timeout=10)
    error = error_of(r, 400, "invalid_query")
    assert error["expected"] == ["draft", "submitted", "withdrawn"]
