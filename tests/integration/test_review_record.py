"""Review against a real RabbitMQ: a confirmed round is the office's record for good (issue #17).

A university round of five scored stories confirms two for the ministry; intake's submission_forwarded puts them into
the ministry's round. The university round's ranking page, its counts and its XLSX still show all five with the ranks
and ticks it confirmed (the ranks the orgs were told in selection_made), and the ministry round shows each forwarded
work with its university rank as its history. A forwarded work reopened later leaves the ministry round only: the
university round keeps its place and its scores. Also: migration 0011 on SQLite and PostgreSQL.
"""
import hashlib
import io
import re

import requests
from openpyxl import load_workbook
from sqlalchemy import select

from common.events import make_event
from tests.conftest import wait_until
from tests.integration.test_review_service import (  # noqa: F401 - review is a fixture
    INTAKE,
    ORG_NAMES,
    admin,
    count_in_round,
    csrf,
    outbox,
    publish,
    review,
    story,
    the_round,
)
from tests.signin import redeem

MINISTRY_KEY = "sk_review_ministry_record"
CHECKBOX = re.compile(r'<input type="checkbox" name="selected" value="([^"]+)"([^>]*)></td>\s*<td>([^<]*)</td>')


def org_of(sid: str) -> str:
    return sid.split("-", 1)[1].rsplit("-", 1)[0]  # s-o-cse-1: o-cse


def ticked_ranks(html: str) -> dict[str, tuple[str, bool]]:
    """The ranking table as the admin reads it: each work's 名次 and whether it is ticked (入选)."""
    return {sid: (rank, "checked" in attrs) for sid, attrs, rank in CHECKBOX.findall(html)}


def forwarded_to_ministry(oid: str):
    """What intake publishes for a work the university round chose (operations/forwarding.py)."""
    d = story(oid, 1).data
    return make_event("submission_forwarded", "seu", {
        "submission_id": d["submission_id"], "campaign_id": d["campaign_id"], "track": "story", "org_id": oid,
        "org_name": d["org_name"], "org_level": "level2", "from_level": "university", "to_level": "ministry",
        "title": d["title"], "receipt_no": d["receipt_no"], "forwarded_at": "2020-07-25T02:00:00+00:00",
        "fields": d["fields"], "files": [], "tenant_name": "东南大学", "root_campaign_id": "siyige-2020"})


def _entries_round(store) -> dict[str, str | None]:
    from services.review.models import Entry

    with store.transaction() as s:
        return {e.submission_id: e.round_id for e in s.scalars(select(Entry))}


def _scored_university_round(review) -> tuple[requests.Session, str, str, dict]:
    """Five stories, one reviewer who scores each differently, the round closed: (admin, token, round, ranking)."""
    base, store = review["base"], review["store"]
    publish(review["amqp"], INTAKE, *(story(oid, 1) for oid in ORG_NAMES))
    round_id = wait_until(lambda: the_round(store), timeout=20, what="the university round")
    wait_until(lambda: count_in_round(store) == 5, what="5 works")
    web = admin(base)
    token = csrf(web.get(f"{base}/rounds/{round_id}").text)
    web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "1", "csrf_token": token})
    web.post(f"{base}/rounds/{round_id}/reviewers", data={"csrf_token": token, "name": "专家0",
                                                         "email": "e0@example.edu.cn"})
    web.post(f"{base}/rounds/{round_id}/assign", data={"csrf_token": token})
    web.post(f"{base}/rounds/{round_id}/invite", data={"csrf_token": token})
    expert, _ = redeem(outbox(store, "reviewer_invited")[0]["data"]["sign_in_url"])
    ids = list(dict.fromkeys(re.findall(r'href="/works/([0-9a-f]{32})"', expert.get(f"{base}/queue").text)))
    assert len(ids) == 5
    for i, aid in enumerate(ids):  # five different totals: no ties
        t = csrf(expert.get(f"{base}/works/{aid}").text)
        expert.post(f"{base}/works/{aid}/score", data={"csrf_token": t, "action": "submit", "mark_thought": str(5 + i),
                                                       "mark_appeal": "8", "mark_form": "7"})
    web.post(f"{base}/rounds/{round_id}/close", data={"csrf_token": token})
    ranking = ticked_ranks(web.get(f"{base}/rounds/{round_id}/ranking").text)
    assert sorted(rank for rank, _ in ranking.values()) == ["1", "2", "3", "4", "5"]
    return web, token, round_id, {sid: rank for sid, (rank, _) in ranking.items()}


