"""List and replay parked (dead-lettered) events.

    python -m common.deadletters list [--service notify]
    python -m common.deadletters replay --all [--service notify]
    python -m common.deadletters replay EVENT_ID [EVENT_ID ...]

A message is parked in `<queue>.dead` after its retries, or at once when it is
not valid JSON or not valid by schema. Replay puts it back on its original
queue with a fresh attempt count, once the cause is fixed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from kombu import Connection

from common import events as catalogue
from common.messaging import ATTEMPTS_HEADER, dead_queue_name


def _queues(service: str | None) -> list[str]:
    return [
        et.queue_for(sub)
        for et, sub in catalogue.subscriptions()
        if service is None or sub.split(".")[0] == service
    ]


def _describe(queue: str, message) -> dict:
    headers = message.headers or {}
    try:
        doc = json.loads(message.body)
        event_id, etype = doc.get("event_id"), doc.get("type")
    except (ValueError, TypeError, AttributeError):
        event_id, etype = message.properties.get("message_id"), None
    return {"queue": queue, "event_id": event_id or message.properties.get("message_id"), "type": etype,
            "attempts": headers.get(ATTEMPTS_HEADER), "failed_at": headers.get("x-failed-at"),
            "error": headers.get("x-error")}


def _parked(conn, service: str | None):
    """Yield (queue, channel, message) for every parked message, unacknowledged.

    Closing each queue's channel returns what was not acknowledged, so a caller
    that only looks takes nothing away.
    """
    for queue in _queues(service):
        channel = conn.channel()
        try:
            while (message := channel.basic_get(dead_queue_name(queue), no_ack=False)) is not None:
                yield queue, channel, message
        finally:
            channel.close()


def list_dead(amqp_uri: str, service: str | None = None) -> list[dict]:
    """Peek at every parked message; nothing is removed."""
    with Connection(amqp_uri) as conn:
        return [_describe(queue, message) for queue, _, message in _parked(conn, service)]


def replay(amqp_uri: str, event_ids: set[str] | None, service: str | None = None) -> int:
    """Move parked messages (all, or those with the given ids) back to their queues."""
    replayed = 0
    with Connection(amqp_uri) as conn:
        producer = conn.Producer()
        for queue, channel, message in _parked(conn, service):
            if event_ids is not None and _describe(queue, message)["event_id"] not in event_ids:
                continue  # left unacknowledged: back in the dead queue when the channel closes
            headers = {k: v for k, v in (message.headers or {}).items()
                       if k not in ("x-error", "x-failed-at", "x-last-error", "x-death")}
            headers[ATTEMPTS_HEADER] = 0
            headers["x-replayed"] = True
            producer.publish(message.body, exchange="", routing_key=queue, headers=headers,
                             content_type=message.content_type, content_encoding=message.content_encoding,
                             delivery_mode=2, message_id=message.properties.get("message_id"))
            channel.basic_ack(message.delivery_tag)
            replayed += 1
    return replayed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.deadletters")
    parser.add_argument("--amqp-uri", default=os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/"))
    parser.add_argument("--service", choices=["intake", "media", "review", "notify"])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list")
    p = sub.add_parser("replay")
    p.add_argument("event_ids", nargs="*")
    p.add_argument("--all", action="store_true")
    args = parser.parse_args(argv)
    if args.cmd == "list":
        rows = list_dead(args.amqp_uri, args.service)
        for r in rows:
            print(json.dumps(r, ensure_ascii=False))
        print(f"{len(rows)} parked message(s)", file=sys.stderr)
        return 0
    if not args.all and not args.event_ids:
        parser.error("name event ids to replay, or --all")
    n = replay(args.amqp_uri, None if args.all else set(args.event_ids), args.service)
    print(f"replayed {n} message(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
