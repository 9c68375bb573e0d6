"""Where signing in leads back to: a local page only (issue #17 item 10). Pure."""
from __future__ import annotations

import pytest

from common.web import safe_next, wrong_role_message
from services.intake.people_pages import PeoplePages, _destination


@pytest.mark.parametrize("raw", ["/rounds/r1", "/rounds/r1/ranking?sort=raw", "/dashboard?campaign=siyige-2020"])
def test_a_local_page_is_kept(raw):
    assert safe_next(raw) == raw


@pytest.mark.parametrize("raw", [None, "", "rounds", "//evil.example/x", "https://evil.example/", "/\\evil.example",
                                 "/a\r\nSet-Cookie: x=1", "/sign-in", "/sign-out", "/" + "a" * 400, 42])
def test_anything_else_is_dropped(raw):
    assert safe_next(raw) is None


def test_intake_carries_the_page_to_the_service_and_nothing_else():
    assert _destination("review:/rounds/r1") == "review:/rounds/r1"
    assert _destination("review") == "review"
    assert _destination("review://evil.example") == "review"  # the service, without the unsafe page
    assert _destination("elsewhere:/rounds/r1") is None
    home = PeoplePages._home_url
    assert home(None, "review:/rounds/r1?sort=raw") == "/go/review?next=/rounds/r1%3Fsort%3Draw"
    assert home(None, "notify") == "/go/notify" and home(None, None) == "/"


def test_each_role_is_told_what_it_may_do():
    assert "/queue" in wrong_role_message("reviewer")
    assert "管理员" in wrong_role_message("admin")
    assert "重新登录" in wrong_role_message("unknown")
