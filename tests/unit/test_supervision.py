"""Supervision's rules (services/intake/domain/supervision.py): who is behind in which track, in whose scope, how
late, and whom a reminder goes to; and notify's reminder mail (one subject line whatever the names hold)."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from common.campaign import load_builtin_definitions
from common.errors import Forbidden, NotFound
from services.intake.domain.supervision import (
    OrgFacts,
    Reach,
    UniversityFacts,
    UniversityWorks,
    WorkFacts,
    behind_orgs,
    behind_universities,
    choose_tenant,
    days_late,
    decide_reminder,
    in_subtree,
    reach_label,
    tenants_supervised,
)
from services.notify.mail import Templates
from tests.unit.test_notify_mail import LINE_SEPARATORS

DEFINITIONS = load_builtin_definitions()

def _with_college_video_deadline(tracks: dict) -> dict:
    """WUST's tracks with the colleges' lecture video due 06-30, as the supervision cases below were written: a college
    deadline of its own, earlier than its registration's fallback. (WUST's 6/30 is now read as when the lecture is
    held, and the parser refuses a registration that outlives its video; this list only needs the dates.)"""
    lecture = tracks["lecture"]
    video = lecture.stage("video")
    early = dataclasses.replace(video, deadlines={"level2": video.deadlines["university"].replace(month=6, day=30),
                                                   **video.deadlines})
    stages = [early if s.key == "video" else s for s in lecture.stages]
    return {**tracks, "lecture": dataclasses.replace(lecture, stages=stages)}


# the five tracks of the ministry's plan (WUST's own 红色防火墙 register left out: these cases were written for five)
WUST = _with_college_video_deadline({k: t for k, t in DEFINITIONS["siyige-2020-wust"].tracks.items() if k != "firewall"})
SEU = DEFINITIONS["siyige-2020-seu"].tracks
MINISTRY = DEFINITIONS["siyige-2020"].tracks
NOW = datetime.fromisoformat("2020-07-16T09:00:00+08:00")  # past WUST's story and meeting_report deadlines (07-15)

# 武汉科技大学's tree: two colleges, each with a branch
ORGS = [
    OrgFacts("o-res", "资源与环境工程学院党委", "level2", None, "张老师", "res@wust.edu.cn", "027-1"),
    OrgFacts("b-res", "资源学院教工党支部", "branch", "o-res", None, "bres@wust.edu.cn"),
    OrgFacts("o-mat", "材料学院党委", "level2", None, None, None),  # no contact address
    OrgFacts("b-mat", "材料学院学生党支部", "branch", "o-mat", None, "bmat@wust.edu.cn"),
]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def grant(role, tenant="wust", department=None, org_id=None, kind="university", name="武汉科技大学", org_name=None):
    return {"tenant": tenant, "tenant_kind": kind, "tenant_name": name, "role": role, "department": department,
            "org_id": org_id, "org_name": org_name}


def reaches(*grants) -> tuple[Reach, ...]:
    [scope] = tenants_supervised(grants)
    return scope.reaches


def lists(*grants, works=(), extensions=None, tracks=WUST, now=NOW):
    return {t.key: t for t in behind_orgs(tracks.values(), ORGS, works, extensions or {}, reaches(*grants), now)}


def rows(listing) -> dict[str, object]:
    return {r.org_id: r for r in listing.rows}


# --------------------------------------------------------------------------- who is behind


def test_an_owner_sees_every_track_and_every_org_that_owes_a_stage():
    works = [
        WorkFacts("o-res", "story", "submitted", "submission", at("2020-07-10T10:00:00+08:00")),  # done
        WorkFacts("o-mat", "story", "draft", None, at("2020-07-14T10:00:00+08:00")),
        WorkFacts("o-mat", "story", "withdrawn", "submission", at("2020-07-01T10:00:00+08:00")),
        WorkFacts("o-res", "lecture", "submitted", "registration", at("2020-06-20T10:00:00+08:00")),
        WorkFacts("o-mat", "lecture", "withdrawn", "video", at("2020-06-21T10:00:00+08:00")),
    ]
    found = lists(grant("owner"), works=works)
    assert list(found) == ["lecture", "story", "meeting_report", "material", "report"]  # the campaign's order

    story = found["story"]
    assert [(lv.level, lv.expected) for lv in story.levels] == [("level2", 2)]  # WUST: only colleges submit stories
    assert story.expected == 2 and story.done == 1
    [mat] = story.rows
    assert (mat.org_id, mat.status, mat.status_text) == ("o-mat", "draft", "已创建草稿，尚未提交")
    assert mat.last_activity == at("2020-07-14T10:00:00+08:00")  # the newest change of any of its works
    assert (mat.stage, mat.stage_label, mat.deadline) == ("submission", "提交作品", at("2020-07-15T23:59:59+08:00"))
    assert mat.days_late == 1 and mat.may_remind

    lecture = rows(found["lecture"])  # branches and colleges submit; two stages
    assert set(lecture) == {"o-res", "b-res", "o-mat", "b-mat"}
    assert lecture["o-res"].status == "partial" and lecture["o-res"].stage == "video"
    assert lecture["o-res"].status_text == "已提交“报名”，“党课视频”尚未提交"
    assert lecture["o-res"].deadline == at("2020-06-30T23:59:59+08:00") and lecture["o-res"].days_late == 16
    assert lecture["o-mat"].status == "withdrawn" and lecture["o-mat"].stage == "registration"
    assert lecture["b-res"].status == "none" and lecture["b-res"].last_activity is None
    # a branch with no registration deadline of its own owes it by the university's
    assert lecture["b-res"].deadline == at("2020-07-31T23:59:59+08:00") and lecture["b-res"].days_late == 0
    # the contact comes with the row
    assert (lecture["o-res"].contact_name, lecture["o-res"].contact_email, lecture["o-res"].contact_phone) == (
        "张老师", "res@wust.edu.cn", "027-1")


def test_a_stage_without_a_deadline_is_still_owed_and_never_late():
    found = lists(grant("owner"))
    report = rows(found["report"])  # WUST's reports are rolling
    assert set(report) == {"o-res", "b-res", "o-mat", "b-mat"}
    assert all(r.deadline is None and r.days_late == 0 for r in report.values())


def test_an_extension_moves_the_deadline_and_the_lateness():
    extended = {("o-mat", "story", "submission"): at("2020-07-18T18:00:00+08:00")}
    [mat] = lists(grant("owner"), extensions=extended)["story"].rows[1:]
    assert mat.org_id == "o-mat" and mat.deadline == at("2020-07-18T18:00:00+08:00") and mat.extended
    assert mat.days_late == 0
    # an extension of another org or stage changes nothing
    res = rows(lists(grant("owner"), extensions=extended)["story"])["o-res"]
    assert not res.extended and res.days_late == 1


def test_the_latest_come_first():
    works = [WorkFacts("o-res", "lecture", "submitted", "registration", at("2020-06-20T10:00:00+08:00"))]
    level2 = next(lv for lv in lists(grant("owner"), works=works)["lecture"].levels if lv.level == "level2")
    # o-res owes the video (late since 06-30), o-mat the registration (due 07-31)
    assert [r.org_id for r in level2.behind] == ["o-res", "o-mat"]


def test_days_late_count_any_part_of_a_day():
    deadline = at("2020-07-15T23:59:59+08:00")
    assert days_late(deadline, deadline) == 0
    assert days_late(deadline, deadline - timedelta(days=3)) == 0
    assert days_late(deadline, deadline + timedelta(seconds=1)) == 1
    assert days_late(deadline, deadline + timedelta(hours=24)) == 1
    assert days_late(deadline, deadline + timedelta(hours=24, seconds=1)) == 2
    assert days_late(None, deadline) == 0


# --------------------------------------------------------------------------- scope


def test_a_department_admin_sees_the_tracks_its_universitys_campaign_routes_to_it():
    assert list(lists(grant("department_admin", department="propaganda"))) == ["material", "report"]
    assert list(lists(grant("department_admin", department="organisation"))) == ["lecture", "story", "meeting_report"]
    # 东南大学 routes every track to 组织部: its 宣传部 admin has nothing to chase there, whatever the fixed table says
    assert lists(grant("department_admin", "seu", department="propaganda", name="东南大学"), tracks=SEU) == {}
    # …and its copy leaves out the meeting report: four tracks to chase
    assert list(lists(grant("department_admin", "seu", department="organisation", name="东南大学"), tracks=SEU)) == [
        "lecture", "story", "material", "report"]


def test_a_track_that_names_no_department_falls_back_to_the_fixed_table():
    unrouted = {k: dataclasses.replace(t, department="") for k, t in WUST.items()}
    assert list(lists(grant("department_admin", department="propaganda"), tracks=unrouted)) == ["material", "report"]


def test_an_org_admin_sees_every_track_but_only_its_subtree():
    found = lists(grant("org_admin", org_id="o-res", org_name="资源与环境工程学院党委"))
    assert len(found) == 5
    assert set(rows(found["lecture"])) == {"o-res", "b-res"}
    assert set(rows(found["story"])) == {"o-res"} and found["story"].expected == 1
    branch_admin = lists(grant("org_admin", org_id="b-mat"))
    assert set(rows(branch_admin["lecture"])) == {"b-mat"}
    assert branch_admin["story"].expected == 0 and branch_admin["story"].rows == []


def test_a_viewer_reads_and_may_not_remind():
    whole = lists(grant("viewer"))
    assert len(whole) == 5 and not any(t.may_remind for t in whole.values())
    assert not any(r.may_remind for t in whole.values() for r in t.rows)
    with pytest.raises(Forbidden) as refused:
        decide_reminder(whole["story"], set())
    assert refused.value.code == "may_not_remind" and "只有查看权限" in refused.value.message
    one_org = lists(grant("viewer", org_id="o-mat"))
    assert set(rows(one_org["lecture"])) == {"o-mat", "b-mat"}


def test_grants_in_one_tenant_add_up_and_only_those_that_may_remind_make_rows_remindable():
    found = lists(grant("department_admin", department="propaganda"), grant("org_admin", org_id="o-res"),
                  grant("viewer"))
    assert len(found) == 5  # the viewer grant shows every track
    material = rows(found["material"])
    assert set(material) == {"o-res", "o-mat"} and all(r.may_remind for r in material.values())
    lecture = rows(found["lecture"])
    assert {k for k, r in lecture.items() if r.may_remind} == {"o-res", "b-res"}
    assert set(lecture) == {"o-res", "b-res", "o-mat", "b-mat"}


def test_a_grant_without_its_scope_reaches_nothing():
    assert tenants_supervised([grant("department_admin"), grant("org_admin")]) == []
    assert tenants_supervised([grant("expert")]) == []


def test_the_tenant_is_picked_among_the_persons_grants():
    grants = [grant("expert", "seu", name="东南大学"), grant("viewer"), grant("owner", "seu", name="东南大学"),
              grant("viewer", "ministry", kind="ministry", name="教育部思政司")]
    chosen, every = choose_tenant(grants, None)
    assert chosen.tenant == "wust" and [t.tenant for t in every] == ["wust", "seu", "ministry"]
    assert choose_tenant(grants, "ministry")[0].ministry
    assert [r.role for r in choose_tenant(grants, "seu")[0].reaches] == ["owner"]
    with pytest.raises(NotFound) as missing:
        choose_tenant(grants, "pku")
    assert missing.value.code == "tenant_not_found" and "武汉科技大学" in missing.value.message
    with pytest.raises(Forbidden) as refused:
        choose_tenant([grant("expert")], None)
    assert refused.value.code == "no_supervision_grant"


def test_a_loop_in_the_org_tree_ends():
    assert in_subtree("b", "a", {"b": "a"}) and in_subtree("a", "a", {})
    assert not in_subtree("x", "a", {"x": "y", "y": "x"})


# --------------------------------------------------------------------------- the ministry


UNIVERSITIES = [UniversityFacts("seu", "东南大学", "seuzzb@126.com"), UniversityFacts("wust", "武汉科技大学", None),
                UniversityFacts("pku", "北京大学", "pku@pku.edu.cn")]


def test_the_ministry_sees_the_universities_that_forwarded_nothing_in_the_tracks_it_expects():
    works = {("seu", "story"): UniversityWorks(submitted=3, forwarded=1, last_activity=at("2020-07-25T10:00:00+08:00")),
             ("wust", "story"): UniversityWorks(submitted=2, forwarded=0, last_activity=at("2020-07-20T10:00:00+08:00"))}
    now = at("2020-08-02T09:00:00+08:00")
    found = {t.key: t for t in behind_universities(MINISTRY.values(), UNIVERSITIES, works,
                                                   reaches(grant("viewer", "ministry", kind="ministry")), now)}
    # meeting_report stays in the university (forward 0); a rolling report has no deadline to chase
    assert list(found) == ["lecture", "story", "material"]
    story = found["story"]
    assert story.expected == 3 and story.done == 1 and not story.may_remind
    wust = rows(story)["wust"]
    assert (wust.level, wust.status_text, wust.last_activity) == (
        "university", "尚未向教育部报送作品（校内已提交 2 件）", at("2020-07-20T10:00:00+08:00"))
    assert wust.deadline == at("2020-07-31T23:59:59+08:00") and wust.days_late == 2 and wust.contact_email is None
    assert rows(story)["pku"].status_text == "尚未向教育部报送作品（校内已提交 0 件）"
    assert rows(found["material"])["seu"].days_late == 0  # due 10-31
    sizheng = behind_universities(MINISTRY.values(), UNIVERSITIES, works,
                                  reaches(grant("department_admin", "ministry", department="sizheng", kind="ministry")),
                                  now)
    assert [t.key for t in sizheng] == ["lecture", "story", "material"] and all(t.may_remind for t in sizheng)


# --------------------------------------------------------------------------- whom a reminder goes to


def test_a_reminder_goes_to_those_with_an_address_not_reminded_today():
    story = lists(grant("owner"))["story"]
    decision = decide_reminder(story, set())
    assert [r.org_id for r in decision.send] == ["o-res"]
    assert [r.org_id for r in decision.without_address] == ["o-mat"]
    again = decide_reminder(story, {"o-res"})
    assert again.send == () and [r.org_id for r in again.already] == ["o-res"]


def test_an_org_admin_reminds_only_its_subtree_even_beside_a_viewer_grant():
    lecture = lists(grant("org_admin", org_id="o-res"), grant("viewer"))["lecture"]
    assert {r.org_id for r in decide_reminder(lecture, set()).send} == {"o-res", "b-res"}


def test_the_asker_is_named_by_the_grants_that_may_remind_in_the_track():
    held = reaches(grant("department_admin", department="propaganda"), grant("viewer"))
    assert reach_label(held, WUST["material"]) == "部门管理员（党委宣传部）"
    assert reach_label(held, WUST["lecture"]) == ""


# --------------------------------------------------------------------------- notify's mail


def context(**over):
    return {"org_name": "资源与环境工程学院党委", "contact_name": "张老师", "university": False, "campaign": "四个一 2020",
            "track": "教育素材", "stage": "提交素材", "deadline": "2020年10月15日 23:59", "days_late": 1,
            "tenant_name": "武汉科技大学", "asked_by": "王宣传", "asked_role": "部门管理员（党委宣传部）",
            "asked_email": "wangxc@wust.edu.cn", **over}


def test_the_reminder_mail_says_what_is_owed_by_when_who_asks_and_whom_to_contact():
    mail = Templates().render("supervision_reminder", "wust", context())
    assert mail.subject == "【督办】资源与环境工程学院党委：“教育素材”的“提交素材”尚未提交，已逾期 1 天（王宣传提醒）"
    for part in ("四个一 2020", "2020年10月15日 23:59（北京时间）", "已逾期 1 天", "武汉科技大学部门管理员（党委宣传部）王宣传",
                 "wangxc@wust.edu.cn", "张老师"):
        assert part in mail.body, part
    on_time = Templates().render("supervision_reminder", "wust", context(days_late=0, deadline=None))
    assert "逾期" not in on_time.subject and "未设截止时间" in on_time.body
    ministry = Templates().render("supervision_reminder", "ministry", context(university=True, org_name="北京大学"))
    assert "尚未向教育部报送" in ministry.subject and "择优报送" in ministry.body


@pytest.mark.parametrize("sep", LINE_SEPARATORS)
def test_names_with_line_separators_make_one_subject_line(sep):
    mail = Templates().render("supervision_reminder", "wust", context(
        org_name=f"学院党委{sep}Bcc: victim@example.com", asked_by=f"王宣传{sep}Cc: x@example.com"))
    assert len(mail.subject.splitlines()) == 1 and sep not in mail.subject
    assert "Bcc: victim@example.com" in mail.subject  # kept as text on the one line, never a header

