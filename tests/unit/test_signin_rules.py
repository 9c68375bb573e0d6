"""Signing in (services/intake/domain/signin.py): who needs a second factor, codes, links, where the home page leads."""
from __future__ import annotations

import time

import pyotp
import pytest

from services.intake.domain import signin


def test_owners_and_department_admins_need_a_second_factor_and_nobody_else():
    assert signin.second_factor_required({"owner"}) and signin.second_factor_required(["viewer", "department_admin"])
    assert not signin.second_factor_required({"org_admin", "expert", "viewer"}) and not signin.second_factor_required([])


def test_a_code_counts_one_step_either_side_and_never_twice():
    secret = pyotp.random_base32()
    now = time.time()
    totp = pyotp.TOTP(secret)
    step = int(now) // 30
    assert signin.matching_step(secret, totp.at(now), now, None) == step
    assert signin.matching_step(secret, totp.at(now - 30), now, None) == step - 1
    assert signin.matching_step(secret, totp.at(now + 30), now, None) == step + 1
    assert signin.matching_step(secret, totp.at(now - 90), now, None) is None  # too old
    assert signin.matching_step(secret, totp.at(now), now, step) is None  # used already
    assert signin.matching_step(secret, totp.at(now + 30), now, step) == step + 1
    code = totp.at(now)
    assert signin.matching_step(secret, f"{code[:3]} {code[3:]}", now, None) == step  # as the app shows it
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)  # typed with a Chinese input method
    assert signin.matching_step(secret, full_width, now, None) == step


@pytest.mark.parametrize(("typed", "problem"), [("", "请输入"), ("12ab56", "6 位数字"), ("1234567", "6 位数字"),
                                                ("123 456", None)])
def test_a_code_that_cannot_be_right_is_said_so(typed, problem):
    found = signin.code_problem(typed)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize(("facts", "code"), [
    ({"found": False}, "link_not_found"), ({"found": True, "disabled": True, "used": True}, "account_disabled"),
    ({"found": True, "used": True}, "link_used"), ({"found": True, "replaced": True}, "link_replaced"),
    ({"found": True, "expired": True}, "link_expired"), ({"found": True}, None),
])
def test_why_a_link_cannot_be_used_each_saying_how_to_get_a_new_one(facts, code):
    for purpose, again in (("sign_in", "通过邮箱获取登录链接"), ("password_reset", "忘记密码")):
        refusal = signin.link_refusal(purpose, **facts)
        assert (refusal is None) if code is None else (refusal.code == code)
        if refusal is not None and code != "account_disabled":
            assert again in refusal.message


@pytest.mark.parametrize(("grants", "expected"), [
    ([], ["review"]),  # maybe an expert invited by e-mail only
    ([{"role": "expert"}], ["review"]),
    ([{"role": "viewer"}], ["notify"]),
    ([{"role": "viewer", "org_id": "o-1"}], []),  # progress is not counted per org
    ([{"role": "org_admin", "org_id": "o-1"}], ["review"]),
    ([{"role": "owner"}], ["review", "notify"]),
    ([{"role": "department_admin", "department": "propaganda"}], ["review", "notify"]),
])
def test_the_home_page_links_only_what_the_grants_open(grants, expected):
    assert list(signin.destinations_for(grants)) == expected
