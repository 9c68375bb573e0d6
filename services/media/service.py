"""Media: checks every uploaded file against its track's media policy.

For each `file_uploaded`: claim the file (so a duplicate delivery to another
replica does not check it twice), check it in one of MEDIA_WORKERS warm worker
processes (workers.py) with a time and memory limit (probing is CPU-heavy and
FFmpeg may misbehave on a pathological file: neither may touch this process's
event loop; a worker that overruns or dies is replaced), store the
derived files, record the report and announce `file_checked` (a video's waits
while a subtitle file of its work is being checked, at most MEDIA_SIDECAR_WAIT_S:
a timer announces the ones held that long). The steps after the claim are in
pipeline.py, which the operator's `recheck` (admin.py) runs too.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid

from eventlet import tpool
from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.timer import timer

from common import looplag
from common.dependencies import Database, ObjectStore, Segmenter
from common.http import api  # the guarded server every service runs (common.server)
from common.messaging import OutboxRelay, handles
from services.media import campaigns, claims, pipeline, workers
from services.media.models import CheckReport, OutboxMessage, ProcessedEvent

log = logging.getLogger(__name__)

# How often held videos are looked for (an indexed query): a held video is announced at most this much
# later than MEDIA_SIDECAR_WAIT_S after its hold began.
HELD_TICK_S = 2


class ReplicaId(DependencyProvider):
    """Who holds a claim: host, process and container, unique per replica."""

    def setup(self):
        self.value = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def get_dependency(self, worker_ctx):
        return self.value


class CheckWorkers(DependencyProvider):
    """The warm check workers (workers.py): started with the service, so that its first checks do not
    wait for a worker's imports, and let go when it stops."""

    def start(self):
        limits = pipeline.Limits.of(self.container.config)
        self.pool = workers.pool(limits.workers, limits.max_checks, limits.memory_mb)
        self.pool.warm()

    def stop(self):
        self.pool.stop()

    def kill(self):
        self.pool.stop()


class MediaService:
    name = "media"

    config = Config()
    db = Database(ProcessedEvent)
    outbox = OutboxRelay(OutboxMessage)
    store = ObjectStore()
    replica = ReplicaId()
    segmenter = Segmenter()  # jieba and OpenCC loaded at start: keywords of documents and subtitles
    check_workers = CheckWorkers()

    @api("GET", "/health")
    def health(self, request):
        return {"service": "media", "status": "ok", **looplag.monitor.report()}

    @handles("campaign_published", once=True)
    def on_campaign_published(self, session, event):
        campaigns.record_campaign(session, event.data)  # an older version than the copy's is ignored

    @handles("file_uploaded")
    def on_file_uploaded(self, event):
        """Claim, check and record (pipeline.py: the same steps as the operator's `recheck`)."""
        file_id = event.data["file_id"]
        if not self._claim(event):
            return
        with self.db.transaction() as session:
            job = pipeline.job_for(session, session.get(CheckReport, file_id))
        try:
            outcome = pipeline.check(self.store, job, pipeline.Limits.of(self.config), self._keywords)
        except Exception:
            self._release(file_id)  # the retry may check it at once
            raise
        # the check runs outside any transaction (minutes for a long video); only its record is once-only
        with self.db.handling(event) as session:
            if session is not None:
                pipeline.record(session, self.outbox, session.get(CheckReport, file_id), outcome,
                                pipeline.sidecar_wait_s(self.config))

    @timer(interval=HELD_TICK_S)
    def announce_held_videos(self):
        """Videos whose `file_checked` waited MEDIA_SIDECAR_WAIT_S for a subtitle check that has not ended
        are announced now, one transaction each (pipeline.announce_held); safe on every replica at once."""
        wait_s = pipeline.sidecar_wait_s(self.config)
        with self.db.transaction() as session:
            due = pipeline.held_too_long(session, wait_s)
        for file_id in due:
            with self.db.transaction() as session:
                pipeline.announce_held(session, self.outbox, file_id, wait_s)

    # ------------------------------------------------------------------ helpers

    def _claim(self, event) -> bool:
        """Take the file for this replica (claims.py); False if its check is already done."""
        lease = pipeline.claim_lease(pipeline.Limits.of(self.config), int(self.config.get("max_workers", 10)))
        with self.db.transaction() as session:
            if claims.claim(session, event.tenant, event.data, self.replica, lease):
                return True
        log.info("file %s already checked; skipping duplicate delivery", event.data["file_id"])
        return False

    def _release(self, file_id: str) -> None:
        with self.db.transaction() as session:
            claims.release(session, file_id, self.replica)

    def _keywords(self, text: str, n: int):
        return tpool.execute(self.segmenter.keywords, text, n)  # jieba is CPU work: off the event loop
