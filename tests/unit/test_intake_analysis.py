"""Keywords and theme suggestions of works (issue #6): intake's pure text analysis."""
import pytest

from common.campaign import load_builtin_definitions
from services.intake.domain.analysis import analyse_work, work_text
from services.intake.domain.themes import suggest_theme

DEFINITION = load_builtin_definitions()["siyige-2020"]
THEMES = DEFINITION.themes
FLAG, YOUTH, PEOPLE, ROUTINE, SCHOOL = THEMES


@pytest.mark.parametrize("text, theme", [
    ("党旗在战疫一线高高飘扬——记医学院党员突击队冲锋在前", FLAG),
    ("青春在抗疫志愿服务中闪光：研究生党支部的志愿者们", YOUTH),
    ("生命至上：附属医院医疗队驰援武汉救治重症患者", PEOPLE),
    ("精准防控，抓实抓细校园常态化疫情防控措施", ROUTINE),
    ("返校复学第一课：有序推进线上教学与复课", SCHOOL),
    ("返校復學第一課：有序推進線上教學與復課🎓", SCHOOL),  # Traditional script and an emoji
])
def test_each_official_theme_is_suggested_for_a_lecture_about_it(text, theme):
    suggestion = suggest_theme(text, THEMES)
    assert suggestion["theme"] == theme
    ranked = [x["theme"] for x in suggestion["scores"]]
    assert ranked[0] == theme and sorted(ranked) == sorted(THEMES)
    assert suggestion["score"] == suggestion["scores"][0]["score"] > suggestion["scores"][1]["score"]


def test_a_text_close_to_no_theme_gets_no_suggestion():
    suggestion = suggest_theme("学党史，悟思想，办实事，开新局", THEMES)
    assert suggestion["theme"] is None and suggestion["score"] < 0.05


def test_a_theme_without_a_word_list_is_described_by_its_title():
    themes = ["弘扬伟大抗疫精神", "有序推进学校复学复课"]
    assert suggest_theme("伟大抗疫精神代代相传", themes)["theme"] == "弘扬伟大抗疫精神"
    assert suggest_theme("", []) is None


def test_a_lecture_keeps_its_chosen_theme_and_is_told_when_the_suggestion_differs():
    track = DEFINITION.tracks["lecture"]
    fields = {"title": "返校复学第一课", "outline": "分批返校，线上教学与课堂教学衔接，有序复课。", "theme": FLAG,
              "lecturers": ["王书记"]}
    result = analyse_work(track, fields, THEMES)
    assert result["theme_suggestion"]["theme"] == SCHOOL and result["theme_suggestion"]["differs"] is True
    assert fields["theme"] == FLAG  # never changed
    assert "王书记" not in work_text(track, fields)  # lecturers are not prose


def test_stories_get_keywords_but_no_theme_suggestion():
    track = DEFINITION.tracks["story"]
    result = analyse_work(track, {"title": "守护校园的红色防火墙",
                                  "text": "党支部筑牢红色防火墙，党员先锋岗二十四小时值守，三微一端传递战疫正能量。"}, THEMES)
    assert {"红色防火墙", "党员先锋岗", "三微一端"} <= set(result["keywords"])
    assert result["theme_suggestion"] is None
    assert analyse_work(track, {"title": "  "}, THEMES) is None
