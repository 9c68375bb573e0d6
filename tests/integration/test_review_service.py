"""Review against a real RabbitMQ: works enter rounds from events; admins and reviewers over HTTP.

The browser test (tests/browser/) drives the same pages in Chromium; here the
rules behind them are checked with plain HTTP: blindness, 404 for what is not
yours, CSRF, single-use links, scoring, ranking, selection and its event.
"""
import hashlib
import io
import re
from datetime import datetime

import pytest
import requests
from kombu import Connection, Exchange
from openpyxl import load_workbook
from sqlalchemy import select

from common import clock
from common.db import Store
from common.events import make_event
from tests.conftest import wait_until
from tests.signin import redeem, sign_in

INTAKE = Exchange("intake.events", type="topic", durable=True)
MEDIA = Exchange("media.events", type="topic", durable=True)
ADMIN_KEY = "sk_review_admin_seu"
OTHER_KEY = "sk_review_admin_wust"
BEFORE_THE_DEADLINE = "2020-07-20T09:00:00+08:00"


def publish(amqp, exchange, *events):
    with Connection(amqp) as conn:
        producer = conn.Producer()
        for ev in events:
            producer.publish(ev.to_dict(), exchange=exchange, routing_key=ev.type, serializer="json", delivery_mode=2)


def campaign_event(campaign_id="siyige-2020-seu", owner="seu"):
    from common.campaign import campaign_event_data, load_builtin_definitions

    return make_event("campaign_published", owner, campaign_event_data(load_builtin_definitions()[campaign_id]))


ORG_NAMES = {"o-cse": "计算机科学与工程学院党委", "o-me": "机械工程学院党委", "o-ee": "电子科学与工程学院党委",
             "o-ch": "化学化工学院党委", "o-ma": "数学学院党委"}


def orgs_event():
    return make_event("orgs_imported", "seu", {"tenant_name": "东南大学", "orgs": [
        {"org_id": oid, "name": name, "level": "level2", "parent_id": None, "contact_email": None}
        for oid, name in ORG_NAMES.items()]})


def story(oid: str, n: int, file_ids=()):
    name = ORG_NAMES[oid]
    return make_event("submission_submitted", "seu", {
        "submission_id": f"s-{oid}-{n}", "campaign_id": "siyige-2020-seu", "track": "story", "stage": "submission",
        "final_stage": True, "org_id": oid, "org_name": name, "org_level": "level2", "title": f"{name}战疫故事{n}",
        "receipt_no": f"SEU-{oid}-{n}", "submitted_at": "2020-07-14T02:00:00+00:00", "file_ids": list(file_ids),
        "fields": {"title": f"{name}战疫故事{n}", "text": f"{name[:-2]}的张老师在东南大学坚守岗位。第{n}个故事。",
                   "branch_name": "教工第一党支部"}, "parent_org_id": None})


def upload(file_id, sub_id, kind="image"):
    return make_event("file_uploaded", "seu", {
        "file_id": file_id, "submission_id": sub_id, "campaign_id": "siyige-2020-seu", "track": "story",
        "kind": kind, "object_key": f"seu/{file_id}", "size": 3, "sha256": "0" * 64, "content_type": "image/jpeg",
        "original_name": "张三的照片-计算机学院.jpg", "org_id": "o-cse"})


def checked(file_id, sub_id, verdict="passed"):
    return make_event("file_checked", "seu", {
        "file_id": file_id, "submission_id": sub_id, "verdict": verdict, "findings": [], "facts": {},
        "checked_at": "2020-07-14T01:00:00+00:00", "derived": {"review_copy": f"derived/{file_id}/review.jpg"}})


