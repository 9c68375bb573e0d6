"""Issue #14 item 18: the embedded launcher uses the ports it is given and stops its services cleanly.

Before: it waited on the default ports whatever INTAKE_PORT etc. said (a second instance stopped after
90 s), printed the defaults, and blocked SIGINT/SIGTERM before starting the services, which inherited
the block, so every stop ended in a forced kill after 20 s per service.
"""
import os
import re
import signal
import subprocess
import sys
import threading

import requests

from tests.conftest import ROOT, free_port, wait_until


def test_a_second_instance_on_other_ports_starts_and_stops_cleanly(tmp_path, amqp_uri):
    ports = {name: free_port() for name in ("intake", "media", "review", "notify")}
    env = dict(os.environ, DATA_DIR=str(tmp_path / "var"), AMQP_URI=amqp_uri, PYTHONUNBUFFERED="1",
               **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()})
    proc = subprocess.Popen([sys.executable, "-m", "deploy.embedded"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        wait_until(lambda: "Ctrl-C stops everything." in "".join(lines) or proc.poll() is not None,
                   timeout=120, what="the launcher to report the platform running")
        out = "".join(lines)
        assert proc.poll() is None, out
        assert f"http://localhost:{ports['intake']}/api/v1" in out
        assert f"http://localhost:{ports['review']}/" in out
        assert f"http://localhost:{ports['notify']}/api/v1/feed/progress" in out
        for name, port in ports.items():
            assert requests.get(f"http://localhost:{port}/health", timeout=5).status_code == 200, name
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
        reader.join(timeout=5)
    out = "".join(lines)
    stopped = re.findall(r"^  (\w+) stopped \(exit (-?\d+)\)$", out, re.M)
    assert sorted(name for name, _ in stopped) == sorted(ports), out
    assert "was killed" not in out, out  # every service heard SIGTERM and stopped on its own
    assert code == 0, out
