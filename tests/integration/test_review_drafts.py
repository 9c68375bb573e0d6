"""The work page saves the expert's marks as drafts while they type, and refused forms redirect (issue #17 items 2
and 13). Real HTTP against review: the autosave endpoint, post/redirect/get, an expired session, declining."""
from __future__ import annotations

import html
import re

import requests
from sqlalchemy import delete, select

from tests.integration.test_review_service import csrf, review  # noqa: F401  (fixture)
from tests.signin import redeem, staffed_round

MARKS = {"mark_thought": "8", "mark_appeal": "8", "mark_form": "8"}


def expert_at_work(review):  # noqa: F811
    """An invited expert signed in, their first work, and the page's form token."""
    staffed = staffed_round(review)
    expert, r = redeem(staffed["invites"][0]["sign_in_url"])
    assert r.status_code == 303
    base = review["base"]
    aid = re.search(r'href="/works/([0-9a-f]{32})"', expert.get(f"{base}/queue").text).group(1)
    token = csrf(expert.get(f"{base}/works/{aid}").text)
    return staffed, expert, aid, token


def draft(web, base, aid, token, **fields):
    return web.post(f"{base}/works/{aid}/draft", data=fields, headers={"X-CSRF-Token": token}, timeout=10)


def score_of(store, aid):
    from services.review.models import Score, ScoreLog

    with store.transaction() as s:
        score = s.get(Score, aid)
        log = [(x.action, dict(x.marks), x.comment) for x in
               s.scalars(select(ScoreLog).where(ScoreLog.assignment_id == aid).order_by(ScoreLog.id))]
        return (score and (score.state, dict(score.marks), score.comment, score.total)), log


def test_the_draft_endpoint_saves_partial_marks_refuses_bad_ones_and_never_touches_a_submitted_score(review):  # noqa: F811
    base, store = review["base"], review["store"]
    staffed, expert, aid, token = expert_at_work(review)

    r = draft(expert, base, aid, token, mark_thought="7.5", mark_appeal="", comment="结构清楚")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json"), r.text
    answer = r.json()
    assert answer["saved"] is True and answer["state"] == "draft" and re.fullmatch(r"\d\d:\d\d", answer["saved_time"])
    assert score_of(store, aid)[0] == ("draft", {"thought": 7.5}, "结构清楚", None)
    # typing on in the same sitting: one log line, the latest text
    more = draft(expert, base, aid, token, mark_thought="7.5", mark_appeal="9", comment="结构清楚，语言生动")
    assert more.status_code == 200 and more.json()["saved_at"] != answer["saved_at"]
    assert score_of(store, aid)[1] == [("draft", {"thought": 7.5, "appeal": 9.0}, "结构清楚，语言生动")]
    # the page names the save the browser's copy began from, as the autosave does
    assert f'data-saved-at="{more.json()["saved_at"]}"' in expert.get(f"{base}/works/{aid}").text

    bad = draft(expert, base, aid, token, mark_thought="11")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_marks", bad.text
    assert "0 到 10" in bad.json()["error"]["message"] and bad.json()["error"]["field"] == "thought"
    assert draft(expert, base, aid, "", mark_thought="1").status_code == 403  # no CSRF token: refused
    assert score_of(store, aid)[0][1] == {"thought": 7.5, "appeal": 9.0}

    # no session: 401 in JSON, and where to sign in to come back to the work page
    gone = draft(requests.Session(), base, aid, token, mark_thought="1")
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "not_signed_in", gone.text
    assert gone.json()["error"]["sign_in"] == f"/sign-in?next=%2Fworks%2F{aid}"

    # submitted: a draft changes nothing
    assert expert.post(f"{base}/works/{aid}/score", data={**MARKS, "action": "submit", "csrf_token": token},
                       allow_redirects=False, timeout=10).status_code == 303
    before = score_of(store, aid)
    late = draft(expert, base, aid, token, mark_thought="", comment="改")
    assert late.status_code == 409 and late.json()["error"]["code"] == "already_submitted"
    assert score_of(store, aid) == before and before[0][0] == "submitted"

    # a closed round answers as the form does
    staffed["admin"].post(f"{base}/rounds/{staffed['round_id']}/close", data={"csrf_token": staffed["token"],
                                                                               "confirmed": "1"})
    closed = draft(expert, base, aid, token, mark_thought="5")
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "round_closed"


