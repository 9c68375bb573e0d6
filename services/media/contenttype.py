"""The content type of a checked file, as its content says: the only type any service ever serves it under.

Pure: a function of the facts the checker read from the bytes (container, format), never of the
name or of the type the portal declared (issue #14, item 1).
"""
from __future__ import annotations

import os

from common import filetypes
from common.campaign.media_rules import finding
from common.locale import KIND_LABELS

_VIDEO = {"mp4": "video/mp4", "mov": "video/quicktime", "m4a": "video/mp4", "mkv": "video/x-matroska",
          "webm": "video/webm", "avi": "video/x-msvideo", "flv": "video/x-flv", "wmv": "video/x-ms-wmv",
          "mpegts": "video/mp2t", "mpeg": "video/mpeg", "3gp": "video/3gpp"}
_AUDIO = {"mp3": "audio/mpeg", "wav": "audio/wav", "m4a": "audio/mp4", "mp4": "audio/mp4", "mov": "audio/mp4",
          "ogg": "audio/ogg", "flac": "audio/flac", "aac": "audio/aac", "wmv": "audio/x-ms-wma",
          "asf": "audio/x-ms-wma", "mkv": "audio/x-matroska", "matroska": "audio/x-matroska", "webm": "audio/webm"}
_IMAGE = {"jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp", "bmp": "image/bmp",
          "tiff": "image/tiff"}
_DOCUMENT = {"pdf": "application/pdf", "docx": filetypes.DOCX}
_SUBTITLE = {"srt": "application/x-subrip", "vtt": "text/vtt", "ass": "text/x-ssa"}
_BY_EXTENSION = {ext: ctype for ctype, ext in filetypes.EXTENSIONS.items()}


def of_original(kind: str, facts: dict) -> str | None:
    """The type of the uploaded file itself, or None when the check could not tell."""
    if kind == "video":
        return _VIDEO.get(facts.get("container") or "")
    table = {"audio": _AUDIO, "image": _IMAGE, "document": _DOCUMENT, "subtitle": _SUBTITLE}.get(kind, {})
    return table.get(facts.get("format") or "")


def of_derived(path: str) -> str:
    """The type of a file the checker wrote itself (it chose the extension)."""
    return _BY_EXTENSION.get(os.path.splitext(path)[1].lstrip(".").lower(), filetypes.GENERIC)


def mismatch(kind: str, declared: str | None, determined: str | None) -> dict | None:
    """An error finding when the declared type claims another kind of file than the content is."""
    if not filetypes.contradicts(declared, determined):
        return None
    label = KIND_LABELS.get(filetypes.family(determined) or kind, "文件")
    return finding("content_type_mismatch", "error",
                   f"上传时声明的文件类型为“{filetypes.normalise(declared)}”，但文件内容是{label}（{determined}）。"
                   f"声明的类型必须与文件内容一致。请按文件的实际格式重新上传（声明类型可留空，由平台识别）。",
                   determined, filetypes.normalise(declared))
