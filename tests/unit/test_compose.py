"""The production shape: docker-compose.yml, the Dockerfile and their helpers.

No Docker engine is needed: `docker-compose config` validates and resolves the
file (anchors merged, ${VARS} substituted with their defaults), and the tests
read the result. Tests that need the binary are skipped without it; the ones
that only read files always run.
"""
from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
NATIONAL_FILE = ROOT / "docker-compose.national.yml"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
APP_SERVICES = ("intake", "media", "review", "notify")
DEFAULT_PORTS = {"intake": 8000, "review": 8001, "notify": 8002, "media": 8003}
# Read by libraries rather than by our code: boto3's standard credentials.
LIBRARY_VARS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}

needs_compose = pytest.mark.skipif(shutil.which("docker-compose") is None,
                                   reason="docker-compose is not installed")


# ---------------------------------------------------------------- helpers


def code_env_vars() -> set[str]:
    """Every environment variable name common/ reads, f-strings expanded per service.

    Matches `env.get("X")`, `env.get(f"{upper}_X")`, `os.environ.get("X")` and
    `os.environ["X"]` in common/*.py (settings, run, clock, ...).
    """
    names: set[str] = set()
    pattern = re.compile(r"""(?:\benv\.get|\bos\.environ\.get|\bos\.getenv)\(\s*(f?)["']([^"']+)["']"""
                         r"""|\bos\.environ\[\s*(f?)["']([^"']+)["']\s*\]""")
    for path in sorted((ROOT / "common").glob("*.py")):
        for m in pattern.finditer(path.read_text(encoding="utf-8")):
            is_f, name = (m.group(1), m.group(2)) if m.group(2) else (m.group(3), m.group(4))
            if is_f and "{" in name:
                for service in APP_SERVICES:
                    names.add(name.replace("{upper}", service.upper()))
            else:
                names.add(name)
    return names


def raw_compose() -> dict:
    """The file as written (YAML anchors and merge keys resolved, ${...} left as text)."""
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def db_url(env: dict, service: str) -> str:
    return env[f"{service.upper()}_DATABASE_URL"]


TEST_WEB_SECRET = "0123456789abcdef" * 4


def clean_env(**extra: str) -> dict:
    """A clean environment: the defaults written in the file, not this shell's variables.

    Only WEB_SECRET is given: compose refuses to start without it (there is no safe default).
    """
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
            "WEB_SECRET": TEST_WEB_SECRET, **extra}


@pytest.fixture(scope="module")
def compose() -> dict:
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is not installed; `make test` installs it (deploy/bootstrap.sh --test)")
    env = clean_env()
    proc = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE_FILE), "config"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, f"docker-compose config failed:\n{proc.stderr}"
    return yaml.safe_load(proc.stdout)


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def smtp_relay_name(services: dict) -> str:
    mail_url = urlparse(services["notify"]["environment"]["MAIL_URL"])
    assert mail_url.scheme == "smtp", mail_url
    return mail_url.hostname


def host_ports(service: dict) -> list[int]:
    published = []
    for p in service.get("ports", []):
        if isinstance(p, dict):
            if p.get("published") is not None:
                published.append(int(p["published"]))
        else:  # "127.0.0.1:8025:8025/tcp", "8000:8000", "8000"
            parts = str(p).split("/")[0].split(":")
            if len(parts) >= 2:
                published.append(int(parts[-2]))
    return published


# ---------------------------------------------------------------- the file as resolved


