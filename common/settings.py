"""Configuration of each service process, from environment variables.

The embedded default needs no variable at all: SQLite files and a folder
store under DATA_DIR (./var), RabbitMQ on localhost, mail into a maildir.
docker-compose sets the production shape (PostgreSQL, MinIO, an SMTP relay).
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# service name -> (import path of the nameko service class, default HTTP port)
SERVICES: dict[str, tuple[str, int]] = {
    "intake": ("services.intake.service:IntakeService", 8000),
    "media": ("services.media.service:MediaService", 8003),
    "review": ("services.review.service:ReviewService", 8001),
    "notify": ("services.notify.service:NotifyService", 8002),
}


def migrations_dir(service: str) -> Path:
    return ROOT / "services" / service / "migrations"


def public_url(service: str, env: dict) -> str:
    """The address people's browsers reach a service at: <SERVICE>_PUBLIC_URL, or its port on PUBLIC_HOST."""
    upper = service.upper()
    port = int(env.get(f"{upper}_PORT", SERVICES[service][1]))
    return env.get(f"{upper}_PUBLIC_URL", f"http://{env.get('PUBLIC_HOST', 'localhost')}:{port}")


def service_config(service: str, env: dict | None = None) -> dict:
    env = dict(os.environ if env is None else env)
    upper = service.upper()
    data_dir = Path(env.get("DATA_DIR", ROOT / "var")).resolve()
    port = int(env.get(f"{upper}_PORT", SERVICES[service][1]))
    host = env.get("BIND_HOST", "127.0.0.1")
    delays = env.get("EVENT_RETRY_DELAYS_MS")
    config = {
        "AMQP_URI": env.get("AMQP_URI", "amqp://guest:guest@localhost:5672/"),
        "DATABASE_URL": env.get(f"{upper}_DATABASE_URL", f"sqlite:///{data_dir / (service + '.db')}"),
        "WEB_SERVER_ADDRESS": f"{host}:{port}",
        "PUBLIC_URL": public_url(service, env),
        # where people sign in (intake's pages), and the pages intake hands a signed-in person on to
        **{f"{other.upper()}_PUBLIC_URL": public_url(other, env) for other in ("intake", "review", "notify")},
        # another origin for links to uploaded files (review, notify), e.g. https://files.review.example.edu.cn
        # routed to the same service; unset, files come from the service's own host (common/files.py)
        "FILES_PUBLIC_URL": env.get(f"{upper}_FILES_PUBLIC_URL", ""),
        "DATA_DIR": str(data_dir),
        # workers for events and timers; HTTP requests have their own (common/server.py)
        "max_workers": int(env.get("MAX_WORKERS", 10)),
        "SERVICE_CONTAINER_CLS": "common.server.ServiceContainer",
        "HTTP_WORKERS": int(env.get("HTTP_WORKERS", 10)),
        # slow clients (common/server.py): a request's head within HTTP_HEAD_DEADLINE_S, no read
        # waiting over HTTP_READ_TIMEOUT_S, a body within HTTP_BODY_DEADLINE_S + size / HTTP_BODY_MIN_RATE
        **{k: float(env[k]) for k in ("HTTP_READ_TIMEOUT_S", "HTTP_HEAD_DEADLINE_S", "HTTP_BODY_DEADLINE_S",
                                      "HTTP_BODY_MIN_RATE") if env.get(k)},
        "SERIALIZER": "json",
        # classic queues on one node; quorum queues on a RabbitMQ cluster (deploy/SCALING.md)
        "QUEUE_TYPE": env.get("QUEUE_TYPE", "classic"),
        "OBJECT_STORE_URL": env.get("OBJECT_STORE_URL", f"folder://{data_dir / 'objects'}"),
        # the S3 checks the x-amz-checksum-sha256 it is sent (AWS S3, MinIO): uploads are verified by its checksums,
        # not read back; 0 for a store that keeps the header unchecked (moto), whose objects are then read back
        "S3_VERIFIES_CHECKSUMS": env.get("S3_VERIFIES_CHECKSUMS", "1").strip().lower() not in ("0", "false", "no", "off"),
        "MAIL_URL": env.get("MAIL_URL", f"maildir://{data_dir / 'mailbox'}"),
        "MAIL_FROM": env.get("MAIL_FROM", "四个一行动平台 <noreply@localhost>"),
        # signs session cookies, CSRF tokens and file links; replicas must share it
        "WEB_SECRET": env.get("WEB_SECRET", ""),
        "UPLOAD_TTL_S": int(env.get("UPLOAD_TTL_S", 24 * 3600)),
        # reverse proxies whose X-Forwarded-For is believed (addresses, networks or host names,
        # comma-separated): the rate limits count the client behind them, not the proxy
        "TRUSTED_PROXIES": env.get("TRUSTED_PROXIES", ""),
        # notify: per-university mail templates in TEMPLATE_DIR/<tenant>/ (rendered in Jinja2's sandbox)
        "TEMPLATE_DIR": env.get("TEMPLATE_DIR", ""),
        # notify's webhooks: only public addresses are called, except these hosts, addresses or networks
        # (comma-separated, for on-premises receivers and the tests' loopback receiver)
        "WEBHOOK_ALLOW_HOSTS": env.get("WEBHOOK_ALLOW_HOSTS", ""),
        # a resolver for receivers' names (host[:port]); unset: the system's. One that does not see
        # internal zones keeps internal names from resolving at all
        "WEBHOOK_DNS": env.get("WEBHOOK_DNS", ""),
        "WEBHOOK_TIMEOUT_S": float(env.get("WEBHOOK_TIMEOUT_S", 10)),  # a whole delivery, connect to status line
        # intake's single sign-on: identity providers (the issuer and every endpoint it names) are called on public
        # addresses only, except these (the same form as WEBHOOK_ALLOW_HOSTS, for a provider on premises), and
        # their names resolved by SSO_DNS (host[:port]; unset: the system's)
        "SSO_ALLOW_HOSTS": env.get("SSO_ALLOW_HOSTS", ""),
        "SSO_DNS": env.get("SSO_DNS", ""),
        "WEBHOOK_CONCURRENCY": int(env.get("WEBHOOK_CONCURRENCY", 20)),  # deliveries in flight per replica
        "WEBHOOK_PER_DESTINATION": int(env.get("WEBHOOK_PER_DESTINATION", 2)),  # of those, to one host and port
        "WEBHOOK_PER_UNIVERSITY": int(env.get("WEBHOOK_PER_UNIVERSITY", 5)),  # of those, of one university
        # media: each check runs in a warm worker process (services/media/workers.py) with these limits
        "MEDIA_CHECK_TIMEOUT_S": float(env.get("MEDIA_CHECK_TIMEOUT_S", 600)),
        "MEDIA_CHECK_MEMORY_MB": int(env.get("MEDIA_CHECK_MEMORY_MB", 3072)),  # each worker's address space
        "MEDIA_WORKERS": int(env.get("MEDIA_WORKERS", 2)),  # checks at once per replica
        "MEDIA_WORKER_MAX_CHECKS": int(env.get("MEDIA_WORKER_MAX_CHECKS", 200)),  # then a fresh worker
        # media: how long a video's file_checked may wait for the subtitle files of its work still being checked
        "MEDIA_SIDECAR_WAIT_S": float(env.get("MEDIA_SIDECAR_WAIT_S", 300)),
    }
    # rate limits (common/ratelimit.py): RATE_FAILED_SIGN_INS (per key prefix or link),
    # RATE_FAILED_SIGN_INS_PER_ADDRESS, RATE_BAD_KEYS, RATE_UPLOADS
    config.update({k: int(v) for k, v in env.items() if k.startswith("RATE_") and v.strip().isdigit()})
    if delays:
        config["EVENT_RETRY_DELAYS_MS"] = [int(x) for x in delays.split(",") if x.strip()]
    return config
