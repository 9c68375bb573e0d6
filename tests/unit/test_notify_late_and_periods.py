"""Notify's pure rules for those who arrive after a campaign's announcement (活动通知 sent late, once) and for
recurring tracks (「月度组织生活」: the period progress counts, the reminder of a period's record) (issue #16)."""
from datetime import datetime

from common.campaign import DEFINITIONS_DIR, campaign_event_data, load_builtin_definitions
from services.notify import announcement, periods, reminders
from services.notify.announcement import Recipient
from services.notify.mail import Templates

CST = "+08:00"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + CST)


def upc_tracks() -> dict:
    """石油大学's monthly 组织生活 (March to June 2020, due each month's last day), as the event carries it."""
    return campaign_event_data(load_builtin_definitions(DEFINITIONS_DIR / "own")["upc-zuzhishenghuo-2020"])["tracks"]


def seu_tracks() -> dict:
    return campaign_event_data(load_builtin_definitions()["siyige-2020-seu"])["tracks"]


def monthly(due_day=None, levels=("branch",)) -> dict:
    rec = {"first": "2020-03", "last": "2020-06", "field": "held_on", "timezone": "Asia/Shanghai"}
    return {"label": "月度组织生活记录", "submit_levels": list(levels), "deadlines": {"record": {}},
            "recurrence": {**rec, **({"due_day": due_day} if due_day else {})}}


# ------------------------------------------------------------------ who arrives late, and until when


def test_a_campaign_runs_until_its_last_deadline_at_any_level():
    tracks = seu_tracks()
    last = announcement.last_deadline(tracks)
    deadlines = [datetime.fromisoformat(v) for t in tracks.values() for s in t["deadlines"].values() for v in s.values()]
    assert last == max(deadlines)
    assert announcement.running(tracks, last) and not announcement.running(tracks, at("2026-01-01T00:00:00"))
    assert announcement.running(tracks, at("2020-06-12T09:00:00"))


def test_a_recurring_campaign_runs_until_its_last_periods_due_moment_and_one_without_deadlines_always():
    assert announcement.last_deadline(upc_tracks()) == at("2020-06-30T23:59:59")
    assert announcement.running(upc_tracks(), at("2020-06-30T23:59:00"))
    assert not announcement.running(upc_tracks(), at("2020-07-01T00:00:00"))
    register = {"register": {"label": "红色防火墙台账", "submit_levels": ["level2"], "deadlines": {"entry": {}}}}
    assert announcement.last_deadline(register) is None and announcement.running(register, at("2030-01-01T00:00:00"))


def test_who_is_told_late_is_who_heard_nothing_of_this_version_at_this_address_and_only_once():
    audience = [Recipient("seu", "o-new", "新成立学院党委", "new@demo.local", "level2"),
                Recipient("seu", "o-moved", "换邮箱学院党委", "moved-new@demo.local", "level2"),
                Recipient("seu", "o-same", "原学院党委", "same@demo.local", "level2"),
                Recipient("seu", "o-late", "已补发学院党委", "again@demo.local", "level2")]
    told = {("o-moved", "moved-old@demo.local"), ("o-same", "same@demo.local")}
    late = announcement.late_recipients(audience, told, told_late={"o-late"})
    assert [r.key for r in late] == ["o-new", "o-moved"]  # new, and a changed address; never twice late


def test_a_late_key_is_per_campaign_and_recipient_whatever_the_version():
    r = Recipient("seu", "o-cse", "计算机学院党委", "cse@demo.local", "level2")
    assert announcement.late_dedupe_key("c", r) == "announce-late:c:o-cse"
    assert announcement.late_dedupe_key("c", r) not in {announcement.dedupe_key("c", v, r) for v in (1, 2)}


def test_the_late_mail_is_a_notice_of_the_current_version_never_a_correction_of_one_it_never_saw():
    data = {**campaign_event_data(load_builtin_definitions()["siyige-2020-seu"]), "version": 3,
            "change_note": "故事正文字数上限改为200字"}
    r = Recipient("seu", "o-new", "新成立学院党委", "new@demo.local", "level2")
    mail = Templates().render("campaign_announcement", "seu",
                              {**announcement.mail_context(data, "seu", "东南大学", r, None, late=True),
                               "contact": "东南大学党委组织部（zzb@seu.edu.cn）"})
    assert mail.subject == f"【活动通知】{data['title']}" and mail.template_error is None
    assert mail.body.startswith("新成立学院党委：\n\n贵单位的联系方式在活动发布后登记或更新，现补发活动通知。东南大学发布了")
    assert "第 3 版" not in mail.body


def test_what_a_copy_keeps_to_announce_later():
    data = {"short_title": "短", "contacts": [{"name": "崔琳"}], "notice": "通知", "change_note": None, "tracks": {}}
    ref = {"name": "短通知.docx", "content_type": announcement.DOCX_TYPE, "sha256": "0" * 64, "size": 1}
    assert announcement.kept(data, ref) == {"short_title": "短", "contacts": [{"name": "崔琳"}], "notice": "通知",
                                            "change_note": None, "attachment": ref, "owner_org_id": None}
    assert announcement.kept({}, None)["contacts"] == []


# ------------------------------------------------------------------ recurring tracks: the period that counts


def test_a_works_period_is_the_month_of_its_date_field():
    track = monthly()
    assert periods.work_period(track, {"held_on": "2020-04-20"}) == "2020-04"
    assert periods.work_period(track, {"held_on": "not a day"}) is None and periods.work_period(track, None) is None
    assert periods.work_period({"submit_levels": ["level2"]}, {"held_on": "2020-04-20"}) is None  # runs once


