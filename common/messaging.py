"""Reliable events on RabbitMQ with nameko: topology, consumer, outbox relay.

Delivery is at least once; effects happen once:

- `declare_topology` declares every exchange, queue, retry queue and dead-letter
  queue named by the catalogue, at every service start and before the relay
  publishes, so no event is dropped for want of a queue.
- `OutboxRelay` publishes the rows of a service's outbox in batches with
  publisher confirms (and `mandatory` where the catalogue has subscribers),
  waiting once per batch, then marks the confirmed ones sent in one
  transaction. A broker outage only delays them.
- `handles` is an event entrypoint. It validates the envelope against the
  catalogue, hands the handler an `Event`, acknowledges on success, and on
  failure republishes the message to a delay queue (retry with backoff) until
  the attempts are spent, then parks it in `<queue>.dead`. A message that is
  not JSON or not valid by schema is parked at once: retrying cannot fix it.
  `handles(name, once=True)` makes the handler idempotent: it runs inside
  `db.handling(event)` (the processed-events record and the handler's writes
  commit together) and is given the session, or not called at all when the
  event was handled before. A handler that must work before its transaction
  opens (CPU work off the loop) calls `self.db.handling` itself.
"""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from functools import partial, wraps

import eventlet
from amqp.exceptions import AMQPError
from eventlet.event import Event as GreenEvent
from kombu import Connection, Exchange, Queue
from kombu.exceptions import KombuError
from kombu.serialization import dumps as kombu_dumps
from nameko.amqp.publish import get_producer
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.extensions import DependencyProvider
from nameko.messaging import Consumer, QueueConsumer
from sqlalchemy import event as sa_event, select, update

from common import events as catalogue
from common.db import utcnow

log = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS_MS = (1_000, 5_000, 30_000, 120_000, 600_000)
RETRY_DELAYS_KEY = "EVENT_RETRY_DELAYS_MS"
QUEUE_TYPE_KEY = "QUEUE_TYPE"
ATTEMPTS_HEADER = "x-attempts"


def retry_delays(config) -> tuple[int, ...]:
    return tuple(int(ms) for ms in config.get(RETRY_DELAYS_KEY, DEFAULT_RETRY_DELAYS_MS))


def queue_type(config) -> str:
    """"classic" (one node, the embedded default) or "quorum" (replicated on a cluster: deploy/SCALING.md)."""
    kind = config.get(QUEUE_TYPE_KEY, "classic")
    if kind not in ("classic", "quorum"):
        raise ValueError(f"{QUEUE_TYPE_KEY} must be classic or quorum, not {kind!r}")
    return kind


def _arguments(kind: str, extra: dict | None = None) -> dict:
    """Queue arguments for the queue type; every service must declare a queue with the same ones."""
    args = dict(extra or {})
    if kind == "quorum":
        args["x-queue-type"] = "quorum"
        if "x-dead-letter-exchange" in args:
            # A quorum queue dead-letters at most once unless told otherwise; a retry queue's expired
            # message must reach its work queue even if a node fails at that moment.
            args.update({"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"})
    return args


def retry_queue_name(queue: str, delay_ms: int) -> str:
    # The delay is part of the name: a queue's TTL cannot change once declared,
    # and one TTL per queue keeps expiry in order (no head-of-line blocking).
    return f"{queue}.retry.{delay_ms}ms"


def dead_queue_name(queue: str) -> str:
    return f"{queue}.dead"


def exchange_for(et: catalogue.EventType) -> Exchange:
    return Exchange(et.exchange, type="topic", durable=True)


def queue_for(et: catalogue.EventType, subscriber: str, kind: str = "classic") -> Queue:
    return Queue(
        et.queue_for(subscriber),
        exchange=exchange_for(et),
        routing_key=et.name,
        durable=True,
        auto_delete=False,
        queue_arguments=_arguments(kind),
    )


def topology_entities(delays: tuple[int, ...], kind: str = "classic"):
    """Every kombu entity the catalogue implies, in declaration order."""
    entities = []
    for et in catalogue.CATALOGUE.values():
        entities.append(exchange_for(et))
    for et, subscriber in catalogue.subscriptions():
        queue = queue_for(et, subscriber, kind)
        entities.append(queue)
        for delay in delays:
            entities.append(
                Queue(
                    retry_queue_name(queue.name, delay),
                    durable=True,
                    queue_arguments=_arguments(kind, {
                        "x-message-ttl": delay,
                        "x-dead-letter-exchange": "",
                        "x-dead-letter-routing-key": queue.name,
                    }),
                )
            )
        entities.append(Queue(dead_queue_name(queue.name), durable=True, queue_arguments=_arguments(kind)))
    return entities


