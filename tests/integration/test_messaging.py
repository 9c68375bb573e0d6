"""The event machinery against a real RabbitMQ: once-only effects, retries, parking, replay."""
import json

import pytest
import requests
from eventlet.event import Event
from kombu import Connection, Exchange
from sqlalchemy import Column, Integer, String, func, select
from sqlalchemy.orm import declarative_base

from common import events as catalogue
from common.db import Store, messaging_models
from common.deadletters import list_dead, replay
from tests.conftest import RABBIT_API, wait_until
from tests.netfault import CuttableLink

Base = declarative_base()
_Outbox, Processed = messaging_models(Base)


class Effect(Base):
    __tablename__ = "effects"
    id = Column(Integer, primary_key=True, autoincrement=True)
    event_id = Column(String(32), nullable=False)


PROBE = catalogue.EventType(
    name="probe_pinged", source="probe", version=1, description="test only",
    data_schema={"type": "object", "properties": {"fail_times": {"type": "integer"}, "n": {"type": "integer"}},
                 "required": ["n"], "additionalProperties": False},
    subscribers=("sink.on_ping",),
)

behaviour = {"fail_times": 0, "always_fail": False, "attempts": {}, "hold": None}


@pytest.fixture
def sink(request, monkeypatch, make_config, start_service, sqlite_url):
    """A service handling probe_pinged; `request.param` (indirect) is the queue type, classic by default."""
    monkeypatch.setitem(catalogue.CATALOGUE, PROBE.name, PROBE)
    behaviour.update(fail_times=0, always_fail=False, attempts={}, hold=None)
    from common.dependencies import Database
    from common.messaging import handles

    class SinkService:
        name = "sink"
        db = Database(Processed)

        @handles("probe_pinged")
        def on_ping(self, event):
            seen = behaviour["attempts"].setdefault(event.event_id, 0) + 1
            behaviour["attempts"][event.event_id] = seen
            if behaviour["hold"] is not None:  # an eventlet Event the test sends when the handler may go on
                behaviour["hold"].wait()
            if behaviour["always_fail"] or seen <= event.data.get("fail_times", 0):
                raise RuntimeError(f"planned failure {seen}")
            with self.db.handling(event) as s:
                if s is not None:
                    s.add(Effect(event_id=event.event_id))

    store = Store(sqlite_url)
    Base.metadata.create_all(store.engine)
    config = make_config("intake", DATABASE_URL=sqlite_url,  # any service's config shape will do
                         QUEUE_TYPE=getattr(request, "param", "classic"))
    from common.messaging import declare_topology, queue_type, retry_delays

    declare_topology(config["AMQP_URI"], retry_delays(config), queue_type(config))
    link = CuttableLink(config["AMQP_URI"])  # the service reaches the broker through a link a test can cut
    from nameko.containers import ServiceContainer

    uri = link.uri
    if request.node.get_closest_marker("cluster_of_two"):
        # Two addresses, as a client of a RabbitMQ cluster is configured (kombu's ";" list, tried in
        # turn): the first through the link, the second straight to the broker.
        uri = f"{link.uri};{config['AMQP_URI']}"
    container = ServiceContainer(SinkService, dict(config, AMQP_URI=uri))
    container.start()
    yield {"store": store, "amqp": config["AMQP_URI"], "container": container, "link": link}
    if container._died.ready():  # a test saw it die; stop() would wait on its dead consumer
        container.kill()
    else:
        container.stop()
    link.close()
    store.dispose()


def publish(amqp, body, content_type="application/json"):
    with Connection(amqp) as conn:
        conn.Producer().publish(body, exchange=Exchange("probe.events", type="topic", durable=True),
                                routing_key="probe_pinged", content_type=content_type,
                                content_encoding="utf-8", delivery_mode=2)


def effects(store, event_id=None):
    with store.transaction() as s:
        q = select(func.count()).select_from(Effect)
        if event_id:
            q = q.where(Effect.event_id == event_id)
        return s.scalar(q)


def envelope(**data):
    return catalogue.make_event("probe_pinged", "seu", data).to_dict()


def test_a_duplicate_delivery_has_its_effect_once(sink):
    doc = envelope(n=1)
    publish(sink["amqp"], json.dumps(doc))
    publish(sink["amqp"], json.dumps(doc))
    wait_until(lambda: behaviour["attempts"].get(doc["event_id"]) == 2, what="both deliveries handled")
    assert effects(sink["store"], doc["event_id"]) == 1


@pytest.mark.parametrize("sink", ["classic", "quorum"], indirect=True)
def test_a_failing_handler_is_retried_with_backoff_then_succeeds(sink):
    doc = envelope(n=2, fail_times=2)
    publish(sink["amqp"], json.dumps(doc))
    wait_until(lambda: effects(sink["store"], doc["event_id"]) == 1, what="effect after retries")
    assert behaviour["attempts"][doc["event_id"]] == 3
    assert list_dead(sink["amqp"]) == []
    # the work queue and its retry queues are of the configured type
    kind = sink["container"].config["QUEUE_TYPE"]
    vhost = sink["amqp"].rsplit("/", 1)[1]
    queues = requests.get(f"{RABBIT_API.rstrip('/')}/api/queues/{vhost}", timeout=10).json()
    probe = [q for q in queues if q["name"].startswith(PROBE.queue_for("sink.on_ping"))]
    assert len(probe) >= 4 and {q["type"] for q in probe} == {kind}


