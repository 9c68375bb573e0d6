"""Review's changes reach intake's audit log (issue #15): review and intake running together on a real RabbitMQ,
intake on SQLite and on PostgreSQL.

Works are submitted through intake's API and enter review's round by the real events; a round is then driven
over HTTP by the university's key (its admin), by a person intake handed on (an owner, with a ticket), by a
reviewer through their e-mailed link, and by review's own reminder timer: settings, reviewers added and imported,
the automatic plan, an assignment removed and given by hand, a conflict, a reviewer taken out, sign-in mails and
reminders, a score saved, submitted and changed, a work declined, scoring closed, reopened and closed again, the
selection confirmed. What is proved:
- each change leaves exactly one row in intake's log of the round's university, with its action, object, actor
  (the key named as intake names it, the person, the reviewer, service:review) and address, at the moment review
  made it; a save that changes nothing leaves none;
- a score's row keeps its total, never the comment;
- `review_audited` delivered again leaves no second row;
- the other university's log has none of these rows.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from datetime import datetime

import eventlet
import pytest
from kombu import Connection, Exchange
from sqlalchemy import select

from common import clock
from common.db import Store
from common.events import REVIEW_AUDIT_ACTIONS, make_event
from services.intake.operations.audit import DETAIL_LABELS, REVIEW
from tests.conftest import wait_until
from tests.integration.test_intake_accounts import audit
from tests.integration.test_intake_api import start_intake
from tests.integration.test_review_people import grant, person, signed_in
from tests.integration.test_review_service import csrf
from tests.signin import redeem, sign_in

CSE, ME = "计算机科学与工程学院党委", "机械工程学院党委"
OWNER = person("王书记", "wang@seu.edu.cn", grant("seu", "owner"))
SECRET_COMMENT = "评语机密：只给本轮管理员看"
REVIEW_EVENTS = Exchange("review.events", type="topic", durable=True)


@pytest.fixture
def both(db_url, make_config, start_service, tmp_path):
    """Review (SQLite) and intake (`db_url`) on one broker; intake's seed publishes its tenants, keys and campaigns."""
    from services.review.service import ReviewService

    review_url = f"sqlite:///{tmp_path / 'review.db'}"
    config = make_config("review", DATABASE_URL=review_url, WEB_SECRET="test-secret")
    config["PUBLIC_URL"] = f"http://{config['WEB_SERVER_ADDRESS']}"
    review = start_service(ReviewService, config)
    env = start_intake(db_url, make_config, start_service)  # sets the platform's clock to 2020-06-12 09:00 (Beijing)
    store = Store(review_url)
    yield {**env, "review": review, "review_base": config["PUBLIC_URL"], "review_config": config, "store": store}
    store.dispose()
    clock.set_start(None)


def review_log(portal) -> list[dict]:
    """The rows review's changes left in the portal's university's log, oldest first."""
    return [e for e in reversed(audit(portal, per_page=200)["items"]) if e["action"] in REVIEW_AUDIT_ACTIONS]


def announced(store) -> list[dict]:
    """The review_audited events review wrote to its outbox, in order."""
    from services.review.models import OutboxMessage

    with store.transaction() as s:
        return [m.envelope for m in s.scalars(select(OutboxMessage).where(
            OutboxMessage.event_type == "review_audited").order_by(OutboxMessage.id))]


def invitations(store) -> list[dict]:
    from services.review.models import OutboxMessage

    with store.transaction() as s:
        return [m.envelope["data"] for m in s.scalars(select(OutboxMessage).where(
            OutboxMessage.event_type == "reviewer_invited").order_by(OutboxMessage.id))]


def the_round(store):
    from services.review.models import Entry, Round

    with store.transaction() as s:
        rnd = s.scalar(select(Round).where(Round.tenant == "seu"))
        works = s.scalars(select(Entry.submission_id).where(Entry.round_id == rnd.id)).all() if rnd else []
        return (rnd.id, sorted(works)) if len(works) == 3 else None


def rows_of(store, model, *where):
    with store.transaction() as s:
        return [tuple(r) for r in s.execute(select(*model).where(*where)).all()]


