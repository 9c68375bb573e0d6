"""One file's check, from its stored original to the recorded report and its `file_checked`.

The service runs these steps for every `file_uploaded` (claims.py adds the claim that keeps two
replicas off one file); the operator's `recheck` (admin.py) runs the same steps again for a file
already checked. Three steps, so that no transaction stays open while a file is checked:

    job = job_for(session, report_row)               # in a transaction: policy copy, sidecar
    outcome = check(store, job, limits, keywords)     # no transaction: a worker process, derived files stored
    record(session, outbox, report_row, outcome)      # in a transaction: report, `file_checked` in the outbox

A video's `file_checked` waits while a subtitle file of its work is still being checked (record: held_since);
the subtitle's record, or the service's timer after MEDIA_SIDECAR_WAIT_S (announce_held), announces it.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from sqlalchemy import select

from common.campaign.media_rules import finding, judge, verdict_of
from common.db import utcnow
from services.media import claims, workers as workers_
from services.media.claims import CheckState
from services.media.models import CheckReport, MediaPolicyCopy
from services.media.recheck import DID_NOT_READ, held_since, with_sidecars

log = logging.getLogger(__name__)

KEYWORDS = 10  # keywords kept from a document's or subtitles' text

# The derived file review gives a blind reviewer, per kind (review's REVIEWER_COPY): a clean copy
# media made, never the original. Every kind gets one since issue #14, unless the check says why not.
REVIEWER_COPY = {"video": "playback", "image": "review_copy", "audio": "review_copy", "document": "review_copy",
                 "subtitle": "review_copy"}
# Findings of a check that never read the file: it made no copies, and checking again makes none either.
CHECK_DID_NOT_RUN = DID_NOT_READ

# How long a video's `file_checked` may wait for the subtitle files of its work being checked (MEDIA_SIDECAR_WAIT_S).
SIDECAR_WAIT_S = 300.0

Keywords = Callable[[str, int], list]  # (text, how many) -> [(word, weight), ...]


class NotInStore(Exception):
    """The original (or its sidecar) could not be read from the object store."""


@dataclass(frozen=True)
class Limits:
    """A check's limits (MEDIA_CHECK_TIMEOUT_S, MEDIA_CHECK_MEMORY_MB: each worker's address space), and the
    worker pool's size and how many checks a worker runs before a fresh one takes its place
    (MEDIA_WORKERS, MEDIA_WORKER_MAX_CHECKS)."""

    timeout_s: float
    memory_mb: int
    workers: int = workers_.SIZE
    max_checks: int = workers_.MAX_CHECKS

    @classmethod
    def of(cls, config) -> "Limits":
        return cls(float(config.get("MEDIA_CHECK_TIMEOUT_S", 600)), int(config.get("MEDIA_CHECK_MEMORY_MB", 3072)),
                   int(config.get("MEDIA_WORKERS", workers_.SIZE)),
                   int(config.get("MEDIA_WORKER_MAX_CHECKS", workers_.MAX_CHECKS)))


def claim_lease(limits: Limits, handlers: int) -> timedelta:
    """How long a replica's claim on a file holds before another replica may take the file over.

    A check may wait for a worker behind the replica's other handlers (`handlers`, nameko's max_workers: at most
    ceil(handlers / workers) checks share a worker, each up to its time limit) and then run for its own limit; a
    lease of one time limit would expire while the file is still queued and let a redelivery check it twice."""
    turns = -(-max(1, handlers) // max(1, limits.workers))
    return timedelta(seconds=limits.timeout_s * turns + 60)


def sidecar_wait_s(config) -> float:
    return float(config.get("MEDIA_SIDECAR_WAIT_S", SIDECAR_WAIT_S))


@dataclass(frozen=True)
class Job:
    """What a check of one file needs, read before it runs."""

    tenant: str
    file_id: str
    kind: str
    object_key: str
    declared_type: str | None
    policy: dict | None
    sidecar_key: str | None


@dataclass
class Outcome:
    report: dict  # media-check's report (verdict, findings, facts, cues, text)
    derived: dict  # name -> object key of each derived file, stored


def job_for(session, row: CheckReport) -> Job:
    """The policy from media's copy of the campaign, and for a video the work's sidecar subtitles."""
    copy = session.get(MediaPolicyCopy, (row.campaign_id, row.track, row.kind))
    return Job(row.tenant, row.file_id, row.kind, row.object_key, row.declared_type or _declared_in(row.findings),
               copy.policy if copy else None, sidecar_key(session, row.submission_id) if row.kind == "video" else None)


def _declared_in(findings) -> str | None:
    """A report from before media kept the declared type: a mismatch it found names it (`actual`)."""
    return next((f.get("actual") for f in findings or [] if f.get("rule") == "content_type_mismatch"), None)


def sidecar_key(session, submission_id: str) -> str | None:
    row = session.scalars(select(CheckReport).where(
        CheckReport.submission_id == submission_id, CheckReport.kind == "subtitle",
        CheckReport.state == CheckState.DONE, CheckReport.verdict != "failed").order_by(CheckReport.checked_at.desc())
    ).first()
    return row.object_key if row else None


def check(store, job: Job, limits: Limits, keywords: Keywords) -> Outcome:
    """Check the stored file in a worker process and store its derived files; raises `NotInStore`."""
    workdir = tempfile.mkdtemp(prefix="media-check-")
    try:
        try:
            path = store.local_copy(job.object_key, workdir)
            sidecar = store.local_copy(job.sidecar_key, tempfile.mkdtemp(dir=workdir)) if job.sidecar_key else None
        except Exception as exc:  # noqa: BLE001 - missing, or the store unreachable: the same for the caller
            raise NotInStore(f"{type(exc).__name__}: {exc}") from exc
        report = run_check(path, job.kind, job.policy, workdir, limits.timeout_s, limits.memory_mb, sidecar,
                           job.declared_type, workers=limits.workers, max_checks=limits.max_checks)
        derived = {}
        for name, local in report["derived"].items():
            key = f"derived/{job.tenant}/{job.file_id}/{os.path.basename(local)}"
            store.put_file(key, local)
            derived[name] = key
        if report["text"].strip():
            # The words of a document or of subtitles: keywords for the portal and the theme suggestion,
            # and the text itself for the material library, so nobody parses the file again.
            report["facts"]["keywords"] = [w for w, _ in keywords(report["text"], KEYWORDS)]
            local = os.path.join(workdir, "text.txt")
            with open(local, "w", encoding="utf-8") as f:
                f.write(report["text"])
            derived["text"] = f"derived/{job.tenant}/{job.file_id}/text.txt"
            report["facts"].setdefault("derived_types", {})["text"] = "text/plain"
            store.put_file(derived["text"], local)
        return Outcome(report, derived)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def record(session, outbox, row: CheckReport, outcome: Outcome, wait_s: float = SIDECAR_WAIT_S) -> list[CheckReport]:
    """Keep the new report and announce it; a subtitle file re-judges its work's videos (returned).

    A video is judged with the sidecars done now, not only the one its check read; its announcement waits
    while a subtitle file of its work is being checked (at most `wait_s`, MEDIA_SIDECAR_WAIT_S): that
    check's record judges the video again and announces it, once, with the subtitles.
    """
    work = lock_work(session, row.submission_id)
    report = outcome.report
    claims.finish(row, utcnow())
    row.verdict, row.findings, row.facts = report["verdict"], report["findings"], report["facts"]
    row.derived, row.cues, row.text = outcome.derived, report["cues"], report["text"]
    if row.kind == "video":
        _judge_with_sidecars(session, row, work)
        _announce_unless_held(session, outbox, row, work, wait_s)
        return []
    announce(session, outbox, row)
    return rejudge_videos(session, outbox, row, wait_s) if row.kind == "subtitle" else []


def lock_work(session, submission_id: str) -> list[CheckReport]:
    """Every report of the work, locked in one order (PostgreSQL; SQLite writes one at a time anyway).

    The video's record and its subtitle's record each read the other's state: without the lock, two at once
    would each see the other still being checked, and the video would wait out MEDIA_SIDECAR_WAIT_S. One
    order for every record of a work, so that two of them never wait for each other's rows.
    """
    return list(session.scalars(select(CheckReport).where(CheckReport.submission_id == submission_id)
                                .order_by(CheckReport.file_id).with_for_update()
                                .execution_options(populate_existing=True)))


def _judge_with_sidecars(session, video: CheckReport, work: list[CheckReport]) -> None:
    sidecars = [r.cues for r in _sidecars(work)]
    copy = session.get(MediaPolicyCopy, (video.campaign_id, video.track, "video"))
    judged = with_sidecars(video.facts, video.findings, video.cues, sidecars, copy.policy if copy else None, judge)
    if judged is not None:
        video.facts, video.findings = judged
        video.verdict = verdict_of(video.findings)


def _sidecars(work: list[CheckReport]) -> list[CheckReport]:
    """The work's subtitle files checked and not failed, oldest first (every one counts: recheck.with_sidecars)."""
    done = [r for r in work if r.kind == "subtitle" and claims.is_done(r) and r.verdict != "failed"]
    return sorted(done, key=lambda r: (r.checked_at, r.file_id))