@pytest.fixture
def review(make_config, start_service, sqlite_url, tmp_path):
    from services.review.service import ReviewService

    # the stories' university deadline to the ministry is 2020-07-31: the rounds here confirm before it
    clock.set_start(datetime.fromisoformat(BEFORE_THE_DEADLINE))
    config = make_config("review", DATABASE_URL=sqlite_url, WEB_SECRET="test-secret")
    config["PUBLIC_URL"] = f"http://{config['WEB_SERVER_ADDRESS']}"  # the host of the sign-in links
    container = start_service(ReviewService, config)
    store = Store(sqlite_url)
    base = f"http://{config['WEB_SERVER_ADDRESS']}"
    keys = [make_event("api_key_issued", t, {"key_hash": hashlib.sha256(k.encode()).hexdigest(),
                                             "tenant_kind": "university", "tenant_name": n})
            for t, k, n in (("seu", ADMIN_KEY, "东南大学"), ("wust", OTHER_KEY, "武汉科技大学"))]
    publish(config["AMQP_URI"], INTAKE, campaign_event("siyige-2020", "ministry"), campaign_event(), orgs_event(),
            *keys)
    objects = tmp_path / "data" / "objects"
    yield {"amqp": config["AMQP_URI"], "store": store, "base": base, "objects": objects, "container": container}
    clock.set_start(None)


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)


def admin(base, key=ADMIN_KEY) -> requests.Session:
    web, r = sign_in(base, key)
    assert r.status_code == 303, r.text
    return web


def the_round(store):
    from services.review.models import Round

    with store.transaction() as s:
        rows = s.scalars(select(Round)).all()
        return rows[0].id if len(rows) == 1 else None


def count_in_round(store) -> int:
    from services.review.models import Entry

    with store.transaction() as s:
        return len(s.scalars(select(Entry).where(Entry.round_id.is_not(None))).all())


def outbox(store, type_):
    from services.review.models import OutboxMessage

    with store.transaction() as s:
        return [m.envelope for m in s.scalars(select(OutboxMessage).where(OutboxMessage.event_type == type_)
                                              .order_by(OutboxMessage.id))]


def test_works_enter_their_round_only_when_their_files_passed(review):
    publish(review["amqp"], INTAKE, upload("f-1", "s-o-cse-1"), story("o-cse", 1, ["f-1"]), story("o-me", 1))
    round_id = wait_until(lambda: the_round(review["store"]), timeout=20, what="the round")
    from services.review.models import Entry, Round

    def entries():
        with review["store"].transaction() as s:
            return {e.submission_id: e.round_id for e in s.scalars(select(Entry))}

    wait_until(lambda: entries().get("s-o-me-1") == round_id and "s-o-cse-1" in entries(),
               what="both works known, the one without files in the round")
    assert entries()["s-o-cse-1"] is None  # its picture is not checked yet
    publish(review["amqp"], MEDIA, checked("f-1", "s-o-cse-1"))
    wait_until(lambda: entries().get("s-o-cse-1") == round_id, what="the checked work in the round")
    with review["store"].transaction() as s:
        rnd = s.get(Round, round_id)
        assert (rnd.tenant, rnd.level, rnd.track) == ("seu", "university", "story")
        assert rnd.title == "东南大学 · 战疫故事汇 · 校级评审"


