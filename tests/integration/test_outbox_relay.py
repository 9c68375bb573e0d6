"""The outbox relay's batches (issue #19): many messages per confirm wait, and a row is marked sent only once
the broker confirmed it and every row before it."""
import time
from collections import defaultdict
from types import SimpleNamespace

import pytest
from kombu import Connection
from sqlalchemy import event, select
from sqlalchemy.orm import declarative_base

from common import events as catalogue
from common.db import Store, messaging_models
from tests.netfault import CuttableLink

Base = declarative_base()
OutboxRow, Processed = messaging_models(Base)

PROBE = catalogue.EventType(
    name="probe_pinged", source="probe", version=1, description="test only",
    data_schema={"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"],
                 "additionalProperties": False},
    subscribers=("sink.on_ping",),
)
QUEUE = PROBE.queue_for("sink.on_ping")


@pytest.fixture
def outbox(monkeypatch, db_url):
    """SQLite (rows read, published, then marked) and PostgreSQL (rows locked while published)."""
    monkeypatch.setitem(catalogue.CATALOGUE, PROBE.name, PROBE)
    store = Store(db_url)
    Base.metadata.create_all(store.engine)
    yield store
    store.dispose()


def make_relay(store, amqp_uri):
    from common.messaging import OutboxRelay

    relay = OutboxRelay(OutboxRow)
    # What setup() takes from the container, without a container around it.
    relay.container = SimpleNamespace(dependencies=[SimpleNamespace(attr_name="db", store=store)])
    relay.amqp_uri, relay.delays, relay.queue_type = amqp_uri, (100,), "classic"
    return relay


def add_events(store, count):
    from common.messaging import StandaloneOutbox

    box = StandaloneOutbox(OutboxRow)
    with store.transaction() as s:
        return [box.add(s, PROBE.name, "seu", {"n": n}).event_id for n in range(count)]


def rows(store):
    with store.transaction() as s:
        return [(r.event_id, r.published_at is not None, r.attempts, r.last_error)
                for r in s.scalars(select(OutboxRow).order_by(OutboxRow.id))]


def drain(amqp_uri, queue=QUEUE):
    got = []
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            got.append(conn.default_channel.message_to_python(message).payload["event_id"])
    return got


def test_a_batch_goes_out_in_one_round_and_is_marked_sent(outbox, amqp_uri):
    from common.messaging import declare_topology

    declare_topology(amqp_uri, (100,))
    ids = add_events(outbox, 250)
    relay = make_relay(outbox, amqp_uri)
    try:
        assert relay.publish_pending() == relay.batch_size  # one round, one confirm wait
        assert relay.publish_pending() == 50
        assert relay.publish_pending() == 0
    finally:
        relay._disconnect()
    assert all(sent for _id, sent, _a, _e in rows(outbox))
    assert drain(amqp_uri) == ids  # in the outbox's order


def test_a_connection_lost_mid_batch_marks_nothing_unconfirmed_and_the_next_round_sends_it(outbox, amqp_uri):
    from common.messaging import declare_topology

    declare_topology(amqp_uri, (100,))
    ids = add_events(outbox, 5)
    link = CuttableLink(amqp_uri)
    relay = make_relay(outbox, link.uri)
    publish, calls = relay._publish, []

    def breaks_at_the_third(channel, envelope):
        calls.append(envelope["event_id"])
        if len(calls) == 3:
            for pair in list(link.pairs):  # the broker's host goes away with two messages on the wire
                link._reset(pair)
        publish(channel, envelope)

    relay._publish = breaks_at_the_third
    try:
        assert relay.publish_pending() == 0
        state = rows(outbox)
        assert not any(sent for _id, sent, _a, _e in state), "marked sent without the broker's confirm"
        assert state[0][2] == 1 and state[0][3] and [a for _i, _s, a, _e in state[1:]] == [0] * 4
        assert relay._retry_soon  # the relay goes again at once rather than at the next poll

        relay._publish = publish
        assert relay.publish_pending() == 5  # a new connection; everything pending goes again
    finally:
        relay._disconnect()
        link.close()
    assert all(sent for _id, sent, _a, _e in rows(outbox))
    got = drain(amqp_uri)
    assert set(got) == set(ids) and got[-5:] == ids  # the two that may have arrived come again: consumers dedupe


def test_an_unroutable_message_is_not_marked_sent_and_the_topology_is_declared_again(outbox, amqp_uri):
    from common.messaging import declare_topology

    declare_topology(amqp_uri, (100,))
    with Connection(amqp_uri) as conn:
        conn.channel().queue_delete(QUEUE)  # someone deleted the queue
    ids = add_events(outbox, 3)
    relay = make_relay(outbox, amqp_uri)
    try:
        assert relay.publish_pending() == 0
        assert [(sent, attempts) for _i, sent, attempts, _e in rows(outbox)] == [(False, 1), (False, 0), (False, 0)]
        assert "unroutable" in rows(outbox)[0][3]
        assert relay.publish_pending() == 3  # the queue is back
    finally:
        relay._disconnect()
    assert drain(amqp_uri) == ids


class FakeChannel:
    """A confirm-mode channel whose broker answers as the test scripts it."""

    def __init__(self):
        self.events = defaultdict(set)
        self.published = []

    def prepare_message(self, body, priority, content_type, content_encoding, headers, properties):
        return SimpleNamespace(body=body, properties=properties)

    def basic_publish(self, message, exchange, routing_key, mandatory):
        self.published.append(message)


