"""A published campaign is corrected by a new version (issue #16), over real HTTP against a real RabbitMQ:
the ministry lowers the 字数 limit of a story, SEU's copy follows it, WUST's copy (which set its own, looser
limit) is left as it was and WUST is told, and a story SEU had submitted under the old rules is flagged, not
refused. Only the owner corrects a campaign, and a refused correction stores and announces nothing.
"""
import copy

from sqlalchemy import func, select

from common.campaign import DEFINITIONS_DIR, read_definition
from tests.integration.test_intake_api import error_of, intake  # noqa: F401 (the fixture)

MINISTRY = read_definition(DEFINITIONS_DIR / "siyige-2020.yaml").raw
NOTE = "战疫故事汇正文限200字"
CSE = "计算机科学与工程学院党委"


def _story_text_field(campaign_json):
    return next(f for f in campaign_json["tracks"]["story"]["fields"] if f["key"] == "text")


def _with_story_limit(limit):
    doc = copy.deepcopy(MINISTRY)
    next(f for f in doc["tracks"]["story"]["fields"] if f["key"] == "text")["max_chars"] = limit
    return doc


def _published_events(db_url):
    """campaign_published events in intake's outbox (written in the correction's transaction), oldest first."""
    from common.db import Store
    from services.intake.models import OutboxMessage

    store = Store(db_url)
    try:
        with store.transaction() as s:
            rows = s.scalars(select(OutboxMessage).where(OutboxMessage.event_type == "campaign_published")
                             .order_by(OutboxMessage.id)).all()
            return [r.envelope["data"] for r in rows]
    finally:
        store.dispose()


def _flag_count(db_url):
    from common.db import Store
    from services.intake.models import SubmissionRuleFlag

    store = Store(db_url)
    try:
        with store.transaction() as s:
            return s.scalar(select(func.count()).select_from(SubmissionRuleFlag))
    finally:
        store.dispose()


def _submitted_story(seu, text):
    work = seu.draft("siyige-2020-seu", "story", CSE, title="计算机学院党委战疫故事", text=text)
    r = seu("POST", f"/api/v1/submissions/{work['id']}/submit")
    assert r.status_code == 200, r.text
    return r.json()


def test_the_ministry_corrects_a_limit_seu_follows_and_an_old_story_is_flagged(intake, db_url):  # noqa: F811
    seu, wust, ministry = intake["seu"], intake["wust"], intake["ministry"]
    long_story = _submitted_story(seu, "党" * 250)
    short_story = _submitted_story(seu, "疫情之中，党员冲在前面。")
    before = len(_published_events(db_url))

    r = ministry("POST", "/api/v1/campaigns/siyige-2020/versions",
                 json={"definition": _with_story_limit(200), "change_note": NOTE})
    assert r.status_code == 201, r.text
    corrected = r.json()
    assert corrected["id"] == "siyige-2020" and corrected["version"] == 2 and corrected["change_note"] == NOTE
    assert [(v["version"], v["change_note"]) for v in corrected["versions"]] == [(1, None), (2, NOTE)]
    assert _story_text_field(corrected)["max_chars"] == 200

    # SEU never set a limit of its own: its copy follows, as a version of its own
    seu_copy = seu("GET", "/api/v1/campaigns/siyige-2020-seu").json()
    assert seu_copy["version"] == 2 and seu_copy["change_note"] == f"随上级活动更正：{NOTE}"
    assert _story_text_field(seu_copy)["max_chars"] == 200
    assert seu_copy["follow_conflicts"] is None
    # SEU's own overrides stay: its colleges' story deadline
    story_stage = seu_copy["tracks"]["story"]["stages"][0]
    assert story_stage["deadlines"]["level2"].startswith("2020-07-20")

    # WUST wrote ≤300 字 itself: looser than the ministry's 200 now, so it is not changed and is told where
    wust_copy = wust("GET", "/api/v1/campaigns/siyige-2020-wust").json()
    assert wust_copy["version"] == 1 and _story_text_field(wust_copy)["max_chars"] == 300
    conflicts = wust_copy["follow_conflicts"]
    assert conflicts["parent_id"] == "siyige-2020" and conflicts["parent_version"] == 2
    assert [c["path"] for c in conflicts["conflicts"]] == ["tracks.story.fields.text.max_chars"]
    assert "200" in conflicts["conflicts"][0]["message"] and "300" in conflicts["conflicts"][0]["message"]
    audit = wust("GET", "/api/v1/audit", params={"action": "campaign.follow_conflict"}).json()["items"]
    assert [a["object_id"] for a in audit] == ["wust.siyige-2020-wust"]

    # the story SEU submitted at 250 字 stays submitted, flagged with the new limit; the short one is untouched
    flagged = seu("GET", f"/api/v1/submissions/{long_story['id']}").json()
    assert flagged["state"] == "submitted" and flagged["receipt_no"] == long_story["receipt_no"]
    assert [(f["version"], f["code"]) for f in flagged["rule_flags"]] == [(2, "text_too_long")]
    assert "200" in flagged["rule_flags"][0]["message"] and "250" in flagged["rule_flags"][0]["message"]
    untouched = seu("GET", f"/api/v1/submissions/{short_story['id']}").json()
    assert untouched["state"] == "submitted" and untouched["rule_flags"] == []

    # announced again, through the outbox: the ministry's and SEU's new versions, not WUST's unchanged copy
    events = _published_events(db_url)[before:]
    assert [(e["campaign_id"], e["version"], e["change_note"]) for e in events] == [
        ("siyige-2020", 2, NOTE), ("seu.siyige-2020-seu", 2, f"随上级活动更正：{NOTE}")]
    assert events[1]["tracks"]["story"]["fields"][2]["key"] == "text"


