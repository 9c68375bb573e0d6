"""What review tells intake's audit log (services/review/domain/audit.py), and that intake can read every word of it.

Who is named how (a person, a key's admin, a reviewer, review's timer), the event's data as the catalogue checks
it, and the contract between the two services: every action review may send has intake's Chinese label and is in
the API document's filter, every object it names has a label.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from common.events import CATALOGUE, REVIEW_AUDIT_ACTIONS, make_event
from services.intake.operations import audit as intake_audit
from services.review.domain.audit import BY_REVIEW, KEY, SCORE_ACTIONS, SERVICE, Acting, acting, event_data, short

AT = datetime(2020, 7, 20, 8, 0, tzinfo=timezone.utc)
TITLE = "东南大学 · 战疫故事汇 · 校级评审"


def test_a_person_handed_on_from_intake_is_named_as_intakes_own_rows_name_them():
    by = acting({"role": "person", "account_id": "a1", "name": "王书记", "email": "wang@seu.edu.cn"}, "10.0.0.7")
    assert by == Acting("account:a1 (王书记)", "10.0.0.7", None)


def test_a_reviewer_by_link_is_named_with_their_reviewer_row():
    by = acting({"role": "reviewer", "reviewer_id": "r1", "name": "专家0", "round_id": "rd"}, "10.0.0.8")
    assert by == Acting("reviewer:r1 (专家0)", "10.0.0.8", None)


def test_a_keys_admin_is_unnamed_here_and_carries_the_keys_hash_for_intake():
    by = acting({"role": "admin", "tenant": "seu", "kind": "university", "key_hash": "ab" * 32}, "10.0.0.9")
    assert (by.actor, by.address, by.key_hash) == (KEY, "10.0.0.9", "ab" * 32)
    # a session opened before the hash was kept in it: the key stays unnamed, nothing fails
    assert acting({"role": "admin", "tenant": "seu", "kind": "university"}, None) == Acting(KEY)


def test_reviews_timer_acts_as_the_service_from_nowhere():
    assert BY_REVIEW == Acting(SERVICE) and SERVICE == intake_audit.REVIEW


def test_a_long_name_is_cut_to_the_logs_column_and_an_unknown_role_names_nobody():
    by = acting({"role": "person", "account_id": "a1", "name": "长" * 300}, None)
    assert len(by.actor) == 200 and by.actor.startswith("account:a1 (")
    with pytest.raises(ValueError, match="role 'used_ticket'"):
        acting({"role": "used_ticket"}, None)


def test_short_keeps_a_name_whole_and_cuts_a_long_reason():
    assert short("指导过作者") == "指导过作者" and short(None) is None
    assert short("理" * 100) == "理" * 59 + "…"


def test_the_round_is_the_objects_name_or_named_beside_the_object():
    by = Acting("reviewer:r1 (专家0)", "10.0.0.8")
    own = event_data("rd1", "seu", TITLE, by, "round.closed", "round", "rd1", {}, AT)
    assert own["detail"] == {"title": TITLE}
    other = event_data("rd1", "seu", TITLE, by, "score.submitted", "assignment", "a1",
                       {"submission_id": "s1", "score_total": 80.0}, AT)
    assert other == {"round_id": "rd1", "tenant": "seu", "actor": "reviewer:r1 (专家0)", "action": "score.submitted",
                     "object_type": "assignment", "object_id": "a1",
                     "detail": {"round_title": TITLE, "submission_id": "s1", "score_total": 80.0},
                     "address": "10.0.0.8", "at": "2020-07-20T08:00:00+00:00"}
    assert "key_hash" not in other  # only a key's admin carries one


def test_the_events_data_is_what_the_catalogue_accepts():
    key = Acting(KEY, "2001:db8::1", "cd" * 32)
    for action in REVIEW_AUDIT_ACTIONS:
        data = event_data("rd1", "ministry", TITLE, key, action, "round", "rd1", {"sent": 3}, AT)
        assert make_event("review_audited", "ministry", data).data["key_hash"] == "cd" * 32
    timer = event_data("rd1", "seu", TITLE, BY_REVIEW, "reviewers.invited", "round", "rd1", {"reminder": True}, AT)
    assert make_event("review_audited", "seu", timer).data["address"] is None


def test_every_action_review_sends_has_intakes_label_and_is_in_the_api_document():
    from services.intake.service import OPENAPI

    [action] = [p for p in OPENAPI["paths"]["/api/v1/audit"]["get"]["parameters"] if p.get("name") == "action"]
    assert set(SCORE_ACTIONS.values()) <= set(REVIEW_AUDIT_ACTIONS)
    assert list(CATALOGUE["review_audited"].data_schema["properties"]["action"]["enum"]) == list(REVIEW_AUDIT_ACTIONS)
    for code in REVIEW_AUDIT_ACTIONS:
        assert code in intake_audit.ACTIONS and not intake_audit.ACTIONS[code].isascii(), code
        assert code in action["schema"]["enum"], code


def test_every_object_review_names_reads_in_chinese():
    kinds = CATALOGUE["review_audited"].data_schema["properties"]["object_type"]["enum"]
    assert all(not intake_audit.OBJECT_LABELS[kind].isascii() for kind in kinds)
    row = intake_audit.row_view({
        "id": 1, "at": "2020-07-20T08:00:00+00:00", "actor": "reviewer:r1 (专家0)", "action": "score.changed",
        "action_label": intake_audit.ACTIONS["score.changed"], "object_type": "assignment", "object_id": "a1",
        "detail": {"round_id": "rd1", "round_title": TITLE, "submission_id": "s1", "score_total": 88.0,
                   "previous_score_total": 80.0}, "address": "10.0.0.8"})
    assert row["object_text"] == "评审任务 a1" and row["object_name"] == ""
    assert row["detail_text"] == f"评审轮次编号：rd1；评审轮次：{TITLE}；作品：s1；总分：88.0；修改前总分：80.0"
