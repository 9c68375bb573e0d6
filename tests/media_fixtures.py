"""Generated test media for the media service (PyAV, Pillow, python-docx, pypdf; nothing downloaded).

Every ``make_*`` function writes one file into ``folder`` and returns its Path;
``make_all(folder)`` writes the whole set and returns ``{name: Path}``.

Speed: a lecture of any length is built by encoding ONE short closed GOP of
video (static frames, ``preset=ultrafast``, no B-frames) and a few seconds of
8 kHz mono AAC once per (codec, size), then stream-copying those packets again
and again with shifted timestamps until the wanted running time is reached.
No frame is encoded twice, so a 31-minute 1080p file costs about as much as a
10-second one.  The whole set takes a few seconds on two cores.

Names (the keys of ``make_all``):

=======================  ==================================================================
lecture_ok               MP4, H.264 yuv420p 1920x1080, AAC, mov_text subtitles covering
                         >= 90 % of the running time, 16 min, faststart (moov before mdat)
lecture_720p             as ok, 1280x720
lecture_mpeg4            as ok, MPEG-4 Part 2 video (``mpeg4``)
lecture_mkv_named_mp4    Matroska content (subrip subtitles) in a file named ``.mp4``
lecture_too_long         as ok, 31 min
lecture_too_short        as ok, 1 min
lecture_no_subtitles     as ok, no subtitle stream (its sidecar is ``subtitles_srt``)
lecture_no_audio         as ok, no audio stream
lecture_index_at_end     as ok, without faststart: moov after mdat
lecture_truncated        the bytes of lecture_ok cut at 60 %: header (moov) intact, data missing
text_named_mp4           a UTF-8 text file named 党课.mp4
subtitles_srt            lecture_no_subtitles.srt, UTF-8 Chinese, cues covering ~80 %
image_gps                JPEG 1200x800 with EXIF incl. a GPS IFD (latitude/longitude)
image_bomb               PNG, header 40000x40000 1-bit, ~280 KB, decompresses to 200 MB
audio_ok                 M4A (AAC) 30 s
document_docx            .docx with Chinese paragraphs
document_pdf             PDF, 3 pages
=======================  ==================================================================
"""
from __future__ import annotations

import io
import struct
import tempfile
import time
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# --------------------------------------------------------------------------- facts the tests rely on

LECTURE_S = 16 * 60          # inside the 15-20 min recommendation
TOO_LONG_S = 31 * 60
TOO_SHORT_S = 60
AUDIO_S = 30
FPS = 1                      # static slides: 1 frame per second keeps files tiny
GOP_S = 10                   # one closed GOP of 10 s is encoded, then repeated
AUDIO_RATE = 8000
AUDIO_FRAME = 1024           # AAC samples per packet
TRUNCATE_AT = 0.6
BOMB_SIZE = 40000
SUBTITLE_COVERAGE = 0.9375   # embedded cues: 7.5 s of every 8 s
SIDECAR_COVERAGE = 0.8       # sidecar .srt: 8 s of every 10 s
GPS = {"lat": (32, 3, 36.0), "lat_ref": "N", "lon": (118, 47, 24.0), "lon_ref": "E"}  # Nanjing

CUES = [
    "同志们好，今天我们讲抓紧抓实抓细常态化疫情防控工作",
    "坚持人民至上、生命至上，守护人民群众生命安全和身体健康",
    "不忘初心、牢记使命，始终把人民放在心中最高位置",
    "弘扬伟大抗疫精神，把党的政治优势和组织优势转化为防控优势",
    "基层党组织要发挥战斗堡垒作用，党员要发挥先锋模范作用",
    "学思用贯通、知信行统一，把学习成果转化为工作实效",
]

# The text subtitle encoders read their styles from an ASS header (FFmpeg's default one).
ASS_HEADER = (
    b"[Script Info]\r\nScriptType: v4.00+\r\nPlayResX: 384\r\nPlayResY: 288\r\n\r\n"
    b"[V4+ Styles]\r\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
    b"BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, "
    b"Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\r\n"
    b"Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\r\n\r\n"
    b"[Events]\r\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\r\n"
)

_SEGMENTS: dict[tuple, Segment] = {}


# --------------------------------------------------------------------------- the shared segment


@dataclass
class Segment:
    """One closed GOP of video and a cycle of audio, encoded once and kept in memory for stream copy."""
    holder: av.container.InputContainer   # keeps the template streams alive
    fps: int
    video: av.stream.Stream
    video_packets: list                   # (payload, pts, dts, duration, keyframe), in video_tb
    video_tb: Fraction
    video_cycle: int                      # length of the GOP in video_tb
    audio: av.stream.Stream
    audio_rate: int
    audio_packets: list                   # (payload, duration): AUDIO_FRAME samples each, contiguous

    @property
    def bytes_per_second(self) -> float:
        seconds = float(self.video_cycle * self.video_tb)
        return (sum(len(p[0]) for p in self.video_packets) / seconds
                + sum(len(p[0]) for p in self.audio_packets) / (len(self.audio_packets) * AUDIO_FRAME
                                                                 / self.audio_rate))


