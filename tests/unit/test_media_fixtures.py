"""The generated test media are what they claim to be (read back with PyAV, Pillow, pypdf, python-docx).

No FFmpeg CLI needed: everything is read in-process.
"""
from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import av
import pytest

from tests import media_fixtures as mf


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, Path]:
    return mf.session_media(tmp_path_factory)


pytestmark = pytest.mark.usefixtures("media")


# --------------------------------------------------------------------------- helpers


def top_level_boxes(path: Path) -> list[tuple[str, int, int]]:
    """(type, offset, size) of each top-level ISO-BMFF box; a box may claim more bytes than remain."""
    total = path.stat().st_size
    boxes = []
    with open(path, "rb") as f:
        pos = 0
        while pos + 8 <= total:
            f.seek(pos)
            size, kind = struct.unpack(">I4s", f.read(8))
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
            elif size == 0:
                size = total - pos
            boxes.append((kind.decode("latin-1"), pos, size))
            if size < 8:
                break
            pos += size
    return boxes


def box_order(path: Path) -> list[str]:
    return [kind for kind, _, _ in top_level_boxes(path)]


def streams(path: Path) -> dict[str, list]:
    with av.open(str(path)) as c:
        return {kind: [(s.codec_context.name, s) for s in c.streams if s.type == kind]
                for kind in ("video", "audio", "subtitle")}


def movtext_cues(path: Path) -> list[tuple[float, float, str]]:
    """(start_s, end_s, text) of the non-empty mov_text samples (the muxer fills gaps with empty ones)."""
    cues = []
    with av.open(str(path)) as c:
        s = c.streams.subtitles[0]
        for p in c.demux(s):
            if p.size < 2:
                continue
            data = bytes(p)
            n = struct.unpack(">H", data[:2])[0]
            if n:
                start = float(p.pts * p.time_base)
                cues.append((start, start + float(p.duration * p.time_base), data[2:2 + n].decode("utf-8")))
    return cues


def srt_cues(path: Path) -> list[tuple[float, float, str]]:
    def sec(t: str) -> float:
        h, m, rest = t.split(":")
        s, ms = rest.split(",")
        return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000

    cues = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        lines = block.strip().splitlines()
        a, b = lines[1].split(" --> ")
        cues.append((sec(a), sec(b), "\n".join(lines[2:])))
    return cues


# --------------------------------------------------------------------------- the set


def test_make_all_writes_every_named_file(media):
    assert set(media) == set(mf.MAKERS)
    for name, path in media.items():
        assert path.is_file() and path.stat().st_size > 0, name
    assert media["lecture_mkv_named_mp4"].suffix == ".mp4"
    assert media["text_named_mp4"].name == "党课.mp4"
    assert media["subtitles_srt"].stem == media["lecture_no_subtitles"].stem


# --------------------------------------------------------------------------- lectures

LECTURES = {
    # name: (video codec, width, height, duration s, audio, subtitle codec or None, format)
    "lecture_ok": ("h264", 1920, 1080, mf.LECTURE_S, True, "mov_text", "mp4"),
    "lecture_720p": ("h264", 1280, 720, mf.LECTURE_S, True, "mov_text", "mp4"),
    "lecture_mpeg4": ("mpeg4", 1920, 1080, mf.LECTURE_S, True, "mov_text", "mp4"),
    "lecture_mkv_named_mp4": ("h264", 1920, 1080, mf.LECTURE_S, True, "subrip", "matroska"),
    "lecture_too_long": ("h264", 1920, 1080, mf.TOO_LONG_S, True, "mov_text", "mp4"),
    "lecture_too_short": ("h264", 1920, 1080, mf.TOO_SHORT_S, True, "mov_text", "mp4"),
    "lecture_no_subtitles": ("h264", 1920, 1080, mf.LECTURE_S, True, None, "mp4"),
    "lecture_no_audio": ("h264", 1920, 1080, mf.LECTURE_S, False, "mov_text", "mp4"),
    "lecture_index_at_end": ("h264", 1920, 1080, mf.LECTURE_S, True, "mov_text", "mp4"),
}


