"""Intake and notify as processes, as in production, with a real SMTP server: for fault tests."""
import os
import signal
import subprocess
import sys

import pytest
import requests

from deploy.embedded import wait_healthy
from tests.conftest import RABBIT_API, ROOT, free_port, wait_until
from tests.integration.test_notify_service import SmtpServer


class Platform:
    def __init__(self, tmp_path, amqp_uri, services=("intake", "notify")):
        self.smtp = SmtpServer(free_port(), tmp_path / "received")
        self.ports = {s: free_port() for s in services}
        self.logs = tmp_path
        self.env = dict(os.environ, DATA_DIR=str(tmp_path / "data"), AMQP_URI=amqp_uri,
                        EVENT_RETRY_DELAYS_MS="200,500", PLATFORM_CLOCK_START="2020-07-10T09:00:00+08:00",
                        MAIL_URL=f"smtp://127.0.0.1:{self.smtp.port}", RATE_UPLOADS="100000",
                        **{f"{s.upper()}_PORT": str(p) for s, p in self.ports.items()})
        self.procs: dict[str, subprocess.Popen] = {}

    def admin(self, *args) -> str:
        return subprocess.run([sys.executable, "-m", "services.intake.admin", *args], cwd=ROOT, env=self.env,
                              check=True, capture_output=True, text=True).stdout.strip()

    def start(self, service: str) -> None:
        log = open(self.logs / f"{service}.log", "ab")
        self.procs[service] = subprocess.Popen([sys.executable, "-m", "common.run", service], cwd=ROOT,
                                               env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_healthy(f"http://127.0.0.1:{self.ports[service]}/health", self.procs[service], timeout=60)

    def kill(self, service: str) -> None:
        """SIGKILL: no clean-up, no acknowledgements, as when a machine loses power."""
        self.procs[service].send_signal(signal.SIGKILL)
        self.procs[service].wait(timeout=10)

    def portal(self, key: str) -> requests.Session:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {key}"
        return http

    def wait(self, predicate, *, timeout: float, what: str, progress=lambda: ""):
        """wait_until, but a timeout says how far things got and ends with each service's log tail."""
        try:
            return wait_until(predicate, timeout=timeout, what=what)
        except AssertionError as exc:
            tails = "".join(f"\n--- {s}.log (last 40 lines) ---\n" + "\n".join(
                (self.logs / f"{s}.log").read_text(errors="replace").splitlines()[-40:]) for s in self.procs)
            raise AssertionError(f"{exc}; {progress()}{tails}") from None

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        self.smtp.stop()


def seeded(p: Platform) -> Platform:
    """Tenants, 东南大学's key (`p.key`) and the campaigns, as the operator CLI makes them; services started."""
    p.smtp.start()
    p.admin("create-tenant", "ministry", "教育部思政司", "--kind", "ministry")
    p.admin("create-tenant", "seu", "东南大学", "--category", "direct")
    p.key = p.admin("issue-key", "seu", "--label", "portal")
    p.admin("publish-builtin", "siyige-2020")
    p.admin("publish-builtin", "siyige-2020-seu", "--owner", "seu")
    for s in p.ports:
        p.start(s)
    return p


@pytest.fixture
def platform(tmp_path, amqp_uri):
    """Intake and notify running, seeded; `key` is 东南大学's."""
    p = Platform(tmp_path, amqp_uri)
    try:
        yield seeded(p)
    finally:
        p.stop()


def import_orgs(http: requests.Session, base: str, n: int, start: int = 0) -> dict[str, str]:
    """n level-2 orgs numbered from start, each with its own mailbox (org{i:03d}@demo.local); name -> id."""
    names = [f"学院{i:03d}党委" for i in range(start, start + n)]
    rows = "".join(f"{name},二级党组织,,org{i:03d}@demo.local\n" for i, name in zip(range(start, start + n), names))
    r = http.post(f"{base}/orgs/import", data=("名称,层级,上级组织,邮箱\n" + rows).encode(),
                  headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    known = {}
    page = 1
    while not all(name in known for name in names):
        items = http.get(f"{base}/orgs", params={"per_page": 200, "page": page}).json()["items"]
        assert items, "fewer orgs than imported"
        known.update({o["name"]: o["id"] for o in items})
        page += 1
    return {name: known[name] for name in names}


def submit_story(http: requests.Session, base: str, org_id: str, n: int) -> str:
    work = http.post(f"{base}/submissions", timeout=30, json={
        "campaign_id": "siyige-2020-seu", "track": "story", "org_id": org_id,
        "fields": {"title": f"学院{n:03d}战疫故事", "text": "党员冲锋在前，守护校园平安。"}}).json()
    done = http.post(f"{base}/submissions/{work['id']}/submit", timeout=30)
    assert done.status_code == 200, done.text
    return work["id"]


def broker(action: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", action], check=True, capture_output=True, timeout=120)


def broker_back() -> None:
    """The broker and its management API (which the other tests' fixtures use) answer again."""
    subprocess.run(["rabbitmqctl", "-q", "await_startup", "--timeout", "60"], check=True, timeout=90)

    def api_up():
        try:
            return requests.get(f"{RABBIT_API.rstrip('/')}/api/overview", timeout=5).ok
        except requests.RequestException:
            return False

    wait_until(api_up, timeout=60, what="RabbitMQ's management API")
