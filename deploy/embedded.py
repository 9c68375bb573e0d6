"""Run the whole platform on the embedded default, with demo data.

    make run          (= deploy/bootstrap.sh; deploy/rabbitmq.sh; python -m deploy.embedded)

Starts the four services as processes (SQLite and a folder store under ./var,
mail into ./var/mailbox), loads the ministry's "四个一 2020" and the demo
university 东南大学 (seu) with its derived campaign and org tree, prints the
URLs and API keys, and stops everything on Ctrl-C.

The demo's clock stands at 2020-06-12 09:00 Beijing time, so the 2020
deadlines lie ahead (set PLATFORM_CLOCK_START to change, or to "" for real time).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_CLOCK = "2020-06-12T09:00:00+08:00"


def seed(env: dict) -> dict:
    """Tenants, keys, campaigns and orgs; returns the demo keys (issued once)."""
    os.environ.update(env)
    from datetime import datetime

    from common import clock

    if env.get("PLATFORM_CLOCK_START"):
        clock.set_start(datetime.fromisoformat(env["PLATFORM_CLOCK_START"]))
    from services.intake import admin, operations as ops

    keys_file = Path(env["DATA_DIR"]) / "demo-keys.json"
    if keys_file.exists():
        return json.loads(keys_file.read_text())
    store = admin.open_store()
    try:
        with store.transaction() as session:
            admin.ensure_tenant(session, "ministry", "教育部思想政治工作司", "ministry")
            # both 教育部直属高校: in the audience of the ministry's 四个一 2020
            admin.ensure_tenant(session, "seu", "东南大学", "university", "zzb@seu.demo.local", "direct")
            admin.ensure_tenant(session, "wust", "武汉科技大学", "university", "zzb@wust.demo.local", "direct")
            keys = {t: ops.issue_key(session, admin.StandaloneOutbox(), t, "demo") for t in ("ministry", "seu", "wust")}
        with store.transaction() as session:
            admin.publish_builtin(session, "siyige-2020", "ministry")
        with store.transaction() as session:
            admin.publish_builtin(session, "siyige-2020-seu", "seu")
            admin.publish_builtin(session, "siyige-2020-wust", "wust")
        with store.transaction() as session:
            tenant = session.get(admin.Tenant, "seu")
            ops.import_orgs(session, admin.StandaloneOutbox(), tenant, (ROOT / "deploy/demo/seu-orgs.csv").read_bytes(),
                            "seu-orgs.csv", "text/csv")
    finally:
        store.dispose()
    keys_file.write_text(json.dumps(keys))
    return keys


def free_port() -> int:
    """A TCP port nothing listens on right now (for services, tests and benchmarks on loopback)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    """Wait until a service process answers `url` (its /health); also used by tests and benchmarks."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the service exited with {proc.returncode}; see its log")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy in {timeout}s; see its log")


class Stop(Exception):
    """SIGINT or SIGTERM reached the launcher."""


def _stop(signum, frame):
    raise Stop(signal.Signals(signum).name)


def stop_all(procs: dict[str, subprocess.Popen], grace_s: float = 30) -> None:
    """SIGTERM to every service, then wait; a service that outlives its grace is killed, and we say so.

    30 s, as compose's stop_grace_period: a service lets its running workers finish first.
    """
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for name, p in procs.items():
        try:
            code = p.wait(timeout=grace_s)
            print(f"  {name} stopped (exit {code})", flush=True)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            print(f"  {name} did not stop within {grace_s:.0f} s and was killed", flush=True)


def main() -> int:
    from common.settings import SERVICES, service_config

    data_dir = Path(os.environ.get("DATA_DIR", ROOT / "var")).resolve()
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DATA_DIR=str(data_dir))
    env.setdefault("PLATFORM_CLOCK_START", DEMO_CLOCK)
    # The ports the services will really listen on (INTAKE_PORT etc.), not the defaults.
    port = {name: int(service_config(name, env)["WEB_SERVER_ADDRESS"].rsplit(":", 1)[1]) for name in SERVICES}
    keys = seed(env)

    # Handlers, not a blocked signal mask: a mask is inherited by the services we start (and
    # would make each of them ignore SIGTERM until killed); handlers are reset by exec.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    procs: dict[str, subprocess.Popen] = {}
    try:
        for name in SERVICES:
            log = open(data_dir / "logs" / f"{name}.log", "ab")
            procs[name] = subprocess.Popen([sys.executable, "-m", "common.run", name], cwd=ROOT, env=env,
                                           stdout=log, stderr=subprocess.STDOUT)
        for name in SERVICES:
            try:
                wait_healthy(f"http://localhost:{port[name]}/health", procs[name])
            except RuntimeError as exc:
                raise SystemExit(f"{exc} (logs in {data_dir / 'logs'})") from None
        print(f"""
四个一行动平台 is running (embedded default; data in {data_dir}).

  Portal API      http://localhost:{port['intake']}/api/v1   (document: /api/v1/openapi.json)
  Review UI       http://localhost:{port['review']}/
  Ministry feed   http://localhost:{port['notify']}/api/v1/feed/progress   (also .atom, .xlsx; ministry key)
  Outgoing mail   {data_dir / 'mailbox'}
  Logs            {data_dir / 'logs'}
  Clock           {env['PLATFORM_CLOCK_START'] or 'real time'}

  Demo API keys (shown on each start; stored in {data_dir / 'demo-keys.json'}):
    ministry  {keys['ministry']}
    seu       {keys['seu']}    (东南大学, campaign siyige-2020-seu)
    wust      {keys['wust']}   (武汉科技大学, campaign siyige-2020-wust)

  Try:  curl -H 'Authorization: Bearer {keys['seu']}' http://localhost:{port['intake']}/api/v1/orgs
        curl -H 'Authorization: Bearer {keys['ministry']}' http://localhost:{port['notify']}/api/v1/feed/progress

Ctrl-C stops everything.""", flush=True)
        while True:
            for name, p in procs.items():
                if p.poll() is not None:
                    print(f"{name} exited with {p.returncode}; stopping the others (logs in {data_dir / 'logs'})",
                          flush=True)
                    return 1
            time.sleep(0.5)
    except Stop as stop:
        print(f"{stop}: stopping the services", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean stop short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_all(procs)


if __name__ == "__main__":
    sys.exit(main())