@pytest.mark.parametrize("name", LECTURES)
def test_lecture_streams_and_duration(media, name):
    vcodec, width, height, duration, has_audio, subcodec, fmt = LECTURES[name]
    with av.open(str(media[name])) as c:
        if fmt == "matroska":
            assert c.format.name == "matroska,webm"
        else:
            assert "mp4" in c.format.name.split(",")
        assert c.duration / av.time_base == pytest.approx(duration, abs=1)
        (v,) = c.streams.video
        assert v.codec_context.name == vcodec
        assert (v.codec_context.width, v.codec_context.height) == (width, height)
        assert v.codec_context.pix_fmt == "yuv420p"
        if has_audio:
            (a,) = c.streams.audio
            assert a.codec_context.name == "aac"
            if a.duration is not None:
                assert float(a.duration * a.time_base) == pytest.approx(duration, abs=1)
        else:
            assert not c.streams.audio
        if subcodec:
            (s,) = c.streams.subtitles
            # FFmpeg names the subrip decoder "srt"/"subrip" depending on build
            assert s.codec_context.name in ({subcodec} | ({"srt"} if subcodec == "subrip" else set()))
        else:
            assert not c.streams.subtitles


def test_lecture_ok_decodes_after_the_first_gop(media):
    """Packets were stream-copied many times: a frame from the middle must still decode."""
    with av.open(str(media["lecture_ok"])) as c:
        v = c.streams.video[0]
        assert v.codec_context.codec.name in ("h264", "libx264")
        c.seek(int(500 * av.time_base))           # to the keyframe before 500 s
        frame = next(c.decode(v))
        assert (frame.width, frame.height) == (1920, 1080)
        assert 490 <= float(frame.pts * v.time_base) <= 500


def test_embedded_subtitles_cover_at_least_90_percent(media):
    cues = movtext_cues(media["lecture_ok"])
    covered = sum(b - a for a, b, _ in cues)
    assert covered / mf.LECTURE_S >= 0.9
    assert cues[0][2] == "同志们好，今天我们讲抓紧抓实抓细常态化疫情防控工作"
    assert all(re.search(r"[\u4e00-\u9fff]", text) for _, _, text in cues)
    assert all(b <= mf.LECTURE_S + 0.01 for _, b, _ in cues)


def test_mkv_named_mp4_is_matroska(media):
    path = media["lecture_mkv_named_mp4"]
    assert path.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"         # EBML magic, not an ftyp box
    with av.open(str(path)) as c:
        assert "matroska" in c.format.name


def test_faststart_puts_moov_before_mdat(media):
    for name in ("lecture_ok", "lecture_720p", "lecture_no_audio", "lecture_too_long"):
        order = box_order(media[name])
        assert order[0] == "ftyp", name
        assert order.index("moov") < order.index("mdat"), (name, order)


def test_index_at_end_puts_moov_after_mdat(media):
    order = box_order(media["lecture_index_at_end"])
    assert order[0] == "ftyp"
    assert order.index("mdat") < order.index("moov"), order
    assert order[-1] == "moov"


def test_truncated_is_60_percent_of_a_faststart_original(media):
    original, cut = media["lecture_ok"].read_bytes(), media["lecture_truncated"].read_bytes()
    assert len(cut) == int(len(original) * mf.TRUNCATE_AT)
    assert original.startswith(cut)
    boxes = top_level_boxes(media["lecture_truncated"])
    kinds = [k for k, _, _ in boxes]
    assert kinds.index("moov") < kinds.index("mdat")           # the header is intact ...
    _, mdat_at, mdat_size = boxes[kinds.index("mdat")]
    assert mdat_at + mdat_size > len(cut)                       # ... the data is not
    with av.open(str(media["lecture_truncated"])) as c:        # header still reads fine
        assert c.duration / av.time_base == pytest.approx(mf.LECTURE_S, abs=1)
        assert c.streams.video[0].codec_context.width == 1920


def test_text_named_mp4_is_not_media(media):
    path = media["text_named_mp4"]
    assert "同志们好" in path.read_text(encoding="utf-8")
    with pytest.raises(av.error.FFmpegError):
        av.open(str(path))


