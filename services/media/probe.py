"""Facts about a media file, read from its content with PyAV (FFmpeg's libraries).

Never from the file's name or declared type. Four steps of increasing cost:
- `sniff`: what the first bytes say the file is (container family);
- `header_facts`: what the container's header and a short probe say (like ffprobe);
- `scan`: every packet demuxed, so a file whose header is intact but whose
  data is missing or broken is caught; embedded subtitle cues are collected;
- `derive_*`, `remux_clean`: a poster frame, a contact sheet, and a copy without
  metadata (for blind review) with the index at the front.

These are blocking and CPU-heavy: the service runs them in a child process
(`services.media.cli`), never on its event loop.
"""
from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass, field
from fractions import Fraction

import av

# FFmpeg's own log noise goes to stderr; errors reach us as exceptions.
av.logging.set_level(av.logging.PANIC)

TEXT_SUBTITLE_CODECS = {"mov_text", "subrip", "srt", "ass", "ssa", "webvtt", "text"}


class Unreadable(Exception):
    """The file cannot be read as media at all."""


# --------------------------------------------------------------------------- sniffing


def sniff(path: str) -> str | None:  # noqa: C901 - one branch per magic number, read as a table
    """The container family by magic bytes, or None when unknown."""
    with open(path, "rb") as f:
        head = f.read(64)
    if len(head) < 4:
        return None
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "mov"
        if brand in (b"M4A ", b"M4B "):
            return "m4a"
        return "mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm" if b"webm" in head else "mkv"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"FLV"):
        return "flv"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "wmv"
    if head[0] == 0x47 and len(head) > 1:
        return "mpegts"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "mp3"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"
    return None


