"""The case collection (案例集) as a Word document (issue #6)."""
import io
import time
from datetime import datetime, timezone

import docx

from services.notify.casebook import Case, case_collection, chinese_number


def case(n, track="story", label="战疫故事汇", **more):
    values = dict(submission_id=f"s-{n}", title=f"作品{n}", track=track, track_label=label, university="东南大学",
                  org_name="机械工程学院党委", theme=None, year=2020, text=f"第一段{n}。\n\n第二段{n}。",
                  keywords=("党员先锋岗", "红色防火墙"))
    values.update(more)
    return Case(**values)


def read(data):
    d = docx.Document(io.BytesIO(data))
    return d, [(p.style.name, p.text) for p in d.paragraphs]


def test_tracks_in_order_of_first_appearance_with_counts_and_numbered_works():
    cases = [case(1), case(2, "lecture", "专题微党课", theme="有序推进学校复学复课"), case(3)]
    _, paragraphs = read(case_collection("教育素材库案例集", cases))
    headings = [(s, t) for s, t in paragraphs if s.startswith("Heading")]
    assert headings == [("Heading 1", "一、战疫故事汇（2 件）"), ("Heading 2", "1. 作品1"), ("Heading 2", "2. 作品3"),
                        ("Heading 1", "二、专题微党课（1 件）"), ("Heading 2", "1. 作品2")]
    texts = [t for _, t in paragraphs]
    assert "东南大学 · 机械工程学院党委 · 主题：有序推进学校复学复课 · 2020年" in texts
    assert "东南大学 · 机械工程学院党委 · 2020年" in texts  # no theme, no theme part
    assert "关键词：党员先锋岗、红色防火墙" in texts
    assert texts.count("第一段1。") == 1 and texts.count("第二段1。") == 1 and "" not in texts[texts.index("第一段1。"):][:2]


def test_the_contents_are_a_toc_field_that_already_lists_every_heading():
    cases = [case(n) for n in range(1, 4)]
    document, paragraphs = read(case_collection("案例集", cases))
    xml = document.element.xml
    assert 'TOC \\o "1-2"' in xml and 'w:fldCharType="separate"' in xml
    start = [t for _, t in paragraphs].index("目  录")
    assert [t for _, t in paragraphs[start + 1:start + 5]] == ["一、战疫故事汇（3 件）", "1. 作品1", "2. 作品2", "3. 作品3"]
    assert xml.count('w:fldCharType="begin"') == xml.count('w:fldCharType="end"')
    assert "updateFields" in document.settings.element.xml
    assert " PAGE " in document.sections[0].footer.paragraphs[0]._p.xml


def test_characters_xml_forbids_are_dropped_and_everything_else_kept():
    text = "党员\x00先锋\x0b岗🚩 繁體字 Latin 2020\ufffe年"
    _, paragraphs = read(case_collection("案例集\x07", [case(1, title="标题\x1f一", text=text)]))
    texts = [t for _, t in paragraphs]
    assert "党员先锋岗🚩 繁體字 Latin 2020年" in texts and "1. 标题一" in texts and texts[0] == "案例集"


def test_an_empty_collection_is_still_a_document():
    _, paragraphs = read(case_collection("案例集", [], generated_at=datetime(2020, 10, 31, 20, tzinfo=timezone.utc)))
    texts = [t for _, t in paragraphs]
    assert "共收录作品 0 件" in texts and "暂无入选作品。" in texts
    assert "编印日期：2020年11月1日" in texts  # Beijing's date


def test_chinese_section_numbers():
    assert [chinese_number(n) for n in (1, 9, 10, 11, 12, 20, 21, 35)] == [
        "一", "九", "十", "十一", "十二", "二十", "二十一", "三十五"]


def test_five_hundred_cases_build_in_reasonable_time():
    cases = [case(n, text="党支部召开组织生活会。" * 30) for n in range(500)]
    started = time.perf_counter()
    document, paragraphs = read(case_collection("案例集", cases))
    took = time.perf_counter() - started
    assert sum(1 for s, _ in paragraphs if s == "Heading 2") == 500
    print(f"500 cases: {took:.2f} s")  # a figure for the reader, not an assertion on speed
