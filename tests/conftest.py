"""Shared fixtures: a RabbitMQ vhost per test, PostgreSQL, service containers.

nameko no longer monkey-patches for eventlet in its pytest plugin, so we patch
first, before anything opens a socket.
"""
import eventlet

eventlet.monkey_patch()

import os  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import requests  # noqa: E402

from deploy.embedded import free_port  # noqa: E402,F401 (tests import it from here)
from tests.pg import create_database, pg_bindir, pg_cluster  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RABBIT_API = os.environ.get("RABBIT_API_URI", "http://guest:guest@localhost:15672")
AMQP_BASE = os.environ.get("AMQP_BASE_URI", "amqp://guest:guest@localhost:5672")


@pytest.fixture
def amqp_uri():
    """A fresh vhost, so tests never see each other's queues."""
    vhost = f"test-{uuid.uuid4().hex[:12]}"
    api = RABBIT_API.rstrip("/")
    requests.put(f"{api}/api/vhosts/{vhost}", timeout=10).raise_for_status()
    requests.put(f"{api}/api/permissions/{vhost}/guest",
                 json={"configure": ".*", "write": ".*", "read": ".*"}, timeout=10).raise_for_status()
    yield f"{AMQP_BASE}/{vhost}"
    requests.delete(f"{api}/api/vhosts/{vhost}", timeout=10)


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL cluster (Debian's packages), as the postgres user when we are root."""
    if pg_bindir() is None:
        pytest.fail("PostgreSQL is not installed; `make test` installs it (deploy/bootstrap.sh --test)")
    with pg_cluster() as url:
        yield url


def _create_pg_database(server_url: str) -> str:
    return create_database(server_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'service.db'}"
    return _create_pg_database(request.getfixturevalue("pg_server"))


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'service.db'}"


# --------------------------------------------------------------------------- containers


@pytest.fixture
def make_config(tmp_path, amqp_uri):
    from common.settings import service_config

    def make(service: str, **overrides) -> dict:
        port = free_port()
        env = {"DATA_DIR": str(tmp_path / "data"), f"{service.upper()}_PORT": str(port),
               "EVENT_RETRY_DELAYS_MS": "100,200"}
        config = service_config(service, env)
        config["AMQP_URI"] = amqp_uri
        config.update(overrides)
        return config

    return make


@pytest.fixture
def start_service():
    """Start a nameko service in this process after migrating its database.

    In the container `common.run` uses: HTTP requests have workers of their own (common/server.py).
    """
    from common.db import migrate
    from common.messaging import declare_topology, queue_type, retry_delays
    from common.server import ServiceContainer
    from common.settings import migrations_dir

    started = []

    def start(cls, config):
        migrate(config["DATABASE_URL"], migrations_dir(cls.name))
        declare_topology(config["AMQP_URI"], retry_delays(config), queue_type(config))
        container = ServiceContainer(cls, config)
        container.start()
        started.append(container)
        return container

    yield start
    for container in reversed(started):
        container.stop()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        eventlet.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
