"""Issue #17 items 6, 8 and 15 (exports) over HTTP: the round's admin reads one work's reviews (every expert by name,
marks per criterion, state, comment), reviewers and other admins cannot; the ranking's bias table names experts;
the national round says which university each work comes from (高校); the workbook has a title row, a frozen
header, widths, one column per criterion and a descriptive Chinese file name."""
import hashlib
import io
import re
from urllib.parse import unquote

from openpyxl import load_workbook
from sqlalchemy import select

from tests.conftest import wait_until
from tests.integration.test_review_service import (  # noqa: F401 - review is a fixture
    INTAKE,
    OTHER_KEY,
    admin,
    count_in_round,
    csrf,
    forwarded,
    publish,
    review,
    the_round,
)
from tests.signin import redeem, staffed_round

CAMPAIGN = "让党旗始终高高飘扬——高校基层党组织常态化疫情防控“四个一”行动"
MINISTRY_KEY = "sk_review_ministry_reads"
CRITERIA = ["思想性（满分10）", "感染力（满分10）", "表现形式（满分10）"]  # the story rubric, each marked out of 10


def _assignments(store, round_id) -> dict[tuple[str, str], str]:
    """(reviewer's e-mail, work) → assignment, for the round's live assignments."""
    from services.review.models import Assignment, Reviewer

    with store.transaction() as s:
        rows = s.execute(select(Reviewer.email, Assignment.submission_id, Assignment.id)
                         .join(Reviewer, Reviewer.id == Assignment.reviewer_id)
                         .where(Assignment.round_id == round_id, Assignment.state == "assigned")).all()
    return {(email, sid): aid for email, sid, aid in rows}


def _score(expert, base, aid, marks, action="submit", comment=""):
    t = csrf(expert.get(f"{base}/works/{aid}").text)
    r = expert.post(f"{base}/works/{aid}/score", data={
        "csrf_token": t, "action": action, "mark_thought": marks[0], "mark_appeal": marks[1], "mark_form": marks[2],
        "comment": comment})
    assert r.status_code == 200, r.text[:300]


def _table(html: str, table_id: str) -> str:
    return re.search(rf'<table class="list" id="{table_id}">(.*?)</table>', html, re.S).group(1)


