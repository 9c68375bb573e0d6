"""A track that recurs monthly (「月度组织生活」: a record each month, issue #16): its periods, its checks, how a copy
may change it, what the event carries, and how intake decides a record's submit by its month."""
from __future__ import annotations

import copy
from datetime import date, datetime, timedelta

import pytest

from common.campaign import DEFINITIONS_DIR, PublishedCampaign, check_tightens, load_builtin_definitions, parse_definition
from common.campaign.recurrence import Recurrence, month_key, period, period_at, period_key_of, periods
from common.errors import Conflict, DomainError, Unprocessable
from common.events import make_event
from services.intake.domain import submission as rules
from services.intake.domain.lifecycles import SubmissionState

UPC = "upc-zuzhishenghuo-2020"


def upc_raw() -> dict:
    return copy.deepcopy(load_builtin_definitions(DEFINITIONS_DIR / "own")[UPC].raw)


def upc_track():
    return load_builtin_definitions(DEFINITIONS_DIR / "own")[UPC].tracks["monthly_record"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def problems_of(doc: dict) -> dict[str, str]:
    with pytest.raises(Unprocessable) as caught:
        parse_definition(doc)
    assert caught.value.code == "campaign_invalid"
    return {d["field"]: d["message"] for d in caught.value.details}


# --------------------------------------------------------------------------- periods


def test_the_periods_are_the_months_from_first_to_last_across_a_year_end():
    rec = Recurrence(first="2019-11", last="2020-02", field="held_on")
    assert [p.key for p in periods(rec)] == ["2019-11", "2019-12", "2020-01", "2020-02"]
    assert [p.label for p in periods(rec)] == ["2019年11月", "2019年12月", "2020年1月", "2020年2月"]


def test_a_period_is_due_at_the_end_of_its_due_day_or_of_its_month_in_the_campaigns_timezone():
    monthly = Recurrence(first="2020-01", last="2020-12", field="held_on")
    feb = period(monthly, "2020-02")
    assert feb.opens == at("2020-02-01T00:00:00+08:00")
    assert feb.due == at("2020-02-29T23:59:59+08:00")  # 2020 is a leap year
    assert period(monthly, "2020-04").due == at("2020-04-30T23:59:59+08:00")
    due_28 = Recurrence(first="2020-01", last="2020-12", field="held_on", due_day=28)
    assert period(due_28, "2020-02").due == at("2020-02-28T23:59:59+08:00")
    urumqi = Recurrence(first="2020-01", last="2020-12", field="held_on", timezone="Asia/Urumqi")
    assert period(urumqi, "2020-03").opens == at("2020-03-01T00:00:00+06:00")


def test_a_month_outside_first_to_last_is_no_period():
    rec = Recurrence(first="2020-03", last="2020-06", field="held_on")
    assert period(rec, "2020-02") is None and period(rec, "2020-07") is None and period(rec, "2020-13") is None
    assert period(rec, "2020-03").key == "2020-03"


def test_a_works_period_is_the_month_of_its_date_field_and_none_without_a_valid_day():
    rec = Recurrence(first="2020-03", last="2020-06", field="held_on")
    assert period_key_of(rec, {"held_on": "2020-03-31"}) == "2020-03"
    for fields in ({}, {"held_on": None}, {"held_on": "2020-3-1"}, {"held_on": "2020-02-30"}, {"held_on": 20200301}):
        assert period_key_of(rec, fields) is None
    assert month_key(date(2020, 12, 5)) == "2020-12"


def test_the_period_of_a_moment_is_read_in_the_campaigns_timezone():
    rec = Recurrence(first="2020-03", last="2020-06", field="held_on")
    # 2020-03-31 17:00 UTC is already April 1st in Beijing
    assert period_at(rec, at("2020-03-31T17:00:00+00:00")).key == "2020-04"
    assert period_at(rec, at("2020-03-31T15:59:59+00:00")).key == "2020-03"
    assert period_at(rec, at("2020-07-01T00:00:00+08:00")) is None


# --------------------------------------------------------------------------- the format


def test_upcs_record_recurs_monthly_march_to_june_and_round_trips():
    definition = load_builtin_definitions(DEFINITIONS_DIR / "own")[UPC]
    track = definition.tracks["monthly_record"]
    assert track.recurrence == Recurrence(first="2020-03", last="2020-06", field="held_on")
    assert parse_definition(definition.to_dict()) == definition
    assert definition.to_dict()["tracks"]["monthly_record"]["recurrence"] == {
        "first": "2020-03", "last": "2020-06", "field": "held_on"}


def test_first_after_last_is_refused():
    doc = upc_raw()
    doc["tracks"]["monthly_record"]["recurrence"].update(first="2020-07")
    found = problems_of(doc)
    assert "首期（2020-07）晚于末期（2020-06）" in found["tracks.monthly_record.recurrence.first"]


@pytest.mark.parametrize("due_day, ok", [(1, True), (28, True), (0, False), (29, False), (31, False)])
def test_a_due_day_is_1_to_28_so_that_every_month_has_it(due_day, ok):
    doc = upc_raw()
    doc["tracks"]["monthly_record"]["recurrence"]["due_day"] = due_day
    if ok:
        assert parse_definition(doc).tracks["monthly_record"].recurrence.due_day == due_day
    else:
        assert "tracks.monthly_record.recurrence.due_day" in problems_of(doc)


@pytest.mark.parametrize("first", ["2020-3", "2020-13", "March"])
def test_a_month_is_written_yyyy_mm(first):
    doc = upc_raw()
    doc["tracks"]["monthly_record"]["recurrence"]["first"] = first
    assert "YYYY-MM" in problems_of(doc)["tracks.monthly_record.recurrence.first"]


def test_the_field_that_names_the_month_is_a_date_the_first_stage_requires():
    doc = upc_raw()
    doc["tracks"]["monthly_record"]["recurrence"]["field"] = "topic"
    assert "不是本赛道的日期字段" in problems_of(doc)["tracks.monthly_record.recurrence.field"]
    doc = upc_raw()
    doc["tracks"]["monthly_record"]["stages"][0]["required_fields"].remove("held_on")
    assert "required_fields" in problems_of(doc)["tracks.monthly_record.stages.record.required_fields"]


def test_a_recurring_track_has_no_stage_deadlines_to_contradict_its_months():
    doc = upc_raw()
    doc["tracks"]["monthly_record"]["stages"][0]["deadlines"] = {"branch": "2020-06-30"}
    message = problems_of(doc)["tracks.monthly_record.stages.record.deadlines"]
    assert "recurrence.due_day" in message and "请删除" in message


def test_a_copy_may_bring_the_due_day_forward_but_not_drop_the_recurrence():
    parent = upc_raw()
    parent["tracks"]["monthly_record"]["recurrence"]["due_day"] = 25
    child = copy.deepcopy(parent)
    child.update(id="upc-jiguan-2020", derives_from=parent["id"])
    child["tracks"]["monthly_record"]["recurrence"]["due_day"] = 20  # 机关党委 wants its branches' records earlier
    check_tightens(parse_definition(parent), parse_definition(child))
    del child["tracks"]["monthly_record"]["recurrence"]
    with pytest.raises(Unprocessable) as caught:
        check_tightens(parse_definition(parent), parse_definition(child))
    assert [d["field"] for d in caught.value.details] == ["tracks.monthly_record.recurrence"]


def test_the_event_carries_the_recurrence_with_its_timezone_and_reads_it_back():
    definition = load_builtin_definitions(DEFINITIONS_DIR / "own")[UPC]
    data = PublishedCampaign.of(definition, "upc.upc-zuzhishenghuo-2020").to_event()
    assert data["tracks"]["monthly_record"]["recurrence"] == {
        "first": "2020-03", "last": "2020-06", "field": "held_on", "timezone": "Asia/Shanghai"}
    make_event("campaign_published", "upc", data)  # the catalogue's schema takes it
    back = PublishedCampaign.from_event(data).tracks["monthly_record"]
    assert back.recurrence == definition.tracks["monthly_record"].recurrence
    # a track that runs once carries no recurrence, as before
    assert "recurrence" not in PublishedCampaign.of(load_builtin_definitions()["siyige-2020"]).to_event()["tracks"]["story"]


# --------------------------------------------------------------------------- intake's decisions


def record(held_on: str, **extra) -> dict:
    return {"title": "研钻井19-2党支部组织生活", "held_on": held_on, "platforms": ["xuexi_qiangguo", "wechat"],
            "attendance": 18, "topic": "学习习近平总书记回信精神", "summary": "支部党员线上学习回信并讨论。", **extra}


def submit_facts(fields: dict, now: str, used: int = 0, state=SubmissionState.DRAFT,
                 extension: datetime | None = None) -> rules.SubmitFacts:
    work = rules.WorkFacts(track=upc_track(), state=state, last_stage=None, receipt_no=None, org_level="branch",
                           org_names=("研钻井19-2党支部",), title=fields["title"], fields=fields, now=at(now),
                           extension=extension)
    return rules.SubmitFacts(work=work, requested_stage=None, themes=[], used_quota=used, files=())


def test_a_record_of_the_current_month_is_taken():
    submitting = rules.decide_submit(submit_facts(record("2020-03-10"), "2020-03-12T09:00:00+08:00"))
    assert submitting.stage.key == "record" and submitting.final


def test_a_second_record_of_the_same_month_is_over_the_monthly_quota():
    with pytest.raises(Conflict) as caught:
        rules.decide_submit(submit_facts(record("2020-03-20"), "2020-03-21T09:00:00+08:00", used=1))
    assert caught.value.code == "quota_exceeded"
    assert "每月（本件属于2020年3月）最多提交 1 件" in caught.value.message


def test_a_record_of_a_month_not_yet_begun_is_refused_until_that_month():
    with pytest.raises(DomainError) as caught:
        rules.decide_submit(submit_facts(record("2020-04-02"), "2020-03-31T23:00:00+08:00"))
    assert (caught.value.code, caught.value.status) == ("period_not_open", 409)
    assert "2020年4月" in caught.value.message and "2020年04月01日 00:00" in caught.value.message
    rules.decide_submit(submit_facts(record("2020-04-02"), "2020-04-02T20:00:00+08:00"))


def test_a_record_of_a_month_that_is_over_is_late_unless_the_org_has_an_extension():
    with pytest.raises(DomainError) as caught:
        rules.decide_submit(submit_facts(record("2020-03-25"), "2020-04-01T00:00:01+08:00"))
    assert (caught.value.code, caught.value.status) == ("deadline_passed", 409)
    assert "2020年3月的记录截止时间为 2020年03月31日 23:59" in caught.value.message
    rules.decide_submit(submit_facts(record("2020-03-25"), "2020-04-01T00:00:01+08:00",
                                     extension=at("2020-04-03T18:00:00+08:00")))


def test_a_record_dated_outside_the_months_names_them():
    with pytest.raises(Unprocessable) as caught:
        rules.decide_submit(submit_facts(record("2020-07-01"), "2020-07-01T09:00:00+08:00"))
    assert caught.value.code == "period_outside_recurrence" and caught.value.field == "fields.held_on"
    assert "2020年3月至2020年6月" in caught.value.message


def test_a_submitted_record_closes_with_its_month_and_a_draft_may_still_be_corrected():
    late = at("2020-04-05T09:00:00+08:00")
    submitted = submit_facts(record("2020-03-25"), "2020-04-05T09:00:00+08:00", state=SubmissionState.SUBMITTED).work
    with pytest.raises(DomainError) as caught:
        rules.check_editable(submitted, "修改")
    assert caught.value.code == "deadline_passed" and "已不能修改" in caught.value.message
    draft = submit_facts(record("2020-03-25"), late.isoformat()).work
    rules.check_editable(draft, "修改")  # its date can move to April before it is submitted
    rules.check_editable(submit_facts(record("2020-04-01"), (late + timedelta(days=1)).isoformat(),
                                      state=SubmissionState.SUBMITTED).work, "修改")


def test_a_submitted_record_keeps_its_month():
    track = upc_track()
    rules.check_period_kept(track, record("2020-03-02"), record("2020-03-30"))
    with pytest.raises(Conflict) as caught:
        rules.check_period_kept(track, record("2020-03-02"), record("2020-04-01"))
    assert caught.value.code == "period_fixed" and "2020年3月" in caught.value.message