def _pending_sidecars(work: list[CheckReport]) -> int:
    return sum(1 for r in work if r.kind == "subtitle" and not claims.is_done(r))


def _announce_unless_held(session, outbox, video: CheckReport, work: list[CheckReport], wait_s: float) -> bool:
    """Announce the video, or hold it while a subtitle file of its work is being checked; True if announced."""
    video.held_since = held_since(_pending_sidecars(work), video.held_since, utcnow(), wait_s)
    if video.held_since is None:
        announce(session, outbox, video)
        return True
    log.info("file_checked of video %s waits for the subtitles of its work being checked", video.file_id)
    return False


def announce(session, outbox, row: CheckReport) -> None:
    outbox.add(session, "file_checked", row.tenant, {
        "file_id": row.file_id, "submission_id": row.submission_id, "verdict": row.verdict,
        "findings": row.findings, "facts": row.facts, "derived": row.derived,
        "checked_at": row.checked_at.isoformat()})


def rejudge_videos(session, outbox, subtitle: CheckReport, wait_s: float = SIDECAR_WAIT_S) -> list[CheckReport]:
    """A sidecar was checked: judge the work's checked videos again with every sidecar (no re-scan), and
    announce them, unless another subtitle file is still being checked. A failed subtitle file counts as
    checked: the videos it held are announced with the other sidecars, or with their own verdict."""
    work = lock_work(session, subtitle.submission_id)
    videos = [r for r in work if r.kind == "video" and claims.is_done(r)]
    for video in videos:
        _judge_with_sidecars(session, video, work)
        video.checked_at = utcnow()
        _announce_unless_held(session, outbox, video, work, wait_s)
    return videos