def test_a_refused_score_form_redirects_to_the_page_with_its_message_and_values(review):  # noqa: F811
    base, store = review["base"], review["store"]
    _, expert, aid, token = expert_at_work(review)
    r = expert.post(f"{base}/works/{aid}/score", data={**MARKS, "mark_form": "", "comment": "<b>好</b>",
                                                       "action": "submit", "csrf_token": token},
                    allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["Location"] == f"/works/{aid}"
    page = expert.get(f"{base}/works/{aid}", timeout=10).text
    assert 'data-code="invalid_marks"' in page and "请给「" in page
    assert 'id="mark_thought"' in page and re.search(r'name="mark_thought"[^>]*value="8"', page)
    assert "&lt;b&gt;好&lt;/b&gt;</textarea>" in page  # escaped, as typed
    assert score_of(store, aid) == (None, [])  # nothing saved
    again = expert.get(f"{base}/works/{aid}", timeout=10).text  # a reload: the page as it is
    assert 'data-code="invalid_marks"' not in again

    # submitted: the notice names the work as the queue does
    r = expert.post(f"{base}/works/{aid}/score", data={**MARKS, "action": "submit", "csrf_token": token}, timeout=10)
    title = re.search(r"<td><a href=\"/works/" + aid + r"\">([^<]+)</a>", expert.get(f"{base}/queue").text).group(1)
    assert f"第 1 件《{title}》评分已提交" in html.unescape(r.text), r.text[:3000]


def test_a_form_posted_after_the_session_ended_signs_in_back_to_the_work_page(review):  # noqa: F811
    base, store = review["base"], review["store"]
    staffed, expert, aid, token = expert_at_work(review)
    assert draft(expert, base, aid, token, mark_thought="6").status_code == 200  # typed before it ended
    from services.review.models import WebSession

    with store.transaction() as s:
        s.execute(delete(WebSession).where(WebSession.role == "reviewer"))
    r = expert.post(f"{base}/works/{aid}/score", data={**MARKS, "action": "submit", "csrf_token": token},
                    allow_redirects=False, timeout=10)
    assert r.status_code == 401 and r.headers["Location"] == f"/sign-in?next=/works/{aid}"
    assert f'name="next" value="/works/{aid}"' in r.text
    assert score_of(store, aid)[0][1] == {"thought": 6.0}  # the draft saved as typed is there

    # a new e-mailed link, opened in the same browser: back to the work page, not the queue
    staffed["admin"].post(f"{base}/rounds/{staffed['round_id']}/invite", data={"csrf_token": staffed["token"]})
    from tests.integration.test_review_service import outbox

    link = outbox(store, "reviewer_invited")[-1]["data"]["sign_in_url"]
    _, r = redeem(link, expert)
    assert r.status_code == 303 and r.headers["Location"] == f"/works/{aid}"
    # in another browser (no way back remembered) the link leads to the queue, as always
    staffed["admin"].post(f"{base}/rounds/{staffed['round_id']}/invite", data={"csrf_token": staffed["token"]})
    _, r = redeem(outbox(store, "reviewer_invited")[-1]["data"]["sign_in_url"])
    assert r.status_code == 303 and r.headers["Location"] == "/queue"


def test_declining_asks_for_confirmation_first(review):  # noqa: F811
    base, store = review["base"], review["store"]
    _, expert, aid, token = expert_at_work(review)
    from services.review.models import Assignment

    r = expert.post(f"{base}/works/{aid}/decline", data={"csrf_token": token, "reason": "时间冲突", "conflict": "on"},
                    allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["Location"] == f"/works/{aid}#decline"
    with store.transaction() as s:
        assert s.get(Assignment, aid).state == "assigned"
    page = expert.get(f"{base}/works/{aid}", timeout=10).text
    assert 'data-code="decline_not_confirmed"' in page and "确认回避/退回该作品" in page
    assert 'id="decline" open' in page and 'value="时间冲突"' in page
    title = re.search(r"<td><a href=\"/works/" + aid + r"\">([^<]+)</a>", expert.get(f"{base}/queue").text).group(1)

    r = expert.post(f"{base}/works/{aid}/decline", data={"csrf_token": token, "reason": "时间冲突", "confirm": "on"},
                    allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["Location"] == "/queue"
    with store.transaction() as s:
        assert s.get(Assignment, aid).state == "declined"
    queue = html.unescape(expert.get(f"{base}/queue", timeout=10).text)
    assert f"已退回第 1 件《{title}》" in queue
    assert "已退回" not in expert.get(f"{base}/queue", timeout=10).text  # said once
