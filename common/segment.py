"""Chinese words with jieba, fitted to the field: segmentation, search tokens and keywords.

One dictionary for the platform: jieba's, loaded once per process together with
the domain dictionary `common/data/party_terms.txt` (党支部, 组织生活会, 红色防火墙,
三微一端 …), so that the field's terms stay whole; `cut` is jieba's accurate mode.
Text is normalised first (`common.text.normalise`:
Traditional to Simplified, emoji and invisible characters out, broken lines joined);
the submitter's original is never changed, only read.

CPU-heavy: services call these through `eventlet.tpool` (or a process pool for a
whole corpus), never on the event loop.
"""
from __future__ import annotations

import math
import re
import threading
from collections import Counter
from pathlib import Path

import regex

from common.text import normalise

DICTIONARY = Path(__file__).resolve().parent / "data" / "party_terms.txt"
STOP_WORDS = Path(__file__).resolve().parent / "data" / "stop_words.txt"
_WORDLIKE = regex.compile(r"[\p{Han}\p{Latin}\p{Nd}]")
_lock = threading.Lock()
_dictionary: "Dictionary | None" = None
_stop: frozenset[str] | None = None
_idf = None


class Dictionary:
    """jieba's dictionary (its general one plus ours) as one table for cutting.

    `log_prob[w]` is ln(freq(w) / total) for a word (always below 0) and 0.0 for a
    string that is only the beginning of some word; anything else is absent. That is
    jieba's prefix dictionary with the logarithms taken once instead of on every cut.
    """

    def __init__(self, log_prob: dict[str, float], unknown_char: float):
        self.log_prob = log_prob
        self.unknown_char = unknown_char  # ln(1 / total): what jieba gives a character it does not know


def _jieba_data(name: str) -> Path:
    import jieba  # only for where its data files are: dict.txt (words and frequencies), analyse/idf.txt

    return Path(jieba.__file__).resolve().parent / name


def dictionary() -> Dictionary:
    """Built once per process from jieba's dict.txt and our `party_terms.txt` (about a second), the way
    jieba's `Tokenizer.initialize` and `load_userdict` build theirs; read directly, because a jieba
    Tokenizer would hold a second copy of the table for the life of the process."""
    global _dictionary
    if _dictionary is None:
        with _lock:
            if _dictionary is None:
                freq: dict[str, int] = {}
                total = 0
                for path in (_jieba_data("dict.txt"), DICTIONARY):
                    with open(path, encoding="utf-8") as f:
                        for line in f:
                            parts = line.strip().lstrip("\ufeff").split(" ")
                            if len(parts) < 2:
                                continue
                            word, n = parts[0], int(parts[1])
                            freq[word] = n
                            total += n
                            for end in range(1, len(word)):
                                freq.setdefault(word[:end], 0)
                log_total = math.log(total)
                _dictionary = Dictionary({w: (math.log(n) - log_total if n else 0.0) for w, n in freq.items()},
                                         -log_total)
    return _dictionary


# jieba's own block splitting (jieba.re_han_default, re_skip_default): runs of Han, Latin letters, digits and
# +#&._%- are cut with the dictionary; everything else is taken a character at a time, whitespace whole.
_BLOCK = re.compile(r"([\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]+)")
_SKIP = re.compile(r"(\r\n|\s)")


def cut(text: str) -> list[str]:
    """jieba's accurate mode without the HMM (`jieba.lcut(text, HMM=False)`), word for word, about twice as fast.

    jieba builds a dict of candidate word ends for every character, then a second
    pass takes a logarithm and a tuple `max` per candidate. Here one backward pass
    does both with the logarithms precomputed (`Dictionary`); the route and its
    tie-break (the longer word wins a tie) are jieba's, and a test checks the output
    against jieba's on the generated corpus and the seed notices. Segmenting is most
    of the cost of fingerprinting a round's stories, which is why this exists.
    """
    d = dictionary()
    out: list[str] = []
    for block in _BLOCK.split(text):
        if not block:
            continue
        if _BLOCK.match(block):
            _cut_block(block, d.log_prob, d.unknown_char, out)
        else:
            for piece in _SKIP.split(block):
                if _SKIP.match(piece):
                    out.append(piece)
                else:
                    out.extend(piece)
    return out


def _cut_block(s: str, log_prob: dict[str, float], unknown_char: float, out: list[str]) -> None:
    n = len(s)
    score = [0.0] * (n + 1)  # best log probability of s[i:]
    end = [0] * (n + 1)  # where the first word of that best route ends
    for i in range(n - 1, -1, -1):
        best, best_end, found = unknown_char + score[i + 1], i + 1, False
        j = i + 1
        lp = log_prob.get(s[i], 1.0)
        while lp <= 0.0:  # s[i:j] is a word or the beginning of one
            if lp < 0.0:
                candidate = lp + score[j]
                if not found or candidate >= best:
                    best, best_end, found = candidate, j, True
            if j >= n:
                break
            j += 1
            lp = log_prob.get(s[i:j], 1.0)
        score[i], end[i] = best, best_end
    # Single Latin letters and digits next to each other make one token, as in jieba.
    i, latin = 0, ""
    while i < n:
        j = end[i]
        w = s[i:j]
        if j - i == 1 and w.isascii() and w.isalnum():
            latin += w
        else:
            if latin:
                out.append(latin)
                latin = ""
            out.append(w)
        i = j
    if latin:
        out.append(latin)


