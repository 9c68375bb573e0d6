"""A university's copy of a campaign may not un-hide what the ministry hides (issue #14 item 4).

The tightening check ignored `identifying`, so a copy could show 主讲人 and national reviewers saw
the lecturer. Now every key of the definition format carries a decision (`TIGHTENING`): a key added
later without one fails here, and every enforced decision is loosened once below and must be refused
with its place named. Review's national round shows a work under the ministry's definition, and a
field hidden anywhere in the work's `derives_from` chain stays hidden even in a copy stored before
intake refused loosened copies.
"""
import copy
import hashlib
import re

import pytest
import requests

from common.campaign import (
    DEFINITION_SCHEMA,
    TIGHTENING,
    campaign_event_data,
    check_tightens,
    load_builtin_definitions,
    parse_definition,
    tighten as fmt,
)
from common.campaign.tighten import FREE
from common.errors import Unprocessable
from common.events import make_event
from tests.conftest import wait_until
from tests.integration.test_review_service import INTAKE, admin, count_in_round, csrf, outbox, publish, review, the_round  # noqa: F401  (fixture)
from tests.signin import redeem


def ministry_raw() -> dict:
    return copy.deepcopy(load_builtin_definitions()["siyige-2020"].raw)


def child_of(parent: dict) -> dict:
    child = copy.deepcopy(parent)
    child.update(id="siyige-2020-copy", derives_from=parent["id"])
    return child


def field(doc, track, key):
    return next(f for f in doc["tracks"][track]["fields"] if f["key"] == key)


def stage(doc, track, key):
    return next(s for s in doc["tracks"][track]["stages"] if s["key"] == key)


def refusal(parent: dict, child: dict) -> Unprocessable:
    with pytest.raises(Unprocessable) as caught:
        check_tightens(parse_definition(parent), parse_definition(child))
    assert caught.value.code == "campaign_loosens_parent"
    return caught.value


def test_a_copy_that_drops_one_identifying_field_is_refused_with_the_field_named():
    parent = load_builtin_definitions()["siyige-2020"]
    for track, key, label in (("lecture", "lecturers", "主讲人"), ("story", "branch_name", "所属党支部")):
        child = copy.deepcopy(load_builtin_definitions()["siyige-2020-seu"].raw)
        field(child, track, key)["identifying"] = False
        with pytest.raises(Unprocessable) as caught:
            check_tightens(parent, parse_definition(child))
        assert [d["field"] for d in caught.value.details] == [f"tracks.{track}.fields.{key}.identifying"]
        assert label in caught.value.message and "identifying: true" in caught.value.message
    # marking more fields identifying is stricter, and allowed
    child = copy.deepcopy(load_builtin_definitions()["siyige-2020-seu"].raw)
    field(child, "lecture", "planned_date")["identifying"] = True
    check_tightens(parent, parse_definition(child))


def format_paths(node: dict, path: str = "") -> list[str]:
    """Every key the definition format has, from its JSON Schema: `*` any key of a mapping, `[]` any list item."""
    if "items" in node:
        return format_paths(node["items"], path + "[]") if isinstance(node["items"], dict) else []
    out = []
    for key, sub in node.get("properties", {}).items():
        out += [f"{path}.{key}" if path else key, *format_paths(sub, f"{path}.{key}" if path else key)]
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and extra:
        out += [f"{path}.*", *format_paths(extra, f"{path}.*")]
    return out


def test_every_key_of_the_format_has_a_tightening_decision():
    paths = format_paths(DEFINITION_SCHEMA)
    assert len(paths) == len(set(paths)) > 50
    undecided = sorted(set(paths) - set(TIGHTENING))
    assert not undecided, f"decide in campaign.TIGHTENING how a derived copy may change: {undecided}"
    stale = sorted(set(TIGHTENING) - set(paths))
    assert not stale, f"TIGHTENING names keys the format no longer has: {stale}"
    rules = {rule for rule, _ in TIGHTENING.values()}
    assert rules <= {getattr(fmt, name) for name in ("FREE", "KEY", "KEPT", "SAME", "SUBSET", "SUPERSET", "AT_MOST",
                                                     "AT_LEAST", "EARLIER", "LATER", "STAYS_TRUE", "IMPLIED")}
    assert TIGHTENING["tracks.*.fields[].identifying"][0] == fmt.STAYS_TRUE