def _slide(width: int, height: int, index: int) -> np.ndarray:
    """A simple 'slide': dark red band, light body, a few text-like bars (moves a little per frame)."""
    img = np.full((height, width, 3), 238, np.uint8)
    band = height // 7
    img[:band] = (178, 24, 30)
    img[band: band + max(2, height // 180)] = (212, 175, 55)
    bar_h = max(4, height // 40)
    for line in range(6):
        top = band + height // 10 + line * 3 * bar_h
        length = width // 2 + ((line * 7919 + index * 131) % (width // 3))
        img[top: top + bar_h, width // 12: width // 12 + length] = (60, 60, 60)
    return img


def encode_segment(codec: str = "libx264", width: int = 1920, height: int = 1080, *, fps: int = FPS,
                   seconds: int = GOP_S, frame=None, video_bit_rate: int | None = None,
                   audio_rate: int = AUDIO_RATE, audio_layout: str = "mono",
                   audio_bit_rate: int = 16000) -> Segment:
    """Encode ``seconds`` of video as ONE closed GOP (no B-frames) plus a cycle of AAC audio.

    ``frame(i, width, height)`` returns the i-th picture as an ``av.VideoFrame`` or an RGB
    ndarray (default: a static slide).  Without ``video_bit_rate`` the quality is constant
    (x264 crf 30 / mpeg4 qscale 8), which makes static slides almost free.
    """
    gop = fps * seconds
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        v = out.add_stream(codec, rate=fps)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        opts = {"g": str(gop), "bf": "0"}
        if codec == "libx264":
            opts.update({"preset": "ultrafast", "keyint_min": str(gop), "sc_threshold": "0"})
            if not video_bit_rate:
                opts["crf"] = "30"
        elif not video_bit_rate:
            opts["qscale"] = "8"
        if video_bit_rate:
            v.bit_rate = video_bit_rate
        v.options = opts
        a = out.add_stream("aac", rate=audio_rate, layout=audio_layout)
        a.bit_rate = audio_bit_rate
        for i in range(gop):
            pic = frame(i, width, height) if frame else _slide(width, height, i)
            if not isinstance(pic, av.VideoFrame):
                pic = av.VideoFrame.from_ndarray(pic, format="rgb24")
            pic.pts = i
            out.mux(v.encode(pic))
        out.mux(v.encode())
        n = AUDIO_FRAME * (audio_rate * seconds // AUDIO_FRAME + 2)
        t = np.arange(n) / audio_rate
        # a quiet 'voice-like' tone, 220 Hz with a slow swell
        tone = (0.08 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t)))
        channels = len(a.layout.channels)
        pcm = np.repeat(tone.astype(np.float32)[None, :], channels, axis=0)
        for off in range(0, n, audio_rate):
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, off:off + audio_rate]), format="fltp",
                                            layout=audio_layout)
            af.sample_rate, af.pts = audio_rate, off
            out.mux(a.encode(af))
        out.mux(a.encode())
    buf.seek(0)
    holder = av.open(buf)
    vin, ain = holder.streams.video[0], holder.streams.audio[0]
    video, audio = [], []
    for p in holder.demux():
        if p.size == 0:
            continue
        if p.stream is vin:
            video.append((bytes(p), p.pts, p.dts, p.duration, p.is_keyframe))
        elif p.pts >= 0 and p.duration == AUDIO_FRAME:    # drop priming and the short tail
            audio.append((bytes(p), p.duration))
    audio = audio[: audio_rate * seconds // AUDIO_FRAME]
    if len(video) != gop or not video[0][4]:
        raise RuntimeError(f"expected one closed GOP of {gop} frames from {codec}")
    return Segment(holder, fps, vin, video, vin.time_base, int(Fraction(seconds) / vin.time_base),
                   ain, audio_rate, audio)


def _segment(codec: str, width: int, height: int) -> Segment:
    key = (codec, width, height)
    if key not in _SEGMENTS:
        _SEGMENTS[key] = encode_segment(codec, width, height)
    return _SEGMENTS[key]


def _packet(payload: bytes, stream, pts: int, dts: int, duration: int, tb: Fraction, key: bool):
    p = av.Packet(payload)
    p.pts, p.dts, p.duration, p.time_base, p.stream = pts, dts, duration, tb, stream
    p.is_keyframe = key
    return p


def _cues(duration_s: float, every: float, show: float):
    """(start_s, end_s, text) covering show/every of the running time."""
    cues, start, i = [], 0.0, 0
    while start + 0.5 < duration_s:
        cues.append((start, min(start + show, duration_s), CUES[i % len(CUES)]))
        start += every
        i += 1
    return cues


def write_repeated(path, seg: Segment, duration_s: float, *, container: str = "mp4", audio: bool = True,
                   subtitles: bool = True, faststart: bool = True, tags: dict | None = None,
                   subtitle_codec: str | None = None, speaker: str = "", subtitle_header: bytes = ASS_HEADER,
                   chapters: list[str] = ()) -> Path:
    """Mux ``seg``'s packets again and again, timestamps shifted, for ``duration_s`` (stream copy).

    ``tags`` go on the container and on every stream (as a name would sit in an exported file's
    title, artist, comment...); ``speaker`` fills each subtitle event's Name field; ``chapters``
    are chapter titles spread over the running time.
    """
    path = Path(path)
    fmt = {"mkv": "matroska"}.get(container, container)
    options = {"movflags": "faststart"} if faststart and fmt in ("mp4", "mov") else {}
    with av.open(str(path), "w", format=fmt, options=options) as out:
        vs = out.add_stream_from_template(seg.video)
        vs.codec_context.framerate = Fraction(seg.fps)
        ast = out.add_stream_from_template(seg.audio) if audio else None
        ss = None
        if subtitles:
            ss = out.add_stream(subtitle_codec or ("mov_text" if fmt in ("mp4", "mov") else "subrip"))
            ss.codec_context.time_base = Fraction(1, 1000)
            ss.codec_context.subtitle_header = subtitle_header
            ss.metadata["language"] = "chi"
        out.metadata["title"] = "微党课"
        if tags:
            out.metadata.update(tags)
            for stream in out.streams:
                stream.metadata.update({"title": tags.get("title", ""), "handler_name": tags.get("artist", "")})
        if chapters:
            step = duration_s / len(chapters)
            out.set_chapters([{"id": n + 1, "start": int(n * step * 1000), "end": int((n + 1) * step * 1000),
                               "time_base": Fraction(1, 1000), "metadata": {"title": title}}
                              for n, title in enumerate(chapters)])

        # Interleave by time, as a real encoder would write them.
        n_frames = round(duration_s * seg.fps)
        n_audio = int(duration_s * seg.audio_rate) // AUDIO_FRAME if audio else 0
        cues = _cues(duration_s, 8.0, 7.5) if subtitles else []
        events = [(i / seg.fps, 0, i) for i in range(n_frames)]                      # 0: video
        events += [(j * AUDIO_FRAME / seg.audio_rate, 1, j) for j in range(n_audio)]  # 1: audio
        events += [(cue[0], 2, k) for k, cue in enumerate(cues)]                       # 2: subtitle
        events.sort()
        gop, n_cycle_a = len(seg.video_packets), len(seg.audio_packets)
        for _, kind, i in events:
            if kind == 0:
                cycle, pos = divmod(i, gop)
                payload, pts, dts, dur, key = seg.video_packets[pos]
                shift = cycle * seg.video_cycle
                out.mux(_packet(payload, vs, pts + shift, dts + shift, dur, seg.video_tb, key))
            elif kind == 1:
                payload, dur = seg.audio_packets[i % n_cycle_a]
                out.mux(_packet(payload, ast, i * AUDIO_FRAME, i * AUDIO_FRAME, dur, seg.audio.time_base, True))
            else:
                start, end, text = cues[i]
                start_ms, end_ms = int(start * 1000), int(end * 1000)
                sub = av.subtitles.subtitle.SubtitleSet.create(
                    f"{i},0,Default,{speaker},0,0,0,,{text}".encode(), 0, end_ms - start_ms, pts=start_ms)
                pkt = ss.codec_context.encode_subtitle(sub)
                pkt.time_base, pkt.stream = Fraction(1, 1000), ss
                out.mux(pkt)
    return path


# --------------------------------------------------------------------------- the shared builder


def make_lecture(path, *, width: int, height: int, duration_s: float, codec: str = "libx264",
                 container: str = "mp4", audio: bool = True, subtitles: bool = True,
                 faststart: bool = True) -> Path:
    """Write a lecture video: video (+ 8 kHz mono AAC) (+ Chinese subtitle cues) of ``duration_s``.

    ``codec``: "libx264" or "mpeg4"; ``container``: "mp4", "mov" or "matroska"/"mkv" (the file
    name is not consulted, so Matroska can be written to a name ending in .mp4).  Subtitles are
    ``mov_text`` in MP4/MOV and ``subrip`` in Matroska, 7.5 s of every 8 s.  ``faststart``
    (MP4/MOV only) moves the moov box in front of mdat; without it the index is at the end.
    """
    return write_repeated(path, _segment(codec, width, height), duration_s, container=container,
                          audio=audio, subtitles=subtitles, faststart=faststart)


# --------------------------------------------------------------------------- the named fixtures


def make_lecture_ok(folder) -> Path:
    return make_lecture(Path(folder) / "lecture_ok.mp4", width=1920, height=1080, duration_s=LECTURE_S)


def make_lecture_720p(folder) -> Path:
    return make_lecture(Path(folder) / "lecture_720p.mp4", width=1280, height=720, duration_s=LECTURE_S)


def make_lecture_mpeg4(folder) -> Path:
    return make_lecture(Path(folder) / "lecture_mpeg4.mp4", width=1920, height=1080, duration_s=LECTURE_S,
                        codec="mpeg4")


def make_lecture_mkv_named_mp4(folder) -> Path:
    return make_lecture(Path(folder) / "lecture_mkv_named.mp4", width=1920, height=1080,
                        duration_s=LECTURE_S, container="matroska")


def make_lecture_too_long(folder) -> Path:
    return make_lecture(Path(folder) / "lecture_too_long.mp4", width=1920, height=1080, duration_s=TOO_LONG_S)


def make_lecture_too_short(folder) -> Path:
    return make_lecture(Path(folder) / "lecture_too_short.mp4", width=1920, height=1080,
                        duration_s=TOO_SHORT_S)


def make_lecture_no_subtitles(folder) -> Path:
    return make_lecture(Path(folder) / "lecture_no_subtitles.mp4", width=1920, height=1080,
                        duration_s=LECTURE_S, subtitles=False)


def make_lecture_no_audio(folder) -> Path:
    return make_lecture(Path(folder) / "lecture_no_audio.mp4", width=1920, height=1080,
                        duration_s=LECTURE_S, audio=False)


def make_lecture_index_at_end(folder) -> Path:
    return make_lecture(Path(folder) / "lecture_index_at_end.mp4", width=1920, height=1080,
                        duration_s=LECTURE_S, faststart=False)


def make_lecture_truncated(folder, source=None) -> Path:
    """The first 60 % of the bytes of a faststart lecture (``source``, default: a fresh lecture_ok).

    The moov box sits in front, so the header is intact; most of mdat is missing.
    """
    path = Path(folder) / "lecture_truncated.mp4"
    if source is None:
        with tempfile.TemporaryDirectory() as tmp:
            data = make_lecture_ok(tmp).read_bytes()
    else:
        data = Path(source).read_bytes()
    path.write_bytes(data[: int(len(data) * TRUNCATE_AT)])
    return path


def make_text_named_mp4(folder) -> Path:
    path = Path(folder) / "党课.mp4"
    path.write_text("这不是视频文件。\n同志们好，今天我们讲抓紧抓实抓细常态化疫情防控工作。\n", encoding="utf-8")
    return path


def _srt_time(s: float) -> str:
    ms = round(s * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def make_subtitles_srt(folder, duration_s: float = LECTURE_S) -> Path:
    """Sidecar for lecture_no_subtitles (same stem), cues covering ~80 % of ``duration_s``."""
    path = Path(folder) / "lecture_no_subtitles.srt"
    blocks = [f"{n}\n{_srt_time(a)} --> {_srt_time(b)}\n{text}\n"
              for n, (a, b, text) in enumerate(_cues(duration_s, 10.0, 10.0 * SIDECAR_COVERAGE), 1)]
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def make_image_gps(folder) -> Path:
    from PIL import ExifTags, Image

    img = Image.fromarray(_slide(1200, 800, 0))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Huawei"
    exif[ExifTags.Base.Model] = "P40"
    exif[ExifTags.Base.DateTime] = "2020:06:12 09:30:00"
    exif[ExifTags.Base.ImageDescription] = "party lecture"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSVersionID] = b"\x02\x02\x00\x00"
    gps[ExifTags.GPS.GPSLatitudeRef] = GPS["lat_ref"]
    gps[ExifTags.GPS.GPSLatitude] = tuple(float(x) for x in GPS["lat"])
    gps[ExifTags.GPS.GPSLongitudeRef] = GPS["lon_ref"]
    gps[ExifTags.GPS.GPSLongitude] = tuple(float(x) for x in GPS["lon"])
    path = Path(folder) / "image_gps.jpg"
    img.save(path, "JPEG", quality=80, exif=exif)
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_image_bomb(folder, size: int = BOMB_SIZE) -> Path:
    """A genuine decompression bomb: a valid 1-bit white PNG of size x size (200 MB raw) in ~280 KB.

    The deflate stream is built from one compressed block of identical rows that is repeated
    (each block ends with a full flush, so it never refers to earlier data), then the Adler-32
    of the whole raw image closes it.  Takes a fraction of a second and no big buffer.
    """
    assert size % 8 == 0
    rows_per_block = next(n for n in (1000, 800, 500, 400, 250, 200, 100, 50, 40, 25, 20, 10, 8, 5, 4, 2, 1)
                          if size % n == 0)
    block_raw = (b"\x00" + b"\xff" * (size // 8)) * rows_per_block
    comp = zlib.compressobj(9)
    first = comp.compress(block_raw) + comp.flush(zlib.Z_FULL_FLUSH)   # starts with the zlib header
    repeat = comp.compress(block_raw) + comp.flush(zlib.Z_FULL_FLUSH)
    n_blocks = size // rows_per_block
    adler = 1
    for _ in range(n_blocks):
        adler = zlib.adler32(block_raw, adler)
    idat = first + repeat * (n_blocks - 1) + b"\x03\x00" + struct.pack(">I", adler)   # empty final block
    ihdr = struct.pack(">IIBBBBB", size, size, 1, 0, 0, 0, 0)    # bit depth 1, greyscale
    path = Path(folder) / "image_bomb.png"
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr))
        f.writelines(_png_chunk(b"IDAT", idat[off: off + (1 << 16)]) for off in range(0, len(idat), 1 << 16))
        f.write(_png_chunk(b"IEND", b""))
    return path


def make_audio_ok(folder, duration_s: float = AUDIO_S) -> Path:
    path = Path(folder) / "audio_ok.m4a"
    rate = 16000
    with av.open(str(path), "w", format="ipod") as out:
        a = out.add_stream("aac", rate=rate, layout="mono")
        a.bit_rate = 32000
        n = int(duration_s * rate)
        t = np.arange(n) / rate
        tone = (0.1 * np.sin(2 * np.pi * 196 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t)))
        for start in range(0, n, rate):
            frame = av.AudioFrame.from_ndarray(tone[start: start + rate].astype(np.float32)[None, :],
                                               format="flt", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            out.mux(a.encode(frame))
        out.mux(a.encode())
    return path


DOCX_PARAGRAPHS = [
    "微党课讲稿：抓紧抓实抓细常态化疫情防控工作",
    "同志们好！今天我们围绕坚持人民至上、生命至上，谈一谈基层党组织如何发挥战斗堡垒作用。",
    "一、提高政治站位。疫情防控是一场大考，党员干部要冲锋在前、担当作为。",
    "二、压实防控责任。落实“四方责任”，做到守土有责、守土担责、守土尽责。",
    "三、弘扬抗疫精神。把伟大抗疫精神转化为推动学校事业发展的强大动力。",
]


def make_document_docx(folder) -> Path:
    import docx

    doc = docx.Document()
    doc.core_properties.title = "微党课讲稿"
    doc.core_properties.author = "东南大学党委"
    doc.add_heading(DOCX_PARAGRAPHS[0], level=1)
    for text in DOCX_PARAGRAPHS[1:]:
        doc.add_paragraph(text)
    path = Path(folder) / "document.docx"
    doc.save(path)
    return path


PDF_PAGES = 3


def make_document_pdf(folder, pages: int = PDF_PAGES) -> Path:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica")}))
    for n in range(1, pages + 1):
        page = writer.add_blank_page(width=595, height=842)   # A4 in points
        content = DecodedStreamObject()
        content.set_data(f"BT /F1 18 Tf 72 760 Td (Party micro-lecture, page {n} of {pages}) Tj ET"
                         .encode("ascii"))
        page[NameObject("/Contents")] = writer._add_object(content)
        page[NameObject("/Resources")] = DictionaryObject({
            NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
    writer.add_metadata({"/Title": "微党课讲稿", "/Author": "东南大学党委"})
    path = Path(folder) / "document.pdf"
    with open(path, "wb") as f:
        writer.write(f)
    return path


# --------------------------------------------------------------------------- names planted in metadata (issue #14)

# One Chinese and one ASCII name, put into every metadata slot of every kind of file a reviewer
# could receive; tests/security/test_reviewer_metadata.py looks for them in every byte reviewers reach.
LEAK_NAMES = ("作者泄密测试张三丰", "LeakyAuthorZhang")
LEAK_PATH = r"C:\Users\LeakyAuthorZhang\AppData\Roaming\Microsoft\Templates\作者泄密测试张三丰.dotm"
LEAK_TAGS = {"title": f"{LEAK_NAMES[0]}的微党课", "artist": LEAK_NAMES[0], "album_artist": LEAK_NAMES[1],
             "comment": f"made by {LEAK_NAMES[1]}", "album": LEAK_NAMES[0], "copyright": f"(c) {LEAK_NAMES[1]}",
             "composer": LEAK_NAMES[1], "author": LEAK_NAMES[0], "description": LEAK_NAMES[1]}
TAGGED_S = 20


def make_video_tagged(folder) -> Path:
    """A faststart MP4 (index already at the front) with container and stream tags, chapters, speaker names."""
    return write_repeated(Path(folder) / "video_tagged.mp4", _segment("libx264", 320, 240), TAGGED_S,
                          tags=LEAK_TAGS, speaker=LEAK_NAMES[1], chapters=[LEAK_NAMES[0], LEAK_NAMES[1]])


def make_video_tagged_mkv(folder) -> Path:
    """Matroska with tags, chapters and an ASS subtitle track whose header and Name fields name the author."""
    header = ASS_HEADER.replace(b"[Script Info]\r\n", f"[Script Info]\r\nTitle: {LEAK_NAMES[0]}\r\n"
                                f"Original Script: {LEAK_NAMES[1]}\r\n".encode())
    return write_repeated(Path(folder) / "video_tagged.mkv", _segment("libx264", 320, 240), TAGGED_S,
                          container="matroska", tags=LEAK_TAGS, subtitle_codec="ass", subtitle_header=header,
                          speaker=LEAK_NAMES[0], chapters=[LEAK_NAMES[1]])


def make_audio_tagged(folder, fmt: str) -> Path:
    """Audio with tags in its container: "wav" (LIST/INFO), "mp3" (ID3v2 and ID3v1), "m4a" (iTunes atoms)."""
    muxer, codec = {"wav": ("wav", "pcm_s16le"), "mp3": ("mp3", "libmp3lame"), "m4a": ("ipod", "aac")}[fmt]
    path = Path(folder) / f"audio_tagged.{fmt}"
    rate = 16000
    with av.open(str(path), "w", format=muxer, options={"write_id3v1": "1"} if fmt == "mp3" else {}) as out:
        a = out.add_stream(codec, rate=rate, layout="mono")
        a.metadata.update({"title": LEAK_NAMES[1], "handler_name": LEAK_NAMES[0]})
        out.metadata.update(LEAK_TAGS)
        sample_fmt = a.codec_context.format.name
        n = rate * 5
        tone = 0.1 * np.sin(2 * np.pi * 220 * np.arange(n) / rate)
        scale, dtype = {"s16": (32767, np.int16), "s16p": (32767, np.int16), "s32p": (2 ** 30, np.int32)}.get(
            sample_fmt, (1.0, np.float32))
        for start in range(0, n, 1152 * 4):
            chunk = (tone[start:start + 1152 * 4] * scale).astype(dtype)[None, :]
            frame = av.AudioFrame.from_ndarray(chunk, format=sample_fmt, layout="mono")
            frame.sample_rate, frame.pts = rate, start
            out.mux(a.encode(frame))
        out.mux(a.encode())
    return path


def make_subtitles_ass_tagged(folder) -> Path:
    """ASS from an editor: the header names the author, events name speakers, a comment line and the
    project section (with a path on the author's disk) too."""
    text = (f"[Script Info]\n; Script generated by Aegisub for {LEAK_NAMES[1]}\nTitle: {LEAK_NAMES[0]}\n"
            f"Original Script: {LEAK_NAMES[1]}\nOriginal Translation: {LEAK_NAMES[0]}\n"
            f"Script Updated By: {LEAK_NAMES[1]}\nScriptType: v4.00+\n\n"
            f"[Aegisub Project Garbage]\nAudio File: {LEAK_PATH}\nVideo File: {LEAK_PATH}\n\n"
            "[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, Bold\n"
            f"Style: {LEAK_NAMES[1]},SimHei,20,&H00FFFFFF,0\n\n"
            "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n")
    for n in range(10):
        who = LEAK_NAMES[n % 2]
        text += (f"Dialogue: 0,0:00:{2 * n:02d}.00,0:00:{2 * n + 1:02d}.50,{LEAK_NAMES[1]},{who},0,0,0,,"
                 f"{{\\an8}}{CUES[n % len(CUES)]}\n")
    text += f"Comment: 0,0:00:00.00,0:00:01.00,Default,{LEAK_NAMES[0]},0,0,0,,{LEAK_NAMES[1]}的备注\n"
    path = Path(folder) / "subtitles_tagged.ass"
    path.write_text(text, encoding="utf-8")
    return path


def _jpeg_with_artist() -> bytes:
    from PIL import ExifTags, Image

    exif = Image.Exif()
    exif[ExifTags.Base.Artist] = LEAK_NAMES[1]
    exif[ExifTags.Base.Copyright] = LEAK_NAMES[1]
    exif[ExifTags.Base.XPAuthor] = LEAK_NAMES[0].encode("utf-16-le") + b"\0\0"
    buf = io.BytesIO()
    Image.fromarray(_slide(240, 160, 0)).save(buf, "JPEG", quality=70, exif=exif,
                                              comment=LEAK_NAMES[1].encode())
    return buf.getvalue()


_W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def make_document_docx_tagged(folder) -> Path:
    """A .docx naming its author everywhere Word and WPS keep names besides the text.

    Core properties (author, last editor, ...), app properties (company, manager, the template
    path under the author's Windows account), custom properties, a comment and people.xml,
    tracked changes (insert, delete, formatting change), settings.xml's attached template,
    a picture with EXIF Artist, and the zip's own comments.
    """
    import zipfile

    import docx

    name_cn, name_en = LEAK_NAMES
    doc = docx.Document()
    props = doc.core_properties
    props.author, props.last_modified_by, props.comments = name_cn, name_en, name_cn
    props.keywords, props.subject, props.category, props.title = name_en, name_cn, name_en, f"{name_cn}的讲稿"
    doc.add_heading(DOCX_PARAGRAPHS[0], level=1)
    first = doc.add_paragraph(DOCX_PARAGRAPHS[1])
    doc.add_comment(first.runs, text="请再斟酌这一段。", author=name_cn, initials=name_en[:2])
    for text in DOCX_PARAGRAPHS[2:]:
        doc.add_paragraph(text)
    doc.add_picture(io.BytesIO(_jpeg_with_artist()))
    base = Path(folder) / "base.docx"
    doc.save(base)

    path = Path(folder) / "document_tagged.docx"
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        dst.comment = name_en.encode()
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", (
                    '<Override PartName="/word/people.xml" ContentType="application/vnd.openxmlformats-'
                    'officedocument.wordprocessingml.people+xml"/><Override PartName="/docProps/custom.xml" '
                    'ContentType="application/vnd.openxmlformats-officedocument.custom-properties+xml"/>'
                    '</Types>').encode())
            elif item.filename == "_rels/.rels":
                data = data.replace(b"</Relationships>", (
                    '<Relationship Id="rIdCustom" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                    'relationships/custom-properties" Target="docProps/custom.xml"/></Relationships>').encode())
            elif item.filename == "word/_rels/document.xml.rels":
                data = data.replace(b"</Relationships>", (
                    '<Relationship Id="rIdPeople" Type="http://schemas.microsoft.com/office/2011/relationships/'
                    'people" Target="people.xml"/></Relationships>').encode())
            elif item.filename == "docProps/app.xml":
                data = data.replace(b"</Properties>", (
                    f"<Template>{LEAK_PATH}</Template><Company>{name_cn}</Company><Manager>{name_en}</Manager>"
                    "</Properties>").encode())
            elif item.filename == "word/settings.xml":
                data = data.replace(b"<w:defaultTabStop", b'<w:attachedTemplate r:id="rIdTpl"/><w:defaultTabStop', 1)
                if b"xmlns:r=" not in data[:2000]:
                    data = data.replace(b"<w:settings ", b'<w:settings xmlns:r="http://schemas.openxmlformats.org/'
                                                          b'officeDocument/2006/relationships" ', 1)
            elif item.filename == "word/document.xml":
                # A tracked insertion, deletion and formatting change, each with its author.
                change = (f'<w:p><w:ins w:id="901" w:author="{name_cn}" w:date="2020-06-01T10:00:00Z"><w:r><w:t>'
                          f'补充的一句。</w:t></w:r></w:ins><w:del w:id="902" w:author="{name_en}" '
                          'w:date="2020-06-01T10:01:00Z"><w:r><w:delText>删掉的一句。</w:delText></w:r></w:del>'
                          f'<w:r><w:rPr><w:b/><w:rPrChange w:id="903" w:author="{name_cn}" '
                          'w:date="2020-06-01T10:02:00Z"><w:rPr/></w:rPrChange></w:rPr><w:t>加粗。</w:t></w:r></w:p>')
                data = data.replace(b"<w:sectPr", change.encode() + b"<w:sectPr", 1)
            dst.writestr(item, data)
        dst.writestr("word/_rels/settings.xml.rels", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rIdTpl" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/attachedTemplate" '
            f'Target="file:///{LEAK_PATH}" TargetMode="External"/></Relationships>').encode())
        dst.writestr("word/people.xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w15:people xmlns:w15="http://schemas.'
            f'microsoft.com/office/word/2012/wordml"><w15:person w15:author="{name_cn}"><w15:presenceInfo '
            f'w15:providerId="AD" w15:userId="S::{name_en}@example.edu.cn"/></w15:person></w15:people>').encode())
        dst.writestr("docProps/custom.xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Properties xmlns="http://schemas.'
            'openxmlformats.org/officeDocument/2006/custom-properties" xmlns:vt="http://schemas.openxmlformats.'
            'org/officeDocument/2006/docPropsVTypes"><property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" '
            f'pid="2" name="Owner"><vt:lpwstr>{name_cn} {name_en}</vt:lpwstr></property></Properties>').encode())
    base.unlink()
    return path


