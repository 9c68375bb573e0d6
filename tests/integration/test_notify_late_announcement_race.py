"""A campaign's announcement and an org list handled at once (two notify workers or replicas) on PostgreSQL: the org
is told once. Under READ COMMITTED each transaction missed the other's rows without the serialisation on the
publisher (common.db.serialize_on): the announcement saw no org yet, the import saw no campaign yet, and the org
was never told. The import runs in its own process so that it can really wait while this one holds its
transaction open, as tests/integration/test_review_concurrency.py does (issue #16)."""
import json
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from common.campaign import campaign_event_data, load_builtin_definitions
from common.db import Store, migrate
from common.events import make_event
from common.settings import migrations_dir
from services.notify import copies, messages
from services.notify.mail import Templates
from services.notify.models import MessageLog
from tests.pg import create_database

ROOT = Path(__file__).resolve().parents[2]

IMPORT = """
import json, sys
from datetime import datetime
from common.db import Store
from common.events import make_event
from services.notify import copies, messages
from services.notify.mail import Templates
store, templates = Store(sys.argv[1]), Templates()
event = make_event("orgs_imported", "seu", json.loads(sys.argv[2]))
with store.engine.connect():  # connected and imported: from here it takes milliseconds
    pass
print("ready", flush=True)
with store.transaction() as s:
    copies.record_orgs_imported(s, event)
    print(messages.queue_late_announcements(s, templates, "seu", datetime.fromisoformat("2020-06-12T09:00:00+08:00")),
          flush=True)
store.dispose()
"""


def test_an_org_list_imported_while_the_campaign_is_announced_is_told_once(pg_server):
    url = create_database(pg_server)
    migrate(url, migrations_dir("notify"))
    store = Store(url)
    published = make_event("campaign_published", "seu",
                           campaign_event_data(load_builtin_definitions()["siyige-2020-seu"]))
    orgs = {"orgs": [{"org_id": "o-cse", "name": "计算机科学与工程学院党委", "level": "level2", "parent_id": None,
                      "contact_email": "cse@demo.local"}]}
    with store.transaction() as s:
        assert copies.record_campaign_published(s, published)
        assert messages.queue_campaign_announcement(s, Templates(), published, None) == 0  # no org known yet
        other = subprocess.Popen([sys.executable, "-c", IMPORT, url, json.dumps(orgs)], cwd=ROOT,
                                 stdout=subprocess.PIPE, text=True)
        assert other.stdout.readline().strip() == "ready"
        time.sleep(1.5)  # ample for its few statements, had it not to wait for this transaction
        waited = other.poll() is None
    assert other.wait(timeout=60) == 0
    assert other.stdout.read().strip() == "1"
    assert waited, "the import's announcement did not wait for the campaign's transaction"
    with store.transaction() as s:
        assert [(m.dedupe_key, m.recipient) for m in s.scalars(select(MessageLog))] == [
            ("announce-late:siyige-2020-seu:o-cse", "cse@demo.local")]
    store.dispose()
