"""Issue #17 "beyond the table stakes" over HTTP: experts discuss a work their reviews disagree on (专家讨论), blind to
each other (专家甲/乙, 「管理员」) while the round's admin reads names; posts are audited, read-only once the round
closes, and 404 for anyone off the work. And the experts' comments for the submitting org (给报送单位的意见): saved by
the form and the autosave, shown to the admin beside the confidential comment, sent with the results only when the
admin chooses so on confirming."""
import io
import re

from openpyxl import load_workbook
from sqlalchemy import select

from tests.integration.test_review_service import OTHER_KEY, admin, csrf, outbox, review  # noqa: F401 - review is a fixture
from tests.signin import redeem, staffed_round

W1, W2 = "s-o-cse-1", "s-o-me-1"
E0, E1 = "e0@example.edu.cn", "e1@example.edu.cn"


def _assignments(store, round_id) -> dict[tuple[str, str], str]:
    from services.review.models import Assignment, Reviewer

    with store.transaction() as s:
        rows = s.execute(select(Reviewer.email, Assignment.submission_id, Assignment.id)
                         .join(Reviewer, Reviewer.id == Assignment.reviewer_id)
                         .where(Assignment.round_id == round_id)).all()
    return {(email, sid): aid for email, sid, aid in rows}


def _first_assigned(store, round_id, submission_id) -> str:
    """The work's first assignment (the one read as 专家甲)."""
    from services.review.models import Assignment

    with store.transaction() as s:
        return s.scalars(select(Assignment.id).where(Assignment.round_id == round_id,
                                                     Assignment.submission_id == submission_id)
                         .order_by(Assignment.created_at, Assignment.id)).first()


def _score(web, base, aid, mark, comment="", for_org="", action="submit"):
    t = csrf(web.get(f"{base}/works/{aid}").text)
    r = web.post(f"{base}/works/{aid}/score", data={
        "csrf_token": t, "action": action, "mark_thought": mark, "mark_appeal": mark, "mark_form": mark,
        "comment": comment, "comment_for_org": for_org}, allow_redirects=False)
    assert r.status_code == 303 and "saved=" in r.headers["Location"], (r.status_code, r.headers.get("Location"))


def _post(web, base, path, body, page=None):
    token = csrf(web.get(base + (page or path.rsplit("/discussion", 1)[0])).text)
    return web.post(f"{base}{path}", data={"csrf_token": token, "body": body}, allow_redirects=False)


def _thread(html: str) -> str:
    found = re.search(r'<section class="discussion" id="discussion">(.*?)</section>', html, re.S)
    return found.group(1) if found else ""


def _posts(store):
    from services.review.models import DiscussionPost

    with store.transaction() as s:
        return [(p.submission_id, p.assignment_id, p.body) for p in s.scalars(select(DiscussionPost).order_by(
            DiscussionPost.id))]


