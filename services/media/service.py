"""Media: checks every uploaded file against its track's media policy.

For each `file_uploaded`: claim the file (so a duplicate delivery to another
replica does not check it twice), run `media-check` in a child process with a
time and memory limit (probing is CPU-heavy and FFmpeg may misbehave on a
pathological file: neither may touch this process's event loop), store the
derived files, record the report and announce `file_checked`. The steps after
the claim are in pipeline.py, which the operator's `recheck` (admin.py) runs too.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta

from eventlet import tpool
from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider

from common import looplag
from common.db import utcnow
from common.dependencies import Database, ObjectStore, Segmenter
from common.http import api  # the guarded server every service runs (common.server)
from common.messaging import OutboxRelay, handles
from services.media import pipeline
from services.media.models import CheckReport, MediaPolicyCopy, OutboxMessage, ProcessedEvent

log = logging.getLogger(__name__)


def _declared(data: dict) -> str | None:
    """The type the portal declared (checked against the content, and kept for a check again)."""
    return (data.get("content_type") or "")[:120] or None


class ClaimHeld(Exception):
    """Another check of this file is under way; try again later."""


class ReplicaId(DependencyProvider):
    """Who holds a claim: host, process and container, unique per replica."""

    def setup(self):
        self.value = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def get_dependency(self, worker_ctx):
        return self.value


class MediaService:
    name = "media"

    config = Config()
    db = Database(ProcessedEvent)
    outbox = OutboxRelay(OutboxMessage)
    store = ObjectStore()
    replica = ReplicaId()
    segmenter = Segmenter()  # jieba and OpenCC loaded at start: keywords of documents and subtitles

    @api("GET", "/health")
    def health(self, request):
        return {"service": "media", "status": "ok", **looplag.monitor.report()}

    @handles("campaign_published", once=True)
    def on_campaign_published(self, session, event):
        for track, spec in event.data["tracks"].items():
            for kind, policy in spec["media"].items():
                session.merge(MediaPolicyCopy(campaign_id=event.data["campaign_id"], track=track, kind=kind,
                                              policy=policy))

    @handles("file_uploaded")
    def on_file_uploaded(self, event):
        """Claim, check and record (pipeline.py: the same steps as the operator's `recheck`)."""
        file_id = event.data["file_id"]
        if not self._claim(event):
            return
        with self.db.transaction() as s:
            job = pipeline.job_for(s, s.get(CheckReport, file_id))
        try:
            outcome = pipeline.check(self.store, job, pipeline.Limits.of(self.config), self._keywords)
        except Exception:
            self._release(file_id)  # the retry may check it at once
            raise
        # the check runs outside any transaction (minutes for a long video); only its record is once-only
        with self.db.handling(event) as session:
            if session is not None:
                pipeline.record(session, self.outbox, session.get(CheckReport, file_id), outcome)

    # ------------------------------------------------------------------ helpers

    def _claim(self, event) -> bool:
        """Take the file for this replica; False if its check is already done.

        A live claim (a check under way anywhere) raises `ClaimHeld`, so the
        message comes back later through the retry queues instead of being
        dropped: if that check finishes, the retry finds it done; if its
        replica died, the claim expires and the retry takes it over.
        """
        d = event.data
        lease = timedelta(seconds=self._timeout() + 60)
        with self.db.transaction() as s:
            row = s.get(CheckReport, d["file_id"], with_for_update=True)
            now = utcnow()
            if row is not None and row.state == "done":
                log.info("file %s already checked; skipping duplicate delivery", d["file_id"])
                return False
            if row is not None and row.claimed_at is not None and now - row.claimed_at < lease:
                raise ClaimHeld(f"file {d['file_id']} is being checked by {row.claimed_by}")
            if row is None:
                s.add(CheckReport(file_id=d["file_id"], submission_id=d["submission_id"], tenant=event.tenant,
                                  campaign_id=d["campaign_id"], track=d["track"], kind=d["kind"],
                                  object_key=d["object_key"], declared_type=_declared(d),
                                  state="checking", claimed_by=self.replica,
                                  claimed_at=now, findings=[], facts={}, derived={}, cues=[], text=""))
            else:
                row.state, row.claimed_by, row.claimed_at = "checking", self.replica, now
                row.declared_type = row.declared_type or _declared(d)
        return True

    def _release(self, file_id: str) -> None:
        with self.db.transaction() as s:
            row = s.get(CheckReport, file_id)
            if row is not None and row.state == "checking" and row.claimed_by == self.replica:
                row.claimed_by, row.claimed_at = None, None

    def _timeout(self) -> float:
        return pipeline.Limits.of(self.config).timeout_s

    def _keywords(self, text: str, n: int):
        return tpool.execute(self.segmenter.keywords, text, n)  # jieba is CPU work: off the event loop