def _xmp(creator: str) -> bytes:
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
            f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator><rdf:Seq><rdf:li>{creator}</rdf:li>'
            '</rdf:Seq></dc:creator></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode()


def make_document_pdf_tagged(folder) -> Path:
    """A PDF naming its author in the Info dictionary, XMP (catalog, page, and an orphan packet left by
    an incremental save), annotation authors (/T of a note and its popup), a signature's signer, a
    thread's info and an embedded file; with JavaScript on open."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        FloatObject,
        NameObject,
        NumberObject,
        TextStringObject,
    )

    name_cn, name_en = LEAK_NAMES
    writer = PdfWriter(clone_from=PdfReader(make_document_pdf(folder)))

    def xmp_stream(creator: str):
        stream = DecodedStreamObject()
        stream.set_data(_xmp(creator))
        stream.update({NameObject("/Type"): NameObject("/Metadata"), NameObject("/Subtype"): NameObject("/XML")})
        return writer._add_object(stream.flate_encode())

    root = writer._root_object
    root[NameObject("/Metadata")] = xmp_stream(f"{name_cn} {name_en}")
    writer._add_object(xmp_stream(f"{name_en} {name_cn}").get_object())   # orphan: nothing points to it
    page = writer.pages[0]
    page[NameObject("/Metadata")] = xmp_stream(name_cn)
    rect = ArrayObject([FloatObject(v) for v in (72, 600, 200, 650)])
    note = DictionaryObject({NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Text"),
                             NameObject("/Rect"): rect, NameObject("/T"): TextStringObject(name_cn),
                             NameObject("/Contents"): TextStringObject("此处请修改。")})
    note_ref = writer._add_object(note)
    popup = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Popup"),
        NameObject("/Rect"): rect, NameObject("/Parent"): note_ref, NameObject("/T"): TextStringObject(name_en)}))
    note[NameObject("/Popup")] = popup
    sig = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Sig"), NameObject("/Filter"): NameObject("/Adobe.PPKLite"),
        NameObject("/Name"): TextStringObject(name_cn), NameObject("/Reason"): TextStringObject(name_en),
        NameObject("/ByteRange"): ArrayObject([NumberObject(0), NumberObject(0), NumberObject(0), NumberObject(0)])}))
    field = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Widget"),
        NameObject("/FT"): NameObject("/Sig"), NameObject("/T"): TextStringObject("signature"),
        NameObject("/Rect"): ArrayObject([FloatObject(0)] * 4), NameObject("/V"): sig}))
    page[NameObject("/Annots")] = ArrayObject([note_ref, popup, field])
    root[NameObject("/AcroForm")] = DictionaryObject({NameObject("/Fields"): ArrayObject([field])})
    thread = writer._add_object(DictionaryObject({NameObject("/Type"): NameObject("/Thread"), NameObject("/I"):
                                                  DictionaryObject({NameObject("/Author"): TextStringObject(name_en)})}))
    root[NameObject("/Threads")] = ArrayObject([thread])
    writer.add_attachment(f"{name_en}.txt", f"{name_cn}的原稿".encode())
    root[NameObject("/OpenAction")] = DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                                                        NameObject("/JS"): TextStringObject("app.alert('opened');")})
    writer.add_metadata({"/Author": f"{name_cn} {name_en}", "/Creator": name_en, "/Title": name_cn,
                         "/Subject": name_en, "/Keywords": name_cn})
    path = Path(folder) / "document_tagged.pdf"
    with open(path, "wb") as f:
        writer.write(f)
    return path


def make_image_tagged(folder) -> Path:
    """A JPEG whose EXIF names the photographer (Artist, Copyright, XPAuthor) and whose comment does too."""
    path = Path(folder) / "image_tagged.jpg"
    path.write_bytes(_jpeg_with_artist())
    return path


TAGGED_MAKERS = {
    "video_tagged_mp4": make_video_tagged,
    "video_tagged_mkv": make_video_tagged_mkv,
    "audio_tagged_wav": lambda folder: make_audio_tagged(folder, "wav"),
    "audio_tagged_mp3": lambda folder: make_audio_tagged(folder, "mp3"),
    "audio_tagged_m4a": lambda folder: make_audio_tagged(folder, "m4a"),
    "subtitles_tagged_ass": make_subtitles_ass_tagged,
    "document_tagged_docx": make_document_docx_tagged,
    "document_tagged_pdf": make_document_pdf_tagged,
    "image_tagged": make_image_tagged,
}
TAGGED_KINDS = {"video_tagged_mp4": "video", "video_tagged_mkv": "video", "audio_tagged_wav": "audio",
                "audio_tagged_mp3": "audio", "audio_tagged_m4a": "audio", "subtitles_tagged_ass": "subtitle",
                "document_tagged_docx": "document", "document_tagged_pdf": "document", "image_tagged": "image"}


def _layers(data: bytes, depth: int = 0):
    """The bytes, and every layer inside them a reader would decode: zip entries (DOCX), PDF objects
    and their decoded streams (also objects nothing points to), and any zlib stream found in raw bytes."""
    import re
    import zipfile

    yield data
    if depth > 3:
        return
    if data.startswith(b"PK"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                yield z.comment
                for info in z.infolist():
                    yield info.comment + info.extra + info.filename.encode()
                    yield from _layers(z.read(info), depth + 1)
        except zipfile.BadZipFile:
            pass
    if data.lstrip()[:5] == b"%PDF-":
        from pypdf import PdfReader
        from pypdf.generic import StreamObject

        reader = PdfReader(io.BytesIO(data), strict=False)
        yield repr(reader.trailer).encode()
        for numbers in reader.xref.values():
            for number in numbers:
                try:
                    obj = reader.get_object(number)
                except Exception:  # noqa: BLE001, S112 - a damaged object is searched as raw bytes above
                    continue
                yield repr(obj).encode("utf-8", "replace")
                if isinstance(obj, StreamObject):
                    try:
                        yield obj.get_data()
                    except Exception:  # noqa: BLE001, S112 - undecodable: its raw bytes were searched
                        pass
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
        try:
            yield zlib.decompress(m.group(1))
        except zlib.error:
            pass


def names_in(data: bytes) -> set[str]:
    """Which planted names occur anywhere in `data` or its decoded layers, in any common encoding."""
    found = set()
    for layer in _layers(data):
        for name in LEAK_NAMES:
            if any(name.encode(enc) in layer for enc in ("utf-8", "utf-16-le", "utf-16-be", "gb18030")):
                found.add(name)
    return found


def make_document_docx_html(folder) -> Path:
    """A valid .docx that also carries an uncompressed entry with a script: a browser that is told (or
    guesses) text/html for it runs the script (issue #14, item 1)."""
    import zipfile

    path = Path(folder) / "document_html.docx"
    src_path = make_document_docx(folder)
    with zipfile.ZipFile(src_path) as src, zipfile.ZipFile(path, "w") as dst:
        dst.writestr(zipfile.ZipInfo("a.html"), XSS_PAYLOAD, zipfile.ZIP_STORED)
        for item in src.infolist():
            dst.writestr(item, src.read(item))
    return path


XSS_PAYLOAD = b"<html><body><script>document.title='XSS-RAN';fetch('/queue')</script></body></html>"
# A name for what the browser must never execute; the browser test looks for its effect.


# --------------------------------------------------------------------------- all of them

MAKERS = {
    "lecture_ok": make_lecture_ok,
    "lecture_720p": make_lecture_720p,
    "lecture_mpeg4": make_lecture_mpeg4,
    "lecture_mkv_named_mp4": make_lecture_mkv_named_mp4,
    "lecture_too_long": make_lecture_too_long,
    "lecture_too_short": make_lecture_too_short,
    "lecture_no_subtitles": make_lecture_no_subtitles,
    "lecture_no_audio": make_lecture_no_audio,
    "lecture_index_at_end": make_lecture_index_at_end,
    "lecture_truncated": make_lecture_truncated,
    "text_named_mp4": make_text_named_mp4,
    "subtitles_srt": make_subtitles_srt,
    "image_gps": make_image_gps,
    "image_bomb": make_image_bomb,
    "audio_ok": make_audio_ok,
    "document_docx": make_document_docx,
    "document_pdf": make_document_pdf,
}


def make_all(folder) -> dict[str, Path]:
    """Write every fixture into ``folder`` (created if missing); returns {name: path}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, Path] = {}
    for name, maker in MAKERS.items():
        if name == "lecture_truncated":
            made[name] = make_lecture_truncated(folder, source=made["lecture_ok"])
        else:
            made[name] = maker(folder)
    return made


_SESSION: dict[str, Path] | None = None


def session_media(tmp_path_factory) -> dict[str, Path]:
    """make_all once per test process, for session-scoped fixtures in any test module::

        @pytest.fixture(scope="session")
        def media(tmp_path_factory):
            return session_media(tmp_path_factory)
    """
    global _SESSION
    if _SESSION is None or not all(p.exists() for p in _SESSION.values()):
        _SESSION = make_all(tmp_path_factory.mktemp("media"))
    return _SESSION


if __name__ == "__main__":   # python -m tests.media_fixtures [FOLDER]: write the set, print the time
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/media-fixtures")
    t0 = time.perf_counter()
    files = make_all(target)
    elapsed = time.perf_counter() - t0
    for key, p in files.items():
        print(f"{key:24s} {p.stat().st_size:>12,d}  {p}")
    print(f"generated {len(files)} files in {elapsed:.2f} s")
