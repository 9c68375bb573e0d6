"""A portal sees where a final round decided a work (issue #16, "where a selection ends").

When the round where a track's selection ends confirms (`selection_made` with `to_level` null and its
`decision`), intake records each work's result in its log; GET /submissions/{id} and the list show it as
`result`, in words a portal can show as they are (「已入选」, 「获表彰（…）」, 「审核未通过（原因）」).
"""
from __future__ import annotations

from kombu import Connection, Exchange
from sqlalchemy import func, select as query

from common.db import Store
from common.events import make_event
from services.intake.models import SubmissionLog
from tests.conftest import wait_until
from tests.integration.test_intake_api import intake, select  # noqa: F401  (fixture)


def announce_final(env, selected, not_selected, decision, results_extra=None):
    """The ministry's national round confirms: `selected` are the result, nothing goes further."""
    results = [{"submission_id": s, "tenant": "seu", "rank": n, "selected": True, **(results_extra or {}).get(s, {})}
               for n, s in enumerate(selected, start=1)]
    results += [{"submission_id": s, "tenant": "seu", "rank": len(selected) + n, "selected": False,
                 **(results_extra or {}).get(s, {})} for n, s in enumerate(not_selected, start=1)]
    ev = make_event("selection_made", "ministry", {
        "round_id": "rd-national", "campaign_id": "siyige-2020", "track": "story", "level": "ministry",
        "to_level": None, "owner_org_id": None, "selected": selected, "not_selected": not_selected,
        "results": results, "decision": decision})
    with Connection(env["config"]["AMQP_URI"]) as conn:
        for _ in range(2):  # delivered twice: recorded once
            conn.Producer().publish(ev.to_dict(), exchange=Exchange("review.events", type="topic", durable=True),
                                    routing_key="selection_made", serializer="json", delivery_mode=2)


def seu_stories_forwarded(env, n: int) -> list[str]:
    seu = env["seu"]
    works = []
    for i in range(n):
        w = seu.draft("siyige-2020-seu", "story", "计算机科学与工程学院党委", title=f"战疫故事{i}", text="党员冲在前面。")
        assert seu("POST", f"/api/v1/submissions/{w['id']}/submit").status_code == 200
        works.append(w["id"])
    select(env, works)
    wait_until(lambda: all(seu("GET", f"/api/v1/submissions/{w}").json()["forwarded_to"] == "ministry" for w in works),
               what="the stories forwarded to the ministry")
    return works


def test_the_national_selection_is_each_works_result_in_get_and_list(intake):  # noqa: F811
    seu = intake["seu"]
    chosen, other = seu_stories_forwarded(intake, 2)
    before = seu("GET", f"/api/v1/submissions/{chosen}").json()
    assert before["result"] is None  # forwarded, not yet decided
    announce_final(intake, [chosen], [other], {"level": "ministry", "kind": "select", "label": "择优入选"})
    work = wait_until(lambda: (w := seu("GET", f"/api/v1/submissions/{chosen}").json())["result"] and w,
                      what="the result recorded")
    result = work["result"]
    assert (result["level"], result["kind"], result["label"], result["passed"], result["words"]) == (
        "ministry", "select", "择优入选", True, "已入选")
    assert result["decided_at"].startswith("20")
    assert seu("GET", f"/api/v1/submissions/{other}").json()["result"] is None  # not chosen: no result to show
    listed = {w["id"]: w["result"] for w in seu("GET", "/api/v1/submissions", params={"track": "story"}).json()["items"]}
    assert listed[chosen]["words"] == "已入选" and listed[other] is None
    # the event came twice: one decision on record
    with Store(intake["config"]["DATABASE_URL"]).transaction() as s:
        assert s.scalar(query(func.count()).select_from(SubmissionLog).where(
            SubmissionLog.submission_id == chosen, SubmissionLog.action == "decided")) == 1


def test_a_failed_vetting_shows_its_reason_and_the_newest_decision_stands(intake):  # noqa: F811
    seu = intake["seu"]
    passed, failed = seu_stories_forwarded(intake, 2)
    announce_final(intake, [passed], [failed], {"level": "ministry", "kind": "vetting", "label": "审核把关"},
                   {failed: {"reason": "内容与主题无关"}})
    got = wait_until(lambda: (w := seu("GET", f"/api/v1/submissions/{failed}").json())["result"] and w["result"],
                     what="the vetting recorded")
    assert (got["passed"], got["reason"], got["words"]) == (False, "内容与主题无关", "审核未通过（内容与主题无关）")
    assert seu("GET", f"/api/v1/submissions/{passed}").json()["result"]["words"] == "审核通过"
    # another university's key cannot read them at all
    assert intake["wust"]("GET", f"/api/v1/submissions/{passed}").status_code == 404
