"""Mirroring a list (services/intake/operations/pages.py), the facts of a check a portal is told
(operations/checks.kept_facts), and the one form of a moment in an answer (common.locale.beijing_iso)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.datastructures import MultiDict

from common.errors import InvalidInput
from common.locale import beijing_iso
from services.intake.operations.checks import kept_facts
from services.intake.operations.pages import _cursor, sync_of


def test_no_mirroring_without_either_parameter():
    assert sync_of(MultiDict({"page": "2"})) is None


def test_updated_since_needs_an_offset_and_says_how_to_write_plus():
    assert sync_of(MultiDict({"updated_since": "2020-07-14T23:59:59+08:00"})).since == \
        datetime(2020, 7, 14, 15, 59, 59, tzinfo=timezone.utc)
    assert sync_of(MultiDict({"updated_since": "2020-07-14T15:59:59Z"})).since.utcoffset() == timedelta(0)
    for bad in ("2020-07-14T23:59:59", "2020-07-14", "昨天", ""):
        with pytest.raises(InvalidInput) as info:
            sync_of(MultiDict({"updated_since": bad}))
        assert (info.value.code, info.value.field) == ("invalid_query", "updated_since")
    with pytest.raises(InvalidInput) as info:
        sync_of(MultiDict({"updated_since": "2020-07-14T23:59:59 08:00"}))  # a + the query string turned to a space
    assert "%2B" in info.value.message


def test_a_cursor_reads_back_and_a_changed_one_is_refused():
    at = datetime(2020, 7, 14, 15, 59, 59, 123456, tzinfo=timezone.utc)
    cursor = _cursor((at, "abc"))
    assert sync_of(MultiDict({"cursor": cursor})).after == (at, "abc")
    for bad in (cursor[:-3], "not a cursor", cursor + "x", "W10"):
        with pytest.raises(InvalidInput) as info:
            sync_of(MultiDict({"cursor": bad}))
        assert (info.value.code, info.value.field) == ("invalid_query", "cursor")


def test_page_is_refused_with_a_cursor_or_updated_since():
    for given in ({"cursor": _cursor((datetime.now(timezone.utc), ""))}, {"updated_since": "2020-07-14T23:59:59Z"}):
        with pytest.raises(InvalidInput) as info:
            sync_of(MultiDict({**given, "page": "1"}))
        assert info.value.field == "page"


def test_a_moment_is_beijing_time_to_the_second():
    assert beijing_iso(datetime(2020, 7, 14, 15, 59, 59, 999999, tzinfo=timezone.utc)) == "2020-07-14T23:59:59+08:00"
    assert beijing_iso("2020-07-14T23:59:59+08:00") == "2020-07-14T23:59:59+08:00"
    assert beijing_iso(None) is None


def test_the_facts_a_portal_is_told():
    video = {"container": "mp4", "duration_s": 61.2, "width": 1280, "height": 720, "video_codec": "h264",
             "audio_codec": None, "subtitle_codecs": [], "subtitle_coverage": 0.0, "has_subtitles": False,
             "keywords": ["党课"], "integrity": {"packets": 3}, "decode_errors": ["x"], "bit_rate": None}
    assert kept_facts("video", video) == {"container": "mp4", "duration_s": 61.2, "width": 1280, "height": 720,
                                          "resolution": "1280x720", "codecs": {"video": "h264"},
                                          "subtitle_coverage": 0.0, "has_subtitles": False}
    assert kept_facts("audio", {"format": "mp3", "codec": "mp3", "duration_s": 30.0}) == {
        "format": "mp3", "duration_s": 30.0, "codecs": {"audio": "mp3"}}
    assert kept_facts("document", {"format": "docx", "pages": 3, "pages_estimated": True, "text_chars": 900}) == {
        "format": "docx", "pages": 3, "pages_estimated": True}
    assert kept_facts("image", {}) == {}