def test_the_whole_round_admin_and_reviewers_over_http(review):
    base, store = review["base"], review["store"]
    for oid in ORG_NAMES:
        for n in (1, 2):
            publish(review["amqp"], INTAKE, story(oid, n))
    round_id = wait_until(lambda: the_round(store), timeout=20, what="the round")
    from services.review.models import Entry

    wait_until(lambda: count_in_round(store) == 10, what="10 works")

    # Another university's admin: the round does not exist for them.
    other = admin(base, OTHER_KEY)
    assert other.get(f"{base}/rounds/{round_id}").status_code == 404
    assert round_id not in other.get(f"{base}/").text

    web = admin(base)
    page = web.get(f"{base}/rounds/{round_id}")
    assert page.status_code == 200 and "东南大学 · 战疫故事汇 · 校级评审" in page.text
    token = csrf(page.text)
    # A form without the token is refused and changes nothing.
    assert web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "2"}).status_code == 403
    r = web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "0", "csrf_token": token})
    assert r.status_code == 400 and "1 到 15" in r.text
    web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "2", "csrf_token": token})
    table = "姓名,邮箱,所在单位,研究方向\n" + "\n".join(
        f"专家{i},expert{i}@example.edu.cn,{name},党建" for i, name in enumerate(ORG_NAMES.values()))
    r = web.post(f"{base}/rounds/{round_id}/reviewers/import", data={"csrf_token": token},
                 files={"file": ("专家.csv", table.encode("gb18030"), "text/csv")})
    assert r.status_code == 200 and "新增 5 位" in r.text, r.text[:500]
    # the university's own experts read as 东南大学, not as its slug
    reviewers_table = re.search(r'<table class="list" id="reviewers">(.*?)</table>', r.text, re.S).group(1)
    assert "<td>东南大学</td>" in reviewers_table and "<td>seu</td>" not in reviewers_table
    bad = web.post(f"{base}/rounds/{round_id}/reviewers/import", data={"csrf_token": token},
                   files={"file": ("x.csv", "姓名,邮箱\n王,not-an-email\n".encode(), "text/csv")})
    assert bad.status_code == 422 and "格式不正确" in bad.text
    # every bad row is named on the page, not only the first (the admin corrects the list in one go)
    three = "姓名,邮箱\n王,not-an-email\n李,li@example.edu.cn\n,zhao@example.edu.cn\n孙,li@example.edu.cn\n"
    bad = web.post(f"{base}/rounds/{round_id}/reviewers/import", data={"csrf_token": token},
                   files={"file": ("x.csv", three.encode(), "text/csv")})
    problems = re.findall(r"<li>(第\d+行[^<]*)</li>", bad.text)
    assert bad.status_code == 422 and "3 处问题" in bad.text, bad.text[:800]
    assert [p[:3] for p in problems] == ["第2行", "第4行", "第5行"], problems
    r = web.post(f"{base}/rounds/{round_id}/assign", data={"csrf_token": token})
    assert "新增 20 项" in r.text and "最多相差 0" in r.text, r.text[:800]

    # Nobody scores a work of their own org (university level).
    from services.review.models import Assignment, Reviewer

    with store.transaction() as s:
        pairs = s.execute(select(Reviewer.org_id, Entry.org_id, Assignment.id, Reviewer.id)
                          .join(Assignment, Assignment.reviewer_id == Reviewer.id)
                          .join(Entry, Entry.submission_id == Assignment.submission_id)).all()
    assert len(pairs) == 20 and all(r_org != e_org for r_org, e_org, _, _ in pairs)

    r = web.post(f"{base}/rounds/{round_id}/invite", data={"csrf_token": token})
    assert "已发送 5 封" in r.text
    invites = outbox(store, "reviewer_invited")
    assert len(invites) == 5 and all(i["data"]["assigned"] == 4 for i in invites)

    # Each reviewer signs in with their link (once), scores everything in the queue.
    totals = {}
    for n, invite in enumerate(invites):
        link = invite["data"]["sign_in_url"]
        expert = requests.Session()
        assert expert.get(link).status_code == 200  # a button, not a sign-in: mail scanners open links
        assert redeem(link, expert)[1].status_code == 303
        assert redeem(link)[1].status_code == 401  # single use
        queue = expert.get(f"{base}/queue").text
        ids = re.findall(r'href="/works/([0-9a-f]{32})"', queue)
        assert len(set(ids)) == 4
        for org in ORG_NAMES.values():  # blind: no org name, short name or university
            assert org not in queue and org[:-2] not in queue
        assert "东南大学" not in queue
        for i, aid in enumerate(dict.fromkeys(ids)):
            work = expert.get(f"{base}/works/{aid}")
            assert work.status_code == 200
            assert "〔已隐去〕" in work.text and "东南大学" not in work.text and "教工第一党支部" not in work.text
            token_r = csrf(work.text)
            r = expert.post(f"{base}/works/{aid}/score", data={
                "csrf_token": token_r, "action": "submit", "mark_thought": "11", "mark_appeal": "8", "mark_form": "8"})
            # refused: back to the work page (303) with the message and the marks typed
            assert [x.status_code for x in r.history] == [303] and 'data-code="invalid_marks"' in r.text
            assert "思想性" in r.text and re.search(r'name="mark_thought"[^>]*value="11"', r.text)
            mark = 5 + (i + n) % 5
            expert.post(f"{base}/works/{aid}/score", data={
                "csrf_token": token_r, "action": "submit", "mark_thought": str(mark), "mark_appeal": "8",
                "mark_form": "7.5", "comment": "<script>alert(1)</script>"})
            totals[aid] = mark
            assert "&lt;script&gt;" in expert.get(f"{base}/works/{aid}").text
        # Another reviewer's work is 404 for this one.
        others = {a for a in totals if a not in ids}
        if others:
            assert expert.get(f"{base}/works/{next(iter(others))}").status_code == 404

    r = web.get(f"{base}/rounds/{round_id}")
    assert 'id="progress">20 / 20' in r.text
    assert web.post(f"{base}/rounds/{round_id}/selection", data={"csrf_token": token, "selected": []}).status_code == 409
    web.post(f"{base}/rounds/{round_id}/close", data={"csrf_token": token})
    ranking = web.get(f"{base}/rounds/{round_id}/ranking").text
    assert "校正后得分" in ranking and 'id="limit">10' in ranking
    chosen = re.findall(r'name="selected" value="([^"]+)"', ranking)[:3]
    r = web.post(f"{base}/rounds/{round_id}/selection", data={"csrf_token": token, "selected": chosen})
    assert r.status_code == 200 and "已确认" in r.text
    made = outbox(store, "selection_made")
    assert len(made) == 1 and made[0]["data"]["selected"] == chosen and made[0]["data"]["to_level"] == "ministry"
    assert len(made[0]["data"]["not_selected"]) == 7

    sheet = load_workbook(io.BytesIO(web.get(f"{base}/rounds/{round_id}/export.xlsx").content))
    rows = list(sheet["排名"].iter_rows(min_row=2, values_only=True))  # row 1 is the title
    assert rows[0][0] == "名次" and len(rows) == 11
    selected = rows[0].index("入选")  # the files of each work come after it (文件)
    assert sum(1 for r in rows[1:] if r[selected] == "是") == 3
    assert rows[0][-1] == "文件"


