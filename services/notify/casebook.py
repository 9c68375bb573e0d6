"""The case collection (案例集) of the education material library, as a Word document.

A propaganda department compiles the selected works into a printed collection: a cover,
a table of contents, then the works grouped by track, each with its university, org,
theme and keywords and its text. The contents are a real Word TOC field, so Word can
refresh the page numbers (the document asks it to on opening), and the field already
holds one line per heading, so a viewer that never updates fields (WPS, LibreOffice,
a browser preview) still shows the contents. Pure: cases in, bytes out (python-docx).
"""
from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import docx
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor
from docx.text.paragraph import Paragraph

from common.locale import BEIJING

BODY_FONT, HEADING_FONT = "宋体", "黑体"
TOC_INSTRUCTION = ' TOC \\o "1-2" \\h \\z \\u '
INDENT = Pt(21)  # two characters of the 10.5 pt (五号) body text
# Characters XML 1.0 does not allow (python-docx raises ValueError on them): C0 controls other than
# tab/newline/return, lone surrogates, U+FFFE and U+FFFF. Text pasted from Word or a PDF can carry any.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NUMERALS = "零一二三四五六七八九"


@dataclass(frozen=True)
class Case:
    submission_id: str
    title: str  # 作品名称
    track: str  # track key: "story", "lecture", "material", "meeting_report", "report"
    track_label: str  # e.g. "战疫故事汇"
    university: str
    org_name: str
    theme: str | None  # one of the five lecture themes, or None
    year: int
    text: str  # the prose as submitted
    keywords: tuple[str, ...] = ()


def xml_safe(text: str) -> str:
    """The text without the characters XML cannot hold; everything else untouched."""
    return _NOT_XML.sub("", text)


