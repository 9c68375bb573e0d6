"""Issue #14, item 15: webhook signatures carry real time, whatever the platform clock says.

A rehearsal runs on the demo clock (PLATFORM_CLOCK_START, 2020); receivers that apply the documented
5-minute window against their own clock rejected every delivery signed with it. Against notify with a
real RabbitMQ and a receiver on loopback that verifies as portals are told to (webhooks.verify).
"""
from datetime import datetime

import requests

from common import clock
from tests.conftest import wait_until
from tests.integration.test_notify_service import key_events, notify, portal_receiver, publish, smtp, story_submitted  # noqa: F401  (fixtures)


def test_deliveries_verify_against_the_receivers_clock_during_a_rehearsal(notify, portal_receiver):  # noqa: F811
    base = "http://" + notify["container"].config["WEB_SERVER_ADDRESS"] + "/api/v1/webhooks"
    publish(notify["amqp"], key_events("seu", "university", "东南大学", "sk_seu_ts"))
    seu = {"Authorization": "Bearer sk_seu_ts"}
    sub = wait_until(lambda: (r := requests.post(base, json={"url": portal_receiver["url"],
                                                             "event_types": ["submission_submitted"]},
                                                 headers=seu, timeout=10)).status_code == 201 and r.json(),
                     what="the subscription")
    portal_receiver["secret"] = sub["secret"]
    clock.set_start(datetime.fromisoformat("2020-06-12T09:00:00+08:00"))  # the demo's clock (the fixture resets it)
    assert clock.now().year == 2020
    publish(notify["amqp"], story_submitted())
    wait_until(lambda: portal_receiver["received"] or portal_receiver["rejected"], timeout=20,
               what="the delivery")
    assert portal_receiver["rejected"] == [] and len(portal_receiver["received"]) == 1
    delivered = requests.get(f"{base}/{sub['id']}/deliveries", headers=seu, timeout=10).json()["items"]
    assert [(d["state"], d["attempts"]) for d in delivered] == [("delivered", 1)]
