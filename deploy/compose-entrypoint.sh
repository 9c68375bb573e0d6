#!/bin/sh
# Entrypoint of the platform image (Dockerfile, docker-compose.yml).
#
#   compose-entrypoint.sh python -m common.run <service>
#       record the service's health URL, run its migrations under a PostgreSQL
#       advisory lock, then exec the service (it becomes the main process)
#   compose-entrypoint.sh --health
#       the image's HEALTHCHECK: GET the recorded /health URL
#   compose-entrypoint.sh <anything else>
#       exec it unchanged (the operator CLI, a shell, ...)
#
# Why the lock: `docker-compose up --scale media=3` on an empty database starts
# three replicas that would all run Alembic at once; on PostgreSQL the losers fail
# on "relation already exists" and only the restart policy would save them.
# Here one replica migrates while the others wait; after it, common.run's own
# migrate step finds the database at head and does nothing.
set -eu

HEALTH_FILE=${HEALTH_FILE:-/tmp/platform-health-url}

if [ "$#" -eq 0 ]; then
    echo "usage: compose-entrypoint.sh python -m common.run {intake,media,review,notify} | --health | COMMAND..." >&2
    exit 2
fi

if [ "${1:-}" = "--health" ]; then
    exec python - "$HEALTH_FILE" <<'PY'
import sys, urllib.request
try:
    url = open(sys.argv[1]).read().strip()
except OSError:
    sys.exit("no service started in this container")
try:
    with urllib.request.urlopen(url, timeout=4) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy"
    sys.exit(f"{url}: {exc}")
PY
fi

if [ "$#" -ge 4 ] && [ "$1" = python ] && [ "$2" = -m ] && [ "$3" = common.run ]; then
    python - "$4" "$HEALTH_FILE" <<'PY'
import sys

from common.settings import SERVICES, migrations_dir, service_config

name, health_file = sys.argv[1], sys.argv[2]
if name not in SERVICES:
    sys.exit(0)  # common.run prints the usage
config = service_config(name)
port = config["WEB_SERVER_ADDRESS"].rsplit(":", 1)[1]
with open(health_file, "w") as f:
    f.write(f"http://127.0.0.1:{port}/health\n")

url = config["DATABASE_URL"]
if url.startswith("postgresql"):
    import time

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from common.db import migrate

    lock = text("SELECT pg_advisory_lock(hashtext(:k))")
    unlock = text("SELECT pg_advisory_unlock(hashtext(:k))")
    key = {"k": f"platform-migrations-{name}"}
    engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    # depends_on orders the first start only; after a host reboot everything starts at once.
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = engine.connect()
            break
        except OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    try:
        with conn:
            conn.execute(lock, key)  # session-level: held until unlock or disconnect
            try:
                migrate(url, migrations_dir(name))
            finally:
                conn.execute(unlock, key)
    finally:
        engine.dispose()
PY
fi

exec "$@"