def declare_topology(amqp_uri: str, delays: tuple[int, ...] = DEFAULT_RETRY_DELAYS_MS, kind: str = "classic") -> None:
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        try:
            for entity in topology_entities(delays, kind):
                entity.bind(channel).declare()
        finally:
            channel.close()


def wait_for_broker(amqp_uri: str, timeout_s: float = 60.0) -> None:
    """nameko does not retry its first connection, so we wait for the broker."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with Connection(amqp_uri, connect_timeout=3) as conn:
                conn.ensure_connection(max_retries=1)
                return
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
            if time.monotonic() > deadline:
                raise RuntimeError(f"RabbitMQ at {amqp_uri} not reachable: {exc}") from exc
            time.sleep(0.5)


# --------------------------------------------------------------------------- consumer


class _SafeQueueConsumer(QueueConsumer):
    """nameko's queue consumer, except that neither a bad message nor a lost connection kills the service.

    Without `on_decode_error`, kombu raises out of the consume loop and the
    whole container dies on one bad message.

    nameko's ack and requeue ignore only amqp's ConnectionError. When the broker
    goes away while a worker is handling a message, the worker's ack meets a
    socket error (ECONNRESET, EPIPE), which ends the worker thread with an error
    and so the whole container: the service stopped after a broker restart. An
    unacknowledged message on a lost connection is redelivered by the broker,
    and the handler runs once per event id, so giving up on the ack is safe.
    """

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = partial(provider.park_undecodable)
        return consumers

    def ack_message(self, message):
        try:
            super().ack_message(message)
        except OSError as exc:
            log.warning("connection lost before an ack (%s); the broker will redeliver", exc)

    def requeue_message(self, message):
        try:
            super().requeue_message(message)
        except OSError as exc:
            log.warning("connection lost before a requeue (%s); the broker will redeliver", exc)


class EventConsumer(Consumer):
    queue_consumer = _SafeQueueConsumer()

    def __init__(self, event_type: str, **kwargs):
        self.event_type = catalogue.event_type(event_type)
        super().__init__(queue=None, requeue_on_error=False, **kwargs)

    @property
    def subscriber(self) -> str:
        return f"{self.container.service_name}.{self.method_name}"

    def setup(self):
        if self.subscriber not in self.event_type.subscribers:
            raise RuntimeError(
                f"{self.subscriber} handles {self.event_type.name} but is not listed as a "
                f"subscriber in common/events.py; add it there so its queue is declared"
            )
        self.queue = queue_for(self.event_type, self.subscriber, queue_type(self.container.config))
        self.delays = retry_delays(self.container.config)
        self.amqp_uri = self.container.config[AMQP_URI_CONFIG_KEY]
        super().setup()

    # -- receiving

    def handle_message(self, body, message):
        try:
            doc = body if isinstance(body, dict) else json.loads(body)
            ev = catalogue.validate_envelope(doc)
        except Exception as exc:  # noqa: BLE001 - anything invalid is parked, never retried
            log.warning("parking invalid message on %s: %s", self.queue.name, exc)
            self._park(message, f"invalid: {exc}")
            self.queue_consumer.ack_message(message)
            return
        handle_result = partial(self.handle_result, message)
        try:
            self.container.spawn_worker(
                self, (ev,), {}, context_data={}, handle_result=handle_result
            )
        except Exception:  # container being killed: leave it for another consumer
            self.queue_consumer.requeue_message(message)

    def park_undecodable(self, message, exc):
        log.warning("parking undecodable message on %s: %s", self.queue.name, exc)
        self._park(message, f"undecodable: {exc}")
        self.queue_consumer.ack_message(message)

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return
        attempts = int((message.headers or {}).get(ATTEMPTS_HEADER, 0)) + 1
        error = f"{exc_info[0].__name__}: {exc_info[1]}"
        try:
            if attempts <= len(self.delays):
                delay = self.delays[attempts - 1]
                log.warning(
                    "%s failed (attempt %d), retrying in %d ms: %s",
                    self.subscriber, attempts, delay, error,
                )
                self._republish(message, retry_queue_name(self.queue.name, delay),
                                {ATTEMPTS_HEADER: attempts, "x-last-error": error[:500]})
            else:
                log.error("%s failed %d times, parking: %s", self.subscriber, attempts, error)
                self._park(message, error, attempts)
        except Exception:  # noqa: BLE001 - cannot reach the broker: let it redeliver
            log.exception("could not reroute failed message; requeueing")
            eventlet.sleep(1)
            self.queue_consumer.requeue_message(message)
            return
        self.queue_consumer.ack_message(message)

    # -- rerouting

    def _park(self, message, reason: str, attempts: int = 0):
        self._republish(
            message,
            dead_queue_name(self.queue.name),
            {
                ATTEMPTS_HEADER: attempts,
                "x-error": reason[:2000],
                "x-failed-at": datetime.now(timezone.utc).isoformat(),
                "x-original-queue": self.queue.name,
            },
        )

    def _republish(self, message, queue_name: str, headers: dict):
        merged = dict(message.headers or {})
        merged.update(headers)
        with get_producer(self.amqp_uri, confirms=True) as producer:
            producer.publish(
                message.body,
                exchange="",
                routing_key=queue_name,
                headers=merged,
                content_type=message.content_type or "application/octet-stream",
                content_encoding=message.content_encoding or "binary",
                delivery_mode=2,
                message_id=message.properties.get("message_id"),
                retry=True,
            )


def handles(event_type: str, *, once: bool = False, **kwargs):
    """Declare an event entrypoint; with `once=True` the method is `(self, session, event)` and runs once per event.

    The once-only record is `self.db.handling(event)` (`common.dependencies.Database`): the
    handler's writes and the record of having handled the event commit in one transaction.
    """
    def decorate(method):
        if not once:
            return EventConsumer.decorator(event_type, **kwargs)(method)

        @wraps(method)
        def handle_once(self, event):
            with self.db.handling(event) as session:
                if session is not None:
                    return method(self, session, event)
            return None

        return EventConsumer.decorator(event_type, **kwargs)(handle_once)

    return decorate


# --------------------------------------------------------------------------- outbox


class Outbox:
    """What a worker gets: add events to the outbox within its transaction."""

    def __init__(self, relay: "OutboxRelay"):
        self._relay = relay

    def add(self, session, name: str, tenant: str, data: dict):
        ev = catalogue.make_event(name, tenant, data)
        session.add(
            self._relay.model(
                event_id=ev.event_id,
                event_type=ev.type,
                tenant=tenant,
                envelope=ev.to_dict(),
                attempts=0,
            )
        )
        # Wake the relay only once the row is visible to it.
        sa_event.listen(session, "after_commit", lambda _s: self._relay.wake(), once=True)
        return ev


class StandaloneOutbox:
    """An outbox for code outside a nameko worker (an operator command): adds rows to the service's outbox
    table in the caller's transaction; the service's relay publishes them (within its poll interval, or
    when the service next starts)."""

    def __init__(self, model):
        self.model = model

    def add(self, session, name: str, tenant: str, data: dict):
        ev = catalogue.make_event(name, tenant, data)
        session.add(self.model(event_id=ev.event_id, event_type=ev.type, tenant=tenant, envelope=ev.to_dict(),
                               attempts=0))
        return ev


class OutboxRelay(DependencyProvider):
    """Publishes a service's outbox rows; each worker gets an `Outbox`.

    `store_attr` names the service attribute that is the `Database` dependency;
    the relay reads and marks rows through the same `Store`.

    A round publishes a batch of rows on one channel in confirm mode and then waits once for the
    broker's confirms of the whole batch (nameko's `Publisher` waits after every message, a round trip
    each). Rows are marked sent in one transaction, and only those the broker confirmed.
    """

    batch_size = 200
    confirm_timeout = 10.0

    def __init__(self, model, store_attr: str = "db", poll_interval: float = 1.0):
        self.model = model
        self.store_attr = store_attr
        self.poll_interval = poll_interval
        self._wakeup = GreenEvent()
        self._running = False
        self._gt = None
        self._conn = self._channel = None
        self._retry_soon = False
        self._settled = None  # (sent ids, failure) of a SQLite batch published but not yet marked

    def setup(self):
        self.amqp_uri = self.container.config[AMQP_URI_CONFIG_KEY]
        self.delays = retry_delays(self.container.config)
        self.queue_type = queue_type(self.container.config)

    def start(self):
        self._running = True
        self._gt = self.container.spawn_managed_thread(self._run, identifier="outbox-relay")

    def stop(self):
        self._running = False
        self.wake()
        if self._gt is not None:
            self._gt.wait()
        self._disconnect()

    def kill(self):
        self._running = False
        if self._gt is not None:
            self._gt.kill()
        self._disconnect()

    def get_dependency(self, worker_ctx):
        return Outbox(self)

    @property
    def store(self):
        provider = next(
            d for d in self.container.dependencies if getattr(d, "attr_name", None) == self.store_attr
        )
        return provider.store

    def wake(self):
        if not self._wakeup.ready():
            self._wakeup.send(True)

    def _run(self):
        backoff = 0.5
        while self._running:
            try:
                sent = self.publish_pending()
                backoff = 0.5
            except Exception:  # noqa: BLE001 - broker or database away: try again later
                log.exception("outbox relay failed; retrying in %.1fs", backoff)
                eventlet.sleep(backoff)
                backoff = min(backoff * 2, 30)
                continue
            if sent == self.batch_size:
                continue  # more waiting
            if self._retry_soon:
                # The connection broke (a broker restart leaves the kept one dead): reconnect now rather
                # than at the next commit or poll, as nameko's per-message retry used to.
                self._retry_soon = False
                eventlet.sleep(0.2)
                continue
            with eventlet.Timeout(self.poll_interval, False):
                self._wakeup.wait()
            self._wakeup = GreenEvent()
        try:
            self.mark_settled()
        except Exception:  # noqa: BLE001 - stopping: those rows go out again at the next start
            log.exception("could not mark the last published outbox rows; they will be sent again")

    def publish_pending(self) -> int:
        """Publish a batch of unsent rows in order; return how many the broker confirmed.

        On PostgreSQL the rows stay locked (FOR UPDATE SKIP LOCKED) while they
        are published, so two replicas never send the same rows at once. On
        SQLite a transaction holds the database's single write lock, so rows are
        read, published outside any transaction, then marked: a crash between
        publishing and marking sends them again, which consumers tolerate.
        There, when more rows were committed meanwhile, the marks wait for the
        next round's transaction, which marks and reads in one: every
        transaction queues for the write lock behind the workers', so one per
        batch instead of two.
        """
        store = self.store
        if store.url.startswith("sqlite"):
            with store.transaction() as session:
                if self._settled is not None:
                    self._mark(session, *self._settled)
                rows = session.execute(self._unsent()).all()
            self._settled = None  # marked: the transaction committed
            if not rows:
                return 0
            sent_ids, failure = self._settled = self._publish_rows(rows)
            if not self._wakeup.ready():  # nothing new to read: mark now rather than at an unknown next round
                self.mark_settled()
            return len(sent_ids)
        with store.transaction() as session:
            rows = session.execute(self._unsent().with_for_update(skip_locked=True)).all()
            sent_ids, failure = self._publish_rows(rows)
            self._mark(session, sent_ids, failure)
        return len(sent_ids)

    def _unsent(self):
        # Two columns are all the relay needs: no ORM object to build per row.
        return (select(self.model.id, self.model.envelope).where(self.model.published_at.is_(None))
                .order_by(self.model.id).limit(self.batch_size))

    def _publish_rows(self, rows):
        """Publish the batch, wait for its confirms; return the confirmed leading rows and the first failure.

        Rows after a failed one are left pending even if the broker confirmed them: the relay keeps the
        outbox's order by never marking a row sent while an earlier one is not. They go out again next
        round, and consumers skip what they handled before (at least once, effects once).
        """
        if not rows:
            return [], None
        outcome: dict[int, bool] = {}  # delivery tag -> confirmed (True) or nacked (False)
        returned: set[str] = set()  # event ids the broker could not route (mandatory)
        tags: list[int] = []
        error = None
        try:
            channel = self._confirming_channel()
            first = self._next_tag + 1
            channel.events["basic_ack"].add(ack := partial(self._settle, outcome, first, True))
            channel.events["basic_nack"].add(nack := partial(self._settle, outcome, first, False))
            channel.events["basic_return"].add(ret := partial(self._returned, returned))
            try:
                for _row_id, envelope in rows:
                    self._next_tag += 1
                    tags.append(self._next_tag)
                    self._publish(channel, envelope)
                self._await(outcome, tags[-1])
            finally:
                channel.events["basic_ack"].discard(ack)
                channel.events["basic_nack"].discard(nack)
                channel.events["basic_return"].discard(ret)
        except (AMQPError, KombuError, OSError) as exc:
            # The connection or channel is unusable and late confirms would be misread on a new one.
            self._disconnect()
            self._retry_soon = True
            error = str(exc)[:500] or type(exc).__name__
        except BaseException:
            # Anything else (a row of an unknown type, the relay killed) leaves confirms outstanding on
            # the channel: start the next round on a fresh one.
            self._disconnect()
            raise
        sent_ids = []
        for (row_id, envelope), tag in zip(rows, tags, strict=False):  # fewer tags if publishing broke off
            if envelope["event_id"] in returned:
                # A queue vanished (someone deleted it): declare again, retry later.
                declare_topology(self.amqp_uri, self.delays, self.queue_type)
                return sent_ids, (row_id, "unroutable; topology re-declared")
            if not outcome.get(tag, False):
                reason = error or ("nacked by the broker" if tag in outcome else "not confirmed")
                return sent_ids, (row_id, reason)
            sent_ids.append(row_id)
        if len(sent_ids) < len(rows):
            return sent_ids, (rows[len(sent_ids)][0], error or "not confirmed")
        return sent_ids, None

    @staticmethod
    def _settle(outcome: dict, first: int, confirmed: bool, delivery_tag: int, multiple: bool):
        """A broker ack or nack; `multiple` settles every earlier tag of the batch not settled yet."""
        if multiple:
            for tag in range(delivery_tag, first - 1, -1):
                if tag in outcome:
                    break
                outcome[tag] = confirmed
        outcome.setdefault(delivery_tag, confirmed)

    @staticmethod
    def _returned(returned: set, _exc, _exchange, _routing_key, message):
        # RabbitMQ sends basic.return before the ack of the same message, so by the time every
        # confirm of the batch is in, every return of it is too.
        returned.add((message.properties or {}).get("message_id"))

    def _await(self, outcome: dict, last_tag: int):
        deadline = time.monotonic() + self.confirm_timeout
        while last_tag not in outcome:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no confirm from the broker within {self.confirm_timeout:.0f} s")
            self._conn.drain_events(timeout=remaining)

    def _confirming_channel(self):
        """The relay's own connection and channel, kept between rounds, in confirm mode."""
        if self._channel is None:
            conn = Connection(self.amqp_uri, connect_timeout=5)
            try:
                conn.ensure_connection(max_retries=3, interval_start=0.2, interval_step=0.5)
                channel = conn.channel()
                channel.confirm_select()
            except BaseException:
                conn.release()
                raise
            self._conn, self._channel, self._next_tag = conn, channel, 0
        return self._channel

    def _disconnect(self):
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None:
            try:
                conn.release()
            except Exception:  # noqa: BLE001 - it is being thrown away because it broke
                log.debug("closing the relay's broken connection", exc_info=True)

    def mark_settled(self):
        """Record the outcome of the last SQLite batch if the next round has not yet."""
        if self._settled is not None:
            with self.store.transaction() as session:
                self._mark(session, *self._settled)
            self._settled = None  # only once committed: if the transaction failed the next round marks them

    def _mark(self, session, sent_ids, failure):
        if sent_ids:
            session.execute(update(self.model).where(self.model.id.in_(sent_ids)).values(published_at=utcnow()))
        if failure is not None:
            row_id, error = failure
            session.execute(update(self.model).where(self.model.id == row_id)
                            .values(attempts=self.model.attempts + 1, last_error=error))

    def _publish(self, channel, envelope: dict):
        et = catalogue.event_type(envelope["type"])
        content_type, content_encoding, body = kombu_dumps(envelope, serializer="json")
        message = channel.prepare_message(
            body, 0, content_type, content_encoding, {},
            {"delivery_mode": 2, "message_id": envelope["event_id"]},
        )
        channel.basic_publish(message, exchange=et.exchange, routing_key=et.name, mandatory=bool(et.subscribers))