def test_a_confirmed_round_keeps_every_work_as_confirmed_after_its_chosen_ones_went_up(review):
    base, store = review["base"], review["store"]
    web, token, round_id, ranks = _scored_university_round(review)
    by_rank = {rank: sid for sid, rank in ranks.items()}
    chosen = [by_rank["1"], by_rank["3"]]  # the admin's choice need not be the top two
    r = web.post(f"{base}/rounds/{round_id}/selection", data={"csrf_token": token, "selected": chosen})
    assert r.status_code == 200 and "已确认" in r.text
    told = {x["submission_id"]: x["rank"] for x in outbox(store, "selection_made")[0]["data"]["results"]}
    assert told == {sid: int(rank) for sid, rank in ranks.items()}  # what the orgs' result mails say

    # intake forwards the two: they enter the ministry's round
    publish(review["amqp"], INTAKE, make_event("api_key_issued", "ministry", {
        "key_hash": hashlib.sha256(MINISTRY_KEY.encode()).hexdigest(), "tenant_kind": "ministry",
        "tenant_name": "教育部思政司"}), *(forwarded_to_ministry(org_of(sid)) for sid in chosen))
    wait_until(lambda: all(_entries_round(store)[sid] not in (None, round_id) for sid in chosen),
               timeout=20, what="the two works in the ministry's round")
    ministry_round = _entries_round(store)[chosen[0]]

    # The university round reads as confirmed: five works, their ranks, the two ticked.
    page = web.get(f"{base}/rounds/{round_id}/ranking").text
    assert ticked_ranks(page) == {sid: (rank, sid in chosen) for sid, rank in ranks.items()}
    assert "此前：" not in page  # nothing came before the university round
    overview = web.get(f"{base}/rounds/{round_id}").text
    assert "作品 5 件" in overview and all(ORG_NAMES[org_of(sid)] in overview for sid in ranks)
    home = web.get(f"{base}/").text
    assert re.search(rf'href="/rounds/{round_id}">[^<]*</a></td><td>5</td>', home)
    sheet = load_workbook(io.BytesIO(web.get(f"{base}/rounds/{round_id}/export.xlsx").content))
    rows = list(sheet["排名"].iter_rows(min_row=2, values_only=True))  # row 1 is the title
    head = rows[0]
    assert len(rows) == 6 and head[-1] == "文件"
    titles = {story(org_of(sid), 1).data["title"]: sid for sid in ranks}
    assert {titles[row[head.index("作品名称")]]: (str(row[head.index("名次")]), row[head.index("入选")] == "是")
            for row in rows[1:]} == {sid: (rank, sid in chosen) for sid, rank in ranks.items()}
    assert len(list(sheet["评分明细"].iter_rows(min_row=2, values_only=True))) == 6

    # The ministry's round: the two, each with its university rank as its history.
    ministry = admin(base, MINISTRY_KEY)
    board = ministry.get(f"{base}/rounds/{ministry_round}/ranking").text
    assert set(ticked_ranks(board)) == set(chosen)
    for sid in chosen:
        line = f"此前：校级评审第 {ranks[sid]} 名，报送教育部"
        row = board[board.index(f'value="{sid}"'):].split("</tr>")[0]
        assert line in row, row
    overview = ministry.get(f"{base}/rounds/{ministry_round}").text
    assert "作品 2 件" in overview and "此前：校级评审第 3 名，报送教育部" in overview
    sheet = load_workbook(io.BytesIO(ministry.get(f"{base}/rounds/{ministry_round}/export.xlsx").content))
    rows = list(sheet["排名"].iter_rows(min_row=2, values_only=True))  # row 1 is the title
    assert sorted(row[rows[0].index("此前评审")] for row in rows[1:]) == [
        "校级评审第 1 名，报送教育部", "校级评审第 3 名，报送教育部"]

    # A forwarded work reopened (media's newer check failed a file): it leaves its current round, the ministry's;
    # the university round keeps its place, and its scores, which the record was confirmed from.
    from services.review.models import Assignment

    third = by_rank["3"]
    d = story(org_of(third), 1).data
    publish(review["amqp"], INTAKE, make_event("submission_reopened", "seu", {
        "submission_id": third, "campaign_id": d["campaign_id"], "track": "story", "org_id": d["org_id"],
        "org_name": d["org_name"], "org_level": "level2", "title": d["title"], "stage": None, "stages_submitted": [],
        "reopened_stage": "submission", "reason": "file_check_failed", "file_id": None, "voided_receipts": [],
        "reopened_at": "2020-07-26T02:00:00+00:00", "message": "", "contact_email": None}))
    wait_until(lambda: _entries_round(store)[third] is None, timeout=20, what="the reopened work out of its round")
    assert "作品 1 件" in ministry.get(f"{base}/rounds/{ministry_round}").text
    assert ticked_ranks(web.get(f"{base}/rounds/{round_id}/ranking").text) == {
        sid: (rank, sid in chosen) for sid, rank in ranks.items()}
    with store.transaction() as s:
        states = s.scalars(select(Assignment.state).where(Assignment.submission_id == third,
                                                          Assignment.round_id == round_id)).all()
    assert states == ["assigned"]