def test_a_reviewer_who_declines_is_replaced(review):
    base, store = review["base"], review["store"]
    publish(review["amqp"], INTAKE, story("o-cse", 1), story("o-me", 1))
    round_id = wait_until(lambda: the_round(store), timeout=20, what="the round")
    from services.review.models import Assignment

    wait_until(lambda: count_in_round(store) == 2, what="2 works")
    web = admin(base)
    token = csrf(web.get(f"{base}/rounds/{round_id}").text)
    web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "1", "csrf_token": token})
    for i in range(3):
        web.post(f"{base}/rounds/{round_id}/reviewers", data={
            "csrf_token": token, "name": f"专家{i}", "email": f"e{i}@example.edu.cn"})
    web.post(f"{base}/rounds/{round_id}/assign", data={"csrf_token": token})
    web.post(f"{base}/rounds/{round_id}/invite", data={"csrf_token": token})
    invite = outbox(store, "reviewer_invited")[0]["data"]
    expert, _ = redeem(invite["sign_in_url"])
    aid = re.search(r'href="/works/([0-9a-f]{32})"', expert.get(f"{base}/queue").text).group(1)
    page = expert.get(f"{base}/works/{aid}").text
    expert.post(f"{base}/works/{aid}/decline", data={"csrf_token": csrf(page), "conflict": "on", "reason": "指导过作者",
                                                     "confirm": "on"})
    with store.transaction() as s:
        declined = s.get(Assignment, aid)
        others = s.scalars(select(Assignment).where(Assignment.submission_id == declined.submission_id,
                                                    Assignment.state == "assigned")).all()
    assert declined.state == "declined" and len(others) == 1 and others[0].reviewer_id != declined.reviewer_id
    assert expert.get(f"{base}/works/{aid}").status_code == 404


def forwarded(tenant: str, n: int):
    return make_event("submission_forwarded", tenant, {
        "submission_id": f"{tenant}-{n}", "campaign_id": f"siyige-2020-{tenant}", "track": "story",
        "org_id": f"{tenant}-o{n}", "org_name": f"{tenant}学院党委", "org_level": "level2",
        "from_level": "university", "to_level": "ministry", "title": f"{tenant} 的故事 {n}",
        "receipt_no": f"R-{tenant}-{n}", "forwarded_at": "2020-07-25T02:00:00+00:00",
        "fields": {"title": f"{tenant} 的故事 {n}", "text": "抗疫一线的党员。"}, "files": [],
        "tenant_name": {"seu": "东南大学", "wust": "武汉科技大学", "hust": "华中科技大学"}[tenant],
        "root_campaign_id": "siyige-2020"})


