"""Judging a checked video again when its sidecar subtitles arrive later: pure.

The expensive facts (streams, integrity) stay; only the subtitle facts and
the findings that depend on them or on the policy are recomputed.
"""
from __future__ import annotations

from services.media.checker import subtitle_facts

# Findings of the check itself, which a new sidecar cannot change.
CHECK_RULES = {"no_video_stream", "file_truncated", "decode_errors", "content_mismatch", "check_timeout",
               "check_crashed", "unreadable", "content_type_mismatch", "review_copy_failed"}


def with_sidecar(facts: dict, findings: list[dict], embedded_cues, sidecar_cues, policy, judge):
    facts = dict(facts)
    facts.update(subtitle_facts([tuple(c) for c in embedded_cues or []], [tuple(c) for c in sidecar_cues or []],
                                facts.get("duration_s")))
    kept = [f for f in findings if f["rule"] in CHECK_RULES]
    return facts, kept + judge(facts, policy)  # the subtitle rules (has_subtitles, subtitle_coverage) among them