def _material_quota(p, c, child_quota, child_field="form"):
    p["tracks"]["material"].update(quota_field="form", quota={"branch": {"article": 2}})
    c["tracks"]["material"].update(quota_field=child_field, quota={"branch": child_quota})


def _case_document(doc):
    """The material stage's document requirement: a work case (工作案例) carries its document."""
    return next(f for f in stage(doc, "material", "submission")["files"] if f["kind"] == "document")


def _media_items(p, c, child_kinds):
    """SEU's 「10件左右图片和音视频素材」 in the parent, counted in pictures and clips; the copy counts fewer kinds, or works."""
    for doc, kinds in ((p, ["image", "audio", "video"]), (c, child_kinds)):
        doc["tracks"]["material"].update(quota_field="form", quota={"branch": {"media": 10}})
        if kinds is not None:
            doc["tracks"]["material"]["quota_items"] = {"media": kinds}


def _drop_subtitles(p, c):
    del c["tracks"]["lecture"]["media"]["subtitle"]
    stage(c, "lecture", "video")["files"] = [{"kind": "video", "min": 1, "max": 1}]


def _award(p, c, **child):
    """The parent's story ends at the university as an award of 5 places over 7 days' publicity… as a copy changes it."""
    decision = {"level": "ministry", "kind": "award", "places": 5, "label": "全国表彰"}
    p["tracks"]["story"]["decision"] = copy.deepcopy(decision)
    c["tracks"]["story"]["decision"] = {**decision, **child}


def _award_by_category(p, c, child_places):
    for doc, places in ((p, {"teacher": 2, "student": 3}), (c, child_places)):
        doc["tracks"]["story"]["fields"].append({"key": "category", "label": "类别", "type": "choice", "required": True,
                                                 "choices": ["teacher", "student"]})
        doc["tracks"]["story"]["decision"] = {"level": "ministry", "kind": "award", "category_field": "category",
                                              "places": places}


def _publicity(p, c, child_days):
    p["tracks"]["story"]["decision"] = {"level": "ministry", "kind": "publicity", "publicity_days": 7}
    c["tracks"]["story"]["decision"] = {"level": "ministry", "kind": "publicity", "publicity_days": child_days}


def _attendance(p, c, child_min=None, child_max=None, **bounds):
    """A 参会人数 number field with bounds in the parent, looser ones in the copy."""
    for doc, mine in ((p, bounds), (c, {"min_value": child_min, "max_value": child_max})):
        spec = {"key": "attendance", "label": "参会人数", "type": "number", **{k: v for k, v in mine.items() if v}}
        doc["tracks"]["meeting_report"]["fields"].append(spec)


def _duration(c):
    return next(r for r in c["tracks"]["lecture"]["media"]["video"]["rules"] if r["fact"] == "duration_s")


def _monthly(p, c, parent=None, **child):
    """A monthly record track (「月度组织生活」) in both, March–June 2020 due on the 25th in the parent, as a copy changes it."""
    recurrence = {"first": "2020-03", "last": "2020-06", "field": "held_on", "due_day": 25}
    for doc, mine in ((p, parent if parent is not None else recurrence), (c, {**recurrence, **child})):
        track = copy.deepcopy(doc["tracks"]["meeting_report"])
        track["stages"][0].update(deadlines={}, required_fields=["title", "held_on"])
        if mine.get("field", "held_on") != "held_on":  # a record's month read from another date of the copy's own
            track["fields"].append({"key": mine["field"], "label": "上报日期", "type": "date", "required": True})
            track["stages"][0]["required_fields"].append(mine["field"])
        track.update(recurrence={k: v for k, v in mine.items() if v is not None}, forward={})
        doc["tracks"]["monthly_record"] = track