def offered_reviewers(html: str) -> dict[str, tuple[list[str], list[str]]]:
    """Per work on the round page: the experts its 分配 list offers, and those its 登记回避 list offers."""
    def options(kind: str) -> dict[str, list[str]]:
        return {sid: re.findall(r'<option value="([0-9a-f]+)"', body) for sid, body in re.findall(
            rf'<form[^>]*class="inline {kind}">.*?name="submission_id" value="([^"]+)"(.*?)</form>', html, re.S)}
    assign, declare = options("assign-one"), options("declare-conflict")
    return {sid: (assign.get(sid, []), declare.get(sid, [])) for sid in {*assign, *declare}}


def test_the_ministry_round_never_gives_a_reviewer_a_work_of_their_own_university(review):
    base, store = review["base"], review["store"]
    ministry_key = "sk_review_ministry"
    publish(review["amqp"], INTAKE, make_event("api_key_issued", "ministry", {
        "key_hash": hashlib.sha256(ministry_key.encode()).hexdigest(), "tenant_kind": "ministry",
        "tenant_name": "教育部思政司"}), *[forwarded(t, n) for t in ("seu", "wust", "hust") for n in (1, 2)])
    round_id = wait_until(lambda: the_round(store), timeout=20, what="the ministry round")
    wait_until(lambda: count_in_round(store) == 6, what="6 forwarded works")
    # A university's admin does not see the ministry's round; the ministry does.
    assert admin(base).get(f"{base}/rounds/{round_id}").status_code == 404
    web = admin(base, ministry_key)
    page = web.get(f"{base}/rounds/{round_id}")
    assert "教育部 · 战疫故事汇 · 全国评审" in page.text
    token = csrf(page.text)
    for i, (university, name) in enumerate([("seu", "东南大学"), ("wust", "武汉科技大学"), ("东南大学", "")]):
        web.post(f"{base}/rounds/{round_id}/reviewers", data={
            "csrf_token": token, "name": f"专家{i}", "email": f"m{i}@example.edu.cn", "university": university})
    # Three reviewers, two of them from SEU: SEU's works have one eligible reviewer, not three.
    r = web.post(f"{base}/rounds/{round_id}/assign", data={"csrf_token": token})
    assert r.status_code == 409 and "同属一所高校" in r.text and "seu-1" in r.text
    web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "1", "csrf_token": token})
    r = web.post(f"{base}/rounds/{round_id}/assign", data={"csrf_token": token})
    assert "新增 6 项" in r.text
    from services.review.models import Assignment, Conflict, Entry, Reviewer

    with store.transaction() as s:
        rows = s.execute(select(Reviewer.university, Entry.tenant, Reviewer.id, Entry.submission_id, Assignment.id)
                         .join(Assignment, Assignment.reviewer_id == Reviewer.id)
                         .join(Entry, Entry.submission_id == Assignment.submission_id)).all()
    assert len(rows) == 6 and all(u != t for u, t, *_ in rows)
    seu_reviewer = next(rid for u, _, rid, _, _ in rows if u == "seu")
    # A manual assignment that breaks the rule is refused, with the reason.
    r = web.post(f"{base}/rounds/{round_id}/assignments", data={
        "csrf_token": token, "reviewer_id": seu_reviewer, "submission_id": "seu-1"})
    assert r.status_code == 409 and "同属一所高校" in r.text
    # ... and the round page offers for each work only those it may go to (issue #17 item 17): never an SEU expert
    # for an SEU work, nor one already on it; a conflict may still be declared for anyone
    offered = offered_reviewers(web.get(f"{base}/rounds/{round_id}").text)
    with store.transaction() as s:
        universities = {r.id: r.university for r in s.scalars(select(Reviewer))}
        on_it = {(a.reviewer_id, a.submission_id) for a in s.scalars(select(Assignment))}
    assert set(offered) == {f"{t}-{n}" for t in ("seu", "wust", "hust") for n in (1, 2)}
    for sid, (assignable, declarable) in offered.items():
        assert all(universities[rid] != sid.split("-")[0] and (rid, sid) not in on_it for rid in assignable), sid
        assert len(declarable) == 3
    assert seu_reviewer not in offered["seu-1"][0] and any(assignable for assignable, _ in offered.values())
    # The admin declares a conflict on an assigned pair: the work goes to someone else.
    _, _, rid, sid, aid = next(row for row in rows if row[1] == "hust")
    web.post(f"{base}/rounds/{round_id}/conflicts", data={"csrf_token": token, "reviewer_id": rid,
                                                         "submission_id": sid, "reason": "指导过作者"})
    with store.transaction() as s:
        assert s.get(Assignment, aid).state == "declined"
        assert s.get(Conflict, (rid, sid)).declared_by == "admin"
        now = s.scalars(select(Assignment).where(Assignment.submission_id == sid,
                                                 Assignment.state == "assigned")).all()
        assert len(now) == 1 and now[0].reviewer_id != rid