def test_sidecar_srt_covers_about_80_percent(media):
    path = media["subtitles_srt"]
    path.read_bytes().decode("utf-8")                            # strict UTF-8
    cues = srt_cues(path)
    with av.open(str(media["lecture_no_subtitles"])) as c:
        duration = c.duration / av.time_base
    covered = sum(b - a for a, b, _ in cues)
    assert 0.75 <= covered / duration <= 0.85
    assert all(a < b for a, b, _ in cues)
    assert all(cues[i][1] <= cues[i + 1][0] for i in range(len(cues) - 1))
    assert cues[-1][1] <= duration
    assert all(re.search(r"[\u4e00-\u9fff]", text) for _, _, text in cues)


# --------------------------------------------------------------------------- images, audio, documents


def test_image_gps_has_exif_with_gps_position(media):
    from PIL import ExifTags, Image

    with Image.open(media["image_gps"]) as img:
        assert img.format == "JPEG"
        assert img.size == (1200, 800)
        exif = img.getexif()
        assert exif[ExifTags.Base.Make] == "Huawei"
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    assert gps[ExifTags.GPS.GPSLatitudeRef] == "N" and gps[ExifTags.GPS.GPSLongitudeRef] == "E"

    def deg(dms):
        d, m, s = (float(x) for x in dms)
        return d + m / 60 + s / 3600

    assert deg(gps[ExifTags.GPS.GPSLatitude]) == pytest.approx(32.06, abs=0.01)
    assert deg(gps[ExifTags.GPS.GPSLongitude]) == pytest.approx(118.79, abs=0.01)


def test_image_bomb_header_claims_40000_square_in_a_small_file(media):
    path = media["image_bomb"]
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    ihdr = data[16:29]
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(b"IHDR" + ihdr)
    width, height, depth, colour = struct.unpack(">IIBB", ihdr[:10])
    assert (width, height, depth, colour) == (40000, 40000, 1, 0)
    assert len(data) < 1_000_000


def test_image_bomb_is_a_real_bomb(media):
    """Its IDAT really inflates to 40000 rows (streamed, never held), and Pillow refuses it."""
    from PIL import Image

    data = media["image_bomb"].read_bytes()
    pos, idat = 8, []
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        assert struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(kind + body)
        if kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    d, total = zlib.decompressobj(), 0
    stream = b"".join(idat)
    for off in range(0, len(stream), 1 << 12):
        total += len(d.decompress(stream[off:off + (1 << 12)]))
    assert d.eof
    assert total == 40000 * (1 + 40000 // 8)
    with pytest.raises(Image.DecompressionBombError):
        Image.open(media["image_bomb"])


def test_audio_ok_is_30_s_of_aac_in_m4a(media):
    path = media["audio_ok"]
    assert path.suffix == ".m4a"
    with av.open(str(path)) as c:
        assert "m4a" in c.format.name.split(",")
        assert not c.streams.video
        (a,) = c.streams.audio
        assert a.codec_context.name == "aac"
        assert c.duration / av.time_base == pytest.approx(mf.AUDIO_S, abs=1)
        assert sum(f.samples for f in c.decode(a)) / a.sample_rate == pytest.approx(mf.AUDIO_S, abs=1)


def test_document_docx_has_chinese_paragraphs(media):
    import docx

    doc = docx.Document(str(media["document_docx"]))
    texts = [p.text for p in doc.paragraphs if p.text]
    assert texts == mf.DOCX_PARAGRAPHS
    assert doc.core_properties.title == "微党课讲稿"


def test_document_pdf_has_three_pages(media):
    from pypdf import PdfReader

    reader = PdfReader(str(media["document_pdf"]))
    assert len(reader.pages) == 3
    assert "page 2 of 3" in reader.pages[1].extract_text()
    assert reader.metadata.title == "微党课讲稿"


# --------------------------------------------------------------------------- the builder itself


def test_make_lecture_options(tmp_path):
    path = mf.make_lecture(tmp_path / "small.mov", width=640, height=360, duration_s=25, codec="mpeg4",
                           container="mov", audio=False, subtitles=False, faststart=False)
    assert path == tmp_path / "small.mov"
    with av.open(str(path)) as c:
        assert "mov" in c.format.name.split(",")
        assert [s.type for s in c.streams] == ["video"]
        assert c.streams.video[0].codec_context.name == "mpeg4"
        assert c.duration / av.time_base == pytest.approx(25, abs=1)
    order = box_order(path)
    assert order.index("mdat") < order.index("moov")
