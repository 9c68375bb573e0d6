"""The case collection (案例集) of the education material library, as a Word document.

A propaganda department compiles the selected works into a printed collection: a
cover, a table of contents, then the works grouped by track, each with its
university, org, theme and keywords and its text. The contents are a real Word TOC
field, so Word refreshes the page numbers (the document asks it to on opening),
and the field already holds one line per heading, so a viewer that never updates
fields (WPS, LibreOffice, a browser preview) still shows the contents.
Pure: cases in, bytes out (python-docx).
"""
from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import docx
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor

SHANGHAI = ZoneInfo("Asia/Shanghai")
BODY_FONT, HEADING_FONT = "宋体", "黑体"
# Characters XML 1.0 does not allow (python-docx refuses them): C0 controls but tab/newline/return, lone
# surrogates, U+FFFE and U+FFFF. A pasted text can carry any of them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NUMERALS = "零一二三四五六七八九"


@dataclass(frozen=True)
class Case:
    submission_id: str
    title: str
    track: str
    track_label: str
    university: str
    org_name: str
    theme: str | None
    year: int
    text: str
    keywords: tuple[str, ...] = ()


def xml_safe(text: str) -> str:
    return _NOT_XML.sub("", text)


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 35 → 三十五 (section numbers up to 99)."""
    tens, ones = divmod(n, 10)
    if n < 10:
        return _NUMERALS[n]
    return ("" if tens == 1 else _NUMERALS[tens]) + "十" + (_NUMERALS[ones] if ones else "")


def case_collection(title: str, cases: Sequence[Case], *, subtitle: str = "",
                    generated_at: datetime | None = None) -> bytes:
    when = (generated_at or datetime.now(SHANGHAI)).astimezone(SHANGHAI)
    document = docx.Document()
    _set_fonts(document)
    _ask_word_to_update_fields(document)
    _page_number_footer(document)

    document.add_paragraph(xml_safe(title), style="Title").alignment = WD_ALIGN_PARAGRAPH.CENTER
    if subtitle:
        document.add_paragraph(xml_safe(subtitle)).alignment = WD_ALIGN_PARAGRAPH.CENTER
    for line in (f"共收录作品 {len(cases)} 件", f"编印日期：{when.year}年{when.month}月{when.day}日"):
        document.add_paragraph(line).alignment = WD_ALIGN_PARAGRAPH.CENTER
    if not cases:
        document.add_paragraph("暂无入选作品。").alignment = WD_ALIGN_PARAGRAPH.CENTER
    _page_break(document)

    groups: dict[str, list[Case]] = {}
    for case in cases:  # tracks in the order they first appear; works in the order given
        groups.setdefault(case.track, []).append(case)
    headings: list[tuple[int, str]] = []
    for number, works in enumerate(groups.values(), start=1):
        headings.append((1, f"{chinese_number(number)}、{xml_safe(works[0].track_label)}（{len(works)} 件）"))
        headings += [(2, f"{i}. {xml_safe(c.title)}") for i, c in enumerate(works, start=1)]

    contents = document.add_paragraph()
    contents.add_run("目  录").bold = True
    contents.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _table_of_contents(document, headings)
    _page_break(document)

    entries = iter(headings)
    for works in groups.values():
        document.add_heading(next(entries)[1], level=1)
        for case in works:
            document.add_heading(next(entries)[1], level=2)
            meta = [case.university, case.org_name] + ([f"主题：{case.theme}"] if case.theme else []) + [
                f"{case.year}年"]
            run = document.add_paragraph().add_run(xml_safe(" · ".join(p for p in meta if p)))
            run.font.size, run.font.color.rgb = Pt(9), RGBColor(0x66, 0x66, 0x66)
            if case.keywords:
                document.add_paragraph(xml_safe("关键词：" + "、".join(case.keywords))).runs[0].italic = True
            for line in xml_safe(case.text).splitlines():
                if line.strip():
                    document.add_paragraph(line.strip()).paragraph_format.first_line_indent = Pt(21)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _set_fonts(document) -> None:
    # Word takes Chinese glyphs from the East Asian font of a run's rFonts, not from its name.
    for style_name, font in (("Normal", BODY_FONT), ("Title", HEADING_FONT), ("Heading 1", HEADING_FONT),
                             ("Heading 2", HEADING_FONT)):
        style = document.styles[style_name]
        style.font.name = font
        style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)
    document.styles["Normal"].font.size = Pt(10.5)


def _ask_word_to_update_fields(document) -> None:
    update = OxmlElement("w:updateFields")
    update.set(qn("w:val"), "true")
    document.settings.element.append(update)


def _field_runs(paragraph, instruction: str, shown: str = "") -> None:
    """A complex field (begin, instruction, separate, its current result, end) in the paragraph."""
    def char(kind: str):
        run = paragraph.add_run()
        mark = OxmlElement("w:fldChar")
        mark.set(qn("w:fldCharType"), kind)
        run._r.append(mark)

    char("begin")
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = instruction
    paragraph.add_run()._r.append(instr)
    char("separate")
    if shown:
        paragraph.add_run(shown)
    char("end")


def _table_of_contents(document, headings: list[tuple[int, str]]) -> None:
    """A TOC field over heading levels 1–2 whose result already lists every heading, one paragraph each."""
    if not headings:
        _field_runs(document.add_paragraph(), ' TOC \\o "1-2" \\h \\z \\u ', "（无）")
        return
    paragraphs = [document.add_paragraph() for _ in headings]
    for paragraph, (level, text) in zip(paragraphs, headings, strict=True):
        paragraph.paragraph_format.left_indent = Pt(0 if level == 1 else 21)
        if paragraph is not paragraphs[0]:
            paragraph.add_run(text)
    # The field begins in the first entry's paragraph and ends in the last one's, as Word writes it.
    first, last = paragraphs[0], paragraphs[-1]
    _field_runs(first, ' TOC \\o "1-2" \\h \\z \\u ', headings[0][1])
    end = first._p.xpath("./w:r[w:fldChar[@w:fldCharType='end']]")[-1]
    first._p.remove(end)
    last._p.append(end)


def _page_break(document) -> None:
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def _page_number_footer(document) -> None:
    footer = document.sections[0].footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _field_runs(footer, " PAGE ", "1")
