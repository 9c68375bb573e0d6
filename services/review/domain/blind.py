"""Blind review (盲评): what a reviewer may see of a work.

Reviewers see no author, org or university name and no original file name.
Fields the campaign marks `identifying` (lecturers, the branch) are left out;
in the remaining text every name from the org tree and the university's own
name is replaced by a mark, including the short forms people write
(「计算机学院党委」 is also written 「计算机学院」). Files get neutral names.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from common.text import to_simplified

MASK = "〔已隐去〕"
# Suffixes of org names that texts often leave out.
_ORG_SUFFIXES = ("直属党支部", "党总支部", "分党委", "党工委", "党总支", "党支部", "委员会", "党委", "支部")
_MIN_NAME_CHARS = 2
_KIND_NAMES = {"video": "视频", "image": "图片", "audio": "音频", "document": "文档", "subtitle": "字幕"}
_EXTENSIONS = {"video/mp4": "mp4", "video/quicktime": "mov", "image/jpeg": "jpg", "image/png": "png",
               "application/pdf": "pdf", "audio/mpeg": "mp3", "text/vtt": "vtt",
               "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx"}


# The findings of a file's check a reviewer is shown: how the file will play for them (a cut-off end, frames that do
# not decode, subtitles that are malformed), which they should not mistake for the work's quality. The rest is for the
# submitting org: policy suggestions (「学校建议分辨率1920×1080」), the GPS position in a photo (the reviewer's copy
# has none), type and size: the org acts on them, an expert cannot, and they often name the university that suggests.
FINDINGS_FOR_REVIEWERS = frozenset({"file_truncated", "decode_errors", "subtitle_problem"})


def reviewer_findings(findings: Iterable[dict] | None) -> list[dict]:
    """The part of a check's findings a reviewer sees (FINDINGS_FOR_REVIEWERS)."""
    return [f for f in findings or () if f.get("rule") in FINDINGS_FOR_REVIEWERS]


def name_variants(names: Iterable[str | None]) -> set[str]:
    """Each name, and the name without its org suffix (when something meaningful is left)."""
    out: set[str] = set()
    for name in names:
        name = (name or "").strip()
        if len(name) < _MIN_NAME_CHARS:
            continue
        out.add(name)
        for suffix in _ORG_SUFFIXES:
            if name.endswith(suffix) and len(name) - len(suffix) >= _MIN_NAME_CHARS + 1:
                out.add(name[: -len(suffix)])
    return out


def _fold_char(ch: str) -> str:
    """One character as it compares: NFKC, case-folded; spaces and invisible characters vanish."""
    if ch.isspace() or unicodedata.category(ch) in ("Cf", "Cc", "Mn", "Zl", "Zp"):
        return ""
    return unicodedata.normalize("NFKC", ch).casefold()


def _folded(text: str) -> tuple[str, list[int]]:
    """The text folded for matching names, and for each folded character the index of its original one.

    Folding: NFKC (全角 letters, compatibility forms), Traditional → Simplified (OpenCC), case, and
    no spaces or invisible characters, so 東南大學, 东 南 大 学 and 东\u200b南大学 all read 东南大学.
    """
    pieces = [_fold_char(ch) for ch in text]
    origin = [i for i, piece in enumerate(pieces) for _ in piece]
    joined = "".join(pieces)
    simplified = to_simplified(joined)
    if len(simplified) != len(joined):  # t2s keeps lengths for names; if not, convert piece by piece
        simplified = "".join(to_simplified(piece) for piece in pieces if piece)
        if len(simplified) != len(joined):
            simplified = joined
    return simplified, origin


def _whole_word(text: str, start: int, end: int) -> bool:
    """A Latin name (SEU) only as a word of its own: 「This EU」 holds s-e-u once spaces are gone."""
    def latin(ch: str) -> bool:
        return ch.isalnum() and unicodedata.normalize("NFKC", ch).isascii()

    if latin(text[start]) and start > 0 and latin(text[start - 1]):
        return False
    return not (latin(text[end - 1]) and end < len(text) and latin(text[end]))


def fold_name(name: str) -> str:
    return _folded(name)[0]


@lru_cache(maxsize=256)
def _pattern(names: frozenset[str]) -> re.Pattern | None:
    folded = {fold_name(n) for n in names} - {""}
    if not folded:
        return None
    # Longest first, so 「计算机学院党委」 is masked whole rather than leaving 「党委」 behind.
    return re.compile("|".join(re.escape(n) for n in sorted(folded, key=lambda n: (-len(n), n))))


def mask(text: str, names: frozenset[str]) -> str:
    """The text with every name replaced by 〔已隐去〕, however it is written (script, width, spaces).

    Names are found in the folded text and the marks placed over the original characters they came
    from, so the rest of the text is shown exactly as written.
    """
    pattern = _pattern(names)
    if pattern is None or not text:
        return text
    folded, origin = _folded(text)
    spans = [(origin[m.start()], origin[m.end() - 1] + 1) for m in pattern.finditer(folded)]
    spans = [(start, end) for start, end in spans if _whole_word(text, start, end)]
    if not spans:
        return text
    out, at = [], 0
    for start, end in spans:
        out += [text[at:start], MASK]
        at = end
    out.append(text[at:])
    return "".join(out)


def reviewer_fields(fields: dict, specs: list[dict], names: frozenset[str]) -> list[tuple[str, str, str]]:
    """(key, label, masked text) of each field a reviewer may see, in the campaign's order.

    Fields not declared by the campaign are left out too: an unknown field could carry anything.
    """
    shown = []
    for spec in specs:
        key = spec["key"]
        if spec.get("identifying") or key not in fields or fields[key] in (None, "", []):
            continue
        value = fields[key]
        text = "、".join(map(str, value)) if isinstance(value, list) else str(value)
        shown.append((key, spec.get("label", key), mask(text, names)))
    return shown


def neutral_file_name(kind: str, index: int, content_type: str) -> str:
    """「视频1.mp4」: says what the file is, never what it was called."""
    ext = _EXTENSIONS.get(content_type.split(";")[0].strip().lower())
    base = f"{_KIND_NAMES.get(kind, '文件')}{index}"
    return f"{base}.{ext}" if ext else base