class FakeConnection:
    def __init__(self, channel, answers):
        self.channel, self.answers = channel, answers

    def drain_events(self, timeout):
        if not self.answers:  # the broker says nothing more; the relay waits out its confirm timeout
            time.sleep(0.05)
            return
        kind, *args = self.answers.pop(0)
        for callback in list(self.channel.events[kind]):
            callback(*args)

    def release(self):
        pass


def scripted(relay, answers):
    channel = FakeChannel()
    relay._conn, relay._channel, relay._next_tag = FakeConnection(channel, answers), channel, 0
    return channel


@pytest.mark.parametrize("answers, marked, failed_reason", [
    ([("basic_ack", 4, True)], 4, None),  # one ack for the whole batch
    ([("basic_ack", 1, False), ("basic_ack", 2, False), ("basic_ack", 4, True)], 4, None),
    ([("basic_ack", 2, True), ("basic_nack", 3, False), ("basic_ack", 4, False)], 2, "nacked"),  # 4 waits for 3
    ([("basic_nack", 4, True)], 0, "nacked"),
    ([("basic_ack", 1, False)], 1, "no confirm"),  # the broker went quiet: the rest stay pending
])
def test_only_the_confirmed_rows_before_the_first_unconfirmed_one_are_marked_sent(
        outbox, answers, marked, failed_reason):
    add_events(outbox, 4)
    relay = make_relay(outbox, "amqp://unused")
    relay.confirm_timeout = 0.5
    scripted(relay, list(answers))
    assert relay.publish_pending() == marked
    state = rows(outbox)
    assert [sent for _i, sent, _a, _e in state] == [True] * marked + [False] * (4 - marked)
    if failed_reason:
        assert state[marked][2] == 1 and failed_reason in state[marked][3]


def test_a_returned_message_keeps_it_and_those_after_it_pending(outbox, monkeypatch):
    import common.messaging as messaging

    ids = add_events(outbox, 3)
    declared = []
    monkeypatch.setattr(messaging, "declare_topology", lambda *a: declared.append(a))
    relay = make_relay(outbox, "amqp://unused")
    returned = SimpleNamespace(properties={"message_id": ids[1]})
    # RabbitMQ returns an unroutable mandatory message before it acks it
    scripted(relay, [("basic_return", None, "probe.events", PROBE.name, returned), ("basic_ack", 3, True)])
    assert relay.publish_pending() == 1
    assert [(sent, attempts) for _i, sent, attempts, _e in rows(outbox)] == [(True, 0), (False, 1), (False, 0)]
    assert declared


def test_the_once_only_record_is_one_insert_and_no_read(outbox):
    statements = []
    event.listen(outbox.engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: statements.append(sql))
    first = SimpleNamespace(event_id="a" * 32)
    with outbox.handling(first, "sink.on_ping", Processed) as session:
        assert session is not None
    assert [s.split()[0] for s in statements if s.split()[0] in ("SELECT", "INSERT")] == ["INSERT"]
    with outbox.handling(first, "sink.on_ping", Processed) as session:
        assert session is None  # a redelivery: already handled
    with outbox.handling(first, "other.on_ping", Processed) as session:
        assert session is not None  # another consumer of the same event has its own record

    failing = SimpleNamespace(event_id="b" * 32)
    with pytest.raises(RuntimeError), outbox.handling(failing, "sink.on_ping", Processed) as session:
        raise RuntimeError("the handler failed")
    with outbox.handling(failing, "sink.on_ping", Processed) as session:
        assert session is not None  # its record went with its rolled-back effects: the retry runs it


def test_on_sqlite_a_batch_is_marked_in_the_next_rounds_transaction_when_more_rows_wait(outbox, amqp_uri):
    from common.messaging import declare_topology

    if not outbox.url.startswith("sqlite"):
        pytest.skip("PostgreSQL marks a batch in the transaction that locked it")
    declare_topology(amqp_uri, (100,))
    first = add_events(outbox, 3)
    relay = make_relay(outbox, amqp_uri)
    try:
        relay.wake()  # a worker committed more while the batch was out
        assert relay.publish_pending() == 3
        assert not any(sent for _i, sent, _a, _e in rows(outbox))  # confirmed, marked with the next read
        second = add_events(outbox, 2)
        assert relay.publish_pending() == 2  # the three are marked here, not sent again
        assert [sent for _i, sent, _a, _e in rows(outbox)] == [True] * 3 + [False] * 2
        relay.mark_settled()  # as the relay does before it sleeps or stops
    finally:
        relay._disconnect()
    assert all(sent for _id, sent, _a, _e in rows(outbox))
    assert drain(amqp_uri) == first + second


def test_a_row_that_cannot_be_published_at_all_leaves_the_channel_for_a_fresh_one(outbox):
    from common.events import InvalidEvent

    ids = add_events(outbox, 2)
    with outbox.transaction() as s:
        row = s.scalars(select(OutboxRow).where(OutboxRow.event_id == ids[1])).one()
        row.envelope = {**row.envelope, "type": "no_such_event"}  # its type left the catalogue
    relay = make_relay(outbox, "amqp://unused")
    scripted(relay, [("basic_ack", 1, False)])
    with pytest.raises(InvalidEvent):
        relay.publish_pending()
    assert relay._channel is None  # the first message's confirm is outstanding on the old one
    assert not any(sent for _i, sent, _a, _e in rows(outbox))
