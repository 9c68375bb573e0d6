"""Review's copies on PostgreSQL when two events about one work are handled at once.

A work's last file check and its submission reach review together (two replicas, or two
workers of one). Each handler decides from the row the other writes; run side by side under
READ COMMITTED, each missed the other's and the work never entered its round (bench_pipeline
found one such work in 640). The second transaction runs in its own process so that it can
really wait on the database while this one holds its transaction open.
"""
import json
import subprocess
import sys
import time
from pathlib import Path

from common.db import Store, migrate
from common.settings import migrations_dir
from services.review import operations as ops
from services.review.models import Entry
from tests.integration.test_review_service import checked, story, upload
from tests.pg import create_database

ROOT = Path(__file__).resolve().parents[2]

SUBMIT = """
import json, sys
from common.db import Store
from services.review import operations as ops
store = Store(sys.argv[1])
with store.engine.connect():  # connected and imported: from here it takes milliseconds
    pass
print("ready", flush=True)
with store.transaction() as s:
    ops.record_submission(s, "seu", json.loads(sys.argv[2]))
store.dispose()
"""


def test_a_check_and_a_submission_handled_at_once_put_the_work_in_its_round(pg_server):
    url = create_database(pg_server)
    migrate(url, migrations_dir("review"))
    store = Store(url)
    with store.transaction() as s:
        ops.record_file(s, upload("f-1", "s-o-cse-1").data)
    submission = story("o-cse", 1, ["f-1"]).data
    with store.transaction() as s:
        assert ops.record_file_check(s, checked("f-1", "s-o-cse-1").data)  # not committed yet
        other = subprocess.Popen([sys.executable, "-c", SUBMIT, url, json.dumps(submission)], cwd=ROOT,
                                 stdout=subprocess.PIPE, text=True)
        assert other.stdout.readline().strip() == "ready"
        time.sleep(1.5)  # ample for its few statements, had it not to wait for this transaction
        waited = other.poll() is None
    assert other.wait(timeout=60) == 0
    with store.transaction() as s:
        entry = s.get(Entry, "s-o-cse-1")
        assert entry.state == "submitted"
        assert entry.round_id is not None, "the work was left out of its round"
    assert waited, "the submission's handler did not wait for the check's transaction"
    store.dispose()
