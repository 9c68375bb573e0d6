"""Signing in to review and notify as a browser does: open the form, then post it with its token.

The sign-in forms carry a token bound to a pre-session cookie their page sets (login CSRF,
issue #14 item 12), so a client must load the form before posting it.
"""
from __future__ import annotations

import re

import requests


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)


def sign_in(base: str, key: str, web: requests.Session | None = None) -> tuple[requests.Session, requests.Response]:
    """Sign in with an API key; the session (with its cookies) and the answer to the POST."""
    web = web or requests.Session()
    token = form_token(web.get(f"{base}/sign-in", timeout=10).text)
    r = web.post(f"{base}/sign-in", data={"api_key": key, "csrf_token": token}, allow_redirects=False, timeout=10)
    return web, r


def redeem(link: str, web: requests.Session | None = None) -> tuple[requests.Session, requests.Response]:
    """Open a reviewer's sign-in link and press its button."""
    web = web or requests.Session()
    page = web.get(link, timeout=10)
    r = web.post(link, data={"csrf_token": form_token(page.text)}, allow_redirects=False, timeout=10)
    return web, r


def staffed_round(review: dict, reviewers: int = 1, works=("o-cse", "o-me")) -> dict:
    """A review round with works, `reviewers` experts (专家0, 专家1, … at e0@…), one work each, invited.

    `review` is tests.integration.test_review_service's fixture. Returns the admin's browser, its
    form token, the round id and the invitations (reviewer_invited's data, in order).
    """
    from tests.conftest import wait_until
    from tests.integration.test_review_service import INTAKE, admin, csrf, outbox, publish, story, the_round

    base, store = review["base"], review["store"]
    publish(review["amqp"], INTAKE, *(story(org, 1) for org in works))
    round_id = wait_until(lambda: the_round(store), timeout=20, what="the round")
    web = admin(base)
    token = csrf(web.get(f"{base}/rounds/{round_id}").text)
    web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "1", "csrf_token": token})
    for i in range(reviewers):
        web.post(f"{base}/rounds/{round_id}/reviewers", data={
            "csrf_token": token, "name": f"专家{i}", "email": f"e{i}@example.edu.cn"})
    web.post(f"{base}/rounds/{round_id}/assign", data={"csrf_token": token})
    web.post(f"{base}/rounds/{round_id}/invite", data={"csrf_token": token})
    return {"admin": web, "token": token, "round_id": round_id,
            "invites": [i["data"] for i in outbox(store, "reviewer_invited")]}
