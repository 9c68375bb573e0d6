"""Segmentation with the domain dictionary, keywords, and near-duplicate detection (issue #6)."""
import random
from pathlib import Path

import pytest

from common import neardup, segment
from tests import textgen

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"


def test_the_fields_terms_stay_whole():
    text = "党支部召开组织生活会，筑牢红色防火墙，用好三微一端，设立党员先锋岗，选好双带头人。"
    ws = segment.words(text)
    for term in ("党支部", "组织生活会", "红色防火墙", "三微一端", "党员先锋岗", "双带头人", "筑牢"):
        assert term in ws, (term, ws)


def test_traditional_script_emoji_and_broken_lines_segment_like_simplified():
    simplified = segment.words("党支部召开组织生活会，党员冲在疫情防控第一线。")
    messy = segment.words("黨支部召開組織生\n活會👍，黨員衝在疫情防控第一線\u200b。")
    assert messy == simplified


def test_mixed_latin_and_digits_are_words_too():
    ws = segment.words("2020年7月，我们在B站和微信公众号发布了3期微党课")
    assert "2020" in ws and "B站" in ws and "微党课" in ws and "微信公众号" in ws


def _jieba_with_our_dictionary():
    import jieba

    tok = jieba.Tokenizer()
    tok.load_userdict(str(segment.DICTIONARY))
    return tok


def test_our_cut_is_jiebas_accurate_mode_word_for_word():
    tok = _jieba_with_our_dictionary()
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    texts += [t for _, t in textgen.corpus(300, 20, seed=3)[0]]
    texts += ["iPhone 12和5G网络，C++与Python3.11，A B C，95%的党员，2020-07-01，中国共产党第十九届五中全会",
              "𠀀㐀龥\r\n\t  多个空格 ﹏ ℃ abc123def 一 ！！", ""]
    for text in texts:
        assert segment.cut(text) == tok.lcut(text, HMM=False)


def test_search_tokens_are_jiebas_search_mode():
    tok = _jieba_with_our_dictionary()
    text = "中华人民共和国成立七十周年，常态化疫情防控和红色防火墙建设，党支部书记讲微党课"
    expected = [w for w in tok.lcut_for_search(text, HMM=False) if w.strip() and w not in "，"]
    assert segment.search_tokens(text) == expected


def test_keywords_are_the_fields_terms_not_the_most_frequent_words():
    text = "各党支部认真做好工作，扎实推进工作，抓好工作落实，确保工作见效。召开组织生活会，筑牢红色防火墙，党员先锋岗发挥作用。"
    # Frequency after a stop-word list puts 工作 first: that alone would not make keywords.
    from collections import Counter

    assert Counter(segment.content_words(text)).most_common(1)[0][0] == "工作"
    top = [w for w, _ in segment.keywords(text, top=4)]
    assert {"红色防火墙", "组织生活会", "党员先锋岗"} <= set(top) and "工作" not in top, top


@pytest.mark.skipif(not SEEDS.exists(), reason="the seeds are read from ../shared/seeds when present")
def test_keywords_of_the_seed_notices():
    plan = (SEEDS / "001_96361614ecf72ebe.txt").read_text(encoding="utf-8")
    top = [w for w, _ in segment.keywords(plan, top=10)]
    assert "四个一" in top and "疫情防控" in top
    traditional = (SEEDS / "004_02415c20dbb38b73.txt").read_text(encoding="utf-8")
    assert "基层党组织" in [w for w, _ in segment.keywords(traditional, top=5)]


def test_search_tokens_include_the_short_words_inside_long_ones():
    tokens = segment.search_tokens("常态化疫情防控")
    assert "常态化疫情防控" in tokens and "疫情" in tokens and "防控" in tokens


def test_minhash_estimates_the_jaccard_similarity():
    rng = random.Random(1)
    words = [f"词{i}" for i in range(400)]
    for _ in range(20):
        a = frozenset(rng.sample(range(10_000), 120))
        b = frozenset(list(a)[: rng.randint(20, 120)]) | frozenset(rng.sample(range(10_000, 20_000), 40))
        exact = neardup.jaccard(a, b)
        sa, sb = neardup.signature(a), neardup.signature(b)
        estimate = float((sa == sb).mean())
        assert abs(estimate - exact) < 0.15, (estimate, exact)
    assert words  # the vocabulary is only for readability of the failure


def test_edited_copies_are_found_and_same_theme_stories_are_not():
    docs, truth = textgen.corpus(1500, 150, seed=7)
    found = neardup.near_duplicates(neardup.fingerprints(docs))
    got = {(m.a, m.b) for m in found}
    precision = len(got & truth) / len(got)
    recall = len(got & truth) / len(truth)
    print(f"near-duplicates on {len(docs)} texts: precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.98 and recall >= 0.95


def test_a_traditional_copy_with_reordered_sentences_is_found():
    rng = random.Random(3)
    original = textgen.story(rng)
    copy = textgen.edited_copy(original, rng, traditional=True)
    assert copy != original and any("\u4e00" <= c <= "\u9fff" for c in copy)
    prints = neardup.fingerprints([("a", original), ("b", copy), ("c", textgen.story(rng))])
    assert [(m.a, m.b) for m in neardup.near_duplicates(prints)] == [("a", "b")]


def test_the_overlapping_passage_is_shown_in_both_texts():
    a = "前言不同。党员突击队连续奋战四十天守住校门。结尾也不同。"
    b = "另一个开头，黨員突擊隊連續奮戰四十天守住校門！"
    pa, pb = neardup.overlapping_passage(a, b)
    # each as it reads in its own text: its script, its full-width punctuation (issue #17 item 14)
    assert pa.startswith("党员突击队连续奋战四十天守住校门") and pb.startswith("黨員突擊隊連續奮戰四十天守住校門")


def test_the_passage_keeps_full_width_punctuation_and_line_breaks_of_the_original():
    a = "开头。疫情发生后，学院党委第一时间成立“战疫”突击队：\n队员们日夜值守，守住了校门。结尾。"
    b = "另起一段！疫情发生后，学院党委第一时间成立“战疫”突击队：队员们日夜值守，守住了校门。"
    pa, pb = neardup.overlapping_passage(a, b)
    assert pa == "疫情发生后，学院党委第一时间成立“战疫”突击队：\n队员们日夜值守，守住了校门。"
    assert pb == "疫情发生后，学院党委第一时间成立“战疫”突击队：队员们日夜值守，守住了校门。"
    assert neardup.overlapping_passage("完全不同", "毫无关系") == ("", "")
    assert neardup.overlapping_passage(a, b, context=2)[0].startswith("头。疫情")
