"""Unit tests for services.media.documents: PDF/DOCX facts, text, and the refusals.

DOCX files are made with python-docx (and zipfile for the hostile ones), the
PDF is written by hand below so that its text, including Chinese through a
ToUnicode map, is known exactly.
"""
from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from services.media import documents
from services.media.documents import inspect_document

PARAGRAPHS = [
    "微党课讲稿：抓紧抓实抓细常态化疫情防控工作",
    "同志们好！今天我们围绕坚持人民至上、生命至上，谈一谈基层党组织如何发挥战斗堡垒作用。",
    "一、提高政治站位。疫情防控是一场大考，党员干部要冲锋在前、担当作为。",
]
TABLE = [["姓名", "职务", "单位"], ["张三", "支部书记", "东南大学"]]
AFTER_TABLE = "二、压实防控责任。落实“四方责任”。"


# ---------------------------------------------------------------- builders


def make_docx(path: Path, paragraphs=PARAGRAPHS, table=TABLE, after=AFTER_TABLE) -> Path:
    doc = docx.Document()
    doc.add_heading(paragraphs[0], level=1)
    for text in paragraphs[1:]:
        doc.add_paragraph(text)
    doc.add_paragraph("")                       # empty paragraphs are not text
    if table:
        t = doc.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                t.cell(r, c).text = value
    if after:
        doc.add_paragraph(after)
    doc.save(path)
    return path


