"""Chinese words with jieba, fitted to the field: segmentation, search tokens and keywords.

One tokenizer for the platform, loaded once per process with the domain
dictionary `common/data/party_terms.txt` (党支部, 组织生活会, 红色防火墙, 三微一端 …),
so that the field's terms stay whole. Text is normalised first (`common.text.normalise`:
Traditional to Simplified, emoji and invisible characters out, broken lines joined);
the submitter's original is never changed, only read.

CPU-heavy: services call these through `eventlet.tpool` (or a process pool for a
whole corpus), never on the event loop.
"""
from __future__ import annotations

import logging
import math
import threading
from collections import Counter
from pathlib import Path

import regex

from common.text import normalise

DICTIONARY = Path(__file__).resolve().parent / "data" / "party_terms.txt"
STOP_WORDS = Path(__file__).resolve().parent / "data" / "stop_words.txt"
_WORDLIKE = regex.compile(r"[\p{Han}\p{Latin}\p{Nd}]")
_lock = threading.Lock()
_tokenizer = None
_stop: frozenset[str] | None = None
_idf = None


def tokenizer():
    """jieba's tokenizer with the domain dictionary (built once; about a second)."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                tok = jieba.Tokenizer()
                tok.initialize()
                tok.load_userdict(str(DICTIONARY))
                _tokenizer = tok
    return _tokenizer


def stop_words() -> frozenset[str]:
    global _stop
    if _stop is None:
        _stop = frozenset(w.strip() for w in STOP_WORDS.read_text(encoding="utf-8").splitlines()
                          if w.strip() and not w.startswith("#"))
    return _stop


def words(text: str, *, normalised: bool = False) -> list[str]:
    """The words of a text (accurate mode), punctuation and spaces dropped."""
    clean = text if normalised else normalise(text)
    return [w for w in tokenizer().lcut(clean, HMM=False) if _WORDLIKE.search(w)]


_SEPARATOR = "\ue000"  # a private-use character: never in normalised text, always a token of its own


def words_many(texts: list[str]) -> list[list[str]]:
    """`words` of many texts in one pass of jieba: per call it costs as much as segmenting ~180 characters,
    so short texts (stories) go about twice as fast in batches."""
    out: list[list[str]] = [[]]
    for w in tokenizer().lcut(_SEPARATOR.join(normalise(t).replace(_SEPARATOR, " ") for t in texts), HMM=False):
        if w == _SEPARATOR:
            out.append([])
        elif _WORDLIKE.search(w):
            out[-1].append(w)
    return out


def content_words(text: str, *, normalised: bool = False) -> list[str]:
    """Words that carry meaning: no stop words, no single Latin letters or digits alone."""
    return meaningful(words(text, normalised=normalised))


def meaningful(ws: list[str]) -> list[str]:
    stop = stop_words()
    return [w for w in ws if w not in stop and not (len(w) == 1 and w.isascii())]


def search_tokens(text: str) -> list[str]:
    """Search-mode tokens (long words also as their shorter words), for a full-text index and queries."""
    clean = normalise(text)
    return [w for w in tokenizer().lcut_for_search(clean) if _WORDLIKE.search(w)]


def keywords(text: str, top: int = 8) -> list[tuple[str, float]]:
    """The words that characterise a text: TF-IDF against jieba's general-language frequencies.

    The domain dictionary keeps the field's terms whole, and their rarity in general
    language (their IDF) is what lifts them above words that are merely frequent; the
    term frequency is sublinear (1 + ln tf), so 工作 said four times in an official
    text does not outweigh 红色防火墙 said once.
    """
    global _idf
    if _idf is None:
        import jieba.analyse

        tfidf = jieba.analyse.TFIDF()
        tfidf.tokenizer = tokenizer()
        _idf = tfidf
    counts = Counter(w for w in content_words(text) if len(w) > 1)
    if not counts:
        return []
    freq, median = _idf.idf_freq, _idf.median_idf
    # Terms of our dictionary are not in jieba's IDF table: give them a high IDF, like rare words.
    domain_idf = max(freq.values()) if freq else 12.0
    scored = {w: (1 + math.log(n)) * freq.get(w, domain_idf if w in _domain_terms() else median)
              for w, n in counts.items()}
    best = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [(w, round(s, 4)) for w, s in best]


_terms: frozenset[str] | None = None


def _domain_terms() -> frozenset[str]:
    global _terms
    if _terms is None:
        _terms = frozenset(line.split()[0] for line in DICTIONARY.read_text(encoding="utf-8").splitlines()
                           if line.strip())
    return _terms
