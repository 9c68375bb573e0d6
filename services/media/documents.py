"""Documents (讲稿, 案例材料): PDF and DOCX facts, findings and text. Pure apart from reading the file.

The kind is decided by content: `%PDF-`, a zip holding `word/document.xml`, or
an OLE compound file (legacy .doc/.wps, which is refused with advice to save as
.docx). A document that is recognised but cannot be opened becomes a
`document_corrupt` finding; only a file that is no document at all raises
ValueError. Zip archives are measured before anything is decompressed.
"""
from __future__ import annotations

import math
import os
import re
import zipfile
import zlib
from dataclasses import dataclass, field

from services.media.policy import finding

# A long 讲稿 with photos is a few MB zipped and rarely 30 MB unzipped; 200 MB unzipped is no text.
MAX_UNCOMPRESSED = 200 * 1024 * 1024
# XML compresses 5-20x, photos not at all; a bomb of zeros reaches 1000x. Above MIN_RATIO_BYTES
# unzipped, a ratio beyond MAX_RATIO is refused even under the size cap.
MAX_RATIO = 100
MIN_RATIO_BYTES = 10 * 1024 * 1024
MAX_ENTRIES = 10_000
# Page estimate for a DOCX without a usable page count: a 小四 page of Chinese holds about 500 characters.
CHARS_PER_PAGE = 500
# No printed page holds more; a <Pages> value implying more is left over from a template.
MAX_CHARS_PER_PAGE = 3000

# What reading one entry of a damaged or unusual zip can raise (bad CRC, truncated deflate
# stream, unsupported compression method, encrypted entry).
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error, NotImplementedError,
              RuntimeError, ValueError)

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

MSG_NOT_DOCUMENT = "无法识别的文档：内容不是 PDF 或 Word（.docx）文档。请上传 PDF 或 .docx 文件。"
MSG_OTHER_ZIP = ("文件是压缩包或其他 Office 文件（如 PPT、Excel），不是 Word 文档。"
                 "请上传 PDF 或 .docx 文件（演示文稿请另存为 PDF）。")
MSG_LEGACY = "文件是旧版 Word 格式（.doc）。请用 Word 另存为 .docx 后上传。"
MSG_LEGACY_OTHER = "文件是旧版 Office 格式（.doc/.wps/.xls/.ppt）。请用 Word 另存为 .docx 后上传，或转为 PDF。"
MSG_RTF = "文件是 RTF 格式（常被命名为 .doc）。请用 Word 另存为 .docx 后上传。"
MSG_ENCRYPTED = "文档设有打开密码，评审无法查看。请去除密码后重新上传。"
MSG_CORRUPT = "文档无法打开，文件可能不完整或已损坏。请重新导出（另存为 PDF 或 .docx）后上传。"


@dataclass
class DocumentReport:
    facts: dict
    findings: list[dict] = field(default_factory=list)
    text: str = ""


def _facts(fmt: str, size_bytes: int, **more) -> dict:
    facts = {"format": fmt, "pages": None, "pages_estimated": False, "size_bytes": size_bytes,
             "text_chars": 0, "encrypted": False}
    facts.update(more)
    return facts


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB"


def _sniff(path: str) -> str | None:
    with open(path, "rb") as f:
        head = f.read(1024)
    # Acrobat accepts junk before the header within the first KB, and so do some generators.
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(OLE_MAGIC):
        return "ole"
    if head.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"{\\rtf"):
        return "rtf"
    return None


def inspect_document(path: str) -> DocumentReport:
    """Facts, findings and extracted text of a PDF or DOCX; ValueError when the file is neither."""
    size_bytes = os.path.getsize(path)
    kind = _sniff(path)
    if kind == "pdf":
        return _inspect_pdf(path, size_bytes)
    if kind == "zip":
        return _inspect_zip(path, size_bytes)
    if kind == "ole":
        return _inspect_ole(path, size_bytes)
    if kind == "rtf":
        return DocumentReport(_facts("rtf", size_bytes),
                              [finding("document_legacy_format", "error", MSG_RTF, "docx", "rtf")])
    raise ValueError(MSG_NOT_DOCUMENT)


# ---------------------------------------------------------------- PDF


