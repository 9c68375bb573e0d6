"""Generated Chinese stories on the 战疫 theme, and edited copies of them, for near-duplicate tests.

Every story carries the theme's own terms (党员, 疫情防控, 党支部 … from the domain
dictionary), and otherwise words drawn from jieba's general dictionary (nouns,
verbs and adjectives in everyday use), so two stories share their theme without
sharing their sentences, as stories from different branches do. Edited copies:
sentences reordered, 10–20 % of the characters replaced by other characters,
and about a third turned into Traditional script.
"""
from __future__ import annotations

import os
import random
from functools import lru_cache

THEME = ["党员", "党支部", "疫情防控", "战疫", "志愿者", "党组织", "防控", "一线", "初心使命", "党员先锋岗",
         "红色防火墙", "组织生活会", "复学复课", "抗疫精神", "社区", "隔离", "防护物资", "核酸检测", "师生", "校园"]
PUNCT_JOIN = ["，", "，", "、", "；"]


@lru_cache(maxsize=1)
def _vocabulary() -> dict[str, list[str]]:
    import jieba

    words: dict[str, list[str]] = {"n": [], "v": [], "a": []}
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as f:
        for line in f:
            w, freq, tag = line.split()
            if int(freq) >= 300 and 2 <= len(w) <= 4 and tag[0] in words and all("\u4e00" <= c <= "\u9fff" for c in w):
                words[tag[0]].append(w)
    return words


def _fill(pattern: str, rng: random.Random) -> str:
    v = _vocabulary()
    out = pattern
    for slot, pool in (("{n}", v["n"]), ("{v}", v["v"]), ("{a}", v["a"]), ("{t}", THEME)):
        while slot in out:
            out = out.replace(slot, rng.choice(pool), 1)
    return out


PATTERNS = ["{n}{v}{n}", "{a}的{n}{v}{t}", "{t}{v}{n}", "{n}在{n}{v}{a}的{n}", "{v}{t}的{n}", "{t}{n}{v}{n}"]


def _sentence(rng: random.Random) -> str:
    clauses = [_fill(rng.choice(PATTERNS), rng) for _ in range(rng.randint(2, 3))]
    return "".join(c + rng.choice(PUNCT_JOIN) for c in clauses[:-1]) + clauses[-1] + "。"


def story(rng: random.Random, sentences: int = 9) -> str:
    """About 200–300 characters, as WUST's ≤300 字 stories are."""
    return "".join(_sentence(rng) for _ in range(sentences))


_REPLACEMENTS = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研"  # noqa: E501


def edited_copy(text: str, rng: random.Random, *, traditional: bool = False) -> str:
    """Sentences reordered, 10–20 % of the characters replaced, optionally in Traditional script."""
    sentences = [s + "。" for s in text.split("。") if s]
    rng.shuffle(sentences)
    chars = list("".join(sentences))
    han = [i for i, c in enumerate(chars) if "\u4e00" <= c <= "\u9fff"]
    for i in rng.sample(han, int(len(han) * rng.uniform(0.10, 0.20))):
        chars[i] = rng.choice(_REPLACEMENTS)
    out = "".join(chars)
    if traditional:
        out = _to_traditional().convert(out)
    return out


@lru_cache(maxsize=1)
def _to_traditional():
    import opencc

    return opencc.OpenCC("s2t")


def corpus(n_originals: int, n_copies: int, seed: int = 0) -> tuple[list[tuple[str, str]], set[tuple[str, str]]]:
    """(doc_id, text) for originals and edited copies of some of them, and the true duplicate pairs."""
    rng = random.Random(seed)
    docs = [(f"s{i:06d}", story(rng)) for i in range(n_originals)]
    family: dict[str, list[str]] = {}
    for j in range(n_copies):
        source_id, text = docs[rng.randrange(n_originals)]
        copy_id = f"c{j:06d}"
        docs.append((copy_id, edited_copy(text, rng, traditional=rng.random() < 0.3)))
        family.setdefault(source_id, [source_id]).append(copy_id)
    # two copies of one story are near-duplicates of each other too
    truth = {tuple(sorted((a, b))) for members in family.values()
             for i, a in enumerate(members) for b in members[i + 1:]}
    return docs, truth