def test_experts_discuss_a_disputed_work_blind_with_the_admin_and_only_while_the_round_is_open(review):
    base, store = review["base"], review["store"]
    staff = staffed_round(review, reviewers=2)
    web, token, round_id = staff["admin"], staff["token"], staff["round_id"]
    web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "2", "csrf_token": token})
    web.post(f"{base}/rounds/{round_id}/assign", data={"csrf_token": token})  # both experts on both works
    links = {i["email"]: i["sign_in_url"] for i in staff["invites"]}
    first, second = redeem(links[E0])[0], redeem(links[E1])[0]
    aids = _assignments(store, round_id)
    a0, a1 = aids[(E0, W1)], aids[(E1, W1)]
    label = {a: "专家甲" if a == _first_assigned(store, round_id, W1) else "专家乙" for a in (a0, a1)}
    assert sorted(label.values()) == ["专家乙", "专家甲"]

    # One score is no disagreement: no thread, and a message is refused (shown on the work page, nothing stored).
    _score(first, base, a0, "9")
    assert 'id="discussion"' not in first.get(f"{base}/works/{a0}").text
    r = _post(first, base, f"/works/{a0}/discussion", "先说两句")
    assert r.status_code == 303
    assert "没有开启专家讨论" in first.get(f"{base}/works/{a0}").text and _posts(store) == []

    # The second score is far apart: the ranking flags 分歧大 and both experts see the thread, blind.
    _score(second, base, a1, "3")
    assert "分歧大" in web.get(f"{base}/rounds/{round_id}/ranking").text
    page = first.get(f"{base}/works/{a0}").text
    assert 'id="discussion"' in page and f"您是「{label[a0]}」" in page
    r = _post(first, base, f"/works/{a0}/discussion", "<b>感染力</b>我给得高，因为结尾真实")
    assert r.status_code == 303 and r.headers["Location"].endswith("?posted=1#discussion")
    theirs = _thread(second.get(f"{base}/works/{a1}").text)
    assert f"<strong>{label[a0]}</strong>" in theirs and "&lt;b&gt;感染力&lt;/b&gt;" in theirs and "<b>感染力" not in theirs
    mine = _thread(first.get(f"{base}/works/{a0}").text)
    assert f"<strong>{label[a0]}（我）</strong>" in mine

    # The admin reads names and speaks as 「管理员」 to the experts.
    entry = web.get(f"{base}/rounds/{round_id}/entries/{W1}").text
    assert f"<strong>专家0（{label[a0]}）</strong>" in _thread(entry)
    assert _post(web, base, f"/rounds/{round_id}/entries/{W1}/discussion", "请两位专家再看表现形式").status_code == 303
    theirs = _thread(second.get(f"{base}/works/{a1}").text)
    assert "<strong>管理员</strong>" in theirs and "请两位专家再看表现形式" in theirs
    for html in (theirs, mine, _thread(first.get(f"{base}/works/{a0}").text)):
        assert not any(name in html for name in ("专家0", "专家1", E0, E1, "单位密钥"))
    # too long, empty: refused with the text kept; no CSRF token: 403
    r = _post(second, base, f"/works/{a1}/discussion", "长" * 1001)
    page = second.get(f"{base}/works/{a1}").text
    assert r.status_code == 303 and "最多 1000 字" in page and "长" * 1001 in page
    _post(second, base, f"/works/{a1}/discussion", "   ")
    assert "请输入讨论内容" in second.get(f"{base}/works/{a1}").text
    assert second.post(f"{base}/works/{a1}/discussion", data={"body": "无令牌"}, allow_redirects=False).status_code == 403
    assert [p[2] for p in _posts(store)] == ["<b>感染力</b>我给得高，因为结尾真实", "请两位专家再看表现形式"]

    # Every message is in intake's audit log: who, which work, how long; never what was said.
    audited = [e["data"] for e in outbox(store, "review_audited") if e["data"]["action"] == "discussion.posted"]
    assert [(d["object_type"], d["object_id"], d["detail"]["chars"]) for d in audited] == [
        ("submission", W1, len("<b>感染力</b>我给得高，因为结尾真实")), ("submission", W1, len("请两位专家再看表现形式"))]
    assert audited[0]["actor"].startswith("reviewer:") and audited[1]["actor"] == "key (单位密钥)"
    assert not any("感染力" in str(d) or "表现形式" in str(d) for d in audited)

    # After the discussion the second expert revises their submitted score (the existing rules).
    _score(second, base, a1, "6")

    # Nobody off the work reads or writes it: another expert's assignment, another university's admin.
    assert second.get(f"{base}/works/{a0}").status_code == 404
    assert _post(second, base, f"/works/{a0}/discussion", "冒充", page=f"/works/{a1}").status_code == 404
    other = admin(base, OTHER_KEY)
    assert other.get(f"{base}/rounds/{round_id}/entries/{W1}").status_code == 404
    assert _post(other, base, f"/rounds/{round_id}/entries/{W1}/discussion", "越权", page="/").status_code == 404
    # an expert who declined a work is off it: its page and thread answer 404, even once the admin opens it
    b2 = aids[(E1, W2)]
    page = second.get(f"{base}/works/{b2}").text
    second.post(f"{base}/works/{b2}/decline", data={"csrf_token": csrf(page), "confirm": "on", "reason": "出差"})
    assert 'id="open-discussion"' in web.get(f"{base}/rounds/{round_id}/entries/{W2}").text
    r = web.post(f"{base}/rounds/{round_id}/entries/{W2}/discussion/open", data={"csrf_token": token},
                 allow_redirects=False)
    assert r.status_code == 303
    assert 'id="discussion"' in first.get(f"{base}/works/{aids[(E0, W2)]}").text  # opened by the admin
    assert second.get(f"{base}/works/{b2}").status_code == 404
    assert _post(second, base, f"/works/{b2}/discussion", "我还在", page=f"/works/{a1}").status_code == 404
    assert any(e["data"]["action"] == "discussion.opened" for e in outbox(store, "review_audited"))

    # A closed round keeps the thread to read; nobody writes to it any more.
    web.post(f"{base}/rounds/{round_id}/close", data={"csrf_token": token, "confirmed": "1"})
    page = first.get(f"{base}/works/{a0}").text
    assert "请两位专家再看表现形式" in page and 'id="discussion-form"' not in page and 'id="discussion-closed"' in page
    _post(first, base, f"/works/{a0}/discussion", "还想补充")
    assert "讨论只能查看" in first.get(f"{base}/works/{a0}").text
    _post(web, base, f"/rounds/{round_id}/entries/{W1}/discussion", "管理员补充")
    assert "讨论只能查看" in web.get(f"{base}/rounds/{round_id}/entries/{W1}").text
    assert len(_posts(store)) == 2

    # Confirmed without choosing to send the comments for the orgs: the results carry none.
    r = web.post(f"{base}/rounds/{round_id}/selection", data={"csrf_token": token, "selected": [W1], "confirmed": "1"})
    assert r.status_code == 200, r.text[:300]
    (made,) = outbox(store, "selection_made")
    assert all("comments_for_org" not in result for result in made["data"]["results"])