def test_a_changed_score_is_logged_and_closed_rounds_refuse_changes(review):
    base, store = review["base"], review["store"]
    publish(review["amqp"], INTAKE, story("o-cse", 1))
    round_id = wait_until(lambda: the_round(store), timeout=20, what="the round")
    wait_until(lambda: count_in_round(store) == 1, what="the work")
    web = admin(base)
    token = csrf(web.get(f"{base}/rounds/{round_id}").text)
    web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "1", "csrf_token": token})
    web.post(f"{base}/rounds/{round_id}/reviewers", data={"csrf_token": token, "name": "王", "email": "w@example.cn"})
    web.post(f"{base}/rounds/{round_id}/assign", data={"csrf_token": token})
    web.post(f"{base}/rounds/{round_id}/invite", data={"csrf_token": token})
    expert, _ = redeem(outbox(store, "reviewer_invited")[0]["data"]["sign_in_url"])
    aid = re.search(r'href="/works/([0-9a-f]{32})"', expert.get(f"{base}/queue").text).group(1)
    t = csrf(expert.get(f"{base}/works/{aid}").text)
    marks = {"csrf_token": t, "mark_thought": "8", "mark_appeal": "8", "mark_form": "8"}
    expert.post(f"{base}/works/{aid}/score", data={**marks, "action": "draft", "mark_form": ""})
    expert.post(f"{base}/works/{aid}/score", data={**marks, "action": "submit"})
    expert.post(f"{base}/works/{aid}/score", data={**marks, "action": "submit", "mark_thought": "10"})
    from services.review.models import Score, ScoreLog

    with store.transaction() as s:
        log = [(x.action, x.marks.get("thought"), x.total) for x in
               s.scalars(select(ScoreLog).where(ScoreLog.assignment_id == aid).order_by(ScoreLog.id))]
        assert s.get(Score, aid).total == 88.0
    assert log == [("draft", 8.0, None), ("submit", 8.0, 80.0), ("change", 10.0, 88.0)]
    web.post(f"{base}/rounds/{round_id}/close", data={"csrf_token": token})
    r = expert.post(f"{base}/works/{aid}/score", data={**marks, "action": "submit"})  # refused: back to the page
    assert [x.status_code for x in r.history] == [303] and 'data-code="round_closed"' in r.text and "已结束评分" in r.text


def test_reviewers_with_open_work_are_reminded_before_the_scoring_deadline(review, start_service):
    from datetime import datetime

    from nameko.testing.services import entrypoint_hook

    from common import clock

    base, store = review["base"], review["store"]
    publish(review["amqp"], INTAKE, story("o-cse", 1), story("o-me", 1))
    round_id = wait_until(lambda: the_round(store), timeout=20, what="the round")
    wait_until(lambda: count_in_round(store) == 2, what="2 works")
    clock.set_start(datetime.fromisoformat("2020-07-20T09:00:00+08:00"))
    try:
        web = admin(base)
        token = csrf(web.get(f"{base}/rounds/{round_id}").text)
        r = web.post(f"{base}/rounds/{round_id}/settings", data={
            "csrf_token": token, "reviewers_per_work": "1", "scoring_deadline": "2020-07-19"})
        assert r.status_code == 400 and "已经过去" in r.text
        web.post(f"{base}/rounds/{round_id}/settings", data={
            "csrf_token": token, "reviewers_per_work": "1", "scoring_deadline": "2020-07-25"})
        for i in range(2):
            web.post(f"{base}/rounds/{round_id}/reviewers", data={"csrf_token": token, "name": f"专家{i}",
                                                                 "email": f"d{i}@example.edu.cn"})
        web.post(f"{base}/rounds/{round_id}/assign", data={"csrf_token": token})
        container = review["container"]
        with entrypoint_hook(container, "remind_reviewers") as remind:
            assert remind() == 0  # five days left
            clock.set_start(datetime.fromisoformat("2020-07-22T09:00:00+08:00"))
            assert remind() == 2 and remind() == 0  # the 3-day reminder, once
        reminders = [e["data"] for e in outbox(store, "reviewer_invited") if e["data"].get("reminder")]
        assert len(reminders) == 2 and reminders[0]["deadline"] == "2020-07-25T15:59:59+00:00"
    finally:
        clock.set_start(None)


