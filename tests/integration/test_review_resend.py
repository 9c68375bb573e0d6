"""An expert gets back in alone, and the admin re-sends to one expert, not to everyone (issue #17 item 3).

Over HTTP against the review service (real RabbitMQ, SQLite); the mails are `reviewer_invited` in review's outbox,
which notify turns into mail (tests/integration/test_notify_contact.py reads that mail)."""
from __future__ import annotations

import requests

from tests.integration.test_review_service import outbox, review  # noqa: F401 - review is a fixture
from tests.signin import form_token, redeem, staffed_round


def _ask_at_sign_in(base: str, email: str, browser: requests.Session | None = None) -> requests.Response:
    browser = browser or requests.Session()
    page = browser.get(f"{base}/sign-in", timeout=10)
    assert "向我的邮箱重新发送登录链接" in page.text
    return browser.post(f"{base}/sign-in/resend", data={"csrf_token": form_token(page.text), "email": email},
                        timeout=10)


def test_an_expert_with_no_link_at_hand_asks_at_the_sign_in_page_and_strangers_learn_nothing(review):  # noqa: F811
    base, store = review["base"], review["store"]
    staffed = staffed_round(review, reviewers=2)
    # e1 signed in with the invitation days ago; now the session is over and the mail is gone
    assert redeem(staffed["invites"][1]["sign_in_url"])[1].status_code == 303
    before = len(outbox(store, "reviewer_invited"))

    asked = _ask_at_sign_in(base, "  E1@Example.edu.cn ")  # as typed: spaces, capitals
    stranger = _ask_at_sign_in(base, "nobody@example.edu.cn")
    assert asked.status_code == stranger.status_code == 200
    # the same sentence for an expert and a stranger: the page must not tell who reviews
    assert asked.text.count("新的登录链接已发往该邮箱") == stranger.text.count("新的登录链接已发往该邮箱") == 1
    fresh = outbox(store, "reviewer_invited")[before:]
    assert [m["data"]["email"] for m in fresh] == ["e1@example.edu.cn"]
    assert fresh[0]["data"]["round_id"] == staffed["round_id"] and fresh[0]["data"]["campaign_id"] == "siyige-2020-seu"
    _ask_at_sign_in(base, "e1@example.edu.cn")  # again within ten minutes, while the new link is unused: no mail
    assert len(outbox(store, "reviewer_invited")) == before + 1
    assert redeem(fresh[0]["data"]["sign_in_url"])[1].status_code == 303  # the new link signs in


def test_the_admin_re_sends_to_one_expert_and_is_told_why_not_when_it_cannot(review):  # noqa: F811
    base, store = review["base"], review["store"]
    staffed = staffed_round(review, reviewers=3, works=("o-cse", "o-me"))  # 3 experts, 2 works of 1 review each
    web, round_id = staffed["admin"], staffed["round_id"]
    page = web.get(f"{base}/rounds/{round_id}").text
    assert page.count("重发登录邮件") == 2  # only experts with work get the button
    reviewer_id = staffed["invites"][0]["reviewer_id"]
    before = len(outbox(store, "reviewer_invited"))
    sent = web.post(f"{base}/rounds/{round_id}/reviewers/{reviewer_id}/invite",
                    data={"csrf_token": form_token(page)}, allow_redirects=False)
    assert sent.status_code == 303 and "msg=invited_one" in sent.headers["Location"]
    assert "已向该专家重新发送登录邮件" in web.get(f"{base}{sent.headers['Location']}").text
    fresh = outbox(store, "reviewer_invited")[before:]
    assert [m["data"]["reviewer_id"] for m in fresh] == [reviewer_id]  # one mail to one person, not to all three

    idle = _idle_reviewer(store, round_id)
    refused = web.post(f"{base}/rounds/{round_id}/reviewers/{idle}/invite", data={"csrf_token": form_token(page)})
    assert refused.status_code == 409 and "还没有分配作品" in refused.text
    assert web.post(f"{base}/rounds/{round_id}/reviewers/{'0' * 32}/invite",
                    data={"csrf_token": form_token(page)}).status_code == 404
    audited = [m["data"] for m in outbox(store, "review_audited") if m["data"]["action"] == "reviewers.invited"]
    assert audited[-1]["object_id"] == reviewer_id
    assert len(outbox(store, "reviewer_invited")) == before + 1


def _idle_reviewer(store, round_id: str) -> str:
    """The expert of the round with no work (3 experts, 2 works of one review each)."""
    from sqlalchemy import select

    from services.review.models import Assignment, Reviewer

    with store.transaction() as s:
        busy = set(s.scalars(select(Assignment.reviewer_id)))
        return next(r.id for r in s.scalars(select(Reviewer).where(Reviewer.round_id == round_id)) if r.id not in busy)
