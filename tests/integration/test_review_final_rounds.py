"""Review against a real RabbitMQ: a round where the track's selection ends (issue #16, "Where a selection ends").

A campaign written here and published by the ministry: 优秀个人 is awarded at the university (表彰 by category,
one place per category), 先进事迹材料审核 is vetted (pass or fail, no experts; review keeps each failed work's reason and
shows and exports it), 身边的先锋 ends in a 5-day 公示 (its end: tests/integration/test_review_publicity.py),
组织生活会记录 has nothing to score (collected and listed). Works arrive as intake's
events; the university's admin closes the round and confirms on review's pages, over HTTP.
"""
import io
import re

from openpyxl import load_workbook
from sqlalchemy import select

from common.campaign import campaign_event_data, parse_definition
from common.events import make_event, validate_envelope
from tests.conftest import wait_until
from tests.integration.test_review_service import INTAKE, admin, csrf, outbox, publish, review  # noqa: F401 - fixture

CATEGORIES = ["优秀共产党员", "优秀党务工作者"]


def _stages() -> list[dict]:
    return [{"key": "nomination", "label": "推荐", "required_fields": ["title"], "files": [],
             "deadlines": {"level2": "2021-06-10"}}]


def honours_campaign():
    definition = parse_definition({
        "id": "honours-2021", "title": "2021年“两优一先”评选", "short_title": "两优一先 2021", "derives_from": None,
        "timezone": "Asia/Shanghai", "themes": [], "tracks": {
            "members": {
                "label": "优秀个人", "department": "organisation", "submit_levels": ["level2"],
                "fields": [{"key": "title", "label": "推荐对象", "type": "string", "required": True},
                           {"key": "category", "label": "表彰类别", "type": "choice", "required": True,
                            "choices": CATEGORIES}],
                "stages": _stages(), "rubric": [{"key": "deeds", "label": "先进事迹", "weight": 100, "max": 10}],
                "decision": {"level": "university", "kind": "award", "label": "校级表彰",
                             "places": {"优秀共产党员": 1, "优秀党务工作者": 1}, "category_field": "category"}},
            "reports": {  # 审核把关: each passes or fails, nothing scored
                "label": "先进事迹材料审核", "department": "organisation", "submit_levels": ["level2"],
                "fields": [{"key": "title", "label": "标题", "type": "string", "required": True}], "stages": _stages(),
                "decision": {"level": "university", "kind": "vetting"}},
            "pioneers": {  # 公示: the chosen are published for 5 days, then the result stands (publicity_ended)
                "label": "身边的先锋", "department": "organisation", "submit_levels": ["level2"],
                "fields": [{"key": "title", "label": "标题", "type": "string", "required": True}], "stages": _stages(),
                "rubric": [{"key": "deeds", "label": "先进事迹", "weight": 100, "max": 10}],
                "decision": {"level": "university", "kind": "publicity", "publicity_days": 5}},
            "records": {
                "label": "组织生活会记录", "department": "organisation", "submit_levels": ["level2"],
                "fields": [{"key": "title", "label": "标题", "type": "string", "required": True}], "stages": _stages()},
        }})
    return make_event("campaign_published", "ministry", campaign_event_data(definition))


def nominated(n: int, track: str = "members", category: str | None = None):
    fields = {"title": f"张{n}同志先进事迹", **({"category": category} if category else {})}
    return make_event("submission_submitted", "seu", {
        "submission_id": f"h-{track}-{n}", "campaign_id": "honours-2021", "track": track, "stage": "nomination",
        "final_stage": True, "org_id": "o-cse", "org_name": "计算机科学与工程学院党委", "org_level": "level2",
        "title": fields["title"], "receipt_no": f"SEU-H-{track}-{n}", "submitted_at": "2021-06-01T02:00:00+00:00",
        "file_ids": [], "fields": fields, "parent_org_id": None})