def test_migration_0011_reads_rounds_confirmed_before_it_as_they_were_confirmed(db_url):
    """Data from before 0011: a confirmed university round whose two chosen works moved on to the ministry's round
    (their entries left it). After the upgrade it lists, counts and ranks all four again, and the forwarded works
    show their university place as their history."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect, text

    from common.db import Store, make_engine
    from common.settings import migrations_dir

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir("review")))
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0010")
            conn.commit()
            for rid, tenant, campaign, level, state in (("r-uni", "seu", "siyige-2020-seu", "university", "selected"),
                                                        ("r-min", "ministry", "siyige-2020", "ministry", "open")):
                conn.execute(text(
                    "INSERT INTO rounds (id, tenant, campaign_id, track, level, owner_org_id, title, reviewers_per_work, "
                    "reminders_sent, state, created_at, selected_at, batch) VALUES (:id, :tenant, :campaign, 'story', "
                    ":level, '', :id, 1, '[]', :state, '2020-07-20 01:00:00', :selected, 1)"),
                    {"id": rid, "tenant": tenant, "campaign": campaign, "level": level, "state": state,
                     "selected": "2020-07-24 01:00:00" if state == "selected" else None})
            for n in range(1, 5):
                up = n in (1, 3)
                conn.execute(text(
                    "INSERT INTO entries (submission_id, tenant, campaign_id, track, stage, final_stage, title, "
                    "org_level, fields, file_ids, state, level, round_id, submitted_at, updated_at) VALUES "
                    "(:sid, 'seu', 'siyige-2020-seu', 'story', 'submission', :t, :title, 'level2', '{}', '[]', "
                    "'submitted', :level, :rid, '2020-07-14 02:00:00', '2020-07-25 02:00:00')"),
                    {"sid": f"w{n}", "t": True, "title": f"作品{n}", "level": "ministry" if up else "university",
                     "rid": "r-min" if up else "r-uni"})
                conn.execute(text(
                    "INSERT INTO selections (round_id, submission_id, rank, normalised, raw_mean, selected) VALUES "
                    "('r-uni', :sid, :rank, :score, :score, :up)"),
                    {"sid": f"w{n}", "rank": n, "score": 90.0 - n, "up": up})
            conn.commit()
            command.upgrade(cfg, "head")
            conn.commit()
            indexes = {i["name"] for i in inspect(conn).get_indexes("selections")}
            assert "ix_selections_submission" in indexes
    finally:
        engine.dispose()

    from services.review import operations as ops
    from services.review.models import Round

    store = Store(db_url)
    try:
        with store.transaction() as s:
            uni, ministry = s.get(Round, "r-uni"), s.get(Round, "r-min")
            assert [e.submission_id for e in ops.entries_of(s, uni)] == ["w1", "w2", "w3", "w4"]
            assert {row["round"].id: row["works"] for row in ops.listed(s, [uni, ministry])} == {"r-uni": 4, "r-min": 2}
            board = ops.ranking_of(s, uni)
            assert [(r.work_id, r.rank) for r, _ in board["ranked"]] == [("w1", 1), ("w2", 2), ("w3", 3), ("w4", 4)]
            assert board["chosen"] == {"w1", "w3"}
            assert ops.ranking_of(s, ministry)["history"] == {"w1": ["校级评审第 1 名，报送教育部"],
                                                              "w3": ["校级评审第 3 名，报送教育部"]}
    finally:
        store.dispose()
