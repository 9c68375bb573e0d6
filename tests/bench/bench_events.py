"""The event path, ours against a bare nameko event round trip, measured in one run.

Ours: a worker writes the event into its outbox in its database transaction; the relay publishes it with
publisher confirms; the subscriber checks it against its schema and records its id in its own transaction
(so a redelivery has no second effect). Bare: nameko's EventDispatcher and event_handler, which publish
without confirms and hand the handler whatever arrives. Both run in this process on SQLite files (ours
only), against the same RabbitMQ, each in its own vhost; the sender starts the source's worker
directly, so HTTP is not part of either figure.

    .venv/bin/python tests/bench/bench_events.py [--events 2000] [--rate 50]
"""
from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import requests  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from nameko.containers import ServiceContainer  # noqa: E402
from nameko.events import EventDispatcher, event_handler  # noqa: E402
from nameko.web.handlers import http  # noqa: E402
from sqlalchemy.orm import declarative_base  # noqa: E402

from common import events as catalogue  # noqa: E402
from common.db import Store, messaging_models  # noqa: E402
from common.dependencies import Database  # noqa: E402
from common.messaging import OutboxRelay, declare_topology, handles  # noqa: E402
from tests.bench.report import record  # noqa: E402

RABBIT_API = "http://guest:guest@localhost:15672/api"
AMQP = "amqp://guest:guest@localhost:5672"

catalogue.CATALOGUE["bench_pinged"] = catalogue.EventType(
    name="bench_pinged", source="bench_source", version=1, description="benchmark only",
    data_schema={"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"],
                 "additionalProperties": False},
    subscribers=("bench_sink.on_ping",))

SourceBase, SinkBase = declarative_base(), declarative_base()
SourceOutbox, SourceProcessed = messaging_models(SourceBase)
_SinkOutbox, SinkProcessed = messaging_models(SinkBase)
handled: dict[int, float] = {}


class BareSource:
    name = "bare_source"
    dispatch = EventDispatcher()

    @http("POST", "/send")  # called through entrypoint_hook, never over HTTP
    def send(self, request, n):
        self.dispatch("ping", {"n": n})


class BareSink:
    name = "bare_sink"

    @event_handler("bare_source", "ping")
    def on_ping(self, payload):
        handled[payload["n"]] = time.perf_counter()


class OurSource:
    name = "bench_source"
    db = Database(SourceProcessed)
    outbox = OutboxRelay(SourceOutbox)

    @http("POST", "/send")
    def send(self, request, n):
        with self.db.transaction() as s:
            self.outbox.add(s, "bench_pinged", "seu", {"n": n})


class OurSink:
    name = "bench_sink"
    db = Database(SinkProcessed)

    @handles("bench_pinged")
    def on_ping(self, event):
        with self.db.handling(event) as s:
            if s is not None:
                handled[event.data["n"]] = time.perf_counter()


def vhost() -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    requests.put(f"{RABBIT_API}/vhosts/{name}", timeout=10).raise_for_status()
    requests.put(f"{RABBIT_API}/permissions/{name}/guest", json={"configure": ".*", "write": ".*", "read": ".*"},
                 timeout=10).raise_for_status()
    return name


def measure(source_cls, sink_cls, configs: tuple[dict, dict], events: int, rate: float) -> dict:
    source, sink = ServiceContainer(source_cls, configs[0]), ServiceContainer(sink_cls, configs[1])
    sink.start()
    source.start()
    try:
        entrypoint = next(e for e in source.entrypoints if e.method_name == "send")

        def send(request, n):  # a worker of the source service, as an HTTP request would start it
            finished = eventlet.Event()

            def handle_result(_worker_ctx, result, exc_info):
                finished.send(exc_info)
                return result, exc_info

            source.spawn_worker(entrypoint, (request, n), {}, handle_result=handle_result)
            if (exc_info := finished.wait()) is not None:
                raise exc_info[1]

        for n in range(-20, 0):  # warm-up: connections, prepared statements
            send(None, n)
        deadline = time.monotonic() + 30
        while len([n for n in handled if n < 0]) < 20 and time.monotonic() < deadline:
            eventlet.sleep(0.01)

        # latency at a steady rate
        sent: dict[int, float] = {}
        steady = events // 4
        start = time.perf_counter()
        for n in range(steady):
            due = start + n / rate
            eventlet.sleep(max(0.0, due - time.perf_counter()))
            sent[n] = time.perf_counter()
            send(None, n)
        _wait_for(lambda: all(n in handled for n in sent), 60)
        latency = sorted((handled[n] - sent[n]) * 1000 for n in sent)

        # throughput: as fast as 20 concurrent senders go
        pool = eventlet.GreenPool(20)
        burst = range(steady, steady + events)
        t0 = time.perf_counter()
        for n in burst:
            pool.spawn_n(send, None, n)
        pool.waitall()
        _wait_for(lambda: all(n in handled for n in burst), 300)
        took = max(handled[n] for n in burst) - t0
    finally:
        source.stop()
        sink.stop()
    return {"p50": statistics.median(latency), "p99": latency[int(0.99 * (len(latency) - 1))],
            "throughput": events / took, "rate": rate, "steady": steady}


def _wait_for(done, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit("events did not all arrive: no figure is made up")
        eventlet.sleep(0.005)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=2000, help="events in the throughput burst")
    ap.add_argument("--rate", type=float, default=50.0, help="events per second for the latency run")
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, source_cls, sink_cls in (("bare", BareSource, BareSink), ("ours", OurSource, OurSink)):
            handled.clear()
            name = vhost()
            try:
                url = f"{AMQP}/{name}"
                configs = tuple({"AMQP_URI": url, "WEB_SERVER_ADDRESS": "127.0.0.1:0", "EVENT_RETRY_DELAYS_MS": "1000",
                                 "DATABASE_URL": f"sqlite:///{tmp}/{label}-{side}.sqlite3"}
                                for side in ("source", "sink"))
                if label == "ours":
                    declare_topology(url)
                    for config, base in zip(configs, (SourceBase, SinkBase), strict=True):
                        store = Store(config["DATABASE_URL"])  # each service its own database, as deployed
                        base.metadata.create_all(store.engine)
                        store.dispose()
                results[label] = measure(source_cls, sink_cls, configs, args.events, args.rate)
            finally:
                requests.delete(f"{RABBIT_API}/vhosts/{name}", timeout=10)
            r = results[label]
            print(f"{label}: at {r['rate']:.0f} events/s ({r['steady']} events) latency p50 {r['p50']:.1f} ms, "
                  f"p99 {r['p99']:.1f} ms; burst of {args.events} with 20 senders: {r['throughput']:.0f} events/s")
    ours, bare = results["ours"], results["bare"]
    peer = "bare nameko EventDispatcher → event_handler"
    record("events", "event round trip at a steady rate, p50", ours["p50"], "ms", peer=bare["p50"], peer_label=peer,
           note=f"{ours['rate']:.0f} events/s; ours: outbox, confirms, schema, once-only record")
    record("events", "event round trip at a steady rate, p99", ours["p99"], "ms", peer=bare["p99"], peer_label=peer)
    record("events", "events per second, 20 concurrent senders", ours["throughput"], "events/s",
           peer=bare["throughput"], peer_label=peer, lower_is_better=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
