"""The media-check contract on generated media: verdicts, findings, facts and exit codes."""
import json

import pytest

from common.campaign import judge
from services.media import cli
from services.media.checker import check_file
from services.media.recheck import with_sidecar
from tests.media_fixtures import session_media

REQUIRED_FACTS = {"container", "video_codec", "width", "height", "duration_s", "size_bytes", "audio_codec",
                  "subtitle_tracks"}


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    return session_media(tmp_path_factory)


def run(capsys, *args):
    code = cli.main([*map(str, args), "--json"])
    return code, json.loads(capsys.readouterr().out)


def rules_of(report, severity=None):
    return {f["rule"].split(" ")[0] for f in report["findings"] if severity in (None, f["severity"])}


def test_a_conforming_lecture_passes_with_every_fact(media, capsys):
    code, report = run(capsys, media["lecture_ok"])
    assert (code, report["verdict"]) == (0, "passed"), report["findings"]
    assert REQUIRED_FACTS <= set(report["facts"])
    facts = report["facts"]
    assert (facts["container"], facts["video_codec"], facts["width"], facts["height"]) == ("mp4", "h264", 1920, 1080)
    assert facts["audio_codec"] == "aac" and facts["subtitle_tracks"] == 1 and facts["subtitle_coverage"] > 0.9
    assert facts["complete"] is True and facts["index_at_front"] is True
    assert "同志们好" in report["text"]


@pytest.mark.parametrize("name, code, verdict, rule, severity", [
    ("lecture_720p", 0, "warnings", "width", "warning"),
    ("lecture_mpeg4", 0, "warnings", "video_codec", "warning"),
    ("lecture_mkv_named_mp4", 0, "warnings", "container", "warning"),
    ("lecture_too_short", 0, "warnings", "duration_s", "warning"),
    ("lecture_no_subtitles", 0, "warnings", "has_subtitles", "warning"),
    ("lecture_too_long", 1, "failed", "duration_s", "error"),
    ("lecture_no_audio", 1, "failed", "has_audio", "error"),
    ("lecture_truncated", 1, "failed", "file_truncated", "error"),
])
def test_each_way_to_miss_the_seu_lecture_rules(media, capsys, name, code, verdict, rule, severity):
    got_code, report = run(capsys, media[name])
    assert (got_code, report["verdict"]) == (code, verdict), report["findings"]
    assert rule in rules_of(report, severity)
    assert all(f["message"] and f["message"][-1] in "。）" for f in report["findings"])


def test_the_container_comes_from_the_content_not_the_name(media, capsys):
    assert str(media["lecture_mkv_named_mp4"]).endswith(".mp4")
    _, report = run(capsys, media["lecture_mkv_named_mp4"])
    assert report["facts"]["container"] == "mkv"


def test_a_text_file_named_mp4_cannot_be_read_as_media(media, capsys):
    code, report = run(capsys, media["text_named_mp4"], "--kind", "video")
    assert code == 2 and report["findings"][0]["rule"] == "unreadable"


def test_a_pdf_uploaded_as_a_video_is_a_content_mismatch(media):
    report = check_file(str(media["document_pdf"]), "video", None)
    assert report.verdict == "failed" and rules_of(report.to_dict()) == {"content_mismatch"}


def test_a_sidecar_gives_subtitles_and_coverage(media, capsys):
    code, report = run(capsys, media["lecture_no_subtitles"], "--subtitles", media["subtitles_srt"])
    assert (code, report["verdict"]) == (0, "passed"), report["findings"]
    assert report["facts"]["has_subtitles"] and 0.75 <= report["facts"]["subtitle_coverage"] <= 0.85


def test_the_index_at_the_end_gets_a_playback_copy_with_it_at_the_front(media, tmp_path):
    from services.media.probe import index_at_front

    report = check_file(str(media["lecture_index_at_end"]), "video", None, str(tmp_path))
    assert report.facts["index_at_front"] is False
    assert index_at_front(report.derived["playback"]) is True
    assert {"poster", "contact_sheet", "playback"} <= set(report.derived)


@pytest.mark.parametrize("name, track, code, rule", [
    ("image_bomb", "material", 1, "image_too_many_pixels"),
    ("image_gps", "material", 0, "image_gps"),
])
def test_images(media, capsys, name, track, code, rule):
    got, report = run(capsys, media[name], "--track", track)
    assert got == code and rule in rules_of(report)


def test_a_review_copy_of_a_photo_has_no_gps(media, tmp_path):
    from PIL import Image

    report = check_file(str(media["image_gps"]), "image", None, str(tmp_path))
    with Image.open(report.derived["review_copy"]) as img:
        assert not img.getexif()


def test_documents_and_audio(media, capsys):
    # SEU (the default) keeps no meeting record: the ministry's track
    code, report = run(capsys, media["document_pdf"], "--campaign", "siyige-2020", "--track", "meeting_report")
    assert code == 0 and report["facts"]["pages"] == 3
    code, report = run(capsys, media["document_docx"], "--campaign", "siyige-2020", "--track", "meeting_report")
    assert code == 0 and report["facts"]["format"] == "docx" and report["text"]
    code, report = run(capsys, media["audio_ok"], "--track", "material")
    assert code == 0 and report["facts"]["codec"] == "aac" and abs(report["facts"]["duration_s"] - 30) < 1


def test_an_empty_file_is_unreadable(tmp_path, capsys):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    code, report = run(capsys, empty, "--kind", "video")
    assert code == 2 and "0 字节" in report["findings"][0]["message"]


def test_a_late_sidecar_is_judged_without_rescanning(media, capsys):
    from common.campaign import load_builtin_definitions

    policy = load_builtin_definitions()["siyige-2020-seu"].media_policies()["lecture"]["video"]
    _, video = run(capsys, media["lecture_no_subtitles"])
    _, srt = run(capsys, media["subtitles_srt"], "--kind", "subtitle")
    assert "has_subtitles" in rules_of(video)
    facts, findings = with_sidecar(video["facts"], video["findings"], video["cues"], srt["cues"], policy, judge)
    assert facts["has_subtitles"] and 0.75 <= facts["subtitle_coverage"] <= 0.85
    assert "has_subtitles" not in {f["rule"].split(" ")[0] for f in findings}


def test_the_cli_prints_chinese_for_people(media, capsys):
    code = cli.main([str(media["lecture_too_long"])])
    out = capsys.readouterr().out
    assert code == 1 and "未通过" in out and "30分钟" in out


@pytest.mark.parametrize("sniffed, said", [("mpegts", "视频（MPEG-TS）"), ("pdf", "PDF 文档"), ("mp3", "MP3 音频"),
                                           ("webm", "视频（WEBM）")])
def test_a_mismatch_names_the_content_in_words_not_its_magic_number(sniffed, said):
    from services.media.checker import _mismatch

    message = _mismatch("image", sniffed)["message"]
    assert f"文件内容是{said}" in message and sniffed not in message.replace(said, "")