def test_a_story_copied_across_universities_is_flagged_without_naming_the_other(review):
    from tests import textgen

    base, store = review["base"], review["store"]
    rng = __import__("random").Random(5)
    original = textgen.story(rng)
    copied = textgen.edited_copy(original, rng, traditional=True)
    seu_story = story("o-cse", 1)
    seu_story.data["fields"]["text"] = original
    seu_other = story("o-me", 1)
    wust_story = make_event("submission_submitted", "wust", {
        "submission_id": "w-1", "campaign_id": "siyige-2020-wust", "track": "story", "stage": "submission",
        "final_stage": True, "org_id": "w-org", "org_name": "资源与环境工程学院党委", "org_level": "level2",
        "title": "武科大机密标题", "receipt_no": "WUST-1", "submitted_at": "2020-07-14T03:00:00+00:00",
        "file_ids": [], "fields": {"title": "武科大机密标题", "text": copied}})
    publish(review["amqp"], INTAKE, seu_story, seu_other)
    wait_until(lambda: count_in_round(store) == 2, timeout=20, what="SEU's stories")
    publish(review["amqp"], INTAKE, wust_story)
    from services.review.models import Round, TextMatch

    match = wait_until(lambda: _matches(store), timeout=20, what="the match")
    assert match == [("s-o-cse-1", "w-1")]
    with store.transaction() as s:
        seu_round = s.scalar(select(Round.id).where(Round.tenant == "seu"))
    page = admin(base).get(f"{base}/rounds/{seu_round}").text
    assert "另一所高校的一件作品" in page and "武科大机密标题" not in page and "资源与环境" not in page
    assert page.count('class="warning match"') == 1
    with store.transaction() as s:
        assert s.get(TextMatch, ("s-o-cse-1", "w-1")).similarity >= 0.3


def test_a_copied_text_field_of_a_campaigns_own_is_compared_too(review):
    """Every text field of the work's track is prose (issue #16), not a fixed list: a campaign whose story keeps its
    words in 先进事迹 (`deeds`) still has a copy flagged."""
    from tests import textgen

    rng = __import__("random").Random(7)
    original = textgen.story(rng)
    data = campaign_event("siyige-2020-seu").data
    data["campaign_id"] = "seu.xianjin-2021"
    story_track = data["tracks"]["story"]
    story_track["fields"] = [{**f, "key": "deeds", "label": "先进事迹"} if f["key"] == "text" else f
                             for f in story_track["fields"]]
    publish(review["amqp"], INTAKE, make_event("campaign_published", "seu", data))
    works = []
    for oid, title, text_ in (("o-cse", "坚守", original), ("o-me", "社区日记", textgen.edited_copy(original, rng))):
        ev = story(oid, 7)
        ev.data.update(campaign_id="seu.xianjin-2021", title=title)
        ev.data["fields"] = {"title": title, "deeds": text_}  # no field named text at all
        works.append(ev)
    publish(review["amqp"], INTAKE, works[0])
    wait_until(lambda: count_in_round(review["store"]) == 1, timeout=20, what="the first work in its round")
    publish(review["amqp"], INTAKE, works[1])
    assert wait_until(lambda: _matches(review["store"]), timeout=20, what="the match") == [("s-o-cse-7", "s-o-me-7")]


def _matches(store):
    from services.review.models import TextMatch

    with store.transaction() as s:
        return [(m.a, m.b) for m in s.scalars(select(TextMatch))] or None


