"""Intake forwards a selection by when it was confirmed, not by when it arrives (issue #16): one confirmed after
the university's deadline is parked with its reason, one confirmed in time but delivered days later goes up."""
from kombu import Connection, Exchange

from common.deadletters import list_dead
from common.events import make_event
from tests.conftest import wait_until
from tests.integration.test_intake_api import intake  # noqa: F401 - fixture


def confirmed(env, selected, confirmed_at: str, round_id: str):
    ev = make_event("selection_made", "seu", {
        "round_id": round_id, "campaign_id": "siyige-2020-seu", "track": "story", "level": "university",
        "to_level": "ministry", "owner_org_id": None, "selected": selected, "not_selected": [],
        "results": [{"submission_id": s, "tenant": "seu", "rank": n, "selected": True}
                    for n, s in enumerate(selected, start=1)], "confirmed_at": confirmed_at})
    with Connection(env["config"]["AMQP_URI"]) as conn:
        conn.Producer().publish(ev.to_dict(), exchange=Exchange("review.events", type="topic", durable=True),
                                routing_key="selection_made", serializer="json", delivery_mode=2)


def test_a_late_confirmation_is_parked_and_a_late_delivery_of_a_timely_one_goes_up(intake):  # noqa: F811
    seu = intake["seu"]
    work = seu.draft("siyige-2020-seu", "story", "机械工程学院党委", title="机械学院战疫故事", text="党员冲在前面。")
    assert seu("POST", f"/api/v1/submissions/{work['id']}/submit").status_code == 200
    # SEU forwards its stories to the ministry by 2020-07-31 23:59 (Beijing); intake's clock stands at 6/12
    confirmed(intake, [work["id"]], "2020-08-01T09:00:00+08:00", "rd-late")
    dead = wait_until(lambda: [d for d in list_dead(intake["config"]["AMQP_URI"], "intake")
                               if d["type"] == "selection_made"], timeout=20, what="the parked selection")
    assert "forward_deadline_passed" in (dead[0]["error"] or "") or "已超过截止时间" in (dead[0]["error"] or ""), dead
    assert seu("GET", f"/api/v1/submissions/{work['id']}").json()["forwarded_to"] is None

    from datetime import datetime

    from common import clock

    clock.set_start(datetime.fromisoformat("2020-08-05T09:00:00+08:00"))  # the broker was down for days
    confirmed(intake, [work["id"]], "2020-07-31T20:00:00+08:00", "rd-in-time")
    wait_until(lambda: seu("GET", f"/api/v1/submissions/{work['id']}").json()["forwarded_to"] == "ministry",
               timeout=20, what="the timely selection forwarded")