# One loosening per enforced decision: (edit of parent and child, the place the refusal must name).
LOOSENINGS = {
    "derives_from": (lambda p, c: c.update(derives_from="siyige-2019"), "derives_from"),
    "themes": (lambda p, c: c["themes"].append("自拟主题"), "themes"),
    # the plan is 「在教育部直属高校和部省合建高校开展」: a copy is for no one else
    "audience": (lambda p, c: c.update(audience={"categories": ["direct", "co_built", "local"]}), "audience.categories"),
    "audience.categories": (lambda p, c: c.update(audience={"categories": ["local"]}), "audience.categories"),
    "audience.universities": (lambda p, c: (p.update(audience={"universities": ["seu"]}),
                                            c.update(audience={"universities": ["seu", "wust"]})),
                              "audience.universities"),
    "tracks": (lambda p, c: c["tracks"].pop("story"), "tracks.story"),
    # a scored track of the copy's own cannot go up to the ministry, which runs no such track
    "tracks.*": (lambda p, c: c["tracks"].update(poetry=copy.deepcopy(c["tracks"]["story"])),
                 "tracks.poetry.decision.level"),
    "tracks.*.required": (lambda p, c: c["tracks"]["story"].update(required=False), "tracks.story.required"),
    "tracks.*.submit_levels": (lambda p, c: (p["tracks"]["meeting_report"].update(submit_levels=["branch"],
                                                                                   quota={"branch": 1}),
                                             c["tracks"]["meeting_report"].update(submit_levels=["branch", "level2"])),
                               "tracks.meeting_report.submit_levels"),
    "tracks.*.naming_rule": (lambda p, c: (p["tracks"]["story"].update(naming_rule=True),
                                           c["tracks"]["story"].update(naming_rule=False)),
                             "tracks.story.naming_rule"),
    "tracks.*.fields": (lambda p, c: c["tracks"]["lecture"]["fields"].remove(field(c, "lecture", "outline")),
                        "tracks.lecture.fields.outline"),
    "tracks.*.fields[].key": (lambda p, c: field(c, "lecture", "outline").update(key="outline_text"),
                              "tracks.lecture.fields.outline"),
    "tracks.*.fields[].type": (lambda p, c: field(c, "lecture", "planned_date").update(type="string"),
                               "tracks.lecture.fields.planned_date.type"),
    "tracks.*.fields[].required": (lambda p, c: field(c, "lecture", "lecturers").update(required=False),
                                   "tracks.lecture.fields.lecturers.required"),
    "tracks.*.fields[].min_chars": (lambda p, c: (field(p, "story", "text").update(min_chars=50),
                                                  field(c, "story", "text").update(min_chars=10)),
                                    "tracks.story.fields.text.min_chars"),
    "tracks.*.fields[].max_chars": (lambda p, c: (field(p, "story", "text").update(max_chars=1000),
                                                  field(c, "story", "text").update(max_chars=2000)),
                                    "tracks.story.fields.text.max_chars"),
    "tracks.*.fields[].min_items": (lambda p, c: field(c, "lecture", "lecturers").update(min_items=0),
                                    "tracks.lecture.fields.lecturers.min_items"),
    "tracks.*.fields[].max_items": (lambda p, c: (field(p, "lecture", "lecturers").update(max_items=3),
                                                  field(c, "lecture", "lecturers").update(max_items=5)),
                                    "tracks.lecture.fields.lecturers.max_items"),
    "tracks.*.fields[].min_date": (lambda p, c: (field(p, "lecture", "planned_date").update(min_date="2020-06-01"),
                                                 field(c, "lecture", "planned_date").update(min_date="2020-05-01")),
                                   "tracks.lecture.fields.planned_date.min_date"),
    "tracks.*.fields[].max_date": (lambda p, c: field(c, "lecture", "held_on").update(max_date="2020-07-15"),
                                   "tracks.lecture.fields.held_on.max_date"),
    "tracks.*.fields[].min_value": (lambda p, c: _attendance(p, c, min_value=3, child_min=1),
                                    "tracks.meeting_report.fields.attendance.min_value"),
    "tracks.*.fields[].max_value": (lambda p, c: _attendance(p, c, max_value=200, child_max=500),
                                    "tracks.meeting_report.fields.attendance.max_value"),
    "tracks.*.fields[].choices": (lambda p, c: field(c, "meeting_report", "mode")["choices"].append("hybrid"),
                                  "tracks.meeting_report.fields.mode.choices"),
    "tracks.*.fields[].choices_from": (lambda p, c: (field(c, "lecture", "theme").pop("choices_from"),
                                                     field(c, "lecture", "theme").update(
                                                         choices=[*c["themes"], "自拟主题"])),
                                       "tracks.lecture.fields.theme.choices"),
    "tracks.*.fields[].identifying": (lambda p, c: field(c, "lecture", "lecturers").update(identifying=False),
                                      "tracks.lecture.fields.lecturers.identifying"),
    "tracks.*.stages": (lambda p, c: c["tracks"]["lecture"]["stages"].remove(stage(c, "lecture", "video")),
                        "tracks.lecture.stages.video"),
    "tracks.*.stages[].key": (lambda p, c: stage(c, "lecture", "video").update(key="recording"),
                              "tracks.lecture.stages.video"),
    "tracks.*.stages[].required_fields": (lambda p, c: stage(c, "lecture", "registration")["required_fields"]
                                          .remove("planned_date"), "tracks.lecture.stages.registration.required_fields"),
    "tracks.*.stages[].files": (lambda p, c: (stage(c, "story", "submission")["files"].append({"kind": "audio"}),
                                              c["tracks"]["story"]["media"].update(audio={"max_bytes": 1000})),
                                "tracks.story.stages.submission.files.audio"),
    "tracks.*.stages[].files[].kind": (lambda p, c: (stage(c, "lecture", "video")["files"][0].update(kind="audio"),
                                                     c["tracks"]["lecture"]["media"].update(audio={"max_bytes": 9})),
                                       "tracks.lecture.stages.video.files.video"),
    "tracks.*.stages[].files[].min": (lambda p, c: stage(c, "lecture", "video")["files"][0].update(min=0),
                                      "tracks.lecture.stages.video.files.video"),
    "tracks.*.stages[].files[].max": (lambda p, c: stage(c, "lecture", "video")["files"][0].update(max=2),
                                      "tracks.lecture.stages.video.files.video"),
    "tracks.*.stages[].files[].required_when": (lambda p, c: _case_document(c).pop("required_when"),
                                                "tracks.material.stages.submission.files.document.required_when.form"),
    # the parent wants a document with a 文字 work too; the copy only with a work case
    "tracks.*.stages[].files[].required_when.*": (lambda p, c: _case_document(p)["required_when"]["form"].append("article"),
                                                  "tracks.material.stages.submission.files.document.required_when.form"),
    "tracks.*.stages[].deadlines": (lambda p, c: stage(c, "lecture", "video").update(deadlines={}),
                                    "tracks.lecture.stages.video.deadlines.university"),
    "tracks.*.stages[].deadlines.*": (lambda p, c: stage(c, "lecture", "video")["deadlines"].update(
        university="2020-08-31"), "tracks.lecture.stages.video.deadlines.university"),
    "tracks.*.stages[].opens": (lambda p, c: stage(c, "material", "submission").update(opens="2020-08-15"),
                                "tracks.material.stages.submission.opens"),
    "tracks.*.media": (_drop_subtitles, "tracks.lecture.media.subtitle"),
    "tracks.*.media.*": (lambda p, c: c["tracks"]["lecture"]["media"].update(video={}),
                         "tracks.lecture.media.video.max_bytes"),
    "tracks.*.media.*.max_bytes": (lambda p, c: c["tracks"]["lecture"]["media"]["video"].update(max_bytes=2**32),
                                   "tracks.lecture.media.video.max_bytes"),
    "tracks.*.media.*.rules": (lambda p, c: c["tracks"]["lecture"]["media"]["video"]["rules"].remove(_duration(c)),
                               "tracks.lecture.media.video.rules.duration_s"),
    "tracks.*.media.*.rules[].fact": (lambda p, c: _duration(c).update(fact="frame_rate"),
                                      "tracks.lecture.media.video.rules.duration_s"),
    "tracks.*.media.*.rules[].op": (lambda p, c: _duration(c).update(op="ge"),
                                    "tracks.lecture.media.video.rules.duration_s"),
    "tracks.*.media.*.rules[].value": (lambda p, c: _duration(c).update(value=3600),
                                       "tracks.lecture.media.video.rules.duration_s"),
    "tracks.*.media.*.rules[].severity": (lambda p, c: _duration(c).update(severity="warning"),
                                          "tracks.lecture.media.video.rules.duration_s"),
    "tracks.*.quota": (lambda p, c: c["tracks"]["lecture"].update(quota={}), "tracks.lecture.quota.branch"),
    "tracks.*.quota.*": (lambda p, c: c["tracks"]["lecture"]["quota"].update(branch=2), "tracks.lecture.quota.branch"),
    "tracks.*.quota.*.*": (lambda p, c: _material_quota(p, c, {"article": 3}), "tracks.material.quota.branch.article"),
    "tracks.*.quota_field": (lambda p, c: _material_quota(p, c, 2, child_field=None), "tracks.material.quota_field"),
    "tracks.*.quota_items": (lambda p, c: _media_items(p, c, None), "tracks.material.quota_items.media"),
    "tracks.*.quota_items.*": (lambda p, c: _media_items(p, c, ["image"]), "tracks.material.quota_items.media"),
    "tracks.*.forward": (lambda p, c: c["tracks"]["lecture"].update(forward={}), "tracks.lecture.forward.university"),
    "tracks.*.forward.*": (lambda p, c: c["tracks"]["lecture"]["forward"].update(university=2),
                           "tracks.lecture.forward.university"),
    "tracks.*.decision": (lambda p, c: (_award(p, c), c["tracks"]["story"].pop("decision")),
                          "tracks.story.decision.kind"),
    "tracks.*.decision.level": (lambda p, c: (_award(p, c, level="university"),
                                              c["tracks"]["story"]["forward"].clear(),
                                              stage(c, "story", "submission")["deadlines"].clear()),
                                "tracks.story.decision.level"),
    "tracks.*.decision.kind": (lambda p, c: _award(p, c, kind="library"), "tracks.story.decision.kind"),
    "tracks.*.decision.places": (lambda p, c: _award(p, c, places=6), "tracks.story.decision.places"),
    "tracks.*.decision.places.*": (lambda p, c: _award_by_category(p, c, {"teacher": 3, "student": 3}),
                                   "tracks.story.decision.places.teacher"),
    "tracks.*.decision.category_field": (lambda p, c: _award_by_category(p, c, 5) or
                                         c["tracks"]["story"]["decision"].pop("category_field"),
                                         "tracks.story.decision.category_field"),
    "tracks.*.decision.publicity_days": (lambda p, c: _publicity(p, c, 5), "tracks.story.decision.publicity_days"),
    "tracks.*.recurrence": (lambda p, c: (_monthly(p, c), c["tracks"]["monthly_record"].pop("recurrence")),
                            "tracks.monthly_record.recurrence"),
    "tracks.*.recurrence.first": (lambda p, c: _monthly(p, c, first="2020-04"), "tracks.monthly_record.recurrence.first"),
    "tracks.*.recurrence.last": (lambda p, c: _monthly(p, c, last="2020-07"), "tracks.monthly_record.recurrence.last"),
    "tracks.*.recurrence.field": (lambda p, c: _monthly(p, c, field="reported_on"), "tracks.monthly_record.recurrence.field"),
    "tracks.*.recurrence.due_day": (lambda p, c: _monthly(p, c, due_day=None), "tracks.monthly_record.recurrence.due_day"),
}


