"""Issue #14 item 14: the reviewer's name mask works on normalised text, not literally.

A university's name written in Traditional script (東南大學), with spaces or zero-width characters
between its characters (东 南 大 学, 东\u200b南大学), in full-width Latin (ＳＥＵ) or split by a line break
must be masked as the plain name is; the rest of the text is shown exactly as written.
"""
from hypothesis import given, settings, strategies as st

from services.review.domain import blind

NAMES = frozenset(blind.name_variants(["东南大学", "计算机科学与工程学院党委", "SEU", "東北大學"]))
DISGUISES = [
    "東南大學", "东 南 大 学", "东\u200b南\u200d大\ufeff学", "东南\n大学", "东南\u3000大学", "ＳＥＵ", "seu", "S E U",
    "計算機科學與工程學院", "计算机科学与工程学院  党委", "东北大学",  # a Traditional org name, asked for in Simplified
]


def test_every_disguise_of_a_name_is_masked():
    for disguise in DISGUISES:
        text = f"这是{disguise}的老师讲的故事。"
        masked = blind.mask(text, NAMES)
        assert masked == f"这是{blind.MASK}的老师讲的故事。", (disguise, masked)


def test_text_around_a_mask_keeps_its_own_script_and_spacing():
    text = "來自東南大學的 老師，講述了 SEU 的故事"
    assert blind.mask(text, NAMES) == f"來自{blind.MASK}的 老師，講述了 {blind.MASK} 的故事"


name_chars = st.sampled_from("东南大学计算机科学与工程院党委")
disguise_gap = st.sampled_from(["", " ", "\u200b", "\u3000", "\t", "\u2060"])


@settings(max_examples=300, deadline=None)
@given(prefix=st.text(alphabet="我们的老师讲述了故事。，", max_size=20),
       suffix=st.text(alphabet="我们的老师讲述了故事。，", max_size=20),
       gaps=st.lists(disguise_gap, min_size=4, max_size=4),
       traditional=st.booleans())
def test_the_university_name_never_survives_gaps_or_script(prefix, suffix, gaps, traditional):
    chars = "東南大學" if traditional else "东南大学"
    disguised = "".join(c + g for c, g in zip(chars, gaps)).rstrip("".join(set(gaps)))
    masked = blind.mask(prefix + disguised + suffix, NAMES)
    assert "东南大学" not in blind.fold_name(masked) and "東南大學" not in masked
    assert masked.startswith(prefix) and masked.endswith(suffix)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_text_without_a_name_is_returned_unchanged(text):
    folded = blind.fold_name(text)
    if any(blind.fold_name(n) in folded for n in NAMES):
        return  # hypothesis wrote a name; the property is about text without one
    assert blind.mask(text, NAMES) == text


def test_a_latin_name_is_masked_only_as_a_word_of_its_own():
    assert blind.mask("This EU policy", NAMES) == "This EU policy"
    assert blind.mask("Visit SEU today", NAMES) == f"Visit {blind.MASK} today"
