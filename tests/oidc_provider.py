"""A real OpenID Connect provider for the tests (tests/support_oidc: oidc-provider under Debian's Node.js), and a
person signing in at it, driven by plain HTTP the way a browser would (no JavaScript on its pages).

    with running_provider(tmp_path, clients=[Client("intake-seu", "secret", ["http://127.0.0.1:9/cb"])]) as op:
        args = sign_in(authorization_url, "http://127.0.0.1:9/cb", account="t001")   # the callback's query

Accounts (tests/support_oidc/provider.mjs): t001 wang@seu.edu.cn 王老师 2020001; t002 " Li.Ming@WUST.edu.cn "
李明 2020002; t003 赵老师 2020003 with no e-mail; t004 unverified@seu.edu.cn 钱老师 2020004, not verified;
t005 sun@seu.edu.cn 孙老师 2020005; t006 zhou@seu.edu.cn 周老师 JS/2020-6 (not a staff number the platform
records); t007 zheng@seu.edu.cn 郑老师 2020007.
Missing node or packages fail the test, never skip it: `make test` installs them (deploy/bootstrap.sh --test).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from deploy.embedded import free_port

SUPPORT = Path(__file__).resolve().parent / "support_oidc"


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str]


@dataclass(frozen=True)
class RunningProvider:
    issuer: str
    port: int
    log: Path


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is not installed: the single sign-on tests run an OpenID Connect provider under it. "
                    "`make test` installs it (deploy/bootstrap.sh --test, Debian's nodejs and npm).")
    if not (SUPPORT / "node_modules" / "oidc-provider" / "package.json").is_file():
        pytest.fail(f"The test provider's packages are not installed in {SUPPORT}/node_modules. "
                    f"`make test` installs them (deploy/bootstrap.sh --test runs `npm ci` in {SUPPORT}).")
    return node


@contextmanager
def running_provider(folder: Path, clients: list[Client], *, port: int | None = None, issuer: str | None = None,
                     id_token_claims: bool = False, timeout: float = 20.0):
    """Start the provider on a loopback port, wait until it publishes its discovery document, stop it after."""
    node = _node()
    port = port or free_port()
    issuer = issuer or f"http://127.0.0.1:{port}"
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"oidc-provider-{port}-{time.monotonic_ns()}.log"
    env = {**os.environ, "OIDC_PORT": str(port), "OIDC_ISSUER": issuer,
           "OIDC_CLIENTS": json.dumps([c.__dict__ for c in clients]),
           "OIDC_ID_TOKEN_CLAIMS": "1" if id_token_claims else "0"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([node, str(SUPPORT / "provider.mjs")], cwd=SUPPORT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        _wait_for_discovery(proc, port, log, timeout)
        yield RunningProvider(issuer=issuer, port=port, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _wait_for_discovery(proc: subprocess.Popen, port: int, log: Path, timeout: float) -> None:
    url = f"http://127.0.0.1:{port}/.well-known/openid-configuration"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the test OpenID Connect provider exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    pytest.fail(f"the test OpenID Connect provider did not answer {url} within {timeout} s:\n{log.read_text()[-3000:]}")


def sign_in(authorization_url: str, redirect_uri: str, account: str = "t001", *, abort: bool = False,
            browser: requests.Session | None = None) -> dict[str, list[str]]:
    """Follow the provider's pages as a browser would, log in as `account` (or press 取消 with `abort`), and stop at
    the redirect back to `redirect_uri` (nothing need listen there): its query, as parse_qs reads it."""
    browser = browser or requests.Session()
    response = browser.get(authorization_url, allow_redirects=False, timeout=10)
    for _ in range(12):
        if response.is_redirect:
            target = urljoin(response.url, response.headers["Location"])
            if target.startswith(redirect_uri):
                return parse_qs(urlsplit(target).query)
            response = browser.get(target, allow_redirects=False, timeout=10)
        elif response.status_code == 200 and 'name="account"' in response.text:
            wanted = "abort" if abort else "login"
            action = next(a for a in re.findall(r'action="([^"]+)"', response.text) if a.endswith("/" + wanted))
            form = {} if abort else {"account": account}
            response = browser.post(urljoin(response.url, action), data=form, allow_redirects=False, timeout=10)
        else:
            raise AssertionError(f"the provider answered {response.status_code} at {response.url}:\n{response.text[:1000]}")
    raise AssertionError("the provider never redirected back to the client")
