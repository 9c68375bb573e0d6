"""One file's check, from its stored original to the recorded report and its `file_checked`.

The service runs these steps for every `file_uploaded` (claims.py adds the claim that keeps two
replicas off one file); the operator's `recheck` (admin.py) runs the same steps again for a file
already checked. Three steps, so that no transaction stays open while a file is checked:

    job = job_for(session, report_row)               # in a transaction: policy copy, sidecar
    outcome = check(store, job, limits, keywords)     # no transaction: child process, derived files stored
    record(session, outbox, report_row, outcome)      # in a transaction: report, `file_checked` in the outbox
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from typing import Callable

import eventlet
from eventlet.green import subprocess
from sqlalchemy import select

from common.campaign.media_rules import finding, judge, verdict_of
from common.db import utcnow
from services.media import claims
from services.media.claims import CheckState
from services.media.models import CheckReport, MediaPolicyCopy
from services.media.recheck import with_sidecar

log = logging.getLogger(__name__)

KEYWORDS = 10  # keywords kept from a document's or subtitles' text
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The derived file review gives a blind reviewer, per kind (review's REVIEWER_COPY): a clean copy
# media made, never the original. Every kind gets one since issue #14, unless the check says why not.
REVIEWER_COPY = {"video": "playback", "image": "review_copy", "audio": "review_copy", "document": "review_copy",
                 "subtitle": "review_copy"}
# Findings of a check that never read the file: it made no copies, and checking again makes none either.
CHECK_DID_NOT_RUN = {"unreadable", "check_timeout", "check_crashed"}

Keywords = Callable[[str, int], list]  # (text, how many) -> [(word, weight), ...]


class NotInStore(Exception):
    """The original (or its sidecar) could not be read from the object store."""


@dataclass(frozen=True)
class Limits:
    """The child process's limits (MEDIA_CHECK_TIMEOUT_S, MEDIA_CHECK_MEMORY_MB)."""

    timeout_s: float
    memory_mb: int

    @classmethod
    def of(cls, config) -> "Limits":
        return cls(float(config.get("MEDIA_CHECK_TIMEOUT_S", 600)), int(config.get("MEDIA_CHECK_MEMORY_MB", 3072)))


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
    """Check the stored file in a child process and store its derived files; raises `NotInStore`."""
    workdir = tempfile.mkdtemp(prefix="media-check-")
    try:
        try:
            path = store.local_copy(job.object_key, workdir)
            sidecar = store.local_copy(job.sidecar_key, tempfile.mkdtemp(dir=workdir)) if job.sidecar_key else None
        except Exception as exc:  # noqa: BLE001 - missing, or the store unreachable: the same for the caller
            raise NotInStore(f"{type(exc).__name__}: {exc}") from exc
        report = run_check(path, job.kind, job.policy, workdir, limits.timeout_s, limits.memory_mb, sidecar,
                           job.declared_type)
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


def record(session, outbox, row: CheckReport, outcome: Outcome) -> list[CheckReport]:
    """Keep the new report and announce it; a subtitle file re-judges its work's videos (returned)."""
    report = outcome.report
    claims.finish(row, utcnow())
    row.verdict, row.findings, row.facts = report["verdict"], report["findings"], report["facts"]
    row.derived, row.cues, row.text = outcome.derived, report["cues"], report["text"]
    announce(session, outbox, row)
    return rejudge_videos(session, outbox, row) if row.kind == "subtitle" else []


def announce(session, outbox, row: CheckReport) -> None:
    outbox.add(session, "file_checked", row.tenant, {
        "file_id": row.file_id, "submission_id": row.submission_id, "verdict": row.verdict,
        "findings": row.findings, "facts": row.facts, "derived": row.derived,
        "checked_at": row.checked_at.isoformat()})


def rejudge_videos(session, outbox, subtitle: CheckReport) -> list[CheckReport]:
    """A sidecar arrived after its video was checked: judge the video again (no re-scan)."""
    videos = session.scalars(select(CheckReport).where(
        CheckReport.submission_id == subtitle.submission_id, CheckReport.kind == "video",
        CheckReport.state == CheckState.DONE)).all()
    for video in videos:
        copy = session.get(MediaPolicyCopy, (video.campaign_id, video.track, "video"))
        facts, findings = with_sidecar(video.facts, video.findings, video.cues, subtitle.cues,
                                       copy.policy if copy else None, judge)
        video.facts, video.findings, video.verdict = facts, findings, verdict_of(findings)
        video.checked_at = utcnow()
        announce(session, outbox, video)
    return list(videos)


def lacks_clean_copy(row: CheckReport) -> bool:
    """Checked before media made clean copies (no `derived_types` in its facts) and so without the copy
    reviewers get, where a check that read the file would now make one."""
    facts = row.facts or {}
    return (claims.is_done(row) and REVIEWER_COPY.get(row.kind) not in (row.derived or {})
            and "derived_types" not in facts
            and not any(f.get("rule") in CHECK_DID_NOT_RUN for f in row.findings or []))


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

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limit_memory, cwd=ROOT)
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
