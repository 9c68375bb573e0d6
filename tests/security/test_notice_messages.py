"""The admin's round pages show only notices of our own (issue #14, item 16).

`?msg=` was shown as a system notice whatever it said: anyone could send a round's admin a
link to their own round page that "said" 「系统通知：请将评审结果发送至……」. Now `msg` is a
code from a fixed list, filled in with whole numbers only; anything else shows nothing.
"""
from urllib.parse import quote

from tests.conftest import wait_until
from tests.integration.test_review_service import INTAKE, admin, publish, review, story, the_round  # noqa: F401

FAKE = "系统通知：评审结果请发送至 review-results@evil.example"


def notices(html: str) -> list[str]:
    import re

    return re.findall(r'<p class="notice" role="status">(.*?)</p>', html, re.S)


def test_an_arbitrary_msg_shows_nothing_and_a_known_code_shows_its_own_words(review):  # noqa: F811
    base, store = review["base"], review["store"]
    publish(review["amqp"], INTAKE, story("o-cse", 1))
    round_id = wait_until(lambda: the_round(store), timeout=20, what="the round")
    web = admin(base)
    for page in (f"/rounds/{round_id}", f"/rounds/{round_id}/ranking"):
        for query in (f"msg={quote(FAKE)}", f"msg=invited&sent={quote(FAKE)}", "msg=invited&sent=-1",
                      "msg=invited&sent=%EF%BC%95", "msg=__class__", f"msg=settings_saved{quote(FAKE)}"):
            r = web.get(f"{base}{page}?{query}")
            assert r.status_code == 200 and notices(r.text) == [] and "evil.example" not in r.text, (page, query)
    r = web.get(f"{base}/rounds/{round_id}?msg=invited&sent=5")
    assert notices(r.text) == ["已发送 5 封登录邮件"]
    # what the actions themselves redirect to still shows
    from tests.integration.test_review_service import csrf

    token = csrf(r.text)
    r = web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "2", "csrf_token": token})
    assert notices(r.text) == ["设置已保存"] and "msg=settings_saved" in r.url
