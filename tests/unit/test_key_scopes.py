"""API keys as scoped credentials (services/intake/domain/keys.py): every route has its scope, what a new key may be."""
from __future__ import annotations

import pytest
import yaml

from services.intake.domain import keys
from services.intake.service import OPENAPI_PATH


def documented_operations():
    doc = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            if method != "parameters" and op.get("security") != []:  # [] : no key (health, the document, uploads)
                yield method.upper(), path


def test_every_operation_that_takes_a_key_names_the_scope_it_needs_and_no_scope_names_a_missing_route():
    documented = set(documented_operations())
    assert documented - set(keys.ROUTE_SCOPES) == set(), "add the new routes to domain/keys.ROUTE_SCOPES"
    assert set(keys.ROUTE_SCOPES) - documented == set()


def test_managing_the_tenant_needs_admin_and_a_portal_needs_only_submit():
    admin_routes = {route for route, scope in keys.ROUTE_SCOPES.items() if scope == keys.Scope.ADMIN}
    assert ("POST", "/api/v1/keys") in admin_routes
    # publishing needs `publish`, which admin implies (a college's org admin holds publish alone)
    assert keys.ROUTE_SCOPES[("POST", "/api/v1/campaigns")] == keys.Scope.PUBLISH
    assert keys.allows(["admin"], keys.ROUTE_SCOPES[("POST", "/api/v1/campaigns")])
    managing = {route for route in keys.ROUTE_SCOPES
                if route[1].startswith(("/api/v1/accounts", "/api/v1/audit", "/api/v1/keys", "/api/v1/sso"))}
    assert managing and managing <= admin_routes
    portal = {route for route, scope in keys.ROUTE_SCOPES.items() if scope == keys.Scope.SUBMIT}
    assert ("POST", "/api/v1/submissions/{submission_id}/submit") in portal
    assert not any("accounts" in path or "keys" in path or "audit" in path for _, path in portal)


def test_a_key_from_before_scopes_has_every_scope_and_a_scoped_key_only_its_own():
    assert keys.allows(None, keys.Scope.ADMIN) and keys.allows(None, keys.Scope.SUBMIT)
    assert keys.allows(["submit"], keys.Scope.SUBMIT) and not keys.allows(["submit"], keys.Scope.ADMIN)
    assert keys.allows(["read:feeds"], keys.ANY) and not keys.allows(["read:feeds"], keys.Scope.SUBMIT)
    message = keys.scope_refusal(keys.Scope.ADMIN, ["submit"])
    assert "管理本单位" in message and "报送作品" in message and "POST /api/v1/keys" in message


@pytest.mark.parametrize(("label", "scopes", "days", "person", "codes"), [
    ("学校党建门户", ["submit"], 365, False, []),
    ("教育部看板", ["read:feeds", "submit"], 1, False, []),
    ("王老师本人", ["admin"], 30, True, []),
    ("门户", ["admin"], 30, False, ["admin_scope_not_for_integrations"]),
    ("", ["submit"], 30, False, ["invalid_key_label"]),
    ("门户", [], 30, False, ["invalid_key_scopes"]),
    ("门户", ["write:everything"], 30, False, ["unknown_key_scope"]),
    ("门户", ["submit"], 0, False, ["invalid_key_lifetime"]),
    ("门户", ["submit"], 367, False, ["invalid_key_lifetime"]),
    ("门户", ["submit"], True, False, ["invalid_key_lifetime"]),
    ("", "submit", "forever", False, ["invalid_key_label", "invalid_key_scopes", "invalid_key_lifetime"]),
])
def test_what_a_new_key_may_be_every_problem_at_once(label, scopes, days, person, codes):
    assert [p.code for p in keys.new_key_problems(label, scopes, days, for_person=person)] == codes


@pytest.mark.parametrize(("hours", "ok"), [(0, True), (168, True), (720, True), (721, False), (-1, False),
                                           ("7d", False), (None, False)])
def test_an_overlap_is_zero_to_thirty_days_in_hours(hours, ok):
    assert (keys.overlap_problem(hours) is None) == ok
