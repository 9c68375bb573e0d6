"""Signing in leads back to the page that asked for it (issue #17 item 10), and a person signed in as another role
is told what their role may do instead of being shown the sign-in instructions. Real HTTP against review."""
from __future__ import annotations

from tests.integration.test_review_service import review  # noqa: F401  (fixture)
from tests.signin import form_token, redeem, sign_in, staffed_round


def test_an_admin_page_without_a_session_signs_in_and_comes_back(review):  # noqa: F811
    base = review["base"]
    round_id = staffed_round(review)["round_id"]
    page = f"/rounds/{round_id}/ranking?sort=raw"
    import requests

    web = requests.Session()
    asked = web.get(f"{base}{page}", allow_redirects=False, timeout=10)
    assert asked.status_code == 401
    assert asked.headers["Location"] == f"/sign-in?next={page.replace('?', '%3F').replace('=', '%3D')}"
    assert f'name="next" value="{page}"' in asked.text.replace("&amp;", "&").replace("&#61;", "=")
    r = web.post(f"{base}/sign-in", data={"api_key": "sk_review_admin_seu", "next": page,
                                          "csrf_token": form_token(asked.text)}, allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["Location"].endswith(page), r.headers


def test_next_never_leads_off_the_site(review):  # noqa: F811
    import requests

    base = review["base"]
    for elsewhere in ("//evil.example/rounds", "https://evil.example/", "/\\evil.example", "/sign-out", "rounds"):
        web = requests.Session()
        token = form_token(web.get(f"{base}/sign-in", params={"next": elsewhere}, timeout=10).text)
        r = web.post(f"{base}/sign-in", data={"api_key": "sk_review_admin_seu", "next": elsewhere, "csrf_token": token},
                     allow_redirects=False, timeout=10)
        assert r.status_code == 303 and r.headers["Location"] in ("/", "/rounds"), (elsewhere, r.headers["Location"])


def test_a_person_of_another_role_is_told_what_their_role_is_for(review):  # noqa: F811
    base = review["base"]
    staffed = staffed_round(review)
    expert, r = redeem(staffed["invites"][0]["sign_in_url"])
    assert r.status_code == 303
    refused = expert.get(f"{base}/rounds/{staffed['round_id']}", allow_redirects=False, timeout=10)
    assert refused.status_code == 403 and "您以评审专家身份登录" in refused.text and "/queue" in refused.text
    admin, _ = sign_in(base, "sk_review_admin_seu")
    refused = admin.get(f"{base}/queue", allow_redirects=False, timeout=10)
    assert refused.status_code == 403 and "您以管理员身份" in refused.text