def test_every_enforced_decision_has_a_loosening_below():
    enforced = {path for path, (rule, _) in TIGHTENING.items() if rule not in (FREE, fmt.KEY)}
    keys = {path for path, (rule, _) in TIGHTENING.items() if rule == fmt.KEY}
    assert set(LOOSENINGS) == enforced | keys


def test_an_unchanged_copy_passes():
    parent = ministry_raw()
    check_tightens(parse_definition(parent), parse_definition(child_of(parent)))


@pytest.mark.parametrize("path", sorted(LOOSENINGS))
def test_each_loosening_is_refused_with_its_place_named(path):
    edit, place = LOOSENINGS[path]
    parent = ministry_raw()
    child = child_of(parent)
    edit(parent, child)
    error = refusal(parent, child)
    named = [d["field"] for d in error.details]
    assert place in named, (path, named)
    assert all(d["message"] and "请" in d["message"] for d in error.details)


@pytest.mark.parametrize("path", sorted(p for p, (rule, _) in TIGHTENING.items() if rule == FREE and "rubric" not in p
                                        and "[]" not in p and p.count("*") <= 1 and "choice_labels" not in p))
def test_a_free_key_may_change(path):
    """The FREE decisions are real: changing such a value alone is not refused."""
    parent = ministry_raw()
    child = child_of(parent)
    if path == "timezone":
        child["timezone"] = "Asia/Chongqing"  # the same moments: deadlines compare as moments
    elif path == "tracks.*.label":
        child["tracks"]["story"]["label"] = "战疫故事"
    elif path == "tracks.*.decision.label":
        parent["tracks"]["story"]["decision"] = {"level": "ministry", "kind": "award", "label": "全国表彰"}
        child["tracks"]["story"]["decision"] = {"level": "ministry", "kind": "award", "label": "“战疫故事汇”优秀作品"}
    elif path == "tracks.*.department":
        child["tracks"]["story"]["department"] = "propaganda"
    elif path == "contacts":  # each issuer names its own
        child["contacts"] = [{"name": "崔琳", "department": "organisation", "phone": "025-52090134"}]
    elif path == "notice":
        child["notice"] = "各基层党组织：\n现将教育部行动方案转发你们，请认真贯彻落实。"
    else:
        child[path] = "另一个名字" if path != "id" else "another-copy"
    check_tightens(parse_definition(parent), parse_definition(child))