def entries(store) -> dict:
    from services.review.models import Entry

    with store.transaction() as s:
        return {e.submission_id: e.round_id for e in s.scalars(select(Entry))}


def rounds(store) -> list:
    from services.review.models import Round

    with store.transaction() as s:
        return [(r.id, r.track, r.level) for r in s.scalars(select(Round))]


def published(review) -> None:
    """The campaign, and review's copy of it: a work's track is judged by it when the work arrives."""
    from services.review.models import CampaignCopy

    publish(review["amqp"], INTAKE, honours_campaign())

    def known():
        with review["store"].transaction() as s:
            return s.get(CampaignCopy, "honours-2021") is not None

    wait_until(known, timeout=20, what="review's copy of the campaign")


def test_a_final_award_round_keeps_each_categorys_places_and_forwards_nothing(review):
    base, store = review["base"], review["store"]
    published(review)
    publish(review["amqp"], INTAKE, nominated(1, category="优秀共产党员"), nominated(2, category="优秀共产党员"),
            nominated(3, category="优秀党务工作者"))
    wait_until(lambda: len([r for r in entries(store).values() if r]) == 3, timeout=20, what="3 nominations in a round")
    [(round_id, track, level)] = rounds(store)
    assert (track, level) == ("members", "university")

    web = admin(base)
    page = web.get(f"{base}/rounds/{round_id}").text
    assert "本轮为最终评定" in page and "表彰名额（校级表彰）：优秀共产党员 1 名、优秀党务工作者 1 名" in page
    assert "报送" not in re.search(r'<p id="outcome">(.*?)</p>', page, re.S).group(1)
    token = csrf(page)
    web.post(f"{base}/rounds/{round_id}/close", data={"csrf_token": token})
    ranking = web.get(f"{base}/rounds/{round_id}/ranking").text
    assert "可向" not in ranking and "确认表彰名单" in ranking and "<th>类别</th>" in ranking

    # two 优秀共产党员 for one place: refused, every work stays where it was
    over = web.post(f"{base}/rounds/{round_id}/selection",
                    data={"csrf_token": token, "selected": ["h-members-1", "h-members-2", "h-members-3"]})
    assert over.status_code == 409
    assert 'data-code="selection_over_places"' in over.text
    assert "「优秀共产党员」最多 1 名，当前选了 2 名" in over.text and "请在超出的类别中取消" in over.text
    assert outbox(store, "selection_made") == []

    ok = web.post(f"{base}/rounds/{round_id}/selection",
                  data={"csrf_token": token, "selected": ["h-members-2", "h-members-3"]})
    assert ok.status_code == 200 and "已确认" in ok.text
    [made] = outbox(store, "selection_made")
    validate_envelope(made)  # as intake and notify will check it
    data = made["data"]
    assert data["to_level"] is None and data["level"] == "university"
    assert data["decision"] == {"level": "university", "kind": "award", "label": "校级表彰"}
    assert {r["submission_id"]: (r["selected"], r["category"]) for r in data["results"]} == {
        "h-members-1": (False, "优秀共产党员"), "h-members-2": (True, "优秀共产党员"),
        "h-members-3": (True, "优秀党务工作者")}
    confirmed = [e["data"] for e in outbox(store, "review_audited") if e["data"]["action"] == "round.selection_confirmed"]
    assert confirmed[-1]["detail"]["to_level"] is None and confirmed[-1]["detail"]["decision"] == "award"


def test_a_collected_tracks_submission_enters_no_round(review):
    store = review["store"]
    published(review)
    # a work with a rubric beside it, which does enter its round: the record is not refused for lack of a round
    publish(review["amqp"], INTAKE, nominated(1, track="records"), nominated(2, category="优秀党务工作者"))
    # an entry is stored in the transaction that decides its round: once both are seen, both were placed or not
    known = wait_until(lambda: (e := entries(store)) and {"h-records-1", "h-members-2"} <= set(e) and e, timeout=20,
                       what="both works known to review")
    assert known["h-records-1"] is None and known["h-members-2"] is not None
    assert [track for _, track, _ in rounds(store)] == ["members"]


