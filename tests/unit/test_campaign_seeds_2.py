"""石油大学's 2020 online 组织生活 (seeds/003_…) and 民族大学's 2022 lockdown duties (seeds/002_…), as their definitions
say them: each fact below is a sentence of the seed (quoted in the YAML) or a choice the YAML marks as the platform's."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from common.campaign import COLLECTED, DEFINITIONS_DIR, load_builtin_definitions, parse_definition
from common.campaign.ownership import check_owner_reach
from common.campaign.recurrence import periods

OWN = load_builtin_definitions(DEFINITIONS_DIR / "own")
BUILTIN = load_builtin_definitions()
PLUS8 = timezone(timedelta(hours=8))


def day_end(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T23:59:59").replace(tzinfo=PLUS8)


@pytest.mark.parametrize("key", ["upc-zuzhishenghuo-2020", "dlnu-fengkong-2022"])
def test_each_is_the_universitys_own_collected_and_not_auto_published(key):
    definition = OWN[key]
    assert definition.derives_from is None and key not in BUILTIN
    check_owner_reach(definition, "university")  # nothing goes above the university that issued it
    assert all(track.judged == COLLECTED for track in definition.tracks.values())  # nothing is ranked
    assert parse_definition(definition.to_dict()) == definition


def test_upcs_branches_record_each_months_online_organisation_life_march_to_june_2020():
    track = OWN["upc-zuzhishenghuo-2020"].tracks["monthly_record"]
    # 「以及3、4月份组织生活通知」, 「2020年上半年」: March to June, one period a month, closing with the month
    assert [(p.key, p.due) for p in periods(track.recurrence)] == [
        ("2020-03", day_end("2020-03-31")), ("2020-04", day_end("2020-04-30")),
        ("2020-05", day_end("2020-05-31")), ("2020-06", day_end("2020-06-30"))]
    assert track.recurrence.field == "held_on" and track.field("held_on").type == "date"
    # 「组织所属党支部开展线上组织生活」: branches record, their 院级单位党组织 oversee; one record a branch a month
    assert track.submit_levels == ["branch"] and track.quota == {"branch": 1}
    assert track.department == "organisation"
    assert all(not stage.deadlines for stage in track.stages)  # each month's due is the recurrence's


def test_upcs_record_names_the_seeds_platforms_attendance_topic_and_summary_with_photos_optional():
    track = OWN["upc-zuzhishenghuo-2020"].tracks["monthly_record"]
    platforms = track.field("platforms")
    # 「利用“学习强国”、微信、腾讯会议、钉钉等网络平台」: several may be ticked, 「等」 leaves room for others
    assert platforms.type == "choices" and platforms.min_items == 1
    assert [platforms.choice_labels[c] for c in platforms.choices] == ["学习强国", "微信", "腾讯会议", "钉钉", "其他平台"]
    assert (track.field("attendance").type, track.field("attendance").min_value) == ("number", 1)
    assert track.field("summary").type == "text" and track.field("topic").type == "string"
    stage = track.stages[0]
    assert set(stage.required_fields) == {"title", "held_on", "platforms", "attendance", "topic", "summary"}
    assert [(f.kind, f.min) for f in stage.files] == [("image", 0)]  # the seed's photos: optional


def test_dlnus_branches_register_their_vanguard_teams_on_the_seeds_four_bases():
    definition = OWN["dlnu-fengkong-2022"]
    track = definition.tracks["vanguard"]
    # 「以党支部、专业、班级或所属部门为基本单位,建立党员责任区,成立党员先锋队」
    basis = track.field("basis")
    assert [basis.choice_labels[c] for c in basis.choices] == ["党支部", "专业", "班级", "所属部门"]
    assert track.submit_levels == ["branch"] and track.quota == {}  # the seed gives no number
    assert {f.key: f.type for f in track.fields if f.type == "people"} == {"leader": "people", "members": "people"}
    assert track.field("area").required  # 「建立党员责任区」
    # 「发布时间:2022年03月16日」: every track opens with the notice
    assert {s.opens for t in definition.tracks.values() for s in t.stages} == {
        datetime(2022, 3, 16, tzinfo=PLUS8)}


def test_dlnus_members_duties_name_the_volunteers_and_the_notices_four_leads():
    track = OWN["dlnu-fengkong-2022"].tracks["duty_log"]
    assert track.field("volunteers").type == "people" and track.field("volunteers").min_items == 1
    # 「带头勇担重任,带头联系服务师生,带头遵守纪律规矩,带头做好宣传引导」 and 「深入学生寝室」
    assert track.field("kind").choices == ["duty", "contact_service", "discipline", "publicity", "dormitory_visit"]
    assert track.field("served_on").min_date == "2022-03-16"  # nothing served before the notice counts


def test_dlnus_level2_orgs_file_their_plan_and_exemplars_go_to_the_propaganda_department():
    definition = OWN["dlnu-fengkong-2022"]
    plan = definition.tracks["contingency_plan"]
    # 「进一步完善校园封闭管理期间疫情防控工作预案」: the 二级党组织's own, one each, with its document
    assert plan.submit_levels == ["level2"] and plan.quota == {"level2": 1}
    assert [(f.kind, f.min) for f in plan.stages[0].files] == [("document", 1)]
    assert plan.field("campus_vanguards").type == "people"  # 「“校园先锋”工程,主动联系对接班级和学生」
    exemplar = definition.tracks["exemplar"]
    # 「要注重挖掘宣传在疫情防控中的先进典型」
    assert exemplar.department == "propaganda" and exemplar.submit_levels == ["branch", "level2"]
    # a branch's date falls before its level-2 org's (the deadlines are a platform example: the seed names none)
    assert exemplar.stages[0].deadlines["branch"] < exemplar.stages[0].deadlines["level2"]
