"""Universities that have forwarded nothing in a track hear from us 3 and 1 Beijing days before its university
deadline (issue #16; services/notify/reminders.py), on the shipped campaigns as notify keeps them.

The ministry's 四个一: lecture and story by 7/31, material by 10/31 (universities' deadlines); SEU's copy keeps
those; meeting_report and report are collected, never forwarded in a round.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from common.campaign import campaign_event_data
from services.notify import reminders
from services.notify.mail import Templates

PLUS8 = timezone(timedelta(hours=8))
JULY_31 = datetime(2020, 7, 31, 23, 59, 59, tzinfo=PLUS8)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PLUS8)


@pytest.fixture(scope="module")
def campaigns(ministry, seu):
    def kept(definition, tenant, campaign_id, derives_from):
        return {"campaign_id": campaign_id, "tenant": tenant, "derives_from": derives_from,
                "tracks": campaign_event_data(definition)["tracks"]}

    return [kept(ministry, "ministry", "siyige-2020", None),
            kept(seu, "seu", "seu.siyige-2020-seu", "siyige-2020")]


def due(campaigns, now, universities=("seu", "pku"), forwarded=()):
    return {(r.tenant, r.track, r.days_left, r.due) for r in
            reminders.due_forward_reminders(now, campaigns, list(universities), set(forwarded))}


def test_three_days_before_every_university_that_forwarded_nothing_is_reminded(campaigns):
    assert due(campaigns, at("2020-07-28T08:00:00")) == {
        ("seu", "lecture", 3, 3), ("seu", "story", 3, 3), ("pku", "lecture", 3, 3), ("pku", "story", 3, 3)}


def test_one_day_before_and_on_the_day_itself_the_one_day_reminder(campaigns):
    assert due(campaigns, at("2020-07-30T23:00:00")) == {
        ("seu", "lecture", 1, 1), ("seu", "story", 1, 1), ("pku", "lecture", 1, 1), ("pku", "story", 1, 1)}
    # missed on the day before (the service was down): still sent on the deadline's own day, under the same key
    assert ("seu", "story", 0, 1) in due(campaigns, at("2020-07-31T08:00:00"))
    assert due(campaigns, JULY_31 + timedelta(seconds=1)) == set()  # after it: the ministry's 督办, not us


def test_a_missed_three_day_reminder_goes_out_the_day_after_under_the_same_key(campaigns):
    two_days = reminders.due_forward_reminders(at("2020-07-29T08:00:00"), campaigns, ["seu"], set())
    three_days = reminders.due_forward_reminders(at("2020-07-28T08:00:00"), campaigns, ["seu"], set())
    assert {r.dedupe_key for r in two_days} == {r.dedupe_key for r in three_days} == {
        "forward-reminder:siyige-2020:lecture:seu:3", "forward-reminder:siyige-2020:story:seu:3"}
    assert {r.days_left for r in two_days} == {2}


def test_nothing_before_the_reminder_days(campaigns):
    assert due(campaigns, at("2020-07-27T23:59:00")) == set()  # four Beijing days before
    assert due(campaigns, at("2020-07-20T09:00:00")) == set()


def test_the_days_are_beijing_days():
    # 7/28 16:30 UTC is already 7/29 in Beijing: two days left, the 3-day reminder
    assert reminders.forward_reminder_due(JULY_31, datetime(2020, 7, 28, 16, 30, tzinfo=timezone.utc)) == (2, 3)
    # 7/27 16:00 UTC is 7/28 00:00 in Beijing: three days; a minute earlier, still four
    assert reminders.forward_reminder_due(JULY_31, datetime(2020, 7, 27, 16, 0, tzinfo=timezone.utc)) == (3, 3)
    assert reminders.forward_reminder_due(JULY_31, datetime(2020, 7, 27, 15, 59, tzinfo=timezone.utc)) is None


def test_a_university_that_forwarded_something_in_the_track_is_not_reminded(campaigns):
    got = due(campaigns, at("2020-07-28T08:00:00"), forwarded={("seu", "siyige-2020", "story")})
    assert ("seu", "story", 3, 3) not in got and ("seu", "lecture", 3, 3) in got and ("pku", "story", 3, 3) in got


def test_a_universitys_copy_sets_its_deadline_and_leaves_out_tracks(campaigns):
    earlier = {**campaigns[1], "tracks": {"story": {
        **campaigns[1]["tracks"]["story"], "deadlines": {"submission": {"university": "2020-07-25T23:59:59+08:00"}}}}}
    got = due([campaigns[0], earlier], at("2020-07-22T08:00:00"))
    assert got == {("seu", "story", 3, 3)}  # its own 7/25; its copy runs no lecture; pku keeps the ministry's 7/31


def test_tracks_the_ministry_expects_nothing_of_by_a_deadline_are_left_out(campaigns):
    tracks = campaigns[0]["tracks"]
    assert reminders.university_deadline(tracks["story"]) == JULY_31
    assert reminders.university_deadline(tracks["material"]) == datetime(2020, 10, 31, 23, 59, 59, tzinfo=PLUS8)
    assert reminders.university_deadline(tracks["meeting_report"]) is None  # collected, forwards 0
    assert reminders.university_deadline(tracks["report"]) is None  # collected, rolling
    own_award = {**tracks["story"], "decision": {"level": "university", "kind": "award"}}
    assert reminders.university_deadline(own_award) is None  # the selection ends at the university
    assert reminders.university_deadline({**tracks["story"], "forward": {"university": 0}}) is None
    # a university's own campaign (derives from nothing) never forwards to the ministry
    own = {"campaign_id": "tongji.honours", "tenant": "tongji", "derives_from": None, "tracks": tracks}
    assert due([own], at("2020-07-28T08:00:00"), universities=("tongji",)) == set()


def test_the_mail_says_what_is_owed_by_when_and_that_there_is_no_extension():
    context = {"tenant_name": "东南大学", "campaign": "四个一 2020", "track": "战疫故事汇",
               "deadline": "2020年07月31日 23:59", "days_left": 3, "limit": 10, "propaganda": False}
    mail = Templates().render("forward_reminder", "seu", context)
    assert mail.template_error is None
    assert mail.subject == "【提醒】“战疫故事汇”须于 2020年07月31日 23:59 前向教育部报送，还有 3 天"
    assert mail.body.startswith("东南大学党委组织部：")
    assert "尚未向教育部报送该赛道的任何作品" in mail.body and "最多 10 件" in mail.body
    assert "没有为高校延期的办法" in mail.body and "教育部思政司" in mail.body and "宣传部" not in mail.body
    today = Templates().render("forward_reminder", "seu", {**context, "days_left": 0, "propaganda": True,
                                                           "limit": None})
    assert "今天截止" in today.subject and "党委宣传部负责，请转交" in today.body and "最多" not in today.body


def test_a_university_outside_the_ministry_campaigns_audience_is_not_reminded(campaigns):
    with_audience = [{**c, "audience": {"categories": ["direct", "co_built"]}} if c["tenant"] == "ministry" else c
                     for c in campaigns]
    got = {r.tenant for r in reminders.due_forward_reminders(at("2020-07-28T08:00:00"), with_audience,
                                                             ["seu", "pku", "hbue", "newu"], set(),
                                                             {"seu": "direct", "pku": "direct", "hbue": "local"})}
    assert got == {"seu", "pku", "newu"}  # newu: no category registered, not left out
