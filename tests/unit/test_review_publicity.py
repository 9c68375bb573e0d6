"""Where a selection ends, after the confirmation (issue #16): a vetting's reasons kept with the selection, and a
publicity's period (公示期) and its end (publicity_ended), as review decides them and notify words them."""
from datetime import datetime, timedelta, timezone

import pytest

from common.events import make_event
from common.locale import BEIJING
from services.review.domain import decisions, publicity
from services.review.domain.selection import Candidate, decide_selection

PUBLICITY = {"rubric": [{"key": "deeds", "label": "事迹", "weight": 100, "max": 10}],
             "decision": {"level": "university", "kind": "publicity", "publicity_days": 5}}
VETTING = {"rubric": [], "decision": {"level": "university", "kind": "vetting"}}
WORKS = [Candidate("s1", "seu", "甲", 1, 90.0, 9.0), Candidate("s2", "seu", "乙", 2, 80.0, 8.0),
         Candidate("s3", "seu", "丙")]


def beijing(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING)


# --------------------------------------------------------------------------- vetting reasons are kept


def test_a_vettings_reasons_are_placed_with_the_failed_works_only():
    end = decisions.round_end(VETTING, "university")
    done = decide_selection("open", "university", WORKS, ["s1"], end=end,
                            reasons={"s1": "不该留下", "s2": " 缺少  签章 ", "s3": "字数不足"})
    assert [(p.submission_id, p.selected, p.reason) for p in done.placed] == [
        ("s1", True, None), ("s2", False, "缺少 签章"), ("s3", False, "字数不足")]
    assert done.publicity is None


def test_a_scored_round_places_no_reason():
    end = decisions.round_end(PUBLICITY, "level2")  # below the deciding level: forwards
    done = decide_selection("closed", "level2", WORKS, ["s1"], end=end, reasons={"s2": "x"},
                            now=beijing("2020-07-20T09:00"))
    assert all(p.reason is None for p in done.placed) and done.publicity is None


# --------------------------------------------------------------------------- the 公示期


@pytest.mark.parametrize("confirmed,until,ends", [
    ("2020-07-20T09:00", "2020-07-25", "2020-07-25T16:00:00+00:00"),
    ("2020-07-20T23:59", "2020-07-25", "2020-07-25T16:00:00+00:00"),  # late in the Beijing day: the same day counts
    ("2020-07-20T00:30", "2020-07-25", "2020-07-25T16:00:00+00:00"),  # still 7/19 in UTC: Beijing's day counts
    ("2020-07-30T10:00", "2020-08-04", "2020-08-04T16:00:00+00:00"),  # across a month
])
def test_the_period_counts_beijing_calendar_days_from_the_confirmation(confirmed, until, ends):
    p = publicity.period(beijing(confirmed), 5)
    assert (p.days, p.until.isoformat(), p.ends_at.isoformat()) == (5, until, ends)


def test_a_final_publicity_that_chose_works_starts_its_period_and_nothing_else_does():
    now = beijing("2020-07-20T09:00")
    end = decisions.round_end(PUBLICITY, "university")
    done = decide_selection("closed", "university", WORKS, ["s1", "s2"], end=end, now=now)
    assert done.publicity == publicity.period(now, 5)
    assert decide_selection("closed", "university", WORKS, [], end=end, now=now).publicity is None
    award = {**PUBLICITY, "decision": {"level": "university", "kind": "award"}}
    assert decide_selection("closed", "university", WORKS, ["s1"], end=decisions.round_end(award, "university"),
                            now=now).publicity is None


@pytest.mark.parametrize("later", [timedelta(days=5, hours=14, minutes=59), timedelta(days=5, hours=15),
                                   timedelta(days=5, hours=16), timedelta(days=9)])
def test_review_ends_the_period_when_intake_starts_saying_it_is_over(later):
    """Intake words a work's result from the clock (decided_words); review announces the end at the same moment."""
    from services.intake.domain.submission import decided_words

    confirmed = beijing("2020-07-20T09:00")
    now = confirmed + later
    p = publicity.period(confirmed, 5)
    words = decided_words({"kind": "publicity", "publicity_days": 5}, confirmed, now)
    assert (words == "公示期满，已入选") == publicity.is_over(p.ends_at, now)
    assert words in ("公示中（至 2020-07-25）", "公示期满，已入选")


def test_the_end_is_announced_with_valid_data():
    confirmed = beijing("2020-07-20T09:00")
    data = publicity.ended_data(round_id="rd-1", campaign_id="honours-2021", track="members", level="university",
                                label="公示", days=5, confirmed_at=confirmed,
                                ended_at=datetime(2020, 7, 25, 16, 1, tzinfo=timezone.utc),
                                works=[{"submission_id": "s1", "tenant": "seu", "title": "甲"}])
    assert data["until"] == "2020-07-25" and data["confirmed_at"] == "2020-07-20T09:00:00+08:00"
    make_event("publicity_ended", "seu", data)  # the catalogue's schema


# --------------------------------------------------------------------------- notify's mail


def test_the_mail_says_the_period_is_over_and_the_result_stands():
    from services.notify.mail import Templates
    from services.notify.messages import publicity_ended_words

    data = {"confirmed_at": "2020-07-20T01:00:00+00:00", "until": "2020-07-25", "publicity_days": 5, "label": "公示"}
    words = publicity_ended_words(data, "东南大学")
    assert (words["start"], words["until"], words["named"]) == ("2020年7月20日", "2020年7月25日", "")
    assert publicity_ended_words({**data, "label": "校级优秀党课公示"}, "东南大学")["named"] == "（校级优秀党课公示）"
    mail = Templates().render("publicity_ended", "seu", {**words, "contact": "东南大学党委组织部（zzb@seu.edu.cn）",
        "org_name": "计算机科学与工程学院党委",
                                                          "title": "张1同志先进事迹", "round_title": "优秀个人 · 校级评审"})
    assert mail.template_error is None
    assert mail.subject == "【公示结果】张1同志先进事迹：公示期满，已入选"
    assert mail.body.startswith("计算机科学与工程学院党委：")
    assert "在东南大学的“优秀个人 · 校级评审”中入选，于 2020年7月20日起公示 5 天" in mail.body
    assert "公示期已于 2020年7月25日届满，入选结果正式生效" in mail.body