# --------------------------------------------------------------------------- review's national round

LECTURER = "王明德教授"
BRANCH = "化工学院第三党支部"


def test_a_national_reviewer_never_sees_a_field_the_ministry_hides_even_under_a_loosened_copy(review):  # noqa: F811
    """The copy is stored as it could have been before this fix (sent straight to review, as intake published
    them then): 主讲人 and 所属党支部 are no longer identifying in 东南大学's copy."""
    base, store = review["base"], review["store"]
    loosened = copy.deepcopy(load_builtin_definitions()["siyige-2020-seu"].raw)
    field(loosened, "lecture", "lecturers")["identifying"] = False
    field(loosened, "story", "branch_name")["identifying"] = False
    ministry_key = "sk_review_ministry_blind"
    publish(review["amqp"], INTAKE,
            make_event("campaign_published", "seu", campaign_event_data(parse_definition(loosened))),
            make_event("api_key_issued", "ministry", {"key_hash": hashlib.sha256(ministry_key.encode()).hexdigest(),
                                                      "tenant_kind": "ministry", "tenant_name": "教育部思政司"}))
    works = []
    for n, (track, fields) in enumerate((
            ("lecture", {"title": "让党旗高高飘扬", "lecturers": [LECTURER], "theme": "抓紧抓实抓细常态化疫情防控工作",
                         "outline": "一堂关于坚守的党课。"}),
            ("story", {"title": "坚守的故事", "branch_name": BRANCH, "text": "党员冲在前面。"}))):
        works.append(make_event("submission_forwarded", "seu", {
            "submission_id": f"seu-{track}", "campaign_id": "siyige-2020-seu", "track": track, "org_id": f"o-{n}",
            "org_name": "化学化工学院党委", "org_level": "level2", "from_level": "university", "to_level": "ministry",
            "title": fields["title"], "receipt_no": f"SEU-{n}", "forwarded_at": "2020-07-25T02:00:00+00:00",
            "fields": fields, "files": [], "tenant_name": "东南大学", "root_campaign_id": "siyige-2020"}))
    publish(review["amqp"], INTAKE, *works)
    wait_until(lambda: count_in_round(store) == 2, timeout=20, what="both works in the ministry's rounds")
    web = admin(base, ministry_key)
    pages = []
    for track in ("lecture", "story"):
        round_id = wait_until(lambda: _round_of(store, f"seu-{track}"), what="the round")
        token = csrf(web.get(f"{base}/rounds/{round_id}").text)
        web.post(f"{base}/rounds/{round_id}/reviewers", data={
            "csrf_token": token, "name": "专家", "email": f"{track}@example.edu.cn", "university": "hust"})
        web.post(f"{base}/rounds/{round_id}/settings", data={"reviewers_per_work": "1", "csrf_token": token})
        web.post(f"{base}/rounds/{round_id}/assign", data={"csrf_token": token})
        web.post(f"{base}/rounds/{round_id}/invite", data={"csrf_token": token})
    for invite in outbox(store, "reviewer_invited"):
        reviewer = requests.Session()
        assert redeem(invite["data"]["sign_in_url"], reviewer)[1].status_code == 303
        for aid in dict.fromkeys(re.findall(r'href="/works/([0-9a-f]{32})"', reviewer.get(f"{base}/queue").text)):
            page = reviewer.get(f"{base}/works/{aid}")
            assert page.status_code == 200
            pages.append(page.text)
    assert len(pages) == 2
    assert any("让党旗高高飘扬" in p for p in pages) and any("党员冲在前面" in p for p in pages)  # the work is shown
    for text in pages:
        assert LECTURER not in text and BRANCH not in text
        assert "主讲人" not in text and "所属党支部" not in text


def _round_of(store, submission_id):
    from services.review.models import Entry

    with store.transaction() as s:
        entry = s.get(Entry, submission_id)
        return entry.round_id if entry is not None else None
