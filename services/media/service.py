"""Media: checks every uploaded file against its track's media policy.

For each `file_uploaded`: claim the file (so a duplicate delivery to another
replica does not check it twice), run `media-check` in a child process with a
time and memory limit (probing is CPU-heavy and FFmpeg may misbehave on a
pathological file: neither may touch this process's event loop), store the
derived files, record the report and announce `file_checked`.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import uuid
from datetime import timedelta

import eventlet
from eventlet import tpool
from eventlet.green import subprocess
from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from sqlalchemy import select

from common import looplag
from common.db import utcnow
from common.dependencies import Database, ObjectStore, Segmenter
from common.http import api  # the guarded server every service runs (common.server)
from common.messaging import OutboxRelay, handles
from services.media.models import CheckReport, MediaPolicyCopy, OutboxMessage, ProcessedEvent
from services.media.policy import finding, judge, verdict_of
from services.media.recheck import with_sidecar

log = logging.getLogger(__name__)
KEYWORDS = 10  # keywords kept from a document's or subtitles' text


class ClaimHeld(Exception):
    """Another check of this file is under way; try again later."""


class ReplicaId(DependencyProvider):
    """Who holds a claim: host, process and container, unique per replica."""

    def setup(self):
        self.value = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def get_dependency(self, worker_ctx):
        return self.value


def run_check(path: str, kind: str, policy: dict | None, workdir: str, timeout_s: float,
              memory_mb: int, sidecar: str | None = None, declared_type: str | None = None) -> dict:
    """`media-check` in a child process; always returns a report dict."""
    policy_file = os.path.join(workdir, "policy.json")
    with open(policy_file, "w", encoding="utf-8") as f:
        json.dump(policy or {}, f)
    derived_dir = os.path.join(workdir, "derived")
    cmd = [sys.executable, "-m", "services.media.cli", path, "--kind", kind, "--json",
           "--policy-file", policy_file, "--derived-dir", derived_dir]
    if sidecar:
        cmd += ["--subtitles", sidecar]
    if declared_type:
        cmd += ["--declared-type", declared_type]

    def limit_memory():  # runs in the child before exec
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limit_memory,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    try:
        # eventlet's green subprocess is a copy of the standard module with its
        # own TimeoutExpired class; a green Timeout is the dependable limit here.
        with eventlet.Timeout(timeout_s):
            out, err = proc.communicate()
    except eventlet.Timeout:
        proc.kill()
        proc.communicate()
        return {"verdict": "failed", "facts": {}, "derived": {}, "text": "", "cues": [], "findings": [finding(
            "check_timeout", "error", f"文件检查超过 {int(timeout_s)} 秒仍未完成（文件可能已损坏或结构异常）。"
            "请重新导出后上传；如仍失败，请联系平台管理员。", timeout_s, None)]}
    try:
        report = json.loads(out.decode("utf-8").strip().splitlines()[-1])
    except (ValueError, IndexError):
        log.error("media-check exited %s without a report: %s", proc.returncode, err.decode(errors="replace")[-2000:])
        report = {"findings": [finding("check_crashed", "error",
                                       "检查程序无法处理这个文件（文件可能已损坏）。请重新导出后上传；如仍失败，请联系平台管理员。",
                                       None, proc.returncode)], "facts": {}}
    if report.get("verdict") == "unreadable":
        report["verdict"] = "failed"
    report.setdefault("derived", {})
    report.setdefault("cues", [])
    report.setdefault("text", "")
    report["verdict"] = verdict_of(report["findings"])
    return report


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

    @handles("campaign_published")
    def on_campaign_published(self, event):
        with self.db.handling(event) as s:
            if s is None:
                return
            for track, spec in event.data["tracks"].items():
                for kind, policy in spec["media"].items():
                    s.merge(MediaPolicyCopy(campaign_id=event.data["campaign_id"], track=track, kind=kind,
                                            policy=policy))

    @handles("file_uploaded")
    def on_file_uploaded(self, event):
        d = event.data
        if not self._claim(event):
            return
        with self.db.transaction() as s:
            copy = s.get(MediaPolicyCopy, (d["campaign_id"], d["track"], d["kind"]))
            policy = copy.policy if copy else None
            sidecar_key = self._sidecar_key(s, d) if d["kind"] == "video" else None
        workdir = tempfile.mkdtemp(prefix="media-check-")
        try:
            path = self.store.local_copy(d["object_key"], workdir)
            sidecar = self.store.local_copy(sidecar_key, tempfile.mkdtemp(dir=workdir)) if sidecar_key else None
            report = run_check(path, d["kind"], policy, workdir, self._timeout(),
                               int(self.config.get("MEDIA_CHECK_MEMORY_MB", 3072)), sidecar, d.get("content_type"))
            derived = {}
            for name, local in report["derived"].items():
                key = f"derived/{event.tenant}/{d['file_id']}/{os.path.basename(local)}"
                self.store.put_file(key, local)
                derived[name] = key
            if report["text"].strip():
                # The words of a document or of subtitles: keywords for the portal and the theme suggestion,
                # and the text itself for the material library, so nobody parses the file again.
                keywords = tpool.execute(self.segmenter.keywords, report["text"], KEYWORDS)
                report["facts"]["keywords"] = [w for w, _ in keywords]
                local = os.path.join(workdir, "text.txt")
                with open(local, "w", encoding="utf-8") as f:
                    f.write(report["text"])
                derived["text"] = f"derived/{event.tenant}/{d['file_id']}/text.txt"
                report["facts"].setdefault("derived_types", {})["text"] = "text/plain"
                self.store.put_file(derived["text"], local)
        except Exception:
            self._release(d["file_id"])  # the retry may check it at once
            raise
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        with self.db.handling(event) as s:
            if s is None:
                return
            row = s.get(CheckReport, d["file_id"])
            row.state, row.verdict, row.findings, row.facts = "done", report["verdict"], report["findings"], report["facts"]
            row.derived, row.cues, row.text, row.checked_at = derived, report["cues"], report["text"], utcnow()
            self._announce(s, event.tenant, row)
            if d["kind"] == "subtitle":
                self._recheck_videos(s, event.tenant, row)

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
                                  object_key=d["object_key"], state="checking", claimed_by=self.replica,
                                  claimed_at=now, findings=[], facts={}, derived={}, cues=[], text=""))
            else:
                row.state, row.claimed_by, row.claimed_at = "checking", self.replica, now
        return True

    def _release(self, file_id: str) -> None:
        with self.db.transaction() as s:
            row = s.get(CheckReport, file_id)
            if row is not None and row.state == "checking" and row.claimed_by == self.replica:
                row.claimed_by, row.claimed_at = None, None

    def _timeout(self) -> float:
        return float(self.config.get("MEDIA_CHECK_TIMEOUT_S", 600))

    def _sidecar_key(self, s, d) -> str | None:
        row = s.scalars(select(CheckReport).where(
            CheckReport.submission_id == d["submission_id"], CheckReport.kind == "subtitle",
            CheckReport.state == "done", CheckReport.verdict != "failed").order_by(CheckReport.checked_at.desc())
        ).first()
        return row.object_key if row else None

    def _announce(self, s, tenant: str, row: CheckReport) -> None:
        self.outbox.add(s, "file_checked", tenant, {
            "file_id": row.file_id, "submission_id": row.submission_id, "verdict": row.verdict,
            "findings": row.findings, "facts": row.facts, "derived": row.derived,
            "checked_at": row.checked_at.isoformat()})

    def _recheck_videos(self, s, tenant: str, subtitle: CheckReport) -> None:
        """A sidecar arrived after its video was checked: judge the video again (no re-scan)."""
        videos = s.scalars(select(CheckReport).where(
            CheckReport.submission_id == subtitle.submission_id, CheckReport.kind == "video",
            CheckReport.state == "done")).all()
        for video in videos:
            copy = s.get(MediaPolicyCopy, (video.campaign_id, video.track, "video"))
            facts, findings = with_sidecar(video.facts, video.findings, video.cues, subtitle.cues,
                                           copy.policy if copy else None, judge)
            video.facts, video.findings, video.verdict = facts, findings, verdict_of(findings)
            video.checked_at = utcnow()
            self._announce(s, tenant, video)