def rewrite_zip(src: Path, dst: Path, replace: dict[str, bytes | None]) -> Path:
    """Copy a zip, replacing (bytes) or dropping (None) some entries."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in replace:
                if replace[info.filename] is not None:
                    zout.writestr(info.filename, replace[info.filename])
            else:
                zout.writestr(info, zin.read(info))
        for name, data in replace.items():
            if data is not None and name not in zin.NameToInfo:
                zout.writestr(name, data)
    return dst


def app_xml(pages: int, characters: int) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        f"<Template>Normal.dotm</Template><Pages>{pages}</Pages><Words>{characters}</Words>"
        f"<Characters>{characters}</Characters><Application>Microsoft Office Word</Application></Properties>"
    ).encode()


def build_pdf(pages: list[tuple[str, str]]) -> bytes:
    """A valid PDF, one (ASCII line, Chinese line) per page.

    The Chinese line uses a Type0 font with Identity-H codes and a ToUnicode map, the way
    Word and WPS export CJK text, so extraction goes through the same path as a real file.
    """
    chars = sorted({ch for _, zh in pages for ch in zh})
    code = {ch: i + 1 for i, ch in enumerate(chars)}
    kids = [7 + 2 * i for i in range(len(pages))]
    objs = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Count {len(pages)} /Kids [{' '.join(f'{k} 0 R' for k in kids)}] >>".encode(),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        4: b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /Identity-H "
           b"/DescendantFonts [5 0 R] /ToUnicode 6 0 R >>",
        5: b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
           b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 >>",
    }
    cmap = ("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            f"{len(chars)} beginbfchar\n" + "".join(f"<{code[c]:04X}> <{ord(c):04X}>\n" for c in chars)
            + "endbfchar\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n").encode()
    objs[6] = b"<< /Length %d >>\nstream\n" % len(cmap) + cmap + b"\nendstream"
    for i, (ascii_line, zh) in enumerate(pages):
        page, content = 7 + 2 * i, 8 + 2 * i
        hexcodes = "".join(f"{code[c]:04X}" for c in zh)
        stream = f"BT /F1 18 Tf 72 760 Td ({ascii_line}) Tj ET\nBT /F2 18 Tf 72 720 Td <{hexcodes}> Tj ET".encode()
        objs[page] = (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                      f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {content} 0 R >>").encode()
        objs[content] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(objs):
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + objs[num] + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % offsets[num] for num in range(1, len(objs) + 1))
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


PDF_PAGES = [(f"Party micro-lecture, page {n} of 3", f"微党课第{n}页：坚持人民至上") for n in (1, 2, 3)]
PDF_TEXT = "\n".join(f"{a}\n{zh}" for a, zh in PDF_PAGES)


@pytest.fixture
def pdf(tmp_path) -> Path:
    path = tmp_path / "lecture.pdf"
    path.write_bytes(build_pdf(PDF_PAGES))
    return path


def encrypted_copy(src: Path, dst: Path, user_password: str) -> Path:
    writer = PdfWriter(clone_from=PdfReader(src))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
    with open(dst, "wb") as f:
        writer.write(f)
    return dst


def rules(report) -> list[str]:
    return [f["rule"] for f in report.findings]


# ---------------------------------------------------------------- DOCX


def test_docx_text_in_order_with_table_cells(tmp_path):
    path = make_docx(tmp_path / "讲稿.docx")
    report = inspect_document(str(path))
    expected = "\n".join(PARAGRAPHS + [cell for row in TABLE for cell in row] + [AFTER_TABLE])
    assert report.text == expected
    assert report.findings == []
    assert report.facts["format"] == "docx"
    assert report.facts["text_chars"] == len(expected)
    assert report.facts["size_bytes"] == path.stat().st_size
    assert report.facts["encrypted"] is False


def test_docx_pages_estimated_when_app_xml_is_a_stale_template(tmp_path):
    # python-docx copies its template's docProps/app.xml: <Pages>1</Pages> with 0 characters.
    path = make_docx(tmp_path / "long.docx", paragraphs=["标题"] + ["党" * 400] * 3, table=None, after=None)
    report = inspect_document(str(path))
    # 2 + 1200 visible characters at 500 a page
    assert report.facts["pages"] == math.ceil(1202 / 500) == 3
    assert report.facts["pages_estimated"] is True


def test_docx_pages_from_app_xml_when_word_maintained_it(tmp_path):
    src = make_docx(tmp_path / "src.docx")
    path = rewrite_zip(src, tmp_path / "word.docx", {"docProps/app.xml": app_xml(pages=7, characters=3000)})
    report = inspect_document(str(path))
    assert report.facts["pages"] == 7
    assert report.facts["pages_estimated"] is False


def test_docx_without_app_xml_is_estimated_at_least_one_page(tmp_path):
    src = make_docx(tmp_path / "src.docx")
    with zipfile.ZipFile(src) as z:
        rels = re.sub(rb"<Relationship [^>]*docProps/app\.xml[^>]*/>", b"", z.read("_rels/.rels"))
    assert b"app.xml" not in rels
    path = rewrite_zip(src, tmp_path / "bare.docx", {"docProps/app.xml": None, "_rels/.rels": rels})
    report = inspect_document(str(path))
    assert report.facts["pages"] == 1 and report.facts["pages_estimated"] is True


def test_docx_impossible_page_count_is_not_trusted(tmp_path):
    src = make_docx(tmp_path / "src.docx", paragraphs=["标题"] + ["党" * 1000] * 5, table=None, after=None)
    path = rewrite_zip(src, tmp_path / "stale.docx", {"docProps/app.xml": app_xml(pages=1, characters=40)})
    report = inspect_document(str(path))
    # 5002 characters cannot fit one page: the estimate wins.
    assert report.facts["pages"] == 11 and report.facts["pages_estimated"] is True


def test_docx_merged_and_nested_cells_count_once(tmp_path):
    doc = docx.Document()
    t = doc.add_table(rows=2, cols=3)
    merged = t.cell(0, 0).merge(t.cell(0, 2))      # one cell across the first row
    merged.text = "合并单元格"
    t.cell(1, 0).text = "左"
    inner = t.cell(1, 1).add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "嵌套一"
    inner.cell(0, 1).text = "嵌套二"
    t.cell(1, 2).text = "右"
    path = tmp_path / "merged.docx"
    doc.save(path)
    assert inspect_document(str(path)).text == "合并单元格\n左\n嵌套一\n嵌套二\n右"


def test_docx_detected_by_content_not_name(tmp_path):
    src = make_docx(tmp_path / "src.docx")
    path = tmp_path / "讲稿.pdf"
    path.write_bytes(src.read_bytes())
    assert inspect_document(str(path)).facts["format"] == "docx"


def test_docx_with_broken_xml_is_corrupt(tmp_path):
    src = make_docx(tmp_path / "src.docx")
    path = rewrite_zip(src, tmp_path / "broken.docx", {"word/document.xml": b"<w:document><w:body>"})
    report = inspect_document(str(path))
    assert rules(report) == ["document_corrupt"]
    assert report.findings[0]["severity"] == "error"
    assert report.facts["format"] == "docx" and report.text == ""


def test_truncated_docx_upload_is_corrupt_not_refused(tmp_path):
    data = make_docx(tmp_path / "src.docx").read_bytes()
    path = tmp_path / "cut.docx"
    path.write_bytes(data[: len(data) // 2])
    report = inspect_document(str(path))
    assert rules(report) == ["document_corrupt"]
    assert "损坏" in report.findings[0]["message"]


def test_zip_bomb_is_refused_before_extracting(tmp_path):
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
        with z.open("word/media/image1.png", "w", force_zip64=True) as f:
            chunk = bytes(1 << 20)
            for _ in range(210):                        # 210 MB of zeros, about 1 MB zipped
                f.write(chunk)
    assert path.stat().st_size < 5 * 1024 * 1024
    report = inspect_document(str(path))
    assert rules(report) == ["document_too_large_uncompressed"]
    f = report.findings[0]
    assert f["severity"] == "error" and f["expected"] == 200 * 1024 * 1024 and f["actual"] > 200 * 1024 * 1024
    assert report.facts["format"] == "docx" and report.text == ""


def test_absurd_ratio_is_refused_under_the_size_cap(tmp_path):
    src = make_docx(tmp_path / "src.docx")
    path = rewrite_zip(src, tmp_path / "ratio.docx", {"word/media/filler.bin": bytes(30 << 20)})
    assert rules(inspect_document(str(path))) == ["document_too_large_uncompressed"]


def test_big_incompressible_image_is_fine(tmp_path):
    import random

    src = make_docx(tmp_path / "src.docx")
    photo = random.Random(1).randbytes(12 << 20)         # photos do not compress: ratio ~1
    path = rewrite_zip(src, tmp_path / "photos.docx", {"word/media/photo.jpg": photo})
    report = inspect_document(str(path))
    assert report.findings == [] and report.text.startswith(PARAGRAPHS[0])


def test_size_cap_is_a_module_setting(tmp_path, monkeypatch):
    monkeypatch.setattr(documents, "MAX_UNCOMPRESSED", 10_000)
    path = make_docx(tmp_path / "doc.docx")
    assert rules(inspect_document(str(path))) == ["document_too_large_uncompressed"]


@pytest.mark.parametrize("entries", [{"xl/workbook.xml": "<workbook/>"}, {"readme.txt": "hello"}])
def test_other_zip_files_are_refused(tmp_path, entries):
    path = tmp_path / "other.docx"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    with pytest.raises(ValueError, match="不是 Word 文档"):
        inspect_document(str(path))


# ---------------------------------------------------------------- PDF


def test_pdf_three_pages_with_chinese_text(pdf):
    report = inspect_document(str(pdf))
    assert report.findings == []
    assert report.facts == {"format": "pdf", "pages": 3, "pages_estimated": False,
                            "size_bytes": pdf.stat().st_size, "text_chars": len(PDF_TEXT), "encrypted": False}
    assert report.text == PDF_TEXT


def test_blank_pdf_from_pypdf(tmp_path):
    writer = PdfWriter()
    for _ in range(3):
        writer.add_blank_page(width=595, height=842)
    path = tmp_path / "blank.pdf"
    with open(path, "wb") as f:
        writer.write(f)
    report = inspect_document(str(path))
    assert report.facts["pages"] == 3 and report.facts["text_chars"] == 0 and report.text == ""
    assert report.findings == []


def test_pdf_with_junk_before_the_header(tmp_path):
    path = tmp_path / "junk.pdf"
    path.write_bytes(b"\r\n\r\n" + build_pdf(PDF_PAGES[:1]))
    report = inspect_document(str(path))
    assert report.facts["format"] == "pdf" and report.facts["pages"] == 1


def test_encrypted_pdf_is_an_error(tmp_path, pdf):
    path = encrypted_copy(pdf, tmp_path / "locked.pdf", user_password="123456")
    report = inspect_document(str(path))
    assert report.facts["encrypted"] is True and report.facts["password_required"] is True
    [f] = report.findings
    assert f["rule"] == "document_encrypted" and f["severity"] == "error"
    assert "请去除密码后重新上传" in f["message"]
    assert report.text == ""


def test_pdf_with_owner_password_only_opens_for_everyone(tmp_path, pdf):
    path = encrypted_copy(pdf, tmp_path / "restricted.pdf", user_password="")
    report = inspect_document(str(path))
    assert report.findings == []
    assert report.facts["encrypted"] is True and report.facts["password_required"] is False
    assert report.facts["pages"] == 3 and report.text == PDF_TEXT


@pytest.mark.parametrize("data", [
    b"%PDF-1.4\n" + bytes(range(256)) * 20,
    b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n",
    b"%PDF-",
])
def test_corrupt_pdf_is_a_finding_not_an_exception(tmp_path, data):
    path = tmp_path / "broken.pdf"
    path.write_bytes(data)
    report = inspect_document(str(path))
    assert rules(report) == ["document_corrupt"]
    assert report.findings[0]["severity"] == "error"
    assert report.facts["format"] == "pdf" and report.facts["pages"] is None


def test_truncated_pdf_never_raises(tmp_path, pdf):
    data = pdf.read_bytes()
    for cut in (0.3, 0.6, 0.9):
        path = tmp_path / f"cut{cut}.pdf"
        path.write_bytes(data[: int(len(data) * cut)])
        report = inspect_document(str(path))
        assert report.facts["format"] == "pdf"
        # pypdf may rebuild what is left; either it reads some pages or the file is reported corrupt
        assert report.facts["pages"] or rules(report) == ["document_corrupt"]


# ---------------------------------------------------------------- legacy and refusals


def ole_file(*stream_names: str) -> bytes:
    """An OLE compound file header followed by directory entries naming the given streams."""
    header = documents.OLE_MAGIC + b"\x00" * 16 + b"\x3e\x00\x03\x00\xfe\xff\x09\x00" + b"\x00" * 480
    entries = b"".join(name.encode("utf-16-le").ljust(64, b"\x00") + b"\x00" * 64 for name in stream_names)
    return header + entries.ljust(1024, b"\x00")


def test_legacy_word_doc(tmp_path):
    path = tmp_path / "讲稿.doc"
    path.write_bytes(ole_file("Root Entry", "WordDocument", "1Table", "\x05SummaryInformation"))
    report = inspect_document(str(path))
    [f] = report.findings
    assert f["rule"] == "document_legacy_format" and f["severity"] == "error"
    assert "请用 Word 另存为 .docx 后上传" in f["message"]
    assert report.facts["format"] == "doc"


def test_other_legacy_office_file(tmp_path):
    path = tmp_path / "a.docx"
    path.write_bytes(ole_file("Root Entry", "Workbook"))
    report = inspect_document(str(path))
    assert rules(report) == ["document_legacy_format"] and report.facts["format"] == "ole"
    assert "请用 Word 另存为 .docx 后上传" in report.findings[0]["message"]


def test_password_protected_docx_is_encrypted_not_legacy(tmp_path):
    # Word wraps a password-protected .docx in an OLE file with an EncryptedPackage stream.
    path = tmp_path / "locked.docx"
    path.write_bytes(ole_file("Root Entry", "EncryptionInfo", "EncryptedPackage"))
    report = inspect_document(str(path))
    assert rules(report) == ["document_encrypted"]
    assert report.facts["format"] == "docx" and report.facts["encrypted"] is True


def test_rtf_named_doc_is_legacy(tmp_path):
    path = tmp_path / "讲稿.doc"
    path.write_bytes(b"{\\rtf1\\ansi\\ansicpg936 {\\fonttbl} hello}")
    report = inspect_document(str(path))
    assert rules(report) == ["document_legacy_format"] and report.facts["format"] == "rtf"


@pytest.mark.parametrize("data", [
    "这不是文档，只是一段文字。".encode(),
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
    b"",
])
def test_not_a_document_is_refused_in_chinese(tmp_path, data):
    path = tmp_path / "x.pdf"
    path.write_bytes(data)
    with pytest.raises(ValueError, match="无法识别的文档"):
        inspect_document(str(path))


def test_report_is_plain_data(tmp_path):
    # The checker copies facts and findings into its own report and JSON.
    report = inspect_document(str(make_docx(tmp_path / "d.docx")))
    assert isinstance(report.facts, dict) and isinstance(report.findings, list) and isinstance(report.text, str)
    assert set(report.facts) >= {"format", "pages", "pages_estimated", "size_bytes", "text_chars", "encrypted"}


# --------------------------------------------------------------------------- review copies (blind review)


def test_the_docx_review_copy_names_nobody_and_keeps_the_text(tmp_path):
    from tests.media_fixtures import make_document_docx

    source = make_document_docx(tmp_path)
    d = docx.Document(source)
    d.core_properties.last_modified_by = "王书记"
    d.save(source)
    copy = tmp_path / "review.docx"
    assert documents.make_review_copy(str(source), str(copy), "docx")
    props = docx.Document(copy).core_properties
    assert (props.author, props.last_modified_by) == ("", "")
    raw = b"".join(zipfile.ZipFile(copy).read(n) for n in zipfile.ZipFile(copy).namelist())
    assert "东南大学党委".encode() not in raw and "王书记".encode() not in raw
    assert inspect_document(str(copy)).text == inspect_document(str(source)).text


def test_the_pdf_review_copy_has_no_author(tmp_path):
    from tests.media_fixtures import make_document_pdf

    source = make_document_pdf(tmp_path)
    assert PdfReader(source).metadata["/Author"] == "东南大学党委"
    copy = tmp_path / "review.pdf"
    assert documents.make_review_copy(str(source), str(copy), "pdf")
    reader = PdfReader(copy)
    assert not reader.metadata or "/Author" not in reader.metadata
    assert len(reader.pages) == len(PdfReader(source).pages)
    assert "东南大学党委".encode("utf-16-be") not in copy.read_bytes()