def _inspect_pdf(path: str, size_bytes: int) -> DocumentReport:
    from pypdf import PdfReader

    facts = _facts("pdf", size_bytes)
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            facts["encrypted"] = True
            # A PDF with only an owner password (printing/copying restrictions) opens in every viewer
            # without asking; only a user password keeps reviewers out.
            try:
                opened = reader.decrypt("") != 0
            except Exception:  # noqa: BLE001 - DependencyError, NotImplementedError, PdfReadError...
                opened = False   # e.g. an encryption scheme pypdf cannot handle: reviewers' viewers may not either
            if not opened:
                facts["password_required"] = True
                return DocumentReport(facts, [finding("document_encrypted", "error", MSG_ENCRYPTED, False, True)])
            facts["password_required"] = False
        facts["pages"] = len(reader.pages)
    except Exception as exc:  # noqa: BLE001 - a damaged PDF fails with any exception type; all mean "corrupt"
        return _corrupt(facts, exc)

    texts = []
    unreadable = 0
    for page in reader.pages:
        try:
            texts.append(page.extract_text() or "")
        except Exception:  # noqa: BLE001 - see below
            # One broken content stream should not hide the text of the other pages.
            unreadable += 1
    if unreadable:
        facts["pages_without_text_extraction"] = unreadable
    text = "\n".join(t.strip() for t in texts if t.strip())
    facts["text_chars"] = len(text)
    return DocumentReport(facts, [], text)


def _corrupt(facts: dict, exc: Exception) -> DocumentReport:
    reason = f"{type(exc).__name__}: {exc}"[:200]
    return DocumentReport(facts, [finding("document_corrupt", "error", MSG_CORRUPT, "readable", reason)])


# ---------------------------------------------------------------- DOCX


def _looks_like_docx_fragment(path: str) -> bool:
    # A truncated upload keeps its local file headers (with the names) but loses the central
    # directory at the end, so zipfile cannot open it although it clearly was a Word file.
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    return b"word/document.xml" in head or b"word/_rels" in head


def _is_docx(zf: zipfile.ZipFile) -> bool:
    names = set(zf.namelist())
    if "word/document.xml" in names:
        return True
    # Some converters name the main part differently; the content types still say what it is.
    info = zf.NameToInfo.get("[Content_Types].xml")
    if info is None or info.file_size > 1_000_000:
        return False
    return b"wordprocessingml.document.main" in zf.read(info)


def _inspect_zip(path: str, size_bytes: int) -> DocumentReport:
    facts = _facts("docx", size_bytes)
    try:
        zf = zipfile.ZipFile(path)
    except ZIP_ERRORS as exc:
        if _looks_like_docx_fragment(path):
            return _corrupt(facts, exc)
        raise ValueError(MSG_OTHER_ZIP) from None
    with zf:
        infos = zf.infolist()
        # Sizes from the central directory are an upper bound: zipfile stops reading an entry at
        # its declared size (and then fails the CRC), so an entry cannot inflate beyond it.
        total = sum(i.file_size for i in infos)
        packed = sum(i.compress_size for i in infos)
        ratio = total / max(packed, 1)
        facts["uncompressed_bytes"] = total
        try:
            is_docx = _is_docx(zf)
        except ZIP_ERRORS as exc:
            return _corrupt(facts, exc)
        if not is_docx:
            raise ValueError(MSG_OTHER_ZIP)
        if total > MAX_UNCOMPRESSED or len(infos) > MAX_ENTRIES or (total > MIN_RATIO_BYTES and ratio > MAX_RATIO):
            return DocumentReport(facts, [finding(
                "document_too_large_uncompressed", "error",
                f"Word 文档解压后过大（{_mb(total)}，压缩比 {ratio:.0f} 倍；上限 {_mb(MAX_UNCOMPRESSED)}），"
                "不像正常的文档。请用 Word 打开后另存为 .docx 再上传，或转为 PDF。",
                MAX_UNCOMPRESSED, total)])
        app_xml = _read_small(zf, "docProps/app.xml")

    try:
        import docx

        document = docx.Document(path)
        text = "\n".join(_docx_blocks(document))
    except Exception as exc:  # noqa: BLE001 - python-docx and lxml raise KeyError, ValueError, XMLSyntaxError...
        return _corrupt(facts, exc)
    facts["text_chars"] = len(text)
    pages = _app_pages(app_xml, text)
    if pages is None:
        facts["pages"] = max(1, math.ceil(_visible_chars(text) / CHARS_PER_PAGE))
        facts["pages_estimated"] = True
    else:
        facts["pages"] = pages
    return DocumentReport(facts, [], text)


def _read_small(zf: zipfile.ZipFile, name: str, limit: int = 1_000_000) -> str | None:
    info = zf.NameToInfo.get(name)
    if info is None or info.file_size > limit:
        return None
    try:
        return zf.read(info).decode("utf-8", errors="replace")
    except ZIP_ERRORS:
        return None


def _tag_int(xml: str, tag: str) -> int | None:
    m = re.search(rf"<(?:\w+:)?{tag}>\s*(\d+)\s*</", xml)
    return int(m.group(1)) if m else None


