"""The whole platform as processes, as an operator runs it (`common.run` per service), for the end-to-end and browser tests."""
from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from common import clock
from deploy.embedded import wait_healthy
from tests.conftest import ROOT, free_port

SERVICES = ("intake", "media", "review", "notify")
CLOCK = "2020-06-12T09:00:00+08:00"  # the 2020 deadlines lie ahead


@contextmanager
def running_platform(folder: Path, amqp_uri: str, universities: dict[str, str], **settings: str):
    """intake, media, review and notify, with the ministry, `universities` (slug -> name), a portal key each, and the
    2020 campaign with each university's copy. `settings`: environment variables for every service.

    Yields ports, urls (the hosts people's browsers use: PUBLIC_URL, hence mailed links and the SSO callback),
    keys (slug -> portal key), ministry_key, data (DATA_DIR), logs (each service's output) and clock (the file every service's
    clock runs from: `move_clock`).
    """
    ports = {s: free_port() for s in SERVICES}
    clock_file = folder / "clock"  # every service's clock: a test moves them all at once with move_clock
    clock.write_file(clock_file, datetime.fromisoformat(CLOCK))
    env = dict(os.environ, DATA_DIR=str(folder / "data"), AMQP_URI=amqp_uri, EVENT_RETRY_DELAYS_MS="200,500",
               PLATFORM_CLOCK_START=CLOCK, PLATFORM_CLOCK_FILE=str(clock_file),
               **{f"{s.upper()}_PORT": str(p) for s, p in ports.items()}, **settings)

    def admin(*args) -> str:
        return subprocess.run([sys.executable, "-m", "services.intake.admin", *args], cwd=ROOT, env=env, check=True,
                              capture_output=True, text=True).stdout.strip()

    admin("create-tenant", "ministry", "教育部思政司", "--kind", "ministry")
    ministry_key = admin("issue-key", "ministry", "--label", "思政司")
    keys = {}
    for slug, name in universities.items():
        admin("create-tenant", slug, name, *(["--category", "direct"] if slug in ("seu", "wust") else []))  # 直属高校
        keys[slug] = admin("issue-key", slug, "--label", "portal")
    admin("publish-builtin", "siyige-2020")
    for slug in universities:
        admin("publish-builtin", f"siyige-2020-{slug}", "--owner", slug)
    procs = {s: subprocess.Popen([sys.executable, "-m", "common.run", s], cwd=ROOT, env=env,
                                 stdout=open(folder / f"{s}.log", "wb"), stderr=subprocess.STDOUT)
             for s in SERVICES}
    try:
        for s in SERVICES:
            wait_healthy(f"http://127.0.0.1:{ports[s]}/health", procs[s], timeout=60)
        yield {"ports": ports, "urls": {s: f"http://localhost:{p}" for s, p in ports.items()}, "keys": keys,
               "data": Path(env["DATA_DIR"]), "logs": folder, "clock": clock_file, "ministry_key": ministry_key}
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


def move_clock(platform: dict, moment: str) -> None:
    """Every service of the platform stands at `moment` from now on (a rehearsal walking through the stages)."""
    clock.write_file(platform["clock"], datetime.fromisoformat(moment))
