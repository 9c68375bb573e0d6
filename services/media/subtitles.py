"""Sidecar subtitles (SRT, WebVTT, ASS/SSA): parsing and coverage. Pure, no I/O.

Files come from many editors (剪映, Aegisub, Arctime, Premiere, web converters)
and are rarely clean: GB18030 instead of UTF-8, comma or dot before the
milliseconds, missing index numbers, stray blank lines, styling tags. The
parser tolerates all of that and records what it had to skip in `problems`
(Chinese, shown to the submitter as warnings). The format is decided by the
content; the file name is never consulted.
"""
from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field

FORMATS = ("srt", "vtt", "ass")


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    text: str


@dataclass
class SubtitleTrack:
    format: str
    cues: list[Cue]
    problems: list[str] = field(default_factory=list)


NOT_SUBTITLES = ("无法识别的字幕文件：内容不是 SRT、WebVTT 或 ASS/SSA 格式（未找到字幕时间轴）。"
                 "请上传 .srt、.vtt 或 .ass 字幕文件。")

# ---------------------------------------------------------------- decoding


def _decode(data: bytes) -> tuple[str, list[str]]:
    """Text of the file and the decoding problems, or ValueError for binary data."""
    if data.startswith(b"\xef\xbb\xbf"):
        return _utf8(data[3:]), []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), []
    if b"\x00" in data[:4096]:
        # UTF-16 without a BOM shows as a NUL in every other byte; any other NUL means binary.
        encoding = _bomless_utf16(data[:4096])
        if encoding is None:
            raise ValueError(NOT_SUBTITLES)
        return data.decode(encoding, errors="replace"), []
    try:
        return _utf8(data), []
    except UnicodeDecodeError:
        pass
    try:
        # Notepad on Chinese Windows and older subtitle tools save "ANSI", i.e. GBK/GB18030.
        return data.decode("gb18030"), []
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace"), [
            "字幕文件中有无法识别的字符，部分文字可能显示为乱码。请将字幕另存为 UTF-8 编码后重新上传。"]


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The checker reads only the head of a large file, which may cut a character in two.
        if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
            return data[:exc.start].decode("utf-8")
        raise


def _bomless_utf16(head: bytes) -> str | None:
    even, odd = head[0::2], head[1::2]
    if not odd:
        return None
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


# ---------------------------------------------------------------- timing

# Hours are optional (WebVTT allows mm:ss.ttt) and may have one digit (ASS writes h:mm:ss.cc);
# the fraction may follow a comma (SRT) or a dot (VTT, ASS, sloppy SRT).
_TS = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[.,](\d{1,3}))?"
_TS_RE = re.compile(_TS + r"$")
_TIMING_RE = re.compile(r"\s*" + _TS + r"\s*-{1,2}\s*>\s*" + _TS + r"(?:\s.*)?$")
_VTT_BLOCKS = re.compile(r"(NOTE|STYLE|REGION)(\s|$)")


def _seconds(h, m, s, frac) -> float:
    value = int(h or 0) * 3600 + int(m) * 60 + int(s)
    if frac:
        value += int(frac) / 10 ** len(frac)   # ",5" is half a second, ASS ".50" too
    return value


def _timing(line: str) -> tuple[float, float] | None:
    m = _TIMING_RE.match(line)
    if m is None and any(ch in line for ch in "：，．－＞"):
        # Chinese input methods produce full-width colons, commas and arrows in hand-typed timings.
        m = _TIMING_RE.match(unicodedata.normalize("NFKC", line))
    if m is None:
        return None
    g = m.groups()
    return _seconds(*g[:4]), _seconds(*g[4:])


def _maybe_timing(line: str) -> tuple[float, float] | None:
    # Cheap test first: nearly every line of a file is text, not timing.
    return _timing(line) if "-" in line or "－" in line else None


def _timestamp(text: str) -> float | None:
    m = _TS_RE.match(text.strip())
    return _seconds(*m.groups()) if m else None


# ---------------------------------------------------------------- text cleaning

_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<\d[\d:.]*>")     # <i>, <font ...>, <c.yellow>, <v Name>, <00:01.000>
_SRT_OVERRIDE = re.compile(r"\{\\[^{}]*\}")                     # {\an8}, {\i1} in SRT produced by Aegisub
_ASS_BLOCK = re.compile(r"\{[^{}]*\}")
_DRAWING = re.compile(r"\\p(\d+)")


