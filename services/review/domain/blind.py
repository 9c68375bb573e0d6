"""Blind review (盲评): what a reviewer may see of a work.

Reviewers see no author, org or university name and no original file name.
Fields the campaign marks `identifying` (lecturers, the branch) are left out;
in the remaining text every name from the org tree and the university's own
name is replaced by a mark, including the short forms people write
(「计算机学院党委」 is also written 「计算机学院」). Files get neutral names.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

MASK = "〔已隐去〕"
# Suffixes of org names that texts often leave out.
_ORG_SUFFIXES = ("直属党支部", "党总支部", "分党委", "党工委", "党总支", "党支部", "委员会", "党委", "支部")
_MIN_NAME_CHARS = 2
_KIND_NAMES = {"video": "视频", "image": "图片", "audio": "音频", "document": "文档", "subtitle": "字幕"}
_EXTENSIONS = {"video/mp4": "mp4", "video/quicktime": "mov", "image/jpeg": "jpg", "image/png": "png",
               "application/pdf": "pdf", "audio/mpeg": "mp3", "text/vtt": "vtt",
               "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx"}


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


@lru_cache(maxsize=256)
def _pattern(names: frozenset[str]) -> re.Pattern | None:
    if not names:
        return None
    # Longest first, so 「计算机学院党委」 is masked whole rather than leaving 「党委」 behind.
    return re.compile("|".join(re.escape(n) for n in sorted(names, key=lambda n: (-len(n), n))))


def mask(text: str, names: frozenset[str]) -> str:
    pattern = _pattern(names)
    return pattern.sub(MASK, text) if pattern is not None and text else text


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
