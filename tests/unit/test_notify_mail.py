"""Deadline reminders and mail policy: pure functions."""
import smtplib
from datetime import datetime, timedelta

import pytest
from jinja2 import UndefinedError

from services.notify import mail
from services.notify.reminders import due_reminders, effective_deadline

CAMPAIGN = {"campaign_id": "siyige-2020-seu", "tenant": "seu", "tracks": {
    "story": {"submit_levels": ["level2"],
              "deadlines": {"submission": {"level2": "2020-07-20T23:59:59+08:00", "university": "2020-07-31T23:59:59+08:00"}}},
    "meeting_report": {"submit_levels": ["branch"],
                       "deadlines": {"submission": {"university": "2020-07-31T23:59:59+08:00"}}},
}}
CONTACTS = [
    {"tenant": "seu", "org_id": "a", "level": "level2"},
    {"tenant": "seu", "org_id": "b", "level": "level2"},
    {"tenant": "seu", "org_id": "br", "level": "branch"},
    {"tenant": "wust", "org_id": "w", "level": "level2"},
]


def at(iso):
    return datetime.fromisoformat(iso)


@pytest.mark.parametrize("now, expected_days", [
    ("2020-07-13T08:00:00+08:00", 7),
    ("2020-07-17T23:00:00+08:00", 3),
    ("2020-07-19T00:30:00+08:00", 1),
    ("2020-07-18T12:00:00+08:00", None),  # 2 days: no reminder
    ("2020-07-21T09:00:00+08:00", None),  # past the deadline
])
def test_story_reminders_come_7_3_and_1_days_before(now, expected_days):
    due = [r for r in due_reminders(at(now), [CAMPAIGN], CONTACTS, set()) if r.track == "story"]
    if expected_days is None:
        assert due == []
    else:
        assert {(r.org_id, r.days_left) for r in due} == {("a", expected_days), ("b", expected_days)}


def test_the_day_is_counted_in_beijing_time():
    # 2020-07-12T16:30Z is already 7/13 00:30 in Beijing: 7 days before 7/20
    due = due_reminders(at("2020-07-12T16:30:00+00:00"), [CAMPAIGN], CONTACTS, set())
    assert {r.days_left for r in due if r.track == "story"} == {7}


def test_orgs_that_submitted_and_other_universities_are_left_out():
    due = due_reminders(at("2020-07-13T08:00:00+08:00"), [CAMPAIGN], CONTACTS,
                        {("siyige-2020-seu", "story", "submission", "a")})
    assert [r.org_id for r in due if r.track == "story"] == ["b"]
    assert all(r.org_id != "w" for r in due)


def test_a_level_without_its_own_deadline_uses_the_one_above():
    assert effective_deadline({"university": "2020-07-31T23:59:59+08:00"}, "branch") == at("2020-07-31T23:59:59+08:00")
    due = due_reminders(at("2020-07-24T10:00:00+08:00"), [CAMPAIGN], CONTACTS, set())
    assert [(r.track, r.org_id, r.days_left) for r in due] == [("meeting_report", "br", 7)]


def test_dedupe_keys_differ_per_org_stage_and_day():
    due = due_reminders(at("2020-07-13T08:00:00+08:00"), [CAMPAIGN], CONTACTS, set())
    assert len({r.dedupe_key for r in due}) == len(due) == 2


def test_templates_render_in_chinese_and_refuse_missing_values(tmp_path):
    templates = mail.Templates(str(tmp_path))
    subject, body = templates.render("reminder", "seu", {
        "org_name": "机械工程学院党委", "campaign": "四个一", "track": "战疫故事汇", "stage": "提交",
        "deadline": "2020年07月20日 23:59", "days_left": 7})
    assert "7 天后截止" in subject and "机械工程学院党委" in body
    with pytest.raises(UndefinedError):
        templates.render("reminder", "seu", {"org_name": "x"})


def test_delivery_policy():
    assert mail.message_id("receipt:A") == mail.message_id("receipt:A") != mail.message_id("receipt:B")
    assert mail.retry_delay(1) == timedelta(seconds=30) and mail.retry_delay(20) == timedelta(hours=1)
    assert mail.is_permanent(smtplib.SMTPRecipientsRefused({"x@y": (550, b"no such user")}))
    assert not mail.is_permanent(smtplib.SMTPRecipientsRefused({"x@y": (451, b"try later")}))
    assert not mail.is_permanent(ConnectionRefusedError())