@needs_compose
def test_config_is_valid_for_this_docker_compose():
    proc = subprocess.run(["docker-compose", "-f", str(COMPOSE_FILE), "config", "-q"],
                          cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


@needs_compose
def test_infrastructure_and_the_four_services_exist(services):
    for name in ("rabbitmq", "postgres", "minio", *APP_SERVICES):
        assert name in services, f"no service {name!r}"
    relay = smtp_relay_name(services)
    assert relay in services, f"MAIL_URL names {relay!r}, which is not a service"
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3.12-management")
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["minio"]["image"].startswith("minio/minio")


@needs_compose
def test_every_long_running_service_has_a_healthcheck(services):
    one_shots = {n for n, s in services.items() if s.get("restart") == "no"}
    assert one_shots == {"minio-init"}, one_shots
    for name, service in services.items():
        if name in one_shots:
            continue
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
    assert services["rabbitmq"]["healthcheck"]["test"][1:] == ["rabbitmq-diagnostics", "-q", "check_running"]


@needs_compose
def test_app_healthchecks_ask_their_own_port_with_python(services):
    for name in APP_SERVICES:
        test = services[name]["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"], test
        assert "urllib.request" in test[3]
        assert f"http://127.0.0.1:{DEFAULT_PORTS[name]}/health" in test[3], test
        assert services[name]["environment"][f"{name.upper()}_PORT"] == str(DEFAULT_PORTS[name])


@needs_compose
def test_app_services_share_one_build_and_run_their_own_service(services):
    builds = {(services[n]["build"]["context"], services[n]["build"].get("dockerfile", "Dockerfile"))
              for n in APP_SERVICES}
    assert builds == {(str(ROOT), "Dockerfile")}
    assert len({services[n]["image"] for n in APP_SERVICES}) == 1
    for name in APP_SERVICES:
        assert services[name]["command"] == ["python", "-m", "common.run", name]
        assert services[name]["restart"] in ("unless-stopped", "always")


@needs_compose
def test_app_services_wait_for_healthy_infrastructure(services):
    for name in APP_SERVICES:
        deps = services[name]["depends_on"]
        for infra in ("rabbitmq", "postgres", "minio"):
            assert deps[infra] == {"condition": "service_healthy"}, (name, infra)
        assert deps["minio-init"] == {"condition": "service_completed_successfully"}
    # Mail is retried by notify; production runs without the staging relay.
    assert smtp_relay_name(services) not in services["notify"]["depends_on"]


@needs_compose
def test_each_service_uses_its_own_postgres_database_and_no_other(services):
    pg = services["postgres"]["environment"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        url = urlparse(db_url(env, name))
        assert url.scheme.startswith("postgresql"), url
        assert url.hostname == "postgres" and (url.port or 5432) == 5432, url
        assert url.path == f"/{name}", url
        assert (url.username, url.password) == (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"])
        others = {f"{o.upper()}_DATABASE_URL" for o in APP_SERVICES if o != name}
        assert not others & set(env), f"{name} can see another service's database: {others & set(env)}"


@needs_compose
def test_postgres_init_script_creates_the_four_databases(services):
    mounts = [v for v in services["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in str(v)]
    assert len(mounts) == 1, mounts
    source = mounts[0]["source"] if isinstance(mounts[0], dict) else str(mounts[0]).split(":")[0]
    sql = Path(source).read_text(encoding="utf-8")
    created = set(re.findall(r"CREATE\s+DATABASE\s+(\w+)", sql, re.IGNORECASE))
    assert created == set(APP_SERVICES)


@needs_compose
def test_every_service_can_be_scaled_behind_the_proxy(services):
    for name in APP_SERVICES:
        assert host_ports(services[name]) == [], f"a fixed host port would stop `--scale {name}=3`"
        assert "container_name" not in services[name]
        assert services[name]["deploy"]["replicas"] >= 1
        # the rate limits count the client the proxy names, not the proxy (one bucket for everyone)
        assert services[name]["environment"]["TRUSTED_PROXIES"] == "proxy", name
    proxy = services["proxy"]
    assert sorted(host_ports(proxy)) == sorted(DEFAULT_PORTS[n] for n in ("intake", "review", "notify"))
    assert set(proxy["depends_on"]) >= {"intake", "review", "notify"}
    [mount] = [v for v in proxy["volumes"] if "Caddyfile" in str(v)]
    source = mount["source"] if isinstance(mount, dict) else str(mount).split(":")[0]
    assert Path(source) == CADDYFILE


def caddy_routes() -> dict[int, tuple[str, int]]:
    """Listening port → (service name, port) of the dynamic upstream, from Caddy's own reading."""
    proc = subprocess.run(["caddy", "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    routes = {}
    for server in json.loads(proc.stdout)["apps"]["http"]["servers"].values():
        [listen] = server["listen"]
        for route in server["routes"]:
            for handler in route["handle"]:
                for inner in [handler] + [h for r in handler.get("routes", []) for h in r["handle"]]:
                    if inner.get("handler") == "reverse_proxy":
                        up = inner["dynamic_upstreams"]
                        routes[int(listen.rsplit(":", 1)[1])] = (up["name"], int(up["port"]))
    return routes


def test_the_proxy_sends_each_port_to_every_replica_of_its_service():
    if shutil.which("caddy") is None:
        pytest.fail("caddy is not installed; `make test` installs it (deploy/bootstrap.sh --test)")
    proc = subprocess.run(["caddy", "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert caddy_routes() == {port: (name, port) for name, port in DEFAULT_PORTS.items() if name != "media"}


@needs_compose
def test_object_store_is_the_minio_bucket_minio_init_creates(services):
    minio = services["minio"]["environment"]
    init = services["minio-init"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        url = urlparse(env["OBJECT_STORE_URL"])
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        assert url.scheme == "s3" and url.netloc, url
        assert urlparse(query["endpoint"]).hostname == "minio", query
        assert urlparse(query["endpoint"]).port == 9000
        assert query["region"] and query["public_endpoint"].startswith("http"), query
        assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == (
            minio["MINIO_ROOT_USER"], minio["MINIO_ROOT_PASSWORD"])
        assert init["environment"]["BUCKET"] == url.netloc
    assert "mc mb" in " ".join(init["command"])
    assert init["depends_on"]["minio"] == {"condition": "service_healthy"}
    assert 9000 in host_ports(services["minio"]), "presigned upload URLs must be reachable"


@needs_compose
def test_amqp_and_mail_point_at_the_compose_services(services):
    rabbit = services["rabbitmq"]["environment"]
    relay = smtp_relay_name(services)
    for name in APP_SERVICES:
        env = services[name]["environment"]
        amqp = urlparse(env["AMQP_URI"])
        assert (amqp.scheme, amqp.hostname, amqp.port) == ("amqp", "rabbitmq", 5672)
        assert (amqp.username, amqp.password) == (rabbit["RABBITMQ_DEFAULT_USER"], rabbit["RABBITMQ_DEFAULT_PASS"])
        mail = urlparse(env["MAIL_URL"])
        assert (mail.scheme, mail.hostname, mail.port) == ("smtp", relay, 1025)
        assert env["BIND_HOST"] == "0.0.0.0", "bound to 127.0.0.1 the port is unreachable from outside"


# ---------------------------------------------------------------- env var names


def test_the_settings_parser_finds_what_the_code_reads():
    names = code_env_vars()
    for expected in ("AMQP_URI", "OBJECT_STORE_URL", "MAIL_URL", "MAIL_FROM", "BIND_HOST", "DATA_DIR",
                     "EVENT_RETRY_DELAYS_MS", "PLATFORM_CLOCK_START", "LOG_LEVEL",
                     "INTAKE_DATABASE_URL", "MEDIA_PORT", "REVIEW_PUBLIC_URL", "NOTIFY_DATABASE_URL"):
        assert expected in names, expected
    assert not any("{" in n for n in names), names


def test_compose_sets_only_variables_the_code_reads():
    """A typo (AMQP_URL, INTAKE_DB_URL) would be ignored silently and the default used."""
    known = code_env_vars() | LIBRARY_VARS
    services = raw_compose()["services"]
    wrong = {}
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert isinstance(env, dict), f"{name}: write environment as a mapping"
        for var in env:
            if var not in known:
                wrong[f"{name}.{var}"] = difflib.get_close_matches(var, known, n=1)
    assert not wrong, f"set in docker-compose.yml but read by nobody (did you mean?): {wrong}"


def test_compose_sets_what_the_production_shape_needs():
    services = raw_compose()["services"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        upper = name.upper()
        for var in ("AMQP_URI", f"{upper}_DATABASE_URL", "OBJECT_STORE_URL", "MAIL_URL", "BIND_HOST",
                    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert env.get(var), f"{name} lacks {var}: it would fall back to the embedded default"


# ---------------------------------------------------------------- image


def test_dockerfile_builds_one_non_root_image():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    assert "pip install --no-cache-dir -r requirements.txt" in text
    for folder in ("common/", "services/", "deploy/"):
        assert re.search(rf"^COPY {folder}", text, re.MULTILINE), folder
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1] not in ("root", "0"), users
    assert re.search(r"^HEALTHCHECK\b", text, re.MULTILINE)
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".git", ".venv", "var", ".pytest_cache"):
        assert entry in ignored, entry


def _entrypoint(*args, env_extra=None, tmp_path):
    venv_bin = Path(sys.executable).parent
    env = {"PATH": f"{venv_bin}:{os.environ.get('PATH', '')}", "DATA_DIR": str(tmp_path),
           "HEALTH_FILE": str(tmp_path / "health-url"), **(env_extra or {})}
    return subprocess.run(["/bin/sh", str(ROOT / "deploy/compose-entrypoint.sh"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_entrypoint_passes_other_commands_through(tmp_path):
    proc = _entrypoint("python", "-c", "print('hello')", tmp_path=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == "hello", proc.stderr


def test_image_without_a_service_prints_the_usage(tmp_path):
    """The Dockerfile's CMD is `python -m common.run`: it must not start anything."""
    proc = _entrypoint("python", "-m", "common.run", tmp_path=tmp_path)
    assert proc.returncode == 2
    assert "usage: python -m common.run" in proc.stderr


def test_image_healthcheck_fails_without_a_service(tmp_path):
    proc = _entrypoint("--health", tmp_path=tmp_path)
    assert proc.returncode != 0


# ---------------------------------------------------------------- the national shape


@pytest.fixture(scope="module")
def national() -> dict:
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is not installed; `make test` installs it (deploy/bootstrap.sh --test)")
    env = clean_env()
    proc = subprocess.run(["docker-compose", "-f", str(COMPOSE_FILE), "-f", str(NATIONAL_FILE), "config"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"docker-compose config failed:\n{proc.stderr}"
    return yaml.safe_load(proc.stdout)["services"]


def test_the_national_shape_is_a_three_node_rabbitmq_cluster_every_service_knows(national):
    nodes = {name: s for name, s in national.items() if s.get("image", "").startswith("rabbitmq:")}
    assert len(nodes) == 3, sorted(nodes)
    hostnames = {s.get("hostname") for s in nodes.values()}
    assert len(hostnames) == 3 and None not in hostnames
    cookies = {s["environment"]["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] for s in nodes.values()}
    assert len(cookies) == 1 and cookies.pop().startswith("-setcookie ")
    conf = ROOT / "deploy" / "rabbitmq-cluster.conf"
    peers = set(re.findall(r"^cluster_formation\.classic_config\.nodes\.\d+\s*=\s*(\S+)",
                           conf.read_text(encoding="utf-8"), re.MULTILINE))
    assert peers == {f"rabbit@{h}" for h in hostnames}
    for s in nodes.values():
        assert any(str(conf) in str(v.get("source", v) if isinstance(v, dict) else v) for v in s["volumes"])
        assert s["healthcheck"]["test"][1:] == ["rabbitmq-diagnostics", "-q", "check_running"]
    user = nodes["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_USER"]
    for name in APP_SERVICES:
        env = national[name]["environment"]
        assert env["QUEUE_TYPE"] == "quorum", name  # replicated queues: a node's loss loses nothing
        alternates = [urlparse(u) for u in env["AMQP_URI"].split(";")]
        assert {u.hostname for u in alternates} == hostnames, name
        assert {(u.scheme, u.port, u.username) for u in alternates} == {("amqp", 5672, user)}


def test_the_national_shape_runs_the_replicas_and_the_database_has_connections_for_them(national):
    replicas = {name: national[name]["deploy"]["replicas"] for name in APP_SERVICES}
    assert replicas["media"] >= 2 and replicas["intake"] >= 2 and replicas["review"] >= 2, replicas
    command = national["postgres"]["command"]
    max_connections = int(next(c.split("=", 1)[1] for c in command if c.startswith("max_connections=")))
    per_process = 20  # pool 10 + overflow 10, common/db.py make_engine
    assert max_connections >= per_process * sum(replicas.values()) + 20, (max_connections, replicas)


@needs_compose
def test_without_a_web_secret_compose_refuses_to_start():
    """Replicas and restarts must agree on the key that signs sessions and file links (issue #14 item 18)."""
    env = clean_env()
    del env["WEB_SECRET"]
    proc = subprocess.run(["docker-compose", "-f", str(COMPOSE_FILE), "config", "-q"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "WEB_SECRET" in proc.stderr, proc.stderr


def test_every_app_service_gets_the_one_web_secret_and_keeps_data_dir_in_a_volume(services):
    for name in ("intake", "media", "review", "notify"):
        env = services[name]["environment"]
        assert env["WEB_SECRET"] == TEST_WEB_SECRET, name
        mounts = [v if isinstance(v, str) else f"{v.get('source')}:{v.get('target')}"
                  for v in services[name].get("volumes", [])]
        assert any(m.split(":")[1] == env["DATA_DIR"] for m in mounts if ":" in m), (name, mounts)