def _clean_lines(lines: list[str]) -> str:
    out = []
    for line in lines:
        line = re.sub(r"[ \t\u3000]+", " ", line).strip()
        if line:
            out.append(line)
    return "\n".join(out)


def _clean_srt_vtt(lines: list[str], fmt: str) -> str:
    text = "\n".join(lines)
    text = _SRT_OVERRIDE.sub("", _HTML_TAG.sub("", text))
    if fmt == "vtt" or "&" in text:
        text = html.unescape(text)
    return _clean_lines(text.replace("\\N", "\n").split("\n"))


def _clean_ass(text: str) -> str:
    """ASS text without override blocks, with \\N as a line break and vector drawings removed."""
    out, drawing, pos = [], False, 0
    for m in _ASS_BLOCK.finditer(text):
        if not drawing:
            out.append(text[pos:m.start()])
        for level in _DRAWING.findall(m.group()):
            # Between {\p1} and {\p0} the "text" is a shape's path ("m 0 0 l 100 0 ..."), not words.
            drawing = int(level) > 0
        pos = m.end()
    if not drawing:
        out.append(text[pos:])
    plain = "".join(out).replace("\\N", "\n").replace("\\n", "\n").replace("\\h", " ")
    return _clean_lines(_HTML_TAG.sub("", plain).split("\n"))


# ---------------------------------------------------------------- parsers


def _detect(text: str) -> str | None:
    if text.lstrip("\ufeff \t\r\n").startswith("WEBVTT"):
        return "vtt"
    if re.search(r"^[ \t]*\[(?:script info|v4\+? styles|events)\]", text, re.IGNORECASE | re.MULTILINE):
        return "ass"
    if any(_maybe_timing(line) for line in text.splitlines()):
        return "srt"
    if re.search(r"^[ \t]*dialogue[ \t]*:", text, re.IGNORECASE | re.MULTILINE):
        return "ass"
    return None


def _parse_srt_vtt(text: str, fmt: str) -> tuple[list[Cue], list[str]]:
    """SRT and WebVTT share the cue shape: [identifier] / timing / text lines.

    Text runs until the next timing line rather than the first blank line, so a
    blank line inside a cue does not lose its second half; the identifier of the
    next cue (the last line before its timing) is then taken off again.
    """
    cues: list[Cue] = []
    problems: list[str] = []
    current: tuple[float, float] | None = None
    pending: list[str] = []
    seen = 0                  # timing lines so far, to number cues in problems as the submitter counts them
    skipping = False          # inside a VTT NOTE/STYLE/REGION block
    previous_blank = True

    def finish():
        if current is None:
            return
        lines = list(pending)
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            last = lines[-1].strip()
            after_blank = len(lines) > 1 and not lines[-2].strip()
            if last.isdigit() and (after_blank or int(last) == len(cues) + 2):
                lines.pop()           # the next cue's index number
            elif fmt == "vtt" and after_blank:
                lines.pop()           # the next cue's identifier, alone in its block
        start, end = current
        if end < start:
            problems.append(f"第{seen}条字幕的结束时间早于开始时间（{_fmt_ts(start)} --> {_fmt_ts(end)}），已忽略。")
            return
        cues.append(Cue(start, end, _clean_srt_vtt(lines, fmt)))

    for raw in text.splitlines():
        line = raw.rstrip()
        blank = not line.strip()
        if fmt == "vtt":
            if skipping:
                skipping = not blank
                previous_blank = blank
                continue
            if previous_blank and _VTT_BLOCKS.match(line.strip()):
                # A NOTE/STYLE block also ends the cue before it.
                finish()
                current, pending, skipping = None, [], True
                previous_blank = False
                continue
        timing = _maybe_timing(line)
        if timing is not None:
            finish()
            seen += 1
            current, pending = timing, []
        elif "-->" in line:
            # A timing line we cannot read: its cue is dropped rather than glued to the previous one.
            finish()
            seen += 1
            problems.append(f"第{seen}条字幕的时间轴无法识别（“{line.strip()[:60]}”），已忽略。")
            current, pending = None, []
        elif current is not None:
            pending.append(line)
        previous_blank = blank
    finish()
    return cues, problems


