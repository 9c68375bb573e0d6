"""Fuzzing the portal API from its own OpenAPI document with schemathesis (issue #7).

Intake runs as its own process (as in production); schemathesis's CLI generates
requests from `openapi.yaml` — valid, invalid and boundary bodies, parameters and
headers, and stateful sequences — with real identifiers of one university's
campaign, org, work and file, so that requests reach the logic behind the 404s.
Checks: no 5xx; every status code documented; every response of the documented
content type and schema (errors in the shared `Error` shape).
"""
import hashlib
import os
import subprocess
import sys

import pytest
import requests

from deploy.embedded import wait_healthy
from tests.conftest import ROOT, free_port

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@pytest.fixture
def lone_intake(tmp_path, amqp_uri):
    port = free_port()
    # The fuzzer sends wrong and missing keys on purpose; the limit on them would soon answer everything 429.
    env = dict(os.environ, DATA_DIR=str(tmp_path / "data"), AMQP_URI=amqp_uri, INTAKE_PORT=str(port),
               RATE_BAD_KEYS="1000000", RATE_UPLOADS="1000000", PLATFORM_CLOCK_START="2020-06-12T09:00:00+08:00")
    admin = [sys.executable, "-m", "services.intake.admin"]

    def run(*args):
        return subprocess.run(admin + list(args), cwd=ROOT, env=env, check=True, capture_output=True,
                              text=True).stdout.strip()

    run("create-tenant", "ministry", "教育部思政司", "--kind", "ministry")
    run("create-tenant", "seu", "东南大学")
    key = run("issue-key", "seu", "--label", "fuzz")
    run("publish-builtin", "siyige-2020")
    run("publish-builtin", "siyige-2020-seu", "--owner", "seu")
    proc = subprocess.Popen([sys.executable, "-m", "common.run", "intake"], cwd=ROOT, env=env,
                            stdout=open(tmp_path / "intake.log", "wb"), stderr=subprocess.STDOUT)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", proc, timeout=60)
        yield {"base": f"http://127.0.0.1:{port}", "key": key, "log": tmp_path / "intake.log", "pid": proc.pid}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_fuzzing_the_portal_api_finds_no_server_error_and_no_undocumented_answer(lone_intake, tmp_path):
    base, key = lone_intake["base"], lone_intake["key"]
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {key}"
    csv = "名称,层级,上级组织\n机械工程学院党委,二级党组织,\n机械工程学院第一党支部,党支部,机械工程学院党委\n".encode()
    assert http.post(f"{base}/api/v1/orgs/import", data=csv, headers={"Content-Type": "text/csv"}).status_code == 200
    org = next(o["id"] for o in http.get(f"{base}/api/v1/orgs").json()["items"] if o["name"] == "机械工程学院党委")
    work = http.post(f"{base}/api/v1/submissions", json={
        "campaign_id": "siyige-2020-seu", "track": "lecture", "org_id": org,
        "fields": {"title": "抓紧抓实抓细常态化疫情防控工作", "lecturers": ["张书记"]}}).json()
    data = b"0123456789"
    ticket = http.post(f"{base}/api/v1/submissions/{work['id']}/files", json={
        "kind": "video", "filename": "党课.mp4", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}).json()
    person = http.post(f"{base}/api/v1/accounts", json={
        "name": "王宣传", "email": "wang@seu.edu.cn", "grants": [{"role": "org_admin", "org_id": org}]}).json()
    (tmp_path / "schemathesis.toml").write_text(
        "[parameters]\n"
        f'campaign_id = "siyige-2020-seu"\norg_id = "{org}"\nsubmission_id = "{work["id"]}"\n'
        f'file_id = "{ticket["file"]["id"]}"\ntoken = "{ticket["upload"]["url"].rsplit("/", 1)[-1]}"\n'
        f'account_id = "{person["id"]}"\ngrant_id = "{person["grants"][0]["id"]}"\n',
        encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{base}/api/v1/openapi.json",
         "--header", f"Authorization: Bearer {key}", "--checks", CHECKS, "--max-examples", "30", "--seed", "7",
         "--workers", "1", "--report", "junit", "--report-dir", str(tmp_path / "report")],
        cwd=tmp_path, capture_output=True, text=True, timeout=900)
    summary = done.stdout[-6000:]
    assert done.returncode == 0, summary + "\n--- intake log ---\n" + lone_intake["log"].read_text()[-3000:]
    assert "generated" in summary and " 0 passed" not in summary
    print(summary[-1500:])  # the run's figures, for the reader