def index_at_front(path: str) -> bool | None:
    """For MP4/MOV: is the index (moov) before the media data (mdat)?

    Browsers can start playing only once they have the index; at the end it
    means downloading the whole file first. None for other containers.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        offset = 0
        while offset + 8 <= size:
            f.seek(offset)
            header = f.read(16)
            box_size, box_type = struct.unpack(">I4s", header[:8])
            if box_size == 1 and len(header) >= 16:
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:
                box_size = size - offset
            if box_type == b"moov":
                return True
            if box_type == b"mdat":
                return False
            if box_size < 8:
                return None
            offset += box_size
    return None


# --------------------------------------------------------------------------- header


def _open(path: str):
    try:
        return av.open(path, mode="r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise Unreadable(str(exc)) from exc


def _container_name(format_name: str, sniffed: str | None) -> str:
    names = format_name.split(",")
    if "mp4" in names or "mov" in names:
        return sniffed if sniffed in ("mp4", "mov", "m4a") else "mp4"
    if "matroska" in names or "webm" in names:
        return sniffed if sniffed in ("mkv", "webm") else "mkv"
    return {"asf": "wmv", "mpegts": "mpegts"}.get(names[0], names[0])


def _rate(value) -> float | None:
    if value is None:
        return None
    return round(float(Fraction(value)), 3) if value else None


def header_facts(path: str) -> dict:
    """Container, streams, codecs, size and running time, as ffprobe would report them."""
    sniffed = sniff(path)
    with _open(path) as c:
        video = next((s for s in c.streams.video), None)
        audio = next((s for s in c.streams.audio), None)
        subtitles = list(c.streams.subtitles)
        duration = c.duration / av.time_base if c.duration else None
        if duration is None and video is not None and video.duration and video.time_base:
            duration = float(video.duration * video.time_base)
        facts = {
            "container": _container_name(c.format.name, sniffed),
            "format_names": c.format.name,
            "size_bytes": os.path.getsize(path),
            "duration_s": round(duration, 3) if duration is not None else None,
            "bit_rate": c.bit_rate or None,
            "has_video": video is not None,
            "video_codec": video.codec_context.name if video is not None else None,
            "width": video.codec_context.width if video is not None else None,
            "height": video.codec_context.height if video is not None else None,
            "frame_rate": _rate(video.average_rate) if video is not None else None,
            "has_audio": audio is not None,
            "audio_codec": audio.codec_context.name if audio is not None else None,
            "audio_channels": audio.codec_context.channels if audio is not None else None,
            "subtitle_tracks": len(subtitles),
            "subtitle_codecs": [s.codec_context.name for s in subtitles],
        }
    return facts


# --------------------------------------------------------------------------- full scan


@dataclass
class ScanResult:
    packets: int = 0
    bytes: int = 0
    last_video_s: float | None = None
    errors: list[str] = field(default_factory=list)
    cues: list[tuple[float, float, str]] = field(default_factory=list)

    def truncated(self, duration_s: float | None) -> bool:
        """The data stops well before the running time the header promises."""
        if not duration_s:
            return bool(self.errors)
        if self.last_video_s is None:
            return True
        return self.last_video_s < duration_s - max(1.0, 0.02 * duration_s)


def _cue_text(codec: str, payload: bytes) -> str:
    if codec == "mov_text" and len(payload) >= 2:
        # 3GPP timed text: a 16-bit length, then UTF-8 text, then style boxes.
        n = struct.unpack(">H", payload[:2])[0]
        payload = payload[2 : 2 + n]
    return payload.decode("utf-8", errors="replace").strip()


def scan(path: str) -> ScanResult:
    """Demux the whole file, like `ffmpeg -c copy -f null`.

    The demuxer reads every byte of every stream; Python sees only the packets
    of the video and text-subtitle streams (audio packets are skipped inside
    FFmpeg's loop), which is what truncation and subtitle coverage need and
    keeps the per-packet cost off the interpreter.
    """
    result = ScanResult()
    with _open(path) as c:
        video = next((s for s in c.streams.video), None)
        text_streams = {s.index: s.codec_context.name for s in c.streams.subtitles
                        if s.codec_context.name in TEXT_SUBTITLE_CODECS}
        wanted = ([video] if video is not None else []) + [s for s in c.streams.subtitles if s.index in text_streams]
        if not wanted:
            wanted = list(c.streams)
        video_index = video.index if video is not None else None
        video_tb = float(video.time_base) if video is not None else 0.0
        last_video_ticks = None
        packets = size_total = 0
        try:
            for packet in c.demux(*wanted):
                size = packet.size
                if not size:
                    continue  # the flush packet at the end of each stream
                packets += 1
                size_total += size
                index = packet.stream_index
                if index == video_index:
                    pts = packet.pts
                    if pts is None:
                        pts = packet.dts
                    if pts is not None:
                        end = pts + (packet.duration or 0)
                        if last_video_ticks is None or end > last_video_ticks:
                            last_video_ticks = end
                elif index in text_streams and packet.pts is not None:
                    tb = float(packet.time_base)
                    start = packet.pts * tb
                    text = _cue_text(text_streams[index], bytes(packet))
                    if text:
                        result.cues.append((start, start + (packet.duration or 0) * tb, text))
        except (av.FFmpegError, EOFError) as exc:
            result.errors.append(str(exc))
    result.packets, result.bytes = packets, size_total
    result.last_video_s = round(last_video_ticks * video_tb, 3) if last_video_ticks is not None else None
    return result


# --------------------------------------------------------------------------- derived files


# Containers a clean copy is written in, tried in order: the first that takes the streams wins.
# MP4 first (every browser plays H.264/AAC in it, and +faststart puts the index in front);
# Matroska takes nearly any codec. Audio keeps its own container where that muxer writes
# tags only from the (empty) metadata we give it: ID3 off for MP3, no LIST/INFO for WAV, a
# fresh comment header for Ogg and FLAC (Matroska would copy Vorbis' comment header as is).
_FASTSTART = {"movflags": "+faststart"}
_VIDEO_TARGETS = [("mp4", "mp4", _FASTSTART), ("mov", "mov", _FASTSTART), ("matroska", "mkv", {})]
_WEBM_TARGETS = [("webm", "webm", {}), ("matroska", "mkv", {})]
_AUDIO_TARGETS = {"mp3": [("mp3", "mp3", {"id3v2_version": "0", "write_id3v1": "0"})],
                  "wav": [("wav", "wav", {})], "ogg": [("ogg", "ogg", {})], "flac": [("flac", "flac", {})]}
_AUDIO_DEFAULT = [("ipod", "m4a", _FASTSTART), ("matroska", "mka", {})]
# Text subtitle tracks each container can carry; ASS/SSA tracks are left out everywhere: their
# header (Title, Original Script, style names) travels in the stream's extradata.
_SUBTITLES_IN = {"mp4": {"mov_text"}, "mov": {"mov_text"}, "matroska": {"subrip", "webvtt"}, "webm": {"webvtt"}}
_LANGUAGE = re.compile(r"[a-z]{3}")


def _clean_targets(inp, sniffed: str | None, audio_only: bool) -> list[tuple[str, str, dict]]:
    if audio_only:
        names = inp.format.name.split(",")
        key = "mp3" if "mp3" in names else "wav" if "wav" in names else "ogg" if "ogg" in names else (
            "flac" if "flac" in names else None)
        return _AUDIO_TARGETS.get(key, []) + _AUDIO_DEFAULT
    return _WEBM_TARGETS if sniffed == "webm" else _VIDEO_TARGETS


def _wanted(stream, fmt: str, audio_only: bool) -> bool:
    if stream.type == "audio":
        return True
    if audio_only:
        return False  # cover art (an attached picture) can carry its own EXIF
    if stream.type == "video":
        return not stream.disposition & av.stream.Disposition.attached_pic
    if stream.type == "subtitle":
        return stream.codec_context.name in _SUBTITLES_IN.get(fmt, ())
    return False  # data, attachments (fonts, covers): nothing a reviewer needs


def _remux(src: str, dst: str, fmt: str, options: dict, audio_only: bool) -> None:
    # bitexact: no encoder string or creation time either; nothing of the original's metadata
    # (container tags, stream titles and handler names, chapters) is copied, only the
    # streams' codec parameters and packets.
    with _open(src) as inp, av.open(dst, mode="w", format=fmt, options=dict(options, fflags="+bitexact")) as out:
        mapping = {}
        for s in inp.streams:
            if _wanted(s, fmt, audio_only):
                o = out.add_stream_from_template(s)
                language = s.metadata.get("language", "")
                if _LANGUAGE.fullmatch(language) and language != "und":
                    o.metadata["language"] = language
                mapping[s.index] = o
        if not any(inp.streams[i].type in ("video", "audio") for i in mapping):
            raise ValueError("no audio or video stream to copy")
        for packet in inp.demux(*[inp.streams[i] for i in mapping]):
            # The flush packet at each stream's end has no data; a packet without a decoding time (Matroska
            # leaves it unset on the first frames) gets one from the muxer, which knows the stream's delay.
            if not packet.size or (packet.dts is None and packet.pts is None):
                continue
            packet.stream = mapping[packet.stream_index]
            out.mux(packet)


def remux_clean(src: str, dst_stem: str, audio_only: bool = False) -> str:
    """A copy of the streams (no re-encoding) without any of the original's metadata; returns its path.

    For reviewers, who score blind: container tags (title, artist, comment, album, copyright),
    stream titles, chapters, attachments, cover art and ASS headers all stay behind. The copy
    has its index at the front, so it is also the playback copy. `dst_stem` gets the extension
    of the container that took the streams. Raises Unreadable when no container would.
    """
    with _open(src) as inp:
        targets = _clean_targets(inp, sniff(src), audio_only)
    errors = []
    for fmt, ext, options in targets:
        dst = f"{dst_stem}.{ext}"
        try:
            _remux(src, dst, fmt, options, audio_only)
            return dst
        except (av.FFmpegError, ValueError, EOFError) as exc:
            errors.append(f"{fmt}: {exc}")
            if os.path.exists(dst):
                os.remove(dst)
    raise Unreadable("; ".join(errors))


def _frame_at(container, stream, seconds: float):
    container.seek(int(seconds / float(stream.time_base)), stream=stream, any_frame=False, backward=True)
    for frame in container.decode(stream):
        return frame
    return None


def derive_images(path: str, poster_dst: str, sheet_dst: str, duration_s: float | None,
                  tiles: int = 9, tile_width: int = 320) -> list[str]:
    """A poster frame (10% in) and a contact sheet of keyframes; returns decode errors."""
    from PIL import Image

    errors: list[str] = []
    with _open(path) as c:
        video = next((s for s in c.streams.video), None)
        if video is None:
            return ["no video stream"]
        video.thread_type = "AUTO"
        total = duration_s or 0
        frames = []
        times = [total * (i + 0.5) / tiles for i in range(tiles)] if total else [0.0]
        for t in times:
            try:
                frame = _frame_at(c, video, t)
            except (av.FFmpegError, EOFError) as exc:
                errors.append(f"{t:.1f}s: {exc}")
                continue
            if frame is not None:
                frames.append(frame.to_image())
        if not frames:
            return errors or ["no frame could be decoded"]
        poster = frames[min(len(frames) - 1, 1 if len(frames) > 1 else 0)]
        poster.thumbnail((1280, 720))
        poster.convert("RGB").save(poster_dst, "JPEG", quality=85)
        ratio = frames[0].height / frames[0].width
        tile_h = int(tile_width * ratio)
        cols = 3
        rows = (len(frames) + cols - 1) // cols
        sheet = Image.new("RGB", (cols * tile_width, rows * tile_h), "black")
        for i, img in enumerate(frames):
            sheet.paste(img.convert("RGB").resize((tile_width, tile_h)), ((i % cols) * tile_width, (i // cols) * tile_h))
        sheet.save(sheet_dst, "JPEG", quality=80)
    return errors


def audio_facts(path: str) -> dict:
    """Codec and running time of an audio file."""
    sniffed = sniff(path)
    with _open(path) as c:
        audio = next((s for s in c.streams.audio), None)
        duration = c.duration / av.time_base if c.duration else None
        return {
            "format": sniffed or _container_name(c.format.name, sniffed),
            "codec": audio.codec_context.name if audio is not None else None,
            "duration_s": round(duration, 3) if duration else None,
            "size_bytes": os.path.getsize(path),
            "has_audio": audio is not None,
        }
