"""Content types of submitted files: what a portal may declare, and what a browser may be given.

A declared type is only a claim; media determines the real one from the content
(`services/media/contenttype.py`) and only that one is ever served. These rules
are shared because intake refuses a claim that cannot be true for the file's kind,
media flags a claim that contradicts the content, and every service that serves
files (review, notify) must agree on which types a browser may show inline.
Pure: no I/O, no framework.
"""
from __future__ import annotations

GENERIC = "application/octet-stream"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# What a portal may declare per kind. Generic claims ("I don't know") are always accepted: browsers
# send application/octet-stream for names they do not know. For video and audio any subtype of the
# family is accepted (video/x-m4v, audio/x-wav, ...): the family is what can be judged before the bytes.
_DECLARABLE = {
    "image": {"image/jpeg", "image/jpg", "image/pjpeg", "image/png", "image/x-png", "image/gif", "image/bmp",
              "image/x-ms-bmp", "image/tiff", "image/webp", "image/heic", "image/heif", "image/avif"},
    "document": {"application/pdf", "application/x-pdf", DOCX, "application/msword", "application/vnd.ms-word",
                 "application/wps-office.docx", "application/wps-office.doc", "application/kswps",
                 "application/rtf", "text/rtf", "application/zip", "application/x-zip-compressed"},
    "subtitle": {"application/x-subrip", "application/x-srt", "text/srt", "text/x-srt", "text/vtt", "text/x-ssa",
                 "text/x-ass", "application/x-ass", "application/x-ssa", "text/plain"},
}
_DECLARABLE_FAMILY = {"video": ("video/",), "audio": ("audio/",)}
_GENERIC_CLAIMS = {"", GENERIC, "binary/octet-stream", "application/binary", "application/unknown"}
# Never acceptable for any kind: types a browser runs or renders as a page.
_ACTIVE = ("text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
           "text/javascript", "application/javascript", "application/x-javascript", "application/ecmascript")

# What a browser may show inline: pictures, sound, moving pictures and PDF. Nothing here can run
# script in the page's origin; PDF still goes out with a sandbox CSP. Everything else is a download.
INLINE = {"image/jpeg", "image/png", "image/gif", "image/webp",
          "video/mp4", "video/webm", "video/quicktime", "video/x-matroska",
          "audio/mpeg", "audio/mp4", "audio/wav", "audio/ogg", "audio/flac", "audio/webm", "audio/aac",
          "application/pdf"}
# Known types served as downloads under their own name (so the reviewer's program opens them).
ATTACHMENT = {DOCX, "text/vtt", "application/x-subrip", "text/x-ssa", "text/plain", "image/bmp", "image/tiff",
              "video/x-msvideo", "video/x-flv", "video/x-ms-wmv", "video/mp2t", "video/mpeg", "video/3gpp",
              "audio/x-ms-wma", "audio/x-matroska"}

EXTENSIONS = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm", "video/x-matroska": "mkv",
              "video/x-msvideo": "avi", "video/x-flv": "flv", "video/x-ms-wmv": "wmv", "video/mp2t": "ts",
              "video/mpeg": "mpg", "video/3gpp": "3gp",
              "audio/mpeg": "mp3", "audio/mp4": "m4a", "audio/wav": "wav", "audio/ogg": "ogg", "audio/flac": "flac",
              "audio/webm": "weba", "audio/aac": "aac", "audio/x-ms-wma": "wma", "audio/x-matroska": "mka",
              "image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp", "image/bmp": "bmp",
              "image/tiff": "tif", "application/pdf": "pdf", DOCX: "docx", "text/vtt": "vtt",
              "application/x-subrip": "srt", "text/x-ssa": "ass", "text/plain": "txt"}


def normalise(content_type: str | None) -> str:
    """`Text/HTML; charset=utf-8` -> `text/html`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def declarable(kind: str) -> list[str]:
    """What may be declared for `kind`, for error messages."""
    families = [f"{p}*" for p in _DECLARABLE_FAMILY.get(kind, ())]
    return families + sorted(_DECLARABLE.get(kind, ())) + [GENERIC]


def may_declare(kind: str, content_type: str | None) -> bool:
    """Whether a portal may register a file of `kind` under this declared type."""
    ctype = normalise(content_type)
    if ctype in _GENERIC_CLAIMS:
        return True
    if ctype in _ACTIVE or ctype.endswith(("+xml", "/html")):
        return False
    if any(ctype.startswith(p) and len(ctype) > len(p) for p in _DECLARABLE_FAMILY.get(kind, ())):
        return True
    return ctype in _DECLARABLE.get(kind, ())


def family(content_type: str | None) -> str | None:
    """The kind a type claims ("video", "document", ...); None for a generic claim; "other" for anything else."""
    ctype = normalise(content_type)
    if ctype in _GENERIC_CLAIMS:
        return None
    for kind, prefixes in _DECLARABLE_FAMILY.items():
        if ctype.startswith(prefixes):
            return kind
    for kind in ("image", "document", "subtitle"):
        if ctype in _DECLARABLE[kind]:
            return kind
    return "other"


def contradicts(declared: str | None, determined: str | None) -> bool:
    """The declared type claims another kind of file than the content is (a generic claim never does)."""
    claimed = family(declared)
    return claimed is not None and determined is not None and claimed != family(determined)


def served_as(content_type: str | None) -> tuple[str, bool]:
    """(Content-Type, inline?) for a file media determined to be `content_type`.

    Unknown or active types become an opaque download: a browser never gets text/html,
    SVG or script from a file link, whatever was declared or stored.
    """
    ctype = normalise(content_type)
    if ctype in INLINE:
        return ctype, True
    if ctype in ATTACHMENT:
        return ctype, False
    return GENERIC, False


def with_extension(name: str, content_type: str | None) -> str:
    """`视频1` + video/mp4 -> `视频1.mp4`; a name that has its extension is kept."""
    ext = EXTENSIONS.get(normalise(content_type))
    if not ext or name.lower().endswith(f".{ext}"):
        return name
    return f"{name}.{ext}"