_ASS_DEFAULT_FORMAT = ["layer", "start", "end", "style", "name", "marginl", "marginr", "marginv", "effect", "text"]


def _parse_ass(text: str) -> tuple[list[Cue], list[str]]:
    cues: list[Cue] = []
    problems: list[str] = []
    fields = _ASS_DEFAULT_FORMAT
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key == "format" and section in (None, "events"):
            fields = [f.strip().lower() for f in value.split(",")]
        elif key == "dialogue":
            # Text is always the last field and the only one that may contain commas.
            raw_parts = value.split(",", len(fields) - 1)
            parts = [p.strip() for p in raw_parts]
            if len(parts) != len(fields) or "start" not in fields or "end" not in fields:
                problems.append(f"无法识别的字幕行：“{line[:60]}”，已忽略。")
                continue
            row = dict(zip(fields, parts))
            start, end = _timestamp(row["start"]), _timestamp(row["end"])
            if start is None or end is None:
                problems.append(f"无法识别的时间：“{line[:60]}”，该条字幕已忽略。")
                continue
            if end < start:
                problems.append(f"字幕的结束时间早于开始时间（{_fmt_ts(start)} --> {_fmt_ts(end)}），已忽略。")
                continue
            cues.append(Cue(start, end, _clean_ass(raw_parts[-1])))
    return cues, problems


def _fmt_ts(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def parse_sidecar(data: bytes) -> SubtitleTrack:
    """The cues of an SRT, WebVTT or ASS/SSA file, detected by content; ValueError when it is none of them."""
    text, problems = _decode(data)
    fmt = _detect(text)
    if fmt is None:
        raise ValueError(NOT_SUBTITLES)
    cues, parse_problems = _parse_ass(text) if fmt == "ass" else _parse_srt_vtt(text, fmt)
    problems += parse_problems
    if not cues:
        problems.append("字幕文件中没有任何字幕条目。请检查导出设置后重新上传。")
    # ASS files list events by layer or style rather than by time; analysis wants them in time order.
    cues.sort(key=lambda c: (c.start_s, c.end_s))
    return SubtitleTrack(fmt, cues, problems)


# ---------------------------------------------------------------- measures


def _interval(cue) -> tuple[float, float]:
    # The checker also hands over (start, end, text) tuples from embedded tracks.
    if isinstance(cue, Cue):
        return cue.start_s, cue.end_s
    return float(cue[0]), float(cue[1])


def coverage(cues, duration_s: float) -> float:
    """Share of [0, duration_s] during which at least one cue is shown (overlaps counted once)."""
    if not duration_s or duration_s <= 0:
        return 0.0
    spans = sorted((max(0.0, s), min(duration_s, e)) for s, e in map(_interval, cues))
    covered, reach = 0.0, 0.0
    for start, end in spans:
        if end <= start or end <= reach:
            continue
        covered += end - max(start, reach)
        reach = end
    return min(1.0, covered / duration_s)


def subtitle_text(cues) -> str:
    """The words of the subtitles, one cue a line, for the text checks."""
    texts = (c.text if isinstance(c, Cue) else c[2] for c in cues)
    return "\n".join(t for t in texts if t)


def _vtt_time(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def _vtt_text(text: str) -> str:
    # WebVTT reads <...> as tags (<v Name> would name a speaker) and & as an entity; a blank line
    # ends the cue and "-->" starts a timing. Escaped, every character stays what it was.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "\n".join(lines)


def to_webvtt(cues) -> str:
    """Timed text only: each cue's times and words as WebVTT, nothing else of the original file.

    What reviewers get instead of a sidecar: an ASS file's header (Title, Original Script,
    the editors' names), its styles, comment lines, speaker names (the Name field) and any
    project section (with paths to the author's disk) stay behind, and so do SRT/VTT notes.
    """
    blocks = ["WEBVTT"]
    for cue in cues:
        start, end = _interval(cue)
        text = _vtt_text(cue.text if isinstance(cue, Cue) else cue[2])
        if text and end > start:
            blocks.append(f"{_vtt_time(start)} --> {_vtt_time(end)}\n{text}")
    return "\n\n".join(blocks) + "\n"
