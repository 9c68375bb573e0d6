"""Every operation that takes a key checks the key before it reads the body: a caller without a valid key gets 401,
whatever it sends, and learns nothing of what a body should be (the role walk found eight that answered 400 first)."""
from __future__ import annotations

import pytest
import requests

from common import clock
from services.intake.domain.keys import ROUTE_SCOPES
from tests.integration.test_intake_api import start_intake


@pytest.fixture
def intake(db_url, make_config, start_service):
    # hundreds of wrong keys from one address on purpose: the limit on them is not what this test is about
    yield start_intake(db_url, make_config, start_service, RATE_BAD_KEYS=100_000)
    clock.set_start(None)

BODIES = [
    ({"Content-Type": "application/json"}, b"{not json"),
    ({"Content-Type": "application/yaml"}, b"- [unclosed"),
    ({"Content-Type": "text/csv"}, b"\x00\x01"),
    ({"Content-Type": "application/octet-stream"}, b"x" * 10),
]


def test_no_key_or_a_wrong_key_is_told_so_before_anything_is_read(intake):
    base = intake["base"]
    answers = {}
    for (method, path), _scope in sorted(ROUTE_SCOPES.items()):
        url = base + path.replace("{", "").replace("}", "")  # any id: the key is refused first
        for auth in ({}, {"Authorization": "Bearer sk_not_a_key_at_all"}):
            for headers, body in BODIES:
                r = requests.request(method, url, headers={**headers, **auth}, data=body, timeout=10)
                answers[(method, path, bool(auth), headers["Content-Type"])] = r.status_code
    wrong = {k: v for k, v in answers.items() if v != 401}
    assert not wrong, wrong
