#!/usr/bin/env bash
# Start the OS package's RabbitMQ (with the management API the tests use) unless it already runs.
set -euo pipefail
if rabbitmqctl -q status >/dev/null 2>&1; then
  exit 0
fi
rabbitmq-plugins enable --offline rabbitmq_management >/dev/null
rabbitmq-server -detached
# `ping` answers before the app has started; await_startup waits for the app itself.
for _ in $(seq 1 60); do
  if rabbitmqctl -q await_startup --timeout 5 >/dev/null 2>&1; then
    break
  fi
  sleep 1
done
rabbitmqctl -q await_startup --timeout 60
for _ in $(seq 1 60); do
  curl -fsS -u guest:guest http://localhost:15672/api/overview >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "RabbitMQ management API did not come up" >&2
exit 1
