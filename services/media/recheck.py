"""Judging a checked video again with its work's sidecar subtitles, and when its `file_checked` may go: pure.

The expensive facts (streams, integrity) stay; only the subtitle facts and
the findings that depend on them or on the policy are recomputed.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from services.media.checker import subtitle_facts

# Findings of the check itself, which a new sidecar cannot change.
CHECK_RULES = {"no_video_stream", "file_truncated", "decode_errors", "content_mismatch", "check_timeout",
               "check_crashed", "unreadable", "content_type_mismatch", "review_copy_failed"}
# Findings of a check that never read the video: its facts are empty, so there is nothing to judge again.
DID_NOT_READ = {"unreadable", "check_timeout", "check_crashed"}


def with_sidecar(facts: dict, findings: list[dict], embedded_cues, sidecar_cues, policy, judge):
    facts = dict(facts)
    facts.update(subtitle_facts([tuple(c) for c in embedded_cues or []], [tuple(c) for c in sidecar_cues or []],
                                facts.get("duration_s")))
    kept = [f for f in findings if f["rule"] in CHECK_RULES]
    return facts, kept + judge(facts, policy)  # the subtitle rules (has_subtitles, subtitle_coverage) among them


def with_sidecars(facts: dict, findings: list[dict], video_cues, sidecars: list, policy, judge):
    """The video judged with every done sidecar of its work (`sidecars`: each file's cues); None: nothing to do.

    The cues of all the files are merged rather than the file with the best coverage chosen: coverage counts a
    moment shown by any cue once, so the same subtitles in two formats count once, and a work whose subtitles
    come in parts (上集/下集, or a file per speaker) is covered by all its parts, which no single file shows.
    The video's own cues may hold one sidecar's already (the check reads the newest sidecar done when it
    starts): those are told apart from the embedded ones, so that `subtitle_source` stays true.
    """
    if not sidecars or any(f["rule"] in DID_NOT_READ for f in findings):
        return None
    merged = [tuple(c) for cues in sidecars for c in cues or []]
    from_sidecars = set(merged)
    embedded = [tuple(c) for c in video_cues or [] if tuple(c) not in from_sidecars]
    return with_sidecar(facts, findings, embedded, merged, policy, judge)


def held_since(pending_sidecars: int, since: datetime | None, now: datetime, wait_s: float) -> datetime | None:
    """Since when a video's `file_checked` waits for the sidecars still being checked; None: announce it now.

    It waits while a subtitle file of its work is being checked, so that the org and the experts hear one
    verdict with the subtitles, not 「没有检测到字幕」 first; at most `wait_s` from the first hold, so that a
    subtitle check that never ends (its replica gone until the claim expires) does not keep the video unheard.
    """
    if not pending_sidecars:
        return None
    since = since or now
    return None if now - since >= timedelta(seconds=wait_s) else since
