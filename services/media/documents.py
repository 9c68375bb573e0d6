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

from common.archives import ZipLimits, measure_zip
from common.campaign.media_rules import finding
from common.locale import byte_size

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
        # measured from the central directory, as every zip of the platform is (common/archives.py)
        size = measure_zip(zf)
        total, ratio = size.uncompressed, size.ratio
        facts["uncompressed_bytes"] = total
        try:
            is_docx = _is_docx(zf)
        except ZIP_ERRORS as exc:
            return _corrupt(facts, exc)
        if not is_docx:
            raise ValueError(MSG_OTHER_ZIP)
        if size.exceeds(ZipLimits(MAX_UNCOMPRESSED, MAX_RATIO, MIN_RATIO_BYTES, MAX_ENTRIES)):
            return DocumentReport(facts, [finding(
                "document_too_large_uncompressed", "error",
                f"Word 文档解压后过大（{byte_size(total)}，压缩比 {ratio:.0f} 倍；上限 {byte_size(MAX_UNCOMPRESSED)}），"
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

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CONTENT_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"

# Parts that record who wrote, commented on or edited a document rather than what it says: comments
# (with their authors and initials), the people who commented (people.xml, with account ids),
# custom properties, custom XML data (cover-page properties, SharePoint columns with person fields).
_DOCX_DROP = re.compile(r"(word/(comments[A-Za-z]*|people)\.xml|docProps/custom\.xml|customXml/.*"
                        r"|word/_rels/(comments[A-Za-z]*|people)\.xml\.rels)", re.IGNORECASE)
# Relationships to what is dropped or to the author's machine: the attached template (a path such as
# C:\Users\<name>\AppData\...\Normal.dotm), mail-merge sources, XSLT for saving.
_DOCX_DROP_RELS = ("/attachedTemplate", "/mailMergeSource", "/mailMergeHeaderSource", "/recipientData",
                   "/comments", "/commentsExtended", "/commentsIds", "/commentsExtensible", "/people",
                   "/custom-properties", "/customXml", "/transform")
# In the body: where comments hang; in settings: the template, mail merge, document variables.
_DOCX_DROP_ELEMENTS = {f"{{{_W}}}{tag}" for tag in ("commentRangeStart", "commentRangeEnd", "commentReference",
                                                    "attachedTemplate", "mailMerge", "docVars", "saveThroughXslt")}
# Attributes naming a person: tracked changes (w:ins, w:del, w:rPrChange, ...) and comments carry both.
_DOCX_PERSON_ATTRIBUTES = (f"{{{_W}}}author", f"{{{_W}}}initials")
# What app.xml may keep: counts, which the page estimate reads. Template, Company, Manager,
# HyperlinkBase and the titles of parts all go.
_APP_KEEP = ("Pages", "Words", "Characters", "CharactersWithSpaces", "Lines", "Paragraphs")
_EMPTY_CORE = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<cp:coreProperties '
               b'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
               b'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
               b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>')
_LOCAL_TARGET = re.compile(r"^(file:|[A-Za-z]:[\\/]|\\\\|/)", re.IGNORECASE)
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def make_review_copy(path: str, out: str, fmt: str) -> bool:
    """A copy without anything that names the author, for blind review; False if there is none to make.

    DOCX: document properties emptied (core, app but the counts, custom), comments and the people
    who made them dropped, tracked changes kept but without their authors, the template path and
    other links to the author's disk removed, pictures without EXIF/XMP, zip entries without
    comments or times. PDF: no document information, no XMP anywhere, no annotation authors,
    signatures' signer data, embedded files or JavaScript. The text itself is kept.
    """
    if fmt == "docx":
        _clean_docx(path, out)
        return True
    if fmt == "pdf":
        _clean_pdf(path, out)
        return True
    return False


def _xml(data: bytes):
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
    return etree.fromstring(data, parser)


def _serialise(root) -> bytes:
    from lxml import etree

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _clean_docx(path: str, out: str) -> None:
    from services.media.images import strip_metadata

    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        names = [i.filename for i in src.infolist()]
        dropped = {n for n in names if _DOCX_DROP.fullmatch(n)}
        for name in names:
            if name in dropped or name.endswith("/"):
                continue
            data = src.read(name)
            lower = name.lower()
            if name == "docProps/core.xml":
                data = _EMPTY_CORE
            elif name == "docProps/app.xml":
                data = _clean_app_xml(data)
            elif name == "[Content_Types].xml":
                data = _clean_content_types(data, dropped)
            elif lower.endswith(".rels"):
                data = _clean_rels(data, name, dropped)
            elif lower.endswith(".xml"):
                data = _clean_word_xml(data)
            elif lower.startswith("word/media/"):
                data = strip_metadata(data)
            # A fresh entry: no comment, no extra fields (some zip tools store the owner there), no time.
            dst.writestr(zipfile.ZipInfo(name, _ZIP_EPOCH), data, zipfile.ZIP_DEFLATED)


def _clean_word_xml(data: bytes) -> bytes:
    root = _xml(data)
    for el in list(root.iter()):
        if el.tag in _DOCX_DROP_ELEMENTS:
            el.getparent().remove(el)
            continue
        for attr in _DOCX_PERSON_ATTRIBUTES:
            if attr in el.attrib:
                el.set(attr, "")
    return _serialise(root)


def _clean_app_xml(data: bytes) -> bytes:
    root = _xml(data)
    for el in list(root):
        if not isinstance(el.tag, str) or el.tag.rsplit("}", 1)[-1] not in _APP_KEEP:
            root.remove(el)
    return _serialise(root)


def _part_target(rels_name: str, target: str) -> str:
    """The part a relationship points to, as a zip name: `word/_rels/document.xml.rels` + `comments.xml`."""
    import posixpath

    if target.startswith("/"):
        return target.lstrip("/")
    folder = posixpath.dirname(posixpath.dirname(rels_name))  # the folder of the part the .rels belongs to
    return posixpath.normpath(posixpath.join(folder, target))


def _clean_rels(data: bytes, name: str, dropped: set[str]) -> bytes:
    root = _xml(data)
    for rel in list(root):
        kind, target = rel.get("Type", ""), rel.get("Target", "")
        external = rel.get("TargetMode") == "External"
        if kind.endswith(_DOCX_DROP_RELS) or (not external and _part_target(name, target) in dropped):
            root.remove(rel)
        elif external and _LOCAL_TARGET.match(target):
            # A link to a file on the author's disk names their account (C:\Users\<name>\...).
            rel.set("Target", "#")
    return _serialise(root)


def _clean_content_types(data: bytes, dropped: set[str]) -> bytes:
    root = _xml(data)
    for el in list(root):
        if el.get("PartName", "").lstrip("/") in dropped:
            root.remove(el)
    return _serialise(root)


# PDF keys that name people or carry data beside the page: XMP packets (on the catalog, pages, images,
# fonts; dc:creator), application data, thread info authors, embedded files, actions that run script.
_PDF_DROP_KEYS = ("/Metadata", "/PieceInfo", "/Author", "/AA", "/EmbeddedFiles", "/JavaScript", "/AF")
# Actions that run script, start a program, send form data, or open a file on the author's disk
# (/GoToR names its path). Plain links (/URI) stay: a reviewer follows them by choice.
_PDF_ACTIVE_ACTIONS = ("/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToR", "/GoToE")
# A signature's signer: name, place, reason, contact, and the certificate (which names them too).
_PDF_SIG_KEYS = ("/Name", "/Location", "/Reason", "/ContactInfo", "/Contents", "/Cert", "/Prop_Build")


def _clean_pdf(path: str, out: str) -> None:  # noqa: C901 - one step per place a PDF keeps its author
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    writer = PdfWriter(clone_from=path)
    writer.metadata = None  # the document information dictionary (Author, Creator, Producer, Title...)
    root = writer._root_object
    seen: set[int] = {root.indirect_reference.idnum}
    stack = [root]
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            if obj.idnum in seen:
                continue
            seen.add(obj.idnum)
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):
            for key in _PDF_DROP_KEYS:
                if key in obj:
                    del obj[key]
            if obj.get("/Type") == "/Sig" or "/ByteRange" in obj:
                for key in _PDF_SIG_KEYS:
                    if key in obj:
                        del obj[key]
            if obj.get("/Subtype") not in (None, "/Widget") and "/Rect" in obj:
                # An annotation: /T is its author (on form fields it is the field's name, which stays).
                for key in ("/T", "/FS"):
                    if key in obj:
                        del obj[key]
            for key in ("/A", "/OpenAction", "/Next"):
                # An action that runs script, starts a program or sends data somewhere goes with its trigger.
                action = obj.get(key)
                if isinstance(action, (DictionaryObject, IndirectObject)) and \
                        isinstance(action.get_object(), DictionaryObject) and \
                        action.get_object().get("/S") in _PDF_ACTIVE_ACTIONS:
                    del obj[key]
            stack.extend(obj.values())
        elif isinstance(obj, ArrayObject):
            stack.extend(obj)
    # The writer still holds every object of the original, also those taken off above and any packet
    # nothing ever pointed to (left behind by an incremental save): only what the catalog reaches is
    # written. (pypdf's own remove_unreferenced keeps whatever an unreachable object still points to.)
    for index in range(len(writer._objects)):
        if index + 1 not in seen:
            writer._objects[index] = None
    with open(out, "wb") as f:
        writer.write(f)
