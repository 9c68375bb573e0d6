"""A throwaway PostgreSQL cluster from Debian's packages, for the tests and the benchmarks."""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator

from deploy.embedded import free_port


def pg_bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return os.path.dirname(found[-1]) if found else shutil.which("pg_ctl") and os.path.dirname(shutil.which("pg_ctl"))


@contextlib.contextmanager
def pg_cluster(*, fsync: bool = False, max_connections: int = 100) -> Iterator[str]:
    """Start a cluster (as the postgres user when we are root); yields its SQLAlchemy URL without a database."""
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed; `make test` installs it (deploy/bootstrap.sh --test)")
    root = os.geteuid() == 0
    datadir = tempfile.mkdtemp(prefix="pgtest-")
    port = free_port()
    as_pg = ["runuser", "-u", "postgres", "--"] if root else []
    if root:
        shutil.chown(datadir, "postgres", "postgres")
    subprocess.run(as_pg + [f"{bindir}/initdb", "-D", datadir, "--auth=trust", "-U", "postgres", "-E", "UTF8"],
                   check=True, stdout=subprocess.DEVNULL)
    options = (f"-p {port} -k {datadir} -c listen_addresses=127.0.0.1 -c fsync={'on' if fsync else 'off'} "
               f"-c max_connections={max_connections}")
    subprocess.run(as_pg + [f"{bindir}/pg_ctl", "-D", datadir, "-w", "-l", f"{datadir}/log", "-o", options, "start"],
                   check=True, stdout=subprocess.DEVNULL)
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(as_pg + [f"{bindir}/pg_ctl", "-D", datadir, "-m", "immediate", "stop"],
                       stdout=subprocess.DEVNULL)
        shutil.rmtree(datadir, ignore_errors=True)


def create_database(server_url: str, name: str | None = None) -> str:
    import psycopg2

    name = name or f"t_{uuid.uuid4().hex[:12]}"
    dsn = server_url.replace("postgresql+psycopg2://", "postgresql://") + "/postgres"
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    conn.cursor().execute(f"CREATE DATABASE {name}")
    conn.close()
    return f"{server_url}/{name}"