def held_too_long(session, wait_s: float) -> list[str]:
    """The videos whose announcement has waited `wait_s` for subtitles (the timer announces them)."""
    cutoff = utcnow() - timedelta(seconds=wait_s)
    return list(session.scalars(select(CheckReport.file_id).where(CheckReport.held_since.is_not(None),
                                                                  CheckReport.held_since <= cutoff)))


def announce_held(session, outbox, file_id: str, wait_s: float) -> bool:
    """Announce a held video whose wait is over, judged with the sidecars done by now; True if announced.

    The hold is read again under the work's lock: another replica's timer, or the subtitle's record, may
    have announced it meanwhile.
    """
    video = session.get(CheckReport, file_id)
    if video is None or video.held_since is None:
        return False
    work = lock_work(session, video.submission_id)
    if video.held_since is None:
        return False
    _judge_with_sidecars(session, video, work)
    return _announce_unless_held(session, outbox, video, work, wait_s)


def lacks_clean_copy(row: CheckReport) -> bool:
    """Checked before media made clean copies (no `derived_types` in its facts) and so without the copy
    reviewers get, where a check that read the file would now make one."""
    facts = row.facts or {}
    return (claims.is_done(row) and REVIEWER_COPY.get(row.kind) not in (row.derived or {})
            and "derived_types" not in facts
            and not any(f.get("rule") in CHECK_DID_NOT_RUN for f in row.findings or []))


def run_check(path: str, kind: str, policy: dict | None, workdir: str, timeout_s: float,
              memory_mb: int, sidecar: str | None = None, declared_type: str | None = None, *,
              workers: int = workers_.SIZE, max_checks: int = workers_.MAX_CHECKS) -> dict:
    """The check in one of the process's warm workers (workers.py); always returns a report dict."""
    request = {"path": path, "kind": kind, "policy": policy or {}, "derived_dir": os.path.join(workdir, "derived"),
               "subtitles": sidecar, "declared_type": declared_type}
    result = workers_.pool(workers, max_checks, memory_mb).run(request, timeout_s)
    if result.failure == "timeout":
        return {"verdict": "failed", "facts": {}, "derived": {}, "text": "", "cues": [], "findings": [finding(
            "check_timeout", "error", f"文件检查超过 {int(timeout_s)} 秒仍未完成（文件可能已损坏或结构异常）。"
            "请重新导出后上传；如仍失败，请联系平台管理员。", timeout_s, None)]}
    report = result.report
    if report is None:
        report = {"findings": [finding("check_crashed", "error",
                                       "检查程序无法处理这个文件（文件可能已损坏）。请重新导出后上传；如仍失败，请联系平台管理员。",
                                       None, result.returncode)], "facts": {}}
    if report.get("verdict") == "unreadable":
        report["verdict"] = "failed"
    report.setdefault("derived", {})
    report.setdefault("cues", [])
    report.setdefault("text", "")
    report["verdict"] = verdict_of(report["findings"])
    return report