def test_the_admin_reads_every_experts_marks_and_comment_and_nobody_else_does(review):
    base, store = review["base"], review["store"]
    staff = staffed_round(review, reviewers=2)
    web, token, round_id = staff["admin"], staff["token"], staff["round_id"]
    web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "2", "csrf_token": token})
    web.post(f"{base}/rounds/{round_id}/assign", data={"csrf_token": token})  # both experts on both works
    links = {i["email"]: i["sign_in_url"] for i in staff["invites"]}
    e0, e1 = "e0@example.edu.cn", "e1@example.edu.cn"
    first, second = redeem(links[e0])[0], redeem(links[e1])[0]
    aids = _assignments(store, round_id)
    w1, w2 = "s-o-cse-1", "s-o-me-1"
    assert set(aids) == {(e, w) for e in (e0, e1) for w in (w1, w2)}
    _score(first, base, aids[(e0, w1)], ("9", "8", "7.5"), comment="<b>构思新颖</b>，语言朴实")
    _score(first, base, aids[(e0, w2)], ("6", "6", "6"), comment="一般")
    _score(second, base, aids[(e1, w1)], ("7", "", ""), action="draft", comment="还在看")
    # the admin takes the second expert off the other work: a declared conflict (回避), nobody left to take it
    r = web.post(f"{base}/rounds/{round_id}/conflicts", data={
        "csrf_token": token, "reviewer_id": staff["invites"][1]["reviewer_id"], "submission_id": w2, "reason": "同一课题组"})
    assert r.status_code in (200, 409), r.text[:300]

    page = web.get(f"{base}/rounds/{round_id}/entries/{w1}")
    assert page.status_code == 200, page.text[:300]
    reviews = _table(page.text, "reviews")
    heads = re.findall(r"<th>([^<]*)</th>", reviews)
    assert heads == ["评审专家", "状态", *CRITERIA, "总分", "评语（保密）", "给报送单位的意见"]
    rows = dict(re.findall(r'<tr class="expert[^"]*"><td>([^<]*)<br>(.*?)</tr>', reviews, re.S))
    assert set(rows) == {"专家0", "专家1"}
    assert re.findall(r'<td class="mark">([^<]*)</td>', rows["专家0"]) == ["9", "8", "7.5"]
    assert '<td class="state">已提交' in rows["专家0"] and "&lt;b&gt;构思新颖&lt;/b&gt;，语言朴实" in rows["专家0"]
    assert "<b>构思新颖" not in page.text  # autoescaped
    assert re.findall(r'<td class="mark">([^<]*)</td>', rows["专家1"]) == ["7", "—", "—"]
    assert '<td class="state">草稿' in rows["专家1"] and "还在看" in rows["专家1"]
    assert "计算机科学与工程学院党委" in page.text  # the admin reads the work's org, as on the ranking
    other = web.get(f"{base}/rounds/{round_id}/entries/{w2}").text
    assert "已回避" in other and "同一课题组" in other

    # Neither an expert (403, the role's sentence) nor another university's admin (404) reads it.
    for expert in (first, second):
        r = expert.get(f"{base}/rounds/{round_id}/entries/{w1}", allow_redirects=False)
        assert r.status_code == 403 and "构思新颖" not in r.text and "还在看" not in r.text
    assert admin(base, OTHER_KEY).get(f"{base}/rounds/{round_id}/entries/{w1}").status_code == 404
    assert web.get(f"{base}/rounds/{round_id}/entries/{'0' * 32}").status_code == 404  # not a work of the round
    # the second expert's own page shows their own draft, never the first expert's marks or comment
    own = second.get(f"{base}/works/{aids[(e1, w1)]}").text
    assert "还在看" in own and "构思新颖" not in own

    _score(second, base, aids[(e1, w1)], ("5", "5", "5"), comment="还在看")
    web.post(f"{base}/rounds/{round_id}/close", data={"csrf_token": token, "confirmed": "1"})
    ranking = web.get(f"{base}/rounds/{round_id}/ranking").text
    assert f'href="/rounds/{round_id}/entries/{w1}"' in ranking and f'href="/rounds/{round_id}/entries/{w2}"' in ranking
    biases = _table(ranking, "biases")
    ids = [i["reviewer_id"] for i in staff["invites"]]
    assert "<td>专家0</td><td>e0@example.edu.cn</td>" in biases and "<td>专家1</td>" in biases
    assert not any(i[:8] in biases for i in ids)  # names, not id hashes
    assert "<th>高校</th>" not in ranking  # a university's own round: every work is of the same one

    # The workbook: a title row, a frozen header, widths, one column per criterion, a descriptive name.
    export = web.get(f"{base}/rounds/{round_id}/export.xlsx")
    disposition = export.headers["Content-Disposition"]
    assert 'filename="review-story-university.xlsx"' in disposition
    name = unquote(re.search(r"filename\*=UTF-8''(\S+)", disposition).group(1))
    assert name == f"{CAMPAIGN}（东南大学）·战疫故事汇·校级评审排名.xlsx"
    book = load_workbook(io.BytesIO(export.content))
    assert book.sheetnames == ["排名", "评分明细"]
    for ws in book.worksheets:
        title = ws["A1"].value
        assert title == f"{CAMPAIGN}（东南大学） · 东南大学 · 战疫故事汇 · 校级评审 · {ws.title}", title
        assert ws.freeze_panes == "A3"
        header = [c.value for c in ws[2]]
        widths = [ws.column_dimensions[chr(ord("A") + n)].width for n in range(len(header))]
        assert all(6 <= w <= 60 for w in widths), widths
        # 作品名称 is wider than its heading: the longest title (Chinese counts two) fits
        title_width = widths[header.index("作品名称")]
        assert title_width >= 2 * len("计算机科学与工程学院党委战疫故事1"), widths
    scores = book["评分明细"]
    header = [c.value for c in scores[2]]
    assert header == ["作品名称", "评审专家", "状态", *CRITERIA, "总分", "评语（保密）", "给报送单位的意见"]
    rows = {(r[0], r[1]): r for r in scores.iter_rows(min_row=3, values_only=True)}
    expected = ("已提交", 9, 8, 7.5, 83.0, "<b>构思新颖</b>，语言朴实", None)  # no comment for the org: an empty cell
    assert rows[("计算机科学与工程学院党委战疫故事1", "专家0")][2:] == expected
    assert rows[("计算机科学与工程学院党委战疫故事1", "专家1")][2:7] == ("已提交", 5, 5, 5, 50.0)
    ranking_header = [c.value for c in book["排名"][2]]
    assert ranking_header[:3] == ["名次", "作品名称", "报送单位"] and "高校" not in ranking_header


