"""A warm media-check worker: imports the checker once, then checks one file per request.

    python -m services.media.worker MEMORY_MB

Started by the service's pool (workers.py), never by users (they run `media-check`, cli.py). It sets
its own address-space limit first, before any import, so the limit covers everything the process ever
maps, as the old per-file child's did (set in the child, not with a `preexec_fn` in the parent: that
would force the service to fork instead of vfork). The limit is per process, so it holds for each check
the worker runs; a check that hits it ends in MemoryError, and the worker asks to be retired.

Protocol, one JSON object per line: first `{"ready": PID}` once imported; then for each request
`{"path", "kind", "policy", "derived_dir", "subtitles", "declared_type"}` on stdin, one
`{"report": {...}, "retire": bool}` on stdout. End of stdin (the pool closing it, or the service gone)
ends the worker.
"""
from __future__ import annotations

import json
import os
import resource
import sys


def limit_memory(memory_mb: int) -> None:
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def check(request: dict) -> tuple[dict, bool]:
    """The report of one file, as `media-check --json` gives it; True when the worker should not go on."""
    from services.media.checker import NotMedia, check_file
    from services.media.cli import crashed_report, unreadable_report

    kind = request["kind"]
    try:
        return check_file(request["path"], kind, request.get("policy") or {}, request.get("derived_dir"),
                          request.get("subtitles"), request.get("declared_type")).to_dict(), False
    except NotMedia as exc:
        return unreadable_report(kind, exc), False
    except Exception as exc:  # noqa: BLE001 - a pathological file yields a report; after it, a fresh process
        import traceback

        traceback.print_exc()
        return crashed_report(kind, exc), True


def main(argv: list[str]) -> int:
    limit_memory(int(argv[0]) if argv else 0)
    # The answers go to a private copy of stdout; fd 1 becomes stderr, so that a library printing to
    # stdout (or FFmpeg's C code writing to fd 1) cannot break a line of the protocol.
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    import services.media.checker  # noqa: F401 - the imports every check needs, once, before saying ready
    import services.media.cli  # noqa: F401

    answers.write(json.dumps({"ready": os.getpid()}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        report, retire = check(json.loads(line))
        answers.write(json.dumps({"report": report, "retire": retire}, ensure_ascii=False) + "\n")
        if retire:
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
