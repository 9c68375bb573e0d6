#!/bin/sh
# Entrypoint of the platform image (Dockerfile, docker-compose.yml).
#
#   compose-entrypoint.sh python -m common.run <service>
#       record the service's health URL, then exec the service (it becomes the
#       main process; common.run waits for the database and migrates under a
#       PostgreSQL advisory lock, so replicas starting together do not race)
#   compose-entrypoint.sh --health
#       the image's HEALTHCHECK: GET the recorded /health URL
#   compose-entrypoint.sh <anything else>
#       exec it unchanged (the operator CLI, a shell, ...)
#
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

PY
fi

exec "$@"