def test_only_the_owner_corrects_and_a_refused_correction_leaves_nothing(intake, db_url):  # noqa: F811
    seu, wust, ministry = intake["seu"], intake["wust"], intake["ministry"]
    _submitted_story(seu, "党" * 250)
    before = len(_published_events(db_url))
    body = {"definition": _with_story_limit(200), "change_note": NOTE}

    error_of(seu("POST", "/api/v1/campaigns/siyige-2020/versions", json=body), 403, "not_campaign_owner")
    error_of(wust("POST", "/api/v1/campaigns/seu.siyige-2020-seu/versions", json=body), 404, "campaign_not_found")

    bad = copy.deepcopy(MINISTRY)
    bad["tracks"]["story"]["stages"][0]["deadlines"]["university"] = "2020-07-32"
    error = error_of(ministry("POST", "/api/v1/campaigns/siyige-2020/versions",
                              json={"definition": bad, "change_note": NOTE}), 422, "campaign_invalid")
    assert any(d["field"].startswith("tracks.story.stages.submission.deadlines") for d in error["details"])
    error_of(ministry("POST", "/api/v1/campaigns/siyige-2020/versions",
                      json={"definition": _with_story_limit(200), "change_note": "第一行\n第二行"}),
             422, "change_note_multiline")
    error_of(ministry("POST", "/api/v1/campaigns/siyige-2020/versions",
                      json={"definition": _with_story_limit(200), "change_note": "改" * 201}),
             422, "change_note_too_long")
    error_of(ministry("POST", "/api/v1/campaigns/siyige-2020/versions", json={"definition": _with_story_limit(200)}),
             400, "validation_failed")
    error_of(ministry("POST", "/api/v1/campaigns/siyige-2020/versions",
                      json={"definition": MINISTRY, "change_note": NOTE}), 422, "version_unchanged")
    renamed = {**_with_story_limit(200), "id": "siyige-2020-b"}
    error_of(ministry("POST", "/api/v1/campaigns/siyige-2020/versions",
                      json={"definition": renamed, "change_note": NOTE}), 422, "version_id_changed")
    # SEU's own correction of its copy may not loosen the ministry's campaign either
    seu_doc = read_definition(DEFINITIONS_DIR / "siyige-2020-seu.yaml").raw
    seu_doc["tracks"]["story"]["stages"][0]["deadlines"]["university"] = "2020-08-05"
    error_of(seu("POST", "/api/v1/campaigns/siyige-2020-seu/versions",
                 json={"definition": seu_doc, "change_note": "报送截止改为8月5日"}), 422, "campaign_loosens_parent")

    for portal, campaign in ((ministry, "siyige-2020"), (seu, "siyige-2020-seu"), (wust, "siyige-2020-wust")):
        got = portal("GET", f"/api/v1/campaigns/{campaign}").json()
        assert got["version"] == 1 and [v["version"] for v in got["versions"]] == [1]
        assert got["follow_conflicts"] is None
    assert len(_published_events(db_url)) == before
    assert _flag_count(db_url) == 0