def test_progress_counts_the_period_the_clock_stands_in_else_the_first_or_the_last():
    track = monthly()
    assert periods.counted_period(track, at("2020-04-01T00:00:00")).key == "2020-04"
    assert periods.counted_period(track, at("2020-03-31T23:59:59")).key == "2020-03"
    # in the campaign's timezone: 16:00 UTC on 3/31 is April 1st in Beijing
    assert periods.counted_period(track, datetime.fromisoformat("2020-03-31T16:00:00+00:00")).key == "2020-04"
    assert periods.counted_period(track, at("2020-01-15T09:00:00")).key == "2020-03"  # not begun: the first
    assert periods.counted_period(track, at("2021-01-15T09:00:00")).key == "2020-06"  # over: how it ended
    assert periods.counted_period({"submit_levels": ["branch"]}, at("2020-04-01T00:00:00")) is None
    assert periods.period_label("2020-04") == "2020年4月"


# ------------------------------------------------------------------ recurring tracks: the reminder of each period

CAMPAIGN = {"campaign_id": "upc", "tenant": "upc", "tracks": {"monthly_record": monthly()}}
ORGS = [{"tenant": "upc", "org_id": "b1", "level": "branch"}, {"tenant": "upc", "org_id": "b2", "level": "branch"},
        {"tenant": "upc", "org_id": "c1", "level": "level2"}, {"tenant": "other", "org_id": "x", "level": "branch"}]


def due(now: str, submitted=frozenset(), campaign=CAMPAIGN):
    return [(r.org_id, r.period, r.days_left) for r in
            reminders.due_period_reminders(at(now), [campaign], ORGS, set(submitted))]


def test_a_branch_without_this_months_record_is_reminded_from_seven_days_before_its_due_day():
    assert due("2020-04-22T09:00:00") == []  # 8 days before April 30
    assert due("2020-04-23T09:00:00") == [("b1", "2020-04", 7), ("b2", "2020-04", 7)]  # not the college, not another
    assert due("2020-04-23T09:00:00", {("upc", "monthly_record", "2020-04", "b1")}) == [("b2", "2020-04", 7)]
    # March's record does not count for April
    assert due("2020-04-23T09:00:00", {("upc", "monthly_record", "2020-03", "b1")})[0] == ("b1", "2020-04", 7)
    assert due("2020-04-30T23:00:00")[0] == ("b1", "2020-04", 0)  # still due on its day: the key sends it once
    assert due("2020-05-01T09:00:00") == []  # April is over, May is 30 days off


def test_the_reminder_is_once_per_org_track_and_period():
    first, = [r for r in reminders.due_period_reminders(at("2020-04-23T09:00:00"), [CAMPAIGN], ORGS, set())
              if r.org_id == "b1"]
    later, = [r for r in reminders.due_period_reminders(at("2020-04-29T09:00:00"), [CAMPAIGN], ORGS, set())
              if r.org_id == "b1"]
    may, = [r for r in reminders.due_period_reminders(at("2020-05-29T09:00:00"), [CAMPAIGN], ORGS, set())
            if r.org_id == "b1"]
    assert first.dedupe_key == later.dedupe_key == "period-reminder:upc:monthly_record:2020-04:b1"
    assert may.dedupe_key != first.dedupe_key and (may.period_label, may.due) == ("2020年5月", at("2020-05-31T23:59:59"))


def test_a_period_due_early_in_its_month_is_reminded_once_it_opens_not_before():
    early = {**CAMPAIGN, "tracks": {"monthly_record": monthly(due_day=5)}}
    assert due("2020-03-30T09:00:00", campaign=early) == []  # April's record cannot be filed before April
    assert due("2020-04-01T09:00:00", campaign=early)[0] == ("b1", "2020-04", 4)
    assert due("2020-04-06T09:00:00", campaign=early) == []  # past April's due day, May's 29 days off


def test_tracks_that_run_once_get_no_period_reminders_and_stage_reminders_none_for_a_recurring_track():
    once = {"campaign_id": "seu", "tenant": "upc", "tracks": seu_tracks()}
    assert reminders.due_period_reminders(at("2020-07-15T09:00:00"), [once], ORGS, set()) == []
    assert reminders.due_reminders(at("2020-04-23T09:00:00"), [CAMPAIGN], ORGS, set()) == []


def test_the_reminder_mail_names_the_period_and_its_due_day():
    mail = Templates().render("period_reminder", "upc", {"contact": "东南大学党委组织部（zzb@seu.edu.cn）",
        "org_name": "研钻井19-2党支部", "campaign": "中国石油大学2020年上半年党支部线上组织生活", "track": "月度组织生活记录",
        "period": "2020年4月", "due": "2020年04月30日 23:59", "days_left": 7})
    assert mail.subject == "【提醒】“月度组织生活记录”2020年4月的记录将于 7 天后截止（2020年04月30日 23:59）"
    assert mail.body.startswith("研钻井19-2党支部：") and "尚未提交2020年4月的记录" in mail.body
    today = Templates().render("period_reminder", "upc", {"contact": "东南大学党委组织部（zzb@seu.edu.cn）",
        "org_name": "b", "campaign": "c", "track": "t", "period": "2020年4月", "due": "d", "days_left": 0})
    assert "今天截止" in today.subject