def test_the_national_round_names_each_works_university(review):
    base, store = review["base"], review["store"]
    works = []
    for tenant in ("seu", "hust"):
        ev = forwarded(tenant, 1)
        ev.data["org_name"] = "医学院党委"  # two universities' colleges of the same name
        works.append(ev)
    publish(review["amqp"], INTAKE, _ministry_key(), *works)
    round_id = wait_until(lambda: the_round(store), timeout=20, what="the ministry round")
    wait_until(lambda: count_in_round(store) == 2, what="2 forwarded works")
    web = admin(base, MINISTRY_KEY)
    expected = {"seu 的故事 1": "东南大学", "hust 的故事 1": "华中科技大学"}

    overview = web.get(f"{base}/rounds/{round_id}").text
    assert "<th>高校</th>" in _table(overview, "works")
    found = re.findall(r'>([^<>]+的故事 1)</a>.*?<td class="university">([^<]*)</td><td>医学院党委</td>', overview, re.S)
    assert dict(found) == expected, found

    token = csrf(overview)
    web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "1", "csrf_token": token})
    web.post(f"{base}/rounds/{round_id}/reviewers", data={"csrf_token": token, "name": "王专家", "email": "w@example.cn",
                                                         "university": "wust"})
    web.post(f"{base}/rounds/{round_id}/assign", data={"csrf_token": token})
    web.post(f"{base}/rounds/{round_id}/invite", data={"csrf_token": token})
    from tests.integration.test_review_service import outbox

    expert = redeem(outbox(store, "reviewer_invited")[0]["data"]["sign_in_url"])[0]
    aid = _assignments(store, round_id)[("w@example.cn", "seu-1")]
    _score(expert, base, aid, ("8", "8", "8"), comment="好")

    ranking = web.get(f"{base}/rounds/{round_id}/ranking").text
    assert "<th>高校</th>" in ranking
    rows = re.findall(r'>([^<>]+的故事 1)</a>.*?<td class="university">([^<]*)</td>', _table(ranking, "ranking"), re.S)
    assert dict(rows) == expected
    page = web.get(f"{base}/rounds/{round_id}/entries/hust-1").text
    assert 'id="university">华中科技大学<' in page

    book = load_workbook(io.BytesIO(web.get(f"{base}/rounds/{round_id}/export.xlsx").content))
    ranked = list(book["排名"].iter_rows(min_row=2, values_only=True))
    assert ranked[0][:4] == ("名次", "作品名称", "高校", "报送单位")
    assert {r[1]: (r[2], r[3]) for r in ranked[1:]} == {t: (u, "医学院党委") for t, u in expected.items()}
    assert book["排名"]["A1"].value == f"{CAMPAIGN} · 教育部 · 战疫故事汇 · 全国评审 · 排名"
    scores = list(book["评分明细"].iter_rows(min_row=2, values_only=True))
    assert scores[0][:3] == ("作品名称", "高校", "评审专家")
    assert scores[1][:3] == ("seu 的故事 1", "东南大学", "王专家")


def _ministry_key():
    from common.events import make_event

    return make_event("api_key_issued", "ministry", {"key_hash": hashlib.sha256(MINISTRY_KEY.encode()).hexdigest(),
                                                     "tenant_kind": "ministry", "tenant_name": "教育部思政司"})