def _visible_chars(text: str) -> int:
    return sum(1 for ch in text if not ch.isspace())


def _app_pages(app_xml: str | None, text: str) -> int | None:
    """<Pages> as Word saved it, or None when it is missing or plainly stale.

    Word and WPS update docProps/app.xml on every save; generators (python-docx, many web
    exporters) copy a template's, which says 1 page and 0 characters whatever the content.
    """
    if not app_xml:
        return None
    pages = _tag_int(app_xml, "Pages")
    if not pages:
        return None
    chars = _visible_chars(text)
    if chars and not _tag_int(app_xml, "Characters") and not _tag_int(app_xml, "Words"):
        return None
    if chars / pages > MAX_CHARS_PER_PAGE:
        return None
    return pages


def _docx_blocks(document):
    """Text of body paragraphs and table cells, in document order, one paragraph a line."""
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    def walk(parent_el, parent):
        for child in parent_el.iterchildren():
            if child.tag == qn("w:p"):
                text = Paragraph(child, parent).text.strip()
                if text:
                    yield text
            elif child.tag == qn("w:tbl"):
                yield from table(Table(child, parent))
            elif child.tag in (qn("w:sdt"), qn("w:customXml")):
                # Content controls (templates, forms) wrap ordinary paragraphs and tables.
                content = child.find(qn("w:sdtContent")) if child.tag == qn("w:sdt") else child
                if content is not None:
                    yield from walk(content, parent)

    def table(tbl):
        # A merged cell is returned once per grid column and row it spans; its text counts once.
        # The elements themselves are kept, not their id(): lxml proxies can be recycled.
        seen = set()
        for row in tbl.rows:
            for cell in row.cells:
                if cell._tc in seen:
                    continue
                seen.add(cell._tc)
                yield from walk(cell._tc, cell)

    yield from walk(document.element.body, document)


# ---------------------------------------------------------------- legacy Office


def _inspect_ole(path: str, size_bytes: int) -> DocumentReport:
    names = _ole_stream_names(path)
    if "EncryptedPackage" in names:
        # Office saves a password-protected .docx as an OLE file wrapping the encrypted zip.
        facts = _facts("docx", size_bytes, encrypted=True, password_required=True)
        return DocumentReport(facts, [finding("document_encrypted", "error", MSG_ENCRYPTED, False, True)])
    fmt, message = ("doc", MSG_LEGACY) if "WordDocument" in names else ("ole", MSG_LEGACY_OTHER)
    return DocumentReport(_facts(fmt, size_bytes),
                          [finding("document_legacy_format", "error", message, "docx", fmt)])


def _ole_stream_names(path: str, limit: int = 64 * 1024 * 1024) -> set[str]:
    """Names of well-known OLE streams found in the file's directory entries.

    Directory entries hold names as UTF-16LE; looking for the few we care about is enough to
    tell Word from an encrypted OOXML file, without an OLE parser.
    """
    wanted = ["WordDocument", "EncryptedPackage", "Workbook", "PowerPoint Document"]
    found: set[str] = set()
    with open(path, "rb") as f:
        data = f.read(limit)
    for name in wanted:
        if name.encode("utf-16-le") in data:
            found.add(name)
    return found


# --------------------------------------------------------------------------- review copy (blind review)

# docProps parts that name people or organisations: author, last editor, company, manager, custom fields.
_DOCX_DROP = {"docProps/custom.xml"}
_DOCX_BLANK = {"docProps/core.xml": ("dc:creator", "cp:lastModifiedBy", "dc:title", "dc:subject", "cp:keywords",
                                     "dc:description", "cp:category"),
               "docProps/app.xml": ("Company", "Manager")}


def make_review_copy(path: str, out: str, fmt: str) -> bool:
    """A copy without the metadata that names the author, for blind review; False if there is none to make.

    DOCX: the document properties (creator, last editor, company, manager, custom fields) are emptied,
    the text itself is kept. PDF: the document information dictionary and XMP metadata are dropped.
    """
    if fmt == "docx":
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for item in src.infolist():
                if item.filename in _DOCX_DROP:
                    continue
                data = src.read(item)
                for tag in _DOCX_BLANK.get(item.filename, ()):
                    data = re.sub(rf"<{tag}(\s[^>]*)?>.*?</{tag}>".encode(), f"<{tag}></{tag}>".encode(), data,
                                  flags=re.S)
                dst.writestr(item, data)
        return True
    if fmt == "pdf":
        from pypdf import PdfWriter

        writer = PdfWriter(clone_from=path)
        writer.metadata = None
        root = writer._root_object
        if "/Metadata" in root:
            del root["/Metadata"]
        with open(out, "wb") as f:
            writer.write(f)
        return True
    return False
