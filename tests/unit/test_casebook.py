"""The case collection (案例集) as a Word document, read back with python-docx."""
import io
from datetime import datetime, timezone

import docx
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor

from services.notify.casebook import Case, case_collection, chinese_number

THEME = "有序推进学校复学复课"


def case(n, track="story", label="战疫故事汇", **more):
    values = dict(submission_id=f"s-{n}", title=f"作品{n}", track=track, track_label=label, university="东南大学",
                  org_name="机械工程学院党委", theme=None, year=2020, text=f"第一段{n}。\n第二段{n}。",
                  keywords=("党员先锋岗", "红色防火墙"))
    values.update(more)
    return Case(**values)


def build(cases, title="教育素材库案例集", **kw):
    return docx.Document(io.BytesIO(case_collection(title, cases, **kw)))


def texts(document):
    return [p.text for p in document.paragraphs]


def headings(document):
    return [(p.style.name, p.text) for p in document.paragraphs if p.style.name.startswith("Heading")]


def after_heading(document, heading, count):
    """The `count` paragraphs that follow the Heading 2 `heading`."""
    paragraphs = document.paragraphs
    at = [i for i, p in enumerate(paragraphs) if p.style.name == "Heading 2" and p.text == heading]
    assert len(at) == 1, heading
    return paragraphs[at[0] + 1:at[0] + 1 + count]


def toc_field(document):
    """The instruction of the body's TOC field and its current result, one string per paragraph."""
    instruction, state, result = "", None, {}
    for run in document.element.body.iter(qn("w:r")):
        mark, instr = run.find(qn("w:fldChar")), run.find(qn("w:instrText"))
        kind = mark.get(qn("w:fldCharType")) if mark is not None else None
        if kind == "begin":
            assert state is None, "nested or unterminated field"
            state = "instruction"
        elif kind == "separate":
            state = "result"
        elif kind == "end":
            assert state == "result"
            return instruction, list(result.values())
        elif state == "instruction" and instr is not None:
            instruction += instr.text
        elif state == "result":
            paragraph = run.getparent()
            result[paragraph] = result.get(paragraph, "") + "".join(t.text or "" for t in run.iter(qn("w:t")))
    raise AssertionError("no complete field in the body")


def test_tracks_in_order_of_first_appearance_with_counts_and_numbered_works():
    cases = [case(1), case(2, "lecture", "专题微党课", theme=THEME), case(3), case(4, "material", "优秀教育素材"),
             case(5, "lecture", "专题微党课", theme=THEME), case(6)]
    assert headings(build(cases)) == [
        ("Heading 1", "一、战疫故事汇（3 件）"),
        ("Heading 2", "1. 作品1"), ("Heading 2", "2. 作品3"), ("Heading 2", "3. 作品6"),
        ("Heading 1", "二、专题微党课（2 件）"),
        ("Heading 2", "1. 作品2"), ("Heading 2", "2. 作品5"),
        ("Heading 1", "三、优秀教育素材（1 件）"),
        ("Heading 2", "1. 作品4"),
    ]


def test_more_than_ten_tracks_keep_chinese_numbering():
    document = build([case(n, track=f"t{n}", label=f"类别{n}") for n in range(1, 22)])
    assert [t for s, t in headings(document) if s == "Heading 1"][9:] == [
        "十、类别10（1 件）", "十一、类别11（1 件）", "十二、类别12（1 件）", "十三、类别13（1 件）",
        "十四、类别14（1 件）", "十五、类别15（1 件）", "十六、类别16（1 件）", "十七、类别17（1 件）",
        "十八、类别18（1 件）", "十九、类别19（1 件）", "二十、类别20（1 件）", "二十一、类别21（1 件）"]
    assert [chinese_number(n) for n in (1, 2, 9, 10, 11, 19, 20, 21, 35, 99)] == [
        "一", "二", "九", "十", "十一", "十九", "二十", "二十一", "三十五", "九十九"]


def test_the_contents_are_a_toc_field_that_already_lists_every_heading():
    cases = [case(1), case(2, "lecture", "专题微党课"), case(3)]
    document = build(cases)
    instruction, entries = toc_field(document)
    assert 'TOC \\o "1-2"' in instruction and "\\h" in instruction
    assert entries == [t for _, t in headings(document)]
    assert {f"作品{n}" for n in (1, 2, 3)} <= {e.split(". ", 1)[-1] for e in entries}
    # The entries come right after 「目  录」, which is no heading itself; works are indented under tracks.
    paragraphs = document.paragraphs
    start = texts(document).index("目  录")
    assert not paragraphs[start].style.name.startswith("Heading")
    shown = paragraphs[start + 1:start + 1 + len(entries)]
    assert [p.text for p in shown] == entries
    assert [bool(p.paragraph_format.left_indent) for p in shown] == [False, True, True, False, True]
    xml = document.element.xml
    assert xml.count('w:fldCharType="begin"') == xml.count('w:fldCharType="end"') == 1
    update = document.settings.element.find(qn("w:updateFields"))
    assert update is not None and update.get(qn("w:val")) == "true"
    assert " PAGE " in document.sections[0].footer.paragraphs[0]._p.xml


