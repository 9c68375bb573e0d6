"""Database plumbing on real PostgreSQL: concurrent migrations, the outbox across a restart."""
import subprocess
import sys
import time

from tests.conftest import ROOT, _create_pg_database


def test_replicas_migrating_an_empty_postgres_at_once_all_succeed(pg_server):
    url = _create_pg_database(pg_server)
    # Each process imports first, then all begin migrating at the same instant,
    # as replicas do after `docker-compose up --scale`.
    code = ("import sys, time; from common.db import migrate; from common.settings import migrations_dir; "
            "time.sleep(max(0, float(sys.argv[2]) - time.time())); migrate(sys.argv[1], migrations_dir('intake'))")
    start_at = str(time.time() + 4)
    procs = [subprocess.Popen([sys.executable, "-c", code, url, start_at], cwd=ROOT, stderr=subprocess.PIPE)
             for _ in range(4)]
    results = [(p.wait(timeout=120), p.stderr.read().decode()[-500:]) for p in procs]
    assert [rc for rc, _ in results] == [0, 0, 0, 0], results

    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    assert {"submissions", "outbox", "processed_events"} <= set(inspect(engine).get_table_names())
    engine.dispose()