def one_line(text: str) -> str:
    # A title with a line break would become a <w:br/> inside a heading and split its TOC entry.
    return " ".join(part.strip() for part in xml_safe(text).splitlines() if part.strip())


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 35 → 三十五; 100 and beyond stay Arabic."""
    if not 0 < n < 100:
        return str(n)
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _NUMERALS[ones]
    return ("" if tens == 1 else _NUMERALS[tens]) + "十" + (_NUMERALS[ones] if ones else "")


def case_collection(title: str, cases: Sequence[Case], *, subtitle: str = "",
                    generated_at: datetime | None = None) -> bytes:
    """The collection as DOCX bytes; a naive ``generated_at`` is taken as Beijing time."""
    when = generated_at or datetime.now(BEIJING)
    when = when.astimezone(BEIJING) if when.tzinfo else when.replace(tzinfo=BEIJING)
    document = docx.Document()
    _set_fonts(document)
    _ask_word_to_update_fields(document)
    _page_number_footer(document)
    props = document.core_properties
    props.title, props.author = one_line(title), ""
    # core.xml dates are written as UTC with a Z, and python-docx does not convert aware datetimes itself.
    props.created = props.modified = when.astimezone(timezone.utc).replace(tzinfo=None)
    # Two python-docx conveniences cost time linear in the document per paragraph: a style set by name scans
    # every style, and add_paragraph scans the whole body for the trailing w:sectPr (4,000 cases took 16 s).
    # So the style ids are looked up once, and each paragraph goes straight in before the sectPr.
    style_id = {name: document.styles[name].style_id for name in ("Title", "Heading 1", "Heading 2")}
    body, section_end = document._body, document.element.body.sectPr

    def paragraph(text: str = "", style: str | None = None) -> Paragraph:
        p = Paragraph(OxmlElement("w:p"), body)
        section_end.addprevious(p._p)
        if text:
            p.add_run(text)
        if style:
            p._p.get_or_add_pPr().style = style_id[style]
        return p

    cover_title = paragraph(one_line(title), "Title")
    cover_title.alignment, cover_title.paragraph_format.space_before = WD_ALIGN_PARAGRAPH.CENTER, Pt(120)
    cover = [one_line(subtitle)] if one_line(subtitle) else []
    cover += [f"共收录作品 {len(cases)} 件", f"编印日期：{when.year}年{when.month}月{when.day}日"]
    for line in cover + ([] if cases else ["暂无入选作品"]):
        paragraph(line).alignment = WD_ALIGN_PARAGRAPH.CENTER
    if not cases:
        return _save(document)
    _page_break(paragraph())

    groups: dict[str, list[Case]] = {}
    for case in cases:  # tracks in the order they first appear; works in the order given
        groups.setdefault(case.track, []).append(case)
    headings: list[tuple[int, str]] = []
    for number, works in enumerate(groups.values(), start=1):
        headings.append((1, f"{chinese_number(number)}、{one_line(works[0].track_label)}（{len(works)} 件）"))
        headings += [(2, f"{i}. {one_line(c.title)}") for i, c in enumerate(works, start=1)]

    # Direct formatting, not a heading style: a Heading style would put 「目录」 into its own TOC.
    contents = paragraph()
    contents.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = contents.add_run("目  录")
    run.bold, run.font.size = True, Pt(16)
    run._r.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), HEADING_FONT)
    _table_of_contents([paragraph() for _ in headings], headings)
    _page_break(paragraph())

    entries = iter(headings)
    for works in groups.values():
        paragraph(next(entries)[1], "Heading 1")
        for case in works:
            paragraph(next(entries)[1], "Heading 2")
            meta = [case.university, case.org_name, f"主题：{case.theme}" if case.theme else "", f"{case.year}年"]
            run = paragraph().add_run(" · ".join(one_line(part) for part in meta if one_line(part)))
            run.font.size, run.font.color.rgb = Pt(9), RGBColor(0x80, 0x80, 0x80)
            keywords = [one_line(k) for k in case.keywords if one_line(k)]
            if keywords:
                paragraph("关键词：" + "、".join(keywords))
            for line in xml_safe(case.text).splitlines():
                # strip() also drops the full-width spaces people type as an indent; the indent is ours.
                if line.strip():
                    paragraph(line.strip()).paragraph_format.first_line_indent = INDENT
    return _save(document)


def _save(document) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _set_fonts(document) -> None:
    # Word takes Chinese glyphs from w:eastAsia, and a theme attribute (w:eastAsiaTheme, which the default
    # template puts on Title and the headings) overrides it, so the theme attribute has to go.
    for name, font in (("Normal", BODY_FONT), ("Title", HEADING_FONT), ("Heading 1", HEADING_FONT),
                       ("Heading 2", HEADING_FONT)):
        fonts = document.styles[name].element.get_or_add_rPr().get_or_add_rFonts()
        fonts.attrib.pop(qn("w:eastAsiaTheme"), None)
        fonts.set(qn("w:eastAsia"), font)
    document.styles["Normal"].font.size = Pt(10.5)


def _ask_word_to_update_fields(document) -> None:
    update = OxmlElement("w:updateFields")
    update.set(qn("w:val"), "true")
    document.settings.element.append(update)


def _field_char(paragraph, kind: str) -> None:
    mark = OxmlElement("w:fldChar")
    mark.set(qn("w:fldCharType"), kind)
    paragraph.add_run()._r.append(mark)


def _field_instruction(paragraph, instruction: str) -> None:
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = instruction
    paragraph.add_run()._r.append(instr)


def _table_of_contents(paragraphs: list, headings: list[tuple[int, str]]) -> None:
    """A TOC field over heading levels 1–2 whose current result lists every heading, one paragraph each."""
    # Word writes a multi-paragraph field this way: begin, instruction and separate in the first entry's
    # paragraph, the end in the last one's; each entry paragraph in between is part of the result.
    for i, (p, (level, text)) in enumerate(zip(paragraphs, headings, strict=True)):
        p.paragraph_format.left_indent = Pt(0 if level == 1 else 21)
        if i == 0:
            _field_char(p, "begin")
            _field_instruction(p, TOC_INSTRUCTION)
            _field_char(p, "separate")
        run = p.add_run(text)
        run.bold = level == 1
    _field_char(paragraphs[-1], "end")


def _page_break(paragraph) -> None:
    paragraph.add_run().add_break(WD_BREAK.PAGE)


def _page_number_footer(document) -> None:
    footer = document.sections[0].footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _field_char(footer, "begin")
    _field_instruction(footer, " PAGE ")
    _field_char(footer, "separate")
    footer.add_run("1")
    _field_char(footer, "end")