def test_a_vetting_round_is_passed_or_failed_with_reasons_and_no_experts(review):
    base, store = review["base"], review["store"]
    published(review)
    publish(review["amqp"], INTAKE, nominated(1, track="reports"), nominated(2, track="reports"))
    wait_until(lambda: len([r for r in entries(store).values() if r]) == 2, timeout=20, what="2 reports in a round")
    [(round_id, track, _)] = rounds(store)
    web = admin(base)
    page = web.get(f"{base}/rounds/{round_id}").text
    assert "审核：逐件通过/不通过" in page and 'id="vetting"' in page and "评审专家</h2>" not in page
    token = csrf(page)
    # failed without a reason: refused, nothing confirmed
    r = web.post(f"{base}/rounds/{round_id}/selection", data={"csrf_token": token, "selected": ["h-reports-1"]})
    assert r.status_code == 400 and 'data-code="vetting_reason_missing"' in r.text and "《张2同志先进事迹》" in r.text
    assert outbox(store, "selection_made") == []
    r = web.post(f"{base}/rounds/{round_id}/selection", data={
        "csrf_token": token, "selected": ["h-reports-1"], "reason_h-reports-2": "材料缺少党支部签章"})
    assert r.status_code == 200 and "审核结果已于" in r.text
    [made] = outbox(store, "selection_made")
    data = made["data"]
    assert (data["to_level"], data["decision"]["kind"], data["selected"]) == (None, "vetting", ["h-reports-1"])
    assert {x["submission_id"]: x.get("reason") for x in data["results"]} == {
        "h-reports-1": None, "h-reports-2": "材料缺少党支部签章"}

    # review keeps the reasons with the confirmed selection: its pages and its export show them
    from services.review.models import SelectionRow

    with store.transaction() as s:
        assert {r.submission_id: (r.selected, r.reason) for r in s.scalars(select(SelectionRow))} == {
            "h-reports-1": (True, None), "h-reports-2": (False, "材料缺少党支部签章")}
    ranking = web.get(f"{base}/rounds/{round_id}/ranking").text
    assert "不通过：材料缺少党支部签章" in ranking
    page = web.get(f"{base}/rounds/{round_id}").text
    assert "<th>审核结果</th>" in page and "不通过：材料缺少党支部签章" in page
    verdicts = re.findall(r'<td class="verdict">([^<]*)</td>', page)
    assert sorted(verdicts) == ["不通过：材料缺少党支部签章", "通过"]
    sheet = load_workbook(io.BytesIO(web.get(f"{base}/rounds/{round_id}/export.xlsx").content))
    rows = list(sheet["审核结果"].iter_rows(min_row=2, values_only=True))  # row 1 is the title
    assert rows[0] == ("作品名称", "报送单位", "审核结果", "不通过的原因", "文件")
    assert sorted(r[:4] for r in rows[1:]) == [
        ("张1同志先进事迹", "计算机科学与工程学院党委", "通过", None),
        ("张2同志先进事迹", "计算机科学与工程学院党委", "不通过", "材料缺少党支部签章")]


def test_a_vetting_before_its_confirmation_exports_each_work_as_not_yet_decided(review):
    base, store = review["base"], review["store"]
    published(review)
    publish(review["amqp"], INTAKE, nominated(1, track="reports"))
    wait_until(lambda: len([r for r in entries(store).values() if r]) == 1, timeout=20, what="1 report in a round")
    [(round_id, _, _)] = rounds(store)
    web = admin(base)
    assert "<th>审核结果</th>" not in web.get(f"{base}/rounds/{round_id}").text
    sheet = load_workbook(io.BytesIO(web.get(f"{base}/rounds/{round_id}/export.xlsx").content))
    assert [r[2:4] for r in sheet["审核结果"].iter_rows(min_row=3, values_only=True)] == [("未确认", None)]