def test_comments_for_the_org_are_kept_apart_and_sent_only_when_the_admin_chooses(review):
    from services.review.models import Score, ScoreLog

    base, store = review["base"], review["store"]
    staff = staffed_round(review, reviewers=1)  # 专家0 has both works
    web, token, round_id = staff["admin"], staff["token"], staff["round_id"]
    expert = redeem(staff["invites"][0]["sign_in_url"])[0]
    aids = _assignments(store, round_id)
    a1, a2 = aids[(E0, W1)], aids[(E0, W2)]
    page = expert.get(f"{base}/works/{a1}").text
    assert "给管理员的评语（保密）" in page and "给报送单位的意见（可选，评审结束后由管理员决定是否随结果发送）" in page

    # the autosave keeps it as it keeps the marks
    r = expert.post(f"{base}/works/{a1}/draft", data={"mark_thought": "8", "comment_for_org": "建议补充细节"},
                    headers={"X-CSRF-Token": csrf(page)})
    assert r.status_code == 200, r.text
    with store.transaction() as s:
        assert s.get(Score, a1).comment_for_org == "建议补充细节"
    assert "建议补充细节" in expert.get(f"{base}/works/{a1}").text
    # a refused form comes back with what was typed in both boxes
    t = csrf(expert.get(f"{base}/works/{a1}").text)
    expert.post(f"{base}/works/{a1}/score", data={"csrf_token": t, "action": "submit", "mark_thought": "99",
                                                  "comment": "保密的话", "comment_for_org": "公开的话"},
                allow_redirects=False)
    again = expert.get(f"{base}/works/{a1}").text
    assert "保密的话" in again and "公开的话" in again
    too_long = expert.post(f"{base}/works/{a1}/draft", data={"comment_for_org": "长" * 2001},
                           headers={"X-CSRF-Token": csrf(again)})
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "comment_for_org_too_long"

    _score(expert, base, a1, "8", comment="作者可能是某学院的，保密", for_org="建议补充一线细节，结构可再紧凑")
    _score(expert, base, a2, "7", comment="一般")
    with store.transaction() as s:
        logged = s.scalars(select(ScoreLog).where(ScoreLog.assignment_id == a1).order_by(ScoreLog.id.desc())).first()
        assert logged.comment_for_org == "建议补充一线细节，结构可再紧凑"

    entry = web.get(f"{base}/rounds/{round_id}/entries/{W1}").text
    assert "<th>评语（保密）</th><th>给报送单位的意见</th>" in entry
    assert '<td class="comment">作者可能是某学院的，保密</td>' in entry
    assert '<td class="comment-for-org">建议补充一线细节，结构可再紧凑</td>' in entry

    book = load_workbook(io.BytesIO(web.get(f"{base}/rounds/{round_id}/export.xlsx").content))
    rows = [r for r in book["评分明细"].iter_rows(min_row=2, values_only=True)]
    assert rows[0][-2:] == ("评语（保密）", "给报送单位的意见")
    assert ("作者可能是某学院的，保密", "建议补充一线细节，结构可再紧凑") in [r[-2:] for r in rows[1:]]

    web.post(f"{base}/rounds/{round_id}/close", data={"csrf_token": token, "confirmed": "1"})
    ranking = web.get(f"{base}/rounds/{round_id}/ranking").text
    assert 'name="send_comments"' in ranking
    r = web.post(f"{base}/rounds/{round_id}/selection", data={
        "csrf_token": token, "selected": [W1], "send_comments": "1", "confirmed": "1"})
    assert r.status_code == 200, r.text[:300]
    (made,) = outbox(store, "selection_made")
    results = {x["submission_id"]: x for x in made["data"]["results"]}
    assert results[W1]["comments_for_org"] == ["建议补充一线细节，结构可再紧凑"]
    assert results[W2]["comments_for_org"] == []
    assert "保密" not in str(made) and "专家0" not in str(made) and E0 not in str(made)
    audited = [e["data"] for e in outbox(store, "review_audited") if e["data"]["action"] == "round.selection_confirmed"]
    assert audited[-1]["detail"]["comments_for_org_sent"] is True
