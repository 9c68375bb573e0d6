"""What the platform reads in a work's text: keywords (关键词) and, for themed tracks, a theme suggestion.

Computed when a work's fields change and again when a lecture video's subtitles have
been read (their keywords come in media's `file_checked` facts). Shown to the portal
in `Submission.analysis`; nothing here ever changes the submitter's own fields.
Pure; CPU-bound (jieba), so the service runs it in `eventlet.tpool`.
"""
from __future__ import annotations

from collections.abc import Sequence

from common import segment
from common.campaign import Track
from services.intake.domain.themes import suggest_theme

KEYWORDS = 8


def work_text(track: Track, fields: dict) -> str:
    """The work's prose: its title and every free-text field, in the definition's order."""
    keys = ["title", *(f.key for f in track.fields if f.type == "text" and f.key != "title")]
    return "\n".join(str(fields[k]) for k in keys if isinstance(fields.get(k), str) and fields[k].strip())


def theme_field(track: Track) -> str | None:
    return next((f.key for f in track.fields if f.choices_from == "themes"), None)


def analyse_work(track: Track, fields: dict, themes: Sequence[str],
                 subtitle_keywords: Sequence[str] = ()) -> dict | None:
    """{"keywords": […], "subtitle_keywords": […], "theme_suggestion": {…} | None}; None for a work without text."""
    text = work_text(track, fields)
    if not text.strip() and not subtitle_keywords:
        return None
    result: dict = {"keywords": [w for w, _ in segment.keywords(text, KEYWORDS)],
                    "subtitle_keywords": list(subtitle_keywords), "theme_suggestion": None}
    key = theme_field(track)
    if key and themes:
        # Subtitle keywords stand for what was actually said; the title and outline for what was planned.
        suggestion = suggest_theme("\n".join([text, *subtitle_keywords]), list(themes))
        chosen = fields.get(key)
        suggestion["chosen"] = chosen if isinstance(chosen, str) else None
        suggestion["differs"] = bool(suggestion["chosen"] and suggestion["theme"]
                                     and suggestion["theme"] != suggestion["chosen"])
        result["theme_suggestion"] = suggestion
    return result