def test_meta_line_and_keywords_line():
    cases = [case(1, theme=THEME, year=2021), case(2, keywords=()), case(3, keywords=("抗疫", "🚩旗帜", "支部"))]
    document = build(cases)
    meta, keywords, first = after_heading(document, "1. 作品1", 3)
    assert meta.text == f"东南大学 · 机械工程学院党委 · 主题：{THEME} · 2021年"
    assert meta.runs[0].font.size == Pt(9) and meta.runs[0].font.color.rgb == RGBColor(0x80, 0x80, 0x80)
    assert keywords.text == "关键词：党员先锋岗、红色防火墙"
    assert first.text == "第一段1。"
    # No theme: no theme part; no keywords: no keywords line, the text follows the meta line.
    assert [p.text for p in after_heading(document, "2. 作品2", 2)] == ["东南大学 · 机械工程学院党委 · 2020年", "第一段2。"]
    assert after_heading(document, "3. 作品3", 2)[1].text == "关键词：抗疫、🚩旗帜、支部"


def test_characters_xml_forbids_are_dropped_and_everything_else_kept():
    dirty = "\x00\x01\x08\x0b\x0c\x0e\x1f\ud800\udfff\ufffe\uffff"
    text = f"党员{dirty[:4]}先锋岗🚩 繁體字與黨旗 Latin ABC 2020{dirty[4:]}年👍"
    document = build([case(1, title=f"标题{dirty}一", text=text, track_label=f"战疫{dirty}故事汇",
                           university=f"东南{dirty}大学", keywords=(f"关键{dirty}词", "Ａ1"))],
                     title=f"案例集{dirty}", subtitle=f"检索：{dirty}党日")
    assert texts(document)[:2] == ["案例集", "检索：党日"]
    assert headings(document) == [("Heading 1", "一、战疫故事汇（1 件）"), ("Heading 2", "1. 标题一")]
    assert [p.text for p in after_heading(document, "1. 标题一", 3)] == [
        "东南大学 · 机械工程学院党委 · 2020年", "关键词：关键词、Ａ1", "党员先锋岗🚩 繁體字與黨旗 Latin ABC 2020年👍"]


def test_an_empty_collection_is_still_a_document():
    document = build([], title="案例集", generated_at=datetime(2020, 10, 31, 20, tzinfo=timezone.utc))
    # 20:00 UTC on 31 October is already 1 November in Beijing.
    assert texts(document) == ["案例集", "共收录作品 0 件", "编印日期：2020年11月1日", "暂无入选作品"]
    assert document.paragraphs[0].style.name == "Title" and headings(document) == []


def test_cover_with_subtitle_count_and_date():
    document = build([case(1), case(2)], subtitle="检索：党日", generated_at=datetime(2020, 7, 1, 9, 30))
    assert texts(document)[:4] == ["教育素材库案例集", "检索：党日", "共收录作品 2 件", "编印日期：2020年7月1日"]
    assert document.core_properties.title == "教育素材库案例集"


def test_each_non_empty_line_of_the_text_is_one_indented_paragraph():
    text = "第一段，开头。\n\n   \n\u3000\u3000第二段（全角空格缩进）。\r\n第三段 with Latin 123\n"
    document = build([case(1, text=text, keywords=())])
    paragraphs = after_heading(document, "1. 作品1", 5)
    assert [p.text for p in paragraphs[1:4]] == ["第一段，开头。", "第二段（全角空格缩进）。", "第三段 with Latin 123"]
    assert all(p.paragraph_format.first_line_indent == Pt(21) for p in paragraphs[1:4])
    assert len(paragraphs) == 4  # nothing after the last line: the document ends there


def test_body_and_heading_fonts_for_chinese_text():
    document = build([case(1)])
    for style, font in (("Normal", "宋体"), ("Heading 1", "黑体"), ("Heading 2", "黑体"), ("Title", "黑体")):
        fonts = document.styles[style].element.rPr.rFonts
        # A theme font on the same element would win over w:eastAsia in Word.
        assert fonts.get(qn("w:eastAsia")) == font and fonts.get(qn("w:eastAsiaTheme")) is None, style
    assert document.styles["Normal"].font.size == Pt(10.5)


def test_five_hundred_cases_are_all_in_the_headings_and_the_contents():
    tracks = [("story", "战疫故事汇"), ("lecture", "专题微党课"), ("material", "优秀教育素材")]
    cases = [case(n, *tracks[n % 3], text="党支部召开组织生活会，" * 27 + "\n第二段。") for n in range(500)]
    data = case_collection("案例集", cases)  # its speed is measured by tests/bench/bench_text.py
    document = docx.Document(io.BytesIO(data))
    assert sum(1 for s, _ in headings(document) if s == "Heading 2") == 500
    assert len(toc_field(document)[1]) == 503
