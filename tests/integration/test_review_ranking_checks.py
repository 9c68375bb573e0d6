"""Issue #17 items 5 and 7 over HTTP: closing and confirming with incomplete data ask once more, naming what is
missing and what will happen; a work short of k scores is flagged and not pre-ticked; ?sort=raw orders by the raw
mean and marks the rows whose place differs from the corrected order."""
import re

from sqlalchemy import select

from tests.integration.test_review_service import csrf, outbox, review  # noqa: F401 - review is a fixture
from tests.signin import redeem, staffed_round


def rows_of(html: str) -> list[tuple[str, str]]:
    """(work, the row's text) in the page's order."""
    return re.findall(r'data-work="([^"]+)">(.*?)</tr>', html, re.S)


def test_incomplete_scoring_asks_before_closing_and_confirming_and_the_two_orders_are_marked(review):
    from services.review.models import Assignment, Round

    base, store = review["base"], review["store"]
    staff = staffed_round(review, reviewers=3, works=("o-cse", "o-me", "o-ee"))
    web, token, round_id = staff["admin"], staff["token"], staff["round_id"]
    web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "2", "csrf_token": token})
    web.post(f"{base}/rounds/{round_id}/assign", data={"csrf_token": token})  # a second reviewer for each work
    reviewer = {i["email"]: i["reviewer_id"] for i in staff["invites"]}
    links = {i["email"]: i["sign_in_url"] for i in staff["invites"]}
    e = [reviewer[f"e{n}@example.edu.cn"] for n in range(3)]
    with store.transaction() as s:
        pairs = s.execute(select(Assignment.reviewer_id, Assignment.submission_id, Assignment.id)
                          .where(Assignment.round_id == round_id, Assignment.state == "assigned")).all()
    works_of = {r: {sid: aid for rid, sid, aid in pairs if rid == r} for r in e}
    assert all(len(w) == 2 for w in works_of.values())
    w12 = (set(works_of[e[1]]) & set(works_of[e[2]])).pop()
    w01 = (set(works_of[e[0]]) & set(works_of[e[1]])).pop()
    w02 = (set(works_of[e[0]]) & set(works_of[e[2]])).pop()

    experts = [redeem(links[f"e{n}@example.edu.cn"])[0] for n in range(3)]  # single-use links: once each

    def score(n, work, marks):
        expert = experts[n]
        aid = works_of[e[n]][work]
        t = csrf(expert.get(f"{base}/works/{aid}").text)
        r = expert.post(f"{base}/works/{aid}/score", data={"csrf_token": t, "action": "submit", "mark_thought": marks[0],
                                                           "mark_appeal": marks[1], "mark_form": marks[2]})
        assert r.status_code == 200

    score(0, w01, ("10", "10", "10"))  # a lenient expert: 100
    score(0, w02, ("10", "10", "10"))
    score(1, w01, ("6", "6", "6"))  # 60: raw mean 80
    score(1, w12, ("8", "8", "7.5"))  # 78.5
    score(2, w12, ("8", "8", "7.5"))  # raw mean 78.5, but its experts are not lenient: higher once corrected
    # e2 never submits w02: one score missing, w02 has 1 of 2

    # post/redirect/get (issue #17 item 13): the refused POST answers 303 to the round page, which asks once
    posted = web.post(f"{base}/rounds/{round_id}/close", data={"csrf_token": token}, allow_redirects=False)
    assert posted.status_code == 303 and posted.headers["Location"] == f"/rounds/{round_id}"
    r = web.get(f"{base}/rounds/{round_id}")
    assert r.status_code == 409 and 'id="confirm-close"' in r.text
    again = web.get(f"{base}/rounds/{round_id}")  # a reload shows the page as it is: the question was asked once
    assert again.status_code == 200 and 'id="confirm-close"' not in again.text
    assert "1 份评分未提交" in r.text and "1 件作品的已提交评分少于 2 份" in r.text
    assert 'name="confirmed" value="1"' in r.text and f'value="{token}"' in r.text
    with store.transaction() as s:
        assert s.get(Round, round_id).state == "open"  # nothing closed until confirmed
    r = web.post(f"{base}/rounds/{round_id}/close", data={"csrf_token": token, "confirmed": "1"}, allow_redirects=False)
    assert r.status_code == 303

    page = web.get(f"{base}/rounds/{round_id}/ranking").text
    rows = dict(rows_of(page))
    assert "评分不足：1/2" in rows[w02] and "checked" not in rows[w02]  # ranked first, yet not pre-ticked
    assert "评分不足" not in rows[w01] and "checked" in rows[w01] and "checked" in rows[w12]
    assert [w for w, _ in rows_of(page)] == [w02, w12, w01]  # corrected order (the default)
    assert "按原始均分为第 3 名" in rows[w12] and "按原始均分为第 2 名" in rows[w01]
    assert "按原始均分" not in rows[w02]
    assert 'id="few-scores"' in page and "3 位专家的评分少于 5 份（最少 1 份）" in page

    raw = web.get(f"{base}/rounds/{round_id}/ranking?sort=raw").text
    assert [w for w, _ in rows_of(raw)] == [w02, w01, w12]
    raw_rows = dict(rows_of(raw))
    assert "按校正后得分为第 2 名" in raw_rows[w12] and "按校正后得分为第 3 名" in raw_rows[w01]
    assert "<strong>按原始平均分</strong>" in raw
    assert [w for w, _ in rows_of(web.get(f"{base}/rounds/{round_id}/ranking?sort=<x>").text)] == [w02, w12, w01]

    # confirming a choice with the short work asks, naming what will happen; the complete choice is one click
    r = web.post(f"{base}/rounds/{round_id}/selection", data={"csrf_token": token, "selected": [w02, w12]})
    assert r.status_code == 409 and 'id="confirm-selection"' in r.text
    assert r.history[0].status_code == 303 and r.url.endswith(f"/rounds/{round_id}/ranking")  # answered by a GET
    assert "所选 1 件作品的已提交评分少于 2 份" in r.text and "将向教育部报送 2 件，不能撤回" in r.text
    assert outbox(store, "selection_made") == []
    assert r.text.count(f'name="selected" value="{w02}">') == 1  # carried in the confirming form
    r = web.post(f"{base}/rounds/{round_id}/selection",
                 data={"csrf_token": token, "selected": [w02, w12], "confirmed": "1"})
    assert r.status_code == 200 and "已确认" in r.text
    made = outbox(store, "selection_made")
    assert len(made) == 1 and made[0]["data"]["selected"] == [w02, w12]