def submit_work(portal, org, title) -> str:
    work = portal.draft("siyige-2020-seu", "story", org, title=title, text="党员教师坚守岗位，守护校园平安。")
    r = portal("POST", f"/api/v1/submissions/{work['id']}/submit")
    assert r.status_code == 200, r.text
    return work["id"]


def test_every_change_on_reviews_pages_leaves_exactly_one_row_in_the_rounds_university_log(both):
    from nameko.testing.services import entrypoint_hook

    from services.review.models import Assignment, Reviewer

    seu, wust, store, base = both["seu"], both["wust"], both["store"], both["review_base"]
    works = [submit_work(seu, CSE, "计算机学院党委战疫故事"), submit_work(seu, ME, "机械学院党委战疫故事"),
             submit_work(seu, CSE, "计算机学院党委战疫故事二")]
    round_id, in_round = wait_until(lambda: the_round(store), timeout=30, what="the three works in SEU's round")
    assert in_round == sorted(works)
    page = f"{base}/rounds/{round_id}"

    # the university's key (issued by intake, its hash reached review by api_key_issued), and an owner handed on
    admin = wait_until(lambda: (lambda w, r: w if r.status_code == 303 else None)(*sign_in(base, seu.key)),
                       timeout=20, what="review knows intake's key")
    owner = signed_in({"base": base, "config": both["review_config"]}, OWNER)

    def act(web, path, **form):
        r = web.post(f"{page}{path}", data={"csrf_token": csrf(web.get(page, timeout=10).text), **form}, timeout=30)
        assert r.status_code == 200 and 'class="error"' not in r.text, (path, r.status_code, r.text[:600])
        return r

    act(admin, "/settings", reviewers_per_work="1", scoring_deadline="2020-06-14")
    act(admin, "/settings", reviewers_per_work="1", scoring_deadline="2020-06-14")  # the same again: no change
    act(owner, "/reviewers", name="专家0", email="e0@example.edu.cn")
    table = "姓名,邮箱,研究方向\n专家1,e1@example.edu.cn,党建\n专家2,e2@example.edu.cn,党建\n专家3,e3@example.edu.cn,党建\n"
    r = admin.post(f"{page}/reviewers/import", data={"csrf_token": csrf(admin.get(page, timeout=10).text)},
                   files={"file": ("专家名单.csv", table.encode("utf-8"), "text/csv")}, timeout=30)
    assert r.status_code == 200 and "新增 3 位" in r.text, r.text[:600]
    act(admin, "/assign")
    reviewers = dict(rows_of(store, (Reviewer.name, Reviewer.id), Reviewer.round_id == round_id))
    assigned = rows_of(store, (Assignment.id, Assignment.reviewer_id, Assignment.submission_id),
                       Assignment.round_id == round_id)
    assert len(assigned) == 3
    # the owner takes one assignment back and gives the work by hand to a reviewer who has none
    aid, _, sid = assigned[0]
    idle = next(rid for rid in reviewers.values() if rid not in {r for _, r, _ in assigned})
    act(owner, f"/assignments/{aid}/remove")
    act(owner, "/assignments", reviewer_id=idle, submission_id=sid)
    # the key's admin: a conflict on an assigned pair (the work goes to a colleague), a reviewer taken out
    _, conflicted, conflict_work = assigned[1]
    act(admin, "/conflicts", reviewer_id=conflicted, submission_id=conflict_work, reason="指导过作者")
    leaving = next(rid for name, rid in reviewers.items() if rid not in (idle, conflicted)
                   and rows_of(store, (Assignment.id,), Assignment.reviewer_id == rid, Assignment.state == "assigned"))
    act(admin, f"/reviewers/{leaving}/remove")
    act(admin, "/invite")
    # review's hourly timer: two days before the deadline, the 3-day reminder to those with open work
    with entrypoint_hook(both["review"], "remind_reviewers") as remind:
        assert remind() > 0

    # a reviewer with their link: a draft, the submission, a change; then a work declined
    links = [i for i in invitations(store) if not i.get("reminder")]
    scorer = next(i for i in links if i["reviewer_id"] != leaving)
    expert, r = redeem(scorer["sign_in_url"])
    assert r.status_code == 303
    mine = list(dict.fromkeys(re.findall(r'href="/works/([0-9a-f]{32})"', expert.get(f"{base}/queue").text)))
    scored = mine[0]
    token = csrf(expert.get(f"{base}/works/{scored}").text)
    marks = {"csrf_token": token, "mark_thought": "8", "mark_appeal": "8", "mark_form": "8", "comment": SECRET_COMMENT}
    for form in ({**marks, "action": "draft", "mark_form": ""}, {**marks, "action": "submit"},
                 {**marks, "action": "submit", "mark_thought": "10"}):
        assert expert.post(f"{base}/works/{scored}/score", data=form, timeout=10).status_code == 200
    decliner_link = next(i for i in links if i["reviewer_id"] not in (leaving, scorer["reviewer_id"]))
    decliner, _ = redeem(decliner_link["sign_in_url"])
    declined = re.search(r'href="/works/([0-9a-f]{32})"', decliner.get(f"{base}/queue").text).group(1)
    r = decliner.post(f"{base}/works/{declined}/decline", timeout=10,
                      data={"csrf_token": csrf(decliner.get(f"{base}/works/{declined}").text), "reason": "时间冲突",
                            "confirm": "on"})
    assert r.status_code == 200

    # closing, reopening (the owner), closing again, and the owner's confirmed selection
    act(admin, "/close", confirmed="1")  # experts had work open: closing is confirmed (issue #17 item 5)
    act(owner, "/reopen")
    act(admin, "/close", confirmed="1")  # experts had work open: closing is confirmed (issue #17 item 5)
    [(selected,)] = rows_of(store, (Assignment.submission_id,), Assignment.id == scored)
    ranking = owner.get(f"{page}/ranking", timeout=10)
    r = owner.post(f"{page}/selection", data={"csrf_token": csrf(ranking.text), "selected": [selected]}, timeout=30)
    assert r.status_code == 200 and "已确认" in r.text

    # ---------------------------------------------------------------- what reached intake's log
    sent = announced(store)
    expected = {"round.settings_changed": 1, "reviewer.added": 1, "reviewers.imported": 1, "assignments.planned": 1,
                "assignment.removed": 1, "assignment.added": 1, "conflict.declared": 1, "reviewer.removed": 1,
                "reviewers.invited": 2, "score.saved": 1, "score.submitted": 1, "score.changed": 1,
                "assignment.declined": 1, "round.closed": 2, "round.reopened": 1, "round.selection_confirmed": 1}
    assert Counter(e["data"]["action"] for e in sent) == expected
    rows = wait_until(lambda: (lambda got: got if len(got) >= len(sent) else None)(review_log(seu)), timeout=30,
                      what="every change of review in SEU's log")
    assert Counter(e["action"] for e in rows) == expected

    key, account = f"key:{seu.key[:10]}", f"account:{OWNER['account_id']} (王书记)"
    reviewer_of = {rid: f"reviewer:{rid} ({name})" for name, rid in reviewers.items()}
    by = {"round.settings_changed": key, "reviewer.added": account, "reviewers.imported": key,
          "assignments.planned": key, "assignment.removed": account, "assignment.added": account,
          "conflict.declared": key, "reviewer.removed": key, "score.saved": reviewer_of[scorer["reviewer_id"]],
          "score.submitted": reviewer_of[scorer["reviewer_id"]], "score.changed": reviewer_of[scorer["reviewer_id"]],
          "assignment.declined": reviewer_of[decliner_link["reviewer_id"]], "round.reopened": account,
          "round.closed": key, "round.selection_confirmed": account}
    unmatched = list(rows)  # the log's times are to the second: two like changes in one second match either row
    for event in sent:
        data = event["data"]
        same = [e for e in unmatched if (e["action"], e["object_id"]) == (data["action"], data["object_id"])
                and datetime.fromisoformat(e["at"]) == datetime.fromisoformat(data["at"]).replace(microsecond=0)]
        assert same, data
        row = same[0]
        unmatched.remove(row)
        assert row["object_type"] == data["object_type"] and data["tenant"] == event["tenant"] == "seu"
        if data["action"] == "reviewers.invited" and data["detail"]["reminder"]:
            assert (row["actor"], row["address"]) == (REVIEW, None)  # the timer: no one, from nowhere
        else:
            assert (row["actor"], row["address"]) == (by.get(data["action"], key), "127.0.0.1"), data["action"]
        # the round named in every row; every word of the detail has its label on the page
        assert row["detail"].get("title" if row["object_type"] == "round" else "round_title") == \
            "东南大学 · 战疫故事汇 · 校级评审"
        assert row["object_type"] == "round" or row["detail"]["round_id"] == round_id
        assert set(row["detail"]) <= set(DETAIL_LABELS), set(row["detail"]) - set(DETAIL_LABELS)

    def one(action):
        [row] = [e for e in rows if e["action"] == action]
        return row

    assert one("round.settings_changed")["detail"]["scoring_deadline"] == "2020-06-14"
    assert one("reviewer.added")["detail"]["name"] == "专家0" and one("reviewer.added")["object_type"] == "reviewer"
    assert {k: one("reviewers.imported")["detail"][k] for k in ("filename", "added", "total")} == {
        "filename": "专家名单.csv", "added": 3, "total": 3}
    assert one("assignment.removed")["object_id"] == aid and one("assignment.removed")["detail"]["submission_id"] == sid
    assert one("conflict.declared")["object_id"] == conflicted and one("conflict.declared")["detail"]["reason"] == "指导过作者"
    assert one("reviewer.removed")["object_id"] == leaving
    assert [e["object_id"] for e in rows if e["action"].startswith("score.")] == [scored] * 3
    assert (one("score.saved")["detail"].get("score_total"), one("score.submitted")["detail"]["score_total"],
            one("score.changed")["detail"]["score_total"], one("score.changed")["detail"]["previous_score_total"]) == (
        None, 80.0, 88.0, 80.0)
    assert one("assignment.declined")["object_id"] == declined
    assert one("round.selection_confirmed")["detail"]["selected"] == [selected]
    assert all(SECRET_COMMENT not in json.dumps(e, ensure_ascii=False) for e in audit(seu, per_page=200)["items"])
    # intake forwarded the selected work itself: its own row, by review's event, follows
    wait_until(lambda: [e for e in audit(seu, per_page=200)["items"] if e["action"] == "selection.forwarded"],
               timeout=20, what="intake's forwarding row")

    # delivered again (at least once): still one row; a later event (a marker) shows intake handled the queue
    again = next(e for e in sent if e["data"]["action"] == "score.submitted")
    marker = make_event("review_audited", "seu", {**again["data"], "object_id": "marker", "action": "round.closed"})
    with Connection(both["config"]["AMQP_URI"]) as conn:
        producer = conn.Producer()
        for envelope in (again, again, marker.to_dict()):
            producer.publish(envelope, exchange=REVIEW_EVENTS, routing_key="review_audited", serializer="json",
                             delivery_mode=2)
    wait_until(lambda: [e for e in review_log(seu) if e["object_id"] == "marker"], timeout=20, what="the marker's row")
    eventlet.sleep(1.0)  # a duplicate still being handled would have committed by now
    after = review_log(seu)
    assert len(after) == len(sent) + 1
    assert len([e for e in after if e["action"] == "score.submitted"]) == 1

    # the other university's log holds none of it, nor does the ministry's
    assert [e for e in audit(wust, per_page=200)["items"] if e["action"] in REVIEW_AUDIT_ACTIONS] == []
    assert [e for e in audit(both["ministry"], per_page=200)["items"] if e["action"] in REVIEW_AUDIT_ACTIONS] == []
    assert hashlib.sha256(seu.key.encode()).hexdigest() not in json.dumps(after, ensure_ascii=False)
