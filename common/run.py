"""Run one service: wait for the broker, migrate, declare queues, serve.

    python -m common.run intake

Exits non-zero if the broker never answers; stops gracefully on SIGTERM or
SIGINT (workers finish, unacknowledged messages go back to the queue).
"""
from __future__ import annotations

import eventlet

eventlet.monkey_patch()  # before anything opens a socket (boto3 included)

import importlib  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402


def load_service_class(path: str):
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def main(argv: list[str]) -> int:
    from common.settings import SERVICES, migrations_dir, service_config

    if len(argv) != 2 or argv[1] not in SERVICES:
        print(f"usage: python -m common.run {{{','.join(SERVICES)}}}", file=sys.stderr)
        return 2
    name = argv[1]
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s",
    )
    config = service_config(name)
    if not config["DATABASE_URL"].startswith("sqlite"):
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()  # psycopg2 would otherwise block the event loop

    from nameko.runners import ServiceRunner

    from common.db import migrate
    from common.messaging import declare_topology, queue_type, retry_delays, wait_for_broker

    wait_for_broker(config["AMQP_URI"], timeout_s=float(os.environ.get("BROKER_WAIT_S", 60)))
    migrate(config["DATABASE_URL"], migrations_dir(name))
    declare_topology(config["AMQP_URI"], retry_delays(config), queue_type(config))

    # the container is config["SERVICE_CONTAINER_CLS"]: common.server.ServiceContainer, whose HTTP
    # requests have workers of their own beside the events' (issue #14 item 3)
    runner = ServiceRunner(config)
    runner.add_service(load_service_class(SERVICES[name][0]))

    def shutdown(signum, _frame):
        logging.getLogger(name).info("signal %s: stopping", signum)
        eventlet.spawn_n(runner.stop)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    runner.start()
    from common.looplag import monitor

    monitor.start()  # /health reports how late the event loop wakes up
    logging.getLogger(name).info("%s ready at %s", name, config["PUBLIC_URL"])
    runner.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
