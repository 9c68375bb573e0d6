"""Media's checks of files, as they arrive."""
from __future__ import annotations

from datetime import datetime

from services.intake.domain import analysis
from services.intake.domain.lifecycles import FileState
from services.intake.models import Campaign, FileRecord, Org, Submission
from services.intake.operations.campaigns import definition_of
from services.intake.operations.reopening import reopen_for_file
from services.intake.operations.submission_log import log
from services.intake.operations.submissions import Analyser, lock_for_change


def record_file_check(session, outbox, data: dict, analyse: Analyser = analysis.analyse_work) -> None:
    """Keep the newest check of a file; an older one arriving late changes nothing. The keywords media read
    in a lecture's subtitles join its theme suggestion."""
    f = session.get(FileRecord, data["file_id"])
    if f is None:
        return  # not ours (or long gone): nothing to record
    checked_at = datetime.fromisoformat(data["checked_at"])
    if f.checked_at is not None and f.checked_at >= checked_at:
        return
    reopens = data["verdict"] == "failed" and f.state == FileState.STORED
    if reopens:  # the org's lock before the work's row is written (the log moves its updated_at), as every change
        lock_for_change(session, session.get(Submission, f.submission_id))
    f.check_verdict, f.check_findings, f.checked_at = data["verdict"], data["findings"], checked_at
    f.check_facts = kept_facts(f.kind, data.get("facts") or {})
    log(session, f.submission_id, "file_checked", {"file_id": f.id, "verdict": data["verdict"]})
    heard = data.get("facts", {}).get("keywords")
    if heard and f.kind in ("video", "subtitle"):
        _suggest_themes(session, f, tuple(heard), analyse)
    if reopens:
        _reopen_for_failed_check(session, outbox, f)


# What a portal is told of a check besides its verdict: media's facts, as they read (duration in seconds, resolution,
# codecs, how much of the running time subtitles cover, pages); the rest of media's facts (keywords, integrity
# counts, decode errors) stay with media.
_FACTS = ("duration_s", "width", "height", "frame_rate", "container", "format", "subtitle_coverage", "has_subtitles",
          "subtitle_source", "pages", "pages_estimated", "cues", "content_type", "complete")


def kept_facts(kind: str, facts: dict) -> dict:
    """The facts of a check kept on the file record (FileRecord.check_facts), as the API shows them."""
    kept = {key: facts[key] for key in _FACTS if facts.get(key) is not None}
    if kept.get("width") and kept.get("height"):
        kept["resolution"] = f"{kept['width']}x{kept['height']}"
    codecs = {"video": facts.get("video_codec"),
              "audio": facts.get("audio_codec") or (facts.get("codec") if kind == "audio" else None),
              "subtitles": facts.get("subtitle_codecs") or None}
    codecs = {k: v for k, v in codecs.items() if v}
    if codecs:
        kept["codecs"] = codecs
    return kept


def _suggest_themes(session, f: FileRecord, heard: tuple[str, ...], analyse: Analyser) -> None:
    sub = session.get(Submission, f.submission_id)
    campaign = session.get(Campaign, sub.campaign_id)
    definition = definition_of(campaign)
    track = definition.tracks.get(sub.track)
    if track is not None:
        sub.analysis = analyse(track, sub.fields, definition.themes, heard)


def _reopen_for_failed_check(session, outbox, f: FileRecord) -> None:
    """A newer check (a video judged again with its subtitles) failed a file a stage was submitted with."""
    sub = session.get(Submission, f.submission_id)
    lock_for_change(session, sub)
    track = definition_of(session.get(Campaign, sub.campaign_id)).tracks.get(sub.track)
    if track is not None:
        reopen_for_file(session, outbox, sub, track, session.get(Org, sub.org_id), f.kind, "file_check_failed",
                        f.original_name, f.id, by_portal=False)