@pytest.mark.parametrize("sink", ["classic", "quorum"], indirect=True)
def test_an_always_failing_handler_is_parked_then_replayed_once_fixed(sink):
    behaviour["always_fail"] = True
    doc = envelope(n=3)
    publish(sink["amqp"], json.dumps(doc))
    parked = wait_until(lambda: list_dead(sink["amqp"]), timeout=15, what="message parked")
    assert parked[0]["event_id"] == doc["event_id"] and "planned failure 3" in parked[0]["error"]
    assert behaviour["attempts"][doc["event_id"]] == 3  # 1 try + 2 retries, then parked: no hot loop
    assert list_dead(sink["amqp"])  # listing does not consume

    behaviour["always_fail"] = False
    assert replay(sink["amqp"], {doc["event_id"]}) == 1
    wait_until(lambda: effects(sink["store"], doc["event_id"]) == 1, what="effect after replay")
    assert list_dead(sink["amqp"]) == []


def test_poison_messages_are_parked_at_once_and_the_queue_keeps_flowing(sink):
    publish(sink["amqp"], "{this is not json")
    bad = envelope(n=4)
    bad["data"]["n"] = "four"  # valid JSON, invalid by schema
    publish(sink["amqp"], json.dumps(bad))
    good = envelope(n=5)
    publish(sink["amqp"], json.dumps(good))
    wait_until(lambda: effects(sink["store"], good["event_id"]) == 1, what="good message handled")
    parked = wait_until(lambda: len(list_dead(sink["amqp"])) == 2 and list_dead(sink["amqp"]), what="two parked")
    errors = sorted(p["error"].split(":")[0] for p in parked)
    assert errors == ["invalid", "undecodable"]
    assert bad["event_id"] not in behaviour["attempts"]  # never reached the handler


def test_a_message_invalid_by_schema_is_replayed_once_the_schema_is_fixed(sink, monkeypatch):
    bad = envelope(n=6)
    bad["data"]["n"] = "six"  # a producer sent a string; the schema says integer
    publish(sink["amqp"], json.dumps(bad))
    wait_until(lambda: [p for p in list_dead(sink["amqp"]) if p["event_id"] == bad["event_id"]], what="parked")
    assert effects(sink["store"], bad["event_id"]) == 0
    # the fix is deployed: the schema accepts what producers really send
    fixed = catalogue.EventType(
        name=PROBE.name, source=PROBE.source, version=PROBE.version, description=PROBE.description,
        data_schema={**PROBE.data_schema, "properties": {**PROBE.data_schema["properties"],
                                                         "n": {"type": ["integer", "string"]}}},
        subscribers=PROBE.subscribers)
    monkeypatch.setitem(catalogue.CATALOGUE, PROBE.name, fixed)
    assert replay(sink["amqp"], {bad["event_id"]}) == 1
    wait_until(lambda: effects(sink["store"], bad["event_id"]) == 1, what="handled after replay")
    assert replay(sink["amqp"], {bad["event_id"]}) == 0  # replayed once: nothing left to replay
    assert effects(sink["store"], bad["event_id"]) == 1


def test_a_connection_lost_while_a_handler_works_neither_stops_the_service_nor_loses_the_event(sink):
    behaviour["hold"] = hold = Event()
    doc = envelope(n=7)
    publish(sink["amqp"], json.dumps(doc))
    wait_until(lambda: behaviour["attempts"].get(doc["event_id"]) == 1, what="the handler at work")
    # The handler finishes the moment the broker hangs up, so its ack meets the reset socket before the
    # consumer has noticed (as in a broker restart under load). nameko lets that socket error end the
    # worker, and with it the whole service, unless our consumer catches it.
    sink["link"].on_hang_up = lambda: hold.ready() or hold.send()
    sink["link"].broker_hangs_up(RABBIT_API)
    behaviour["hold"] = None
    # The unacknowledged message comes back on the new connection; its effect is already recorded.
    wait_until(lambda: behaviour["attempts"].get(doc["event_id"]) == 2, timeout=30, what="the redelivery")
    assert not sink["container"]._died.ready(), "the service stopped after an ack on a lost connection"
    publish(sink["amqp"], json.dumps(after := envelope(n=8)))  # and it goes on consuming
    wait_until(lambda: effects(sink["store"], after["event_id"]) == 1, timeout=30, what="the next event")
    assert effects(sink["store"], doc["event_id"]) == 1


@pytest.mark.cluster_of_two
def test_when_the_node_a_service_uses_goes_away_it_carries_on_with_the_next_one(sink):
    publish(sink["amqp"], json.dumps(before := envelope(n=1)))
    wait_until(lambda: effects(sink["store"], before["event_id"]) == 1, what="an event through the first node")
    assert sink["link"].pairs, "the service did not connect through the first address"
    sink["link"].node_goes_away()
    publish(sink["amqp"], json.dumps(after := envelope(n=2)))
    wait_until(lambda: effects(sink["store"], after["event_id"]) == 1, timeout=60,
               what="the next event, consumed through the second address")
    assert not sink["container"]._died.ready()
