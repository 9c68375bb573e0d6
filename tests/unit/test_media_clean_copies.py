"""The copies reviewers get (issue #14, item 5): no name from any metadata slot, the content intact.

Every fixture has the planted names in its metadata (checked first, so a search that finds nothing
proves something); the checker's derived files must hold none of them, in any layer or encoding.
"""
from __future__ import annotations

import zipfile

import av
import docx
import pytest
from PIL import Image
from pypdf import PdfReader

from common.filetypes import DOCX
from services.media import checker, probe, subtitles
from services.media.documents import inspect_document
from services.media.images import strip_metadata
from tests import media_fixtures
from tests.media_fixtures import LEAK_NAMES, TAGGED_KINDS, TAGGED_MAKERS, names_in


@pytest.fixture(scope="module")
def tagged(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tagged")
    return {name: make(folder) for name, make in TAGGED_MAKERS.items()}


@pytest.fixture(scope="module")
def checked(tagged, tmp_path_factory):
    out = tmp_path_factory.mktemp("derived")
    return {name: checker.check_file(str(path), TAGGED_KINDS[name], None, str(out / name))
            for name, path in tagged.items()}


@pytest.mark.parametrize("name", sorted(TAGGED_MAKERS))
def test_the_reviewers_copy_names_nobody_though_the_original_does(tagged, checked, name):
    assert names_in(tagged[name].read_bytes()) == set(LEAK_NAMES), "the fixture plants both names"
    report = checked[name]
    assert report.verdict == "passed", report.findings
    reviewer_copy = "playback" if TAGGED_KINDS[name] == "video" else "review_copy"
    assert reviewer_copy in report.derived
    assert set(report.facts["derived_types"]) == set(report.derived)
    for kind, path in report.derived.items():
        with open(path, "rb") as f:
            assert names_in(f.read()) == set(), (name, kind)


@pytest.mark.parametrize("name", ["video_tagged_mp4", "video_tagged_mkv"])
def test_the_video_copy_is_the_same_streams_with_the_index_in_front(tagged, checked, name):
    copy = checked[name].derived["playback"]
    assert checked[name].facts["derived_types"]["playback"] == "video/mp4"
    assert probe.index_at_front(copy) is True
    with av.open(str(tagged[name])) as src, av.open(copy) as dst:
        assert abs(dst.duration - src.duration) < 0.2 * av.time_base
        assert [s.codec_context.name for s in dst.streams.video] == [s.codec_context.name for s in src.streams.video]
        assert [s.codec_context.name for s in dst.streams.audio] == [s.codec_context.name for s in src.streams.audio]
        assert dict(dst.metadata).keys() <= {"major_brand", "minor_version", "compatible_brands"}
        assert not dst.chapters()
        # ASS tracks carry their header in the stream; only the mov_text track survives
        assert [s.codec_context.name for s in dst.streams.subtitles] == (["mov_text"] if name.endswith("mp4") else [])
        assert sum(1 for _ in dst.demux(dst.streams.video[0])) == sum(1 for _ in src.demux(src.streams.video[0]))


@pytest.mark.parametrize("name, ctype, ext", [("audio_tagged_wav", "audio/wav", ".wav"),
                                              ("audio_tagged_mp3", "audio/mpeg", ".mp3"),
                                              ("audio_tagged_m4a", "audio/mp4", ".m4a")])
def test_the_audio_copy_keeps_its_container_and_sound(tagged, checked, name, ctype, ext):
    report = checked[name]
    copy = report.derived["review_copy"]
    assert copy.endswith(ext) and report.facts["derived_types"]["review_copy"] == ctype
    assert report.facts["content_type"] == ctype
    with av.open(str(tagged[name])) as src, av.open(copy) as dst:
        assert dst.streams.audio[0].codec_context.name == src.streams.audio[0].codec_context.name
        assert abs(dst.duration - src.duration) < 0.2 * av.time_base
        assert not dict(dst.metadata).keys() - {"major_brand", "minor_version", "compatible_brands"}


def test_the_subtitle_copy_is_timed_text_only(tagged, checked):
    report = checked["subtitles_tagged_ass"]
    vtt = open(report.derived["review_copy"], encoding="utf-8").read()
    assert vtt.startswith("WEBVTT\n") and report.facts["derived_types"]["review_copy"] == "text/vtt"
    original = subtitles.parse_sidecar(tagged["subtitles_tagged_ass"].read_bytes())
    again = subtitles.parse_sidecar(vtt.encode())
    assert again.format == "vtt" and not again.problems
    assert [(c.start_s, c.end_s, c.text) for c in again.cues] == [(c.start_s, c.end_s, c.text) for c in original.cues]


def test_webvtt_text_cannot_become_tags_a_timing_or_a_second_cue():
    cues = [subtitles.Cue(1.0, 2.5, "<v 张三>讲话 & 掌声\n\n--> 00:00:09.000 --> 00:00:10.000\n<script>x</script>")]
    vtt = subtitles.to_webvtt(cues)
    assert "<" not in vtt and vtt.count("-->") == 1
    assert vtt.count("\n\n") == 1  # the header's blank line only: one cue
    back = subtitles.parse_sidecar(vtt.encode()).cues
    assert len(back) == 1 and back[0].text == "<v 张三>讲话 & 掌声\n--> 00:00:09.000 --> 00:00:10.000\n<script>x</script>"


def test_the_docx_copy_keeps_the_text_and_the_tracked_changes_but_not_who_made_them(tagged, checked):
    copy = checked["document_tagged_docx"].derived["review_copy"]
    assert inspect_document(copy).text == inspect_document(str(tagged["document_tagged_docx"])).text
    props = docx.Document(copy).core_properties
    assert (props.author, props.last_modified_by, props.title, props.comments) == ("", "", "", "")
    with zipfile.ZipFile(copy) as z:
        names = set(z.namelist())
        body = z.read("word/document.xml").decode()
        types = z.read("[Content_Types].xml").decode()
        rels = "".join(z.read(n).decode() for n in names if n.endswith(".rels"))
        assert z.comment == b"" and all(i.comment == b"" and i.extra == b"" for i in z.infolist())
    assert not {"word/comments.xml", "word/people.xml", "docProps/custom.xml"} & names
    assert "补充的一句" in body and "删掉的一句" in body and 'w:author=""' in body
    assert "commentReference" not in body and "commentRangeStart" not in body
    assert "people.xml" not in types and "comments.xml" not in types and "custom.xml" not in types
    assert "attachedTemplate" not in rels and "file:///" not in rels
    with zipfile.ZipFile(copy) as z:
        media = [n for n in z.namelist() if n.startswith("word/media/")]
        with Image.open(z.open(media[0])) as picture:
            assert not picture.getexif() and picture.size == (240, 160)


def test_the_pdf_copy_keeps_its_pages_and_runs_no_script(tagged, checked):
    source, copy = PdfReader(tagged["document_tagged_pdf"]), PdfReader(checked["document_tagged_pdf"].derived["review_copy"])
    assert len(copy.pages) == len(source.pages)
    assert [p.extract_text() for p in copy.pages] == [p.extract_text() for p in source.pages]
    root = copy.trailer["/Root"]
    assert "/OpenAction" not in root and "/Metadata" not in root and "/EmbeddedFiles" not in root.get("/Names", {})
    assert copy.metadata is None or not dict(copy.metadata)
    annots = [a.get_object() for a in copy.pages[0]["/Annots"]]
    assert {a["/Subtype"] for a in annots} == {"/Text", "/Popup", "/Widget"}
    assert all("/T" not in a for a in annots if a["/Subtype"] != "/Widget")
    assert annots[0]["/Contents"] == "此处请修改。"  # the note itself is content and stays


def test_picture_metadata_goes_and_every_pixel_stays(tmp_path):
    jpeg = media_fixtures.make_image_tagged(tmp_path).read_bytes()
    clean = strip_metadata(jpeg)
    assert names_in(jpeg) and not names_in(clean)
    with Image.open(tmp_path / "image_tagged.jpg") as a, Image.open(__import__("io").BytesIO(clean)) as b:
        assert a.tobytes() == b.tobytes() and not b.getexif()
    png = tmp_path / "p.png"
    info = __import__("PIL.PngImagePlugin", fromlist=["PngInfo"]).PngInfo()
    info.add_text("Author", LEAK_NAMES[1])
    info.add_itxt("Description", LEAK_NAMES[0])
    Image.new("RGB", (8, 8), "red").save(png, pnginfo=info)
    cleaned = strip_metadata(png.read_bytes())
    assert names_in(png.read_bytes()) and not names_in(cleaned)
    with Image.open(__import__("io").BytesIO(cleaned)) as b:
        assert b.tobytes() == Image.new("RGB", (8, 8), "red").tobytes()
    assert strip_metadata(b"GIF89a...") == b"GIF89a..."


def test_a_declared_type_of_another_kind_fails_the_check(tmp_path):
    path = media_fixtures.make_document_docx_html(tmp_path)
    report = checker.check_file(str(path), "document", None, str(tmp_path / "d"), declared_type="text/html")
    assert report.verdict == "failed" and [f["rule"] for f in report.findings] == ["content_type_mismatch"]
    assert report.facts["content_type"] == DOCX
    ok = checker.check_file(str(path), "document", None, None, declared_type="application/octet-stream")
    assert ok.verdict == "passed"


def test_without_a_clean_copy_there_is_a_warning_and_no_reviewer_copy(tagged, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise probe.Unreadable("no container takes these streams")

    monkeypatch.setattr(probe, "remux_clean", broken)
    report = checker.check_file(str(tagged["audio_tagged_wav"]), "audio", None, str(tmp_path / "d"))
    assert "review_copy" not in report.derived and report.verdict == "warnings"
    assert [f["rule"] for f in report.findings] == ["review_copy_failed"]
    assert "评审专家将无法查看这个文件" in report.findings[0]["message"]
