"""A round that forwards confirms its selection by its level's deadline (issue #16), on the shipped SEU tracks.

SEU's lecture: registration (level-2 orgs by 6/15 noon) then video (level-2 orgs by 7/17); the university
forwards to the ministry by 7/31 for both stages. Review judges by its copy of the track (campaign_published's
dict, services/review/domain/rounds.py), intake by the parsed track (services/intake/domain/submission.py).
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from common.campaign import campaign_event_data
from common.errors import Conflict
from services.intake.domain import submission as rules
from services.intake.domain.lifecycles import SubmissionState
from services.review.domain import decisions, rounds
from services.review.domain.selection import Candidate, decide_selection

PLUS8 = timezone(timedelta(hours=8))
UNIVERSITY_DEADLINE = datetime(2020, 7, 31, 23, 59, 59, tzinfo=PLUS8)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PLUS8)


@pytest.fixture(scope="module")
def seu_tracks(seu):
    """The SEU tracks as review keeps them (the event's dicts)."""
    return campaign_event_data(seu)["tracks"]


# --------------------------------------------------------------------------- which deadline


def test_the_last_stages_deadline_at_the_rounds_level_applies(seu_tracks):
    lecture = seu_tracks["lecture"]
    # a college forwards its finished video by the video stage's 7/17, not the registration's 6/15 noon
    assert rounds.forward_deadline(lecture, "level2") == at("2020-07-17T23:59:59")
    assert rounds.forward_deadline(lecture, "university") == UNIVERSITY_DEADLINE
    # no deadline of the track's own: a rolling track (成果宣传报道) has none to enforce
    assert rounds.forward_deadline(seu_tracks["report"], "university") is None
    assert rounds.forward_deadline({"label": "未知"}, "university") is None


def test_a_level_without_a_deadline_of_its_own_uses_the_one_above(ministry):
    lecture = campaign_event_data(ministry)["tracks"]["lecture"]  # the ministry names only the universities'
    assert rounds.forward_deadline(lecture, "level2") == UNIVERSITY_DEADLINE


def test_only_a_round_that_forwards_has_a_forwarding_deadline(seu_tracks):
    story = seu_tracks["story"]
    end = decisions.round_end(story, "university")
    window = rounds.forwarding_deadline(end, story, at("2020-07-20T09:00:00"))
    assert (window.at, window.up, window.passed) == (UNIVERSITY_DEADLINE, "ministry", False)
    assert window.text == "须于 2020年07月31日 23:59（北京时间）前向教育部报送"
    assert rounds.forwarding_deadline(end, story, at("2020-08-01T00:00:00")).passed
    # the ministry's round is final: nothing goes up, so no deadline to forward by
    assert rounds.forwarding_deadline(decisions.round_end(story, "ministry"), story, at("2021-01-01T00:00:00")) is None
    # nor a round where the track's own decision ends the selection (同济's award at the university)
    awarded = {**story, "decision": {"level": "university", "kind": "award"}}
    assert rounds.forwarding_deadline(decisions.round_end(awarded, "university"), awarded,
                                      at("2021-01-01T00:00:00")) is None


# --------------------------------------------------------------------------- review refuses a late confirmation

WORKS = [Candidate("s1", "seu", "计算机学院战疫故事", 1, 80.0, 8.0), Candidate("s2", "seu", "机械学院战疫故事", 2, 70.0, 7.0)]


def confirm(track: dict, level: str, now: datetime, state: str = "closed"):
    end = decisions.round_end(track, level)
    return decide_selection(state, level, WORKS, ["s1"], end=end,
                            deadline=rounds.forwarding_deadline(end, track, now), now=now)


def test_a_university_confirms_up_to_the_last_second_of_its_deadline(seu_tracks):
    assert confirm(seu_tracks["story"], "university", UNIVERSITY_DEADLINE).selected == ["s1"]


def test_after_the_deadline_review_refuses_with_the_deadline_in_beijing_time_and_whom_to_ask(seu_tracks):
    late = UNIVERSITY_DEADLINE + timedelta(seconds=1)
    with pytest.raises(Conflict) as caught:
        confirm(seu_tracks["story"], "university", late)
    err = caught.value
    assert (err.status, err.code) == (409, "forward_deadline_passed")
    assert "须于 2020年07月31日 23:59（北京时间）前向教育部报送" in err.message
    assert "2020年08月01日 00:00" in err.message  # what was found
    assert "没有延长报送期限的办法" in err.message and "教育部思政司" in err.message  # what to do, honestly
    assert err.expected == UNIVERSITY_DEADLINE.isoformat()


def test_the_deadline_is_refused_before_asking_to_close_the_scoring(seu_tracks):
    # closing the scoring would not help: say what does
    with pytest.raises(Conflict) as caught:
        confirm(seu_tracks["story"], "university", at("2020-08-02T09:00:00"), state="open")
    assert caught.value.code == "forward_deadline_passed"
    with pytest.raises(Conflict) as caught:  # a confirmed round stays confirmed: that comes first
        confirm(seu_tracks["story"], "university", at("2020-08-02T09:00:00"), state="selected")
    assert caught.value.code == "already_selected"


def test_a_colleges_round_has_its_levels_deadline_and_asks_its_universitys_office(seu_tracks):
    lecture = seu_tracks["lecture"]
    assert confirm(lecture, "level2", at("2020-07-17T23:00:00")).selected == ["s1"]
    with pytest.raises(Conflict) as caught:
        confirm(lecture, "level2", at("2020-07-18T08:00:00"))
    assert "须于 2020年07月17日 23:59（北京时间）前向高校党委报送" in caught.value.message
    assert "学校党委组织部" in caught.value.message
    material = {**seu_tracks["material"], "department": "propaganda"}  # SEU routes it to 组织部; most to 宣传部
    with pytest.raises(Conflict) as caught:
        confirm(material, "level2", at("2020-10-16T08:00:00"))
    assert "学校党委宣传部" in caught.value.message


def test_without_a_deadline_or_a_clock_nothing_is_refused(seu_tracks):
    end = decisions.round_end(seu_tracks["report"], "university")
    assert rounds.forwarding_deadline(end, seu_tracks["report"], at("2030-01-01T00:00:00")) is None
    # callers that give no deadline (a final round) are not judged
    assert decide_selection("closed", "university", WORKS, ["s1"], limit=1).selected == ["s1"]


# --------------------------------------------------------------------------- intake, by the confirmation's time


def selection(seu, confirmed_at, level="university", to_level="ministry", track="story") -> rules.SelectionFacts:
    work = rules.SelectedWork("a", True, "seu", track, "战疫故事", SubmissionState.SUBMITTED, True,
                              None if level == "level2" else level, "level2" if level == "university" else "branch",
                              "seu.siyige-2020-seu")
    return rules.SelectionFacts(tenant_id="seu", track_key=track, level=level, to_level=to_level, works=(work,),
                                tracks={"seu.siyige-2020-seu": seu.tracks[track]},
                                already={"seu.siyige-2020-seu": 0}, confirmed_at=confirmed_at)


def test_intake_forwards_a_selection_confirmed_in_time_however_late_it_arrives(seu):
    # confirmed a minute before the deadline; the broker was down for days: intake does not look at its clock
    moving = rules.decide_forward(selection(seu, UNIVERSITY_DEADLINE - timedelta(minutes=1)))
    assert [f.work_id for f in moving] == ["a"]


def test_intake_refuses_a_selection_confirmed_after_the_deadline(seu):
    with pytest.raises(Conflict) as caught:
        rules.decide_forward(selection(seu, UNIVERSITY_DEADLINE + timedelta(minutes=1)))
    err = caught.value
    assert err.code == "forward_deadline_passed" and "整次报送未执行" in err.message
    assert "2020年07月31日 23:59" in err.message and "教育部思政司" in err.message
    with pytest.raises(Conflict) as caught:  # a college's, by its level's deadline of the last stage
        rules.decide_forward(selection(seu, at("2020-07-18T00:00:00"), "level2", "university", "lecture"))
    assert caught.value.code == "forward_deadline_passed" and "学校党委组织部" in caught.value.message


def test_intake_judges_nothing_without_a_confirmation_time_and_a_replay_forwards_nothing_twice(seu):
    facts = selection(seu, None)
    assert [f.work_id for f in rules.decide_forward(facts)] == ["a"]
    already_up = replace(facts, confirmed_at=at("2021-01-01T00:00:00"),
                         works=(replace(facts.works[0], forwarded_to="ministry"),))
    assert rules.decide_forward(already_up) == []  # a late replay of what already went up is no error
    assert rules.forward_deadline(seu.tracks["lecture"], "level2") == at("2020-07-17T23:59:59")