def stop_words() -> frozenset[str]:
    global _stop
    if _stop is None:
        _stop = frozenset(w.strip() for w in STOP_WORDS.read_text(encoding="utf-8").splitlines()
                          if w.strip() and not w.startswith("#"))
    return _stop


_wordlike: dict[str, bool] = {}


def _is_wordlike(w: str) -> bool:
    # Tokens repeat (Zipf), so the regex runs once per distinct token. The cache only grows with the
    # vocabulary actually seen; it is bounded so that a stream of unique strings cannot grow it forever.
    known = _wordlike.get(w)
    if known is None:
        known = bool(_WORDLIKE.search(w))
        if len(_wordlike) < 500_000:
            _wordlike[w] = known
    return known


def words(text: str, *, normalised: bool = False) -> list[str]:
    """The words of a text (accurate mode), punctuation and spaces dropped."""
    clean = text if normalised else normalise(text)
    return [w for w in cut(clean) if _is_wordlike(w)]


_SEPARATOR = "\ue000"  # a private-use character: never in normalised text, always a token of its own


def words_many(texts: list[str]) -> list[list[str]]:
    """`words` of many texts in one cut: per call there is a fixed cost, so short texts (stories) go faster
    in batches."""
    out: list[list[str]] = [[]]
    for w in cut(_SEPARATOR.join(normalise(t).replace(_SEPARATOR, " ") for t in texts)):
        if w == _SEPARATOR:
            out.append([])
        elif _is_wordlike(w):
            out[-1].append(w)
    return out


def content_words(text: str, *, normalised: bool = False) -> list[str]:
    """Words that carry meaning: no stop words, no single Latin letters or digits alone."""
    return meaningful(words(text, normalised=normalised))


def meaningful(ws: list[str]) -> list[str]:
    stop = stop_words()
    return [w for w in ws if w not in stop and not (len(w) == 1 and w.isascii())]


def search_tokens(text: str) -> list[str]:
    """Search-mode tokens, as jieba's `cut_for_search` (HMM off): each word, preceded by the dictionary words of
    two and three characters inside it, so that 常态化疫情防控 is also found by 疫情 and 防控."""
    log_prob = dictionary().log_prob
    out = []
    for w in words(text):
        if len(w) > 2:
            out.extend(g for g in (w[i:i + 2] for i in range(len(w) - 1)) if log_prob.get(g, 1.0) < 0.0)
        if len(w) > 3:
            out.extend(g for g in (w[i:i + 3] for i in range(len(w) - 2)) if log_prob.get(g, 1.0) < 0.0)
        out.append(w)
    return out


def idf(word: str) -> float:
    """How rare a word is in general language (jieba's IDF table). The domain dictionary's terms are not in
    that table: they get the highest IDF, like rare words, and other unknown words the median."""
    global _idf
    if _idf is None:
        # jieba.analyse's own loader would import jieba.posseg and its HMM tables (about 130 MB)
        with open(_jieba_data("analyse/idf.txt"), encoding="utf-8") as f:
            table = {w: float(v) for w, v in (line.split(" ") for line in f if " " in line)}
        values = sorted(table.values())
        _idf = (table, values[len(values) // 2], values[-1])
    freq, median, highest = _idf
    known = freq.get(word)
    if known is not None:
        return known
    return highest if word in _domain_terms() else median


def weighted_terms(text: str) -> dict[str, float]:
    """Content words of two or more characters weighted by TF-IDF with a sublinear term frequency (1 + ln tf),
    so that 工作 said four times in an official text does not outweigh 红色防火墙 said once."""
    counts = Counter(w for w in content_words(text) if len(w) > 1)
    return {w: (1 + math.log(n)) * idf(w) for w, n in counts.items()}


def keywords(text: str, top: int = 8) -> list[tuple[str, float]]:
    """The words that characterise a text: TF-IDF against jieba's general-language frequencies.

    The domain dictionary keeps the field's terms whole, and their rarity in general
    language (their IDF) is what lifts them above words that are merely frequent.
    """
    best = sorted(weighted_terms(text).items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [(w, round(score, 4)) for w, score in best]


_terms: frozenset[str] | None = None


def _domain_terms() -> frozenset[str]:
    global _terms
    if _terms is None:
        _terms = frozenset(line.split()[0] for line in DICTIONARY.read_text(encoding="utf-8").splitlines()
                           if line.strip())
    return _terms


def domain_terms() -> frozenset[str]:
    """The domain dictionary's terms (党支部, 组织生活会 …)."""
    return _domain_terms()