def test_a_reviewer_whose_link_was_used_gets_a_new_one_at_their_own_address_once_in_ten_minutes(review):
    from tests.signin import form_token, redeem, staffed_round

    base, store = review["base"], review["store"]
    staffed = staffed_round(review, reviewers=1)
    link = staffed["invites"][0]["sign_in_url"]
    assert redeem(link)[1].status_code == 303
    web, used = redeem(link)
    assert used.status_code == 401 and "向我的邮箱重新发送登录链接" in used.text  # offered, not a dead end

    def resend(token_url, browser):
        page = browser.get(token_url, timeout=10)
        return browser.post(f"{token_url}/resend", data={"csrf_token": form_token(page.text)}, timeout=10)

    before = len(outbox(store, "reviewer_invited"))
    r = resend(link, web)
    assert r.status_code == 200 and "新的登录链接已发送到您受邀时的邮箱" in r.text
    fresh = outbox(store, "reviewer_invited")[before:]
    assert len(fresh) == 1 and fresh[0]["data"]["email"] == "e0@example.edu.cn"  # the reviewer's own address
    assert "学院" not in fresh[0]["data"]["round_title"]  # the blind title, never a college's
    again = resend(link, requests.Session())  # a second click within ten minutes: the same answer, no mail
    forged = resend(f"{base}/sign-in/{'x' * 43}", requests.Session())  # a made-up link: the same answer too
    assert again.text.count("新的登录链接已发送") == forged.text.count("新的登录链接已发送") == 1
    assert len(outbox(store, "reviewer_invited")) == before + 1
    assert redeem(fresh[0]["data"]["sign_in_url"])[1].status_code == 303  # the new link works
    asked = [e["data"] for e in outbox(store, "review_audited") if e["data"]["action"] == "reviewers.invited"]
    assert asked[-1]["actor"].startswith("reviewer:")


def test_a_selection_confirmed_after_the_universitys_deadline_is_refused(review):
    """Issue #16: the round page names the deadline to forward to the ministry; after it, no button, and a
    confirmation posted anyway is refused with 409 and nothing is sent up."""
    base, store = review["base"], review["store"]
    publish(review["amqp"], INTAKE, story("o-cse", 1), story("o-me", 1))
    round_id = wait_until(lambda: the_round(store), timeout=20, what="the round")
    wait_until(lambda: count_in_round(store) == 2, what="2 works")
    web = admin(base)
    token = csrf(web.get(f"{base}/rounds/{round_id}").text)
    web.post(f"{base}/rounds/{round_id}/close", data={"csrf_token": token})
    ranking = web.get(f"{base}/rounds/{round_id}/ranking").text
    assert "须于 2020年07月31日 23:59（北京时间）前向教育部报送" in ranking and 'id="confirm"' in ranking
    chosen = re.findall(r'name="selected" value="([^"]+)"', ranking)[:1]
    assert chosen

    clock.set_start(datetime.fromisoformat("2020-08-01T09:00:00+08:00"))
    ranking = web.get(f"{base}/rounds/{round_id}/ranking").text
    assert "已超过报送截止时间" in ranking and "教育部思政司" in ranking and 'id="confirm"' not in ranking
    r = web.post(f"{base}/rounds/{round_id}/selection", data={"csrf_token": token, "selected": chosen})
    assert r.status_code == 409 and 'data-code="forward_deadline_passed"' in r.text
    assert "2020年08月01日 09:00" in r.text and "没有延长报送期限的办法" in r.text
    assert outbox(store, "selection_made") == []

    clock.set_start(datetime.fromisoformat("2020-07-31T23:00:00+08:00"))  # an hour before: it goes up
    r = web.post(f"{base}/rounds/{round_id}/selection", data={"csrf_token": token, "selected": chosen})
    assert r.status_code == 200 and "已确认" in r.text
    made = outbox(store, "selection_made")
    assert len(made) == 1 and made[0]["data"]["selected"] == chosen
    # the platform's clock at the confirmation (it runs on from where it was set), by which intake judges it
    confirmed = datetime.fromisoformat(made[0]["data"]["confirmed_at"])
    assert datetime.fromisoformat("2020-07-31T23:00:00+08:00") <= confirmed < datetime.fromisoformat(
        "2020-07-31T23:59:59+08:00")
