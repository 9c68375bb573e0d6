"""Near-duplicate texts: MinHash fingerprints over jieba words, banded LSH, then an exact check.

The same story sent by two branches, or copied from a published article with a
few words changed, shares most of its words even when its sentences are
reordered, 10–20 % of its characters are changed, or it was written in
Traditional script (normalised away before segmentation). Each text becomes the
set of its content words of two or more characters: a changed character breaks a
word into single characters, which are left out, so the words a copy keeps weigh
more than the debris (on the generated set, copies keep a Jaccard of 0.49 or more,
unrelated stories on the same theme stay below 0.13). MinHash estimates the Jaccard
similarity of two sets; LSH makes texts that are alike collide in some bands, so
candidate pairs come from shared buckets and the cost grows with the number of
texts, not with the number of pairs. Candidates are confirmed with the exact
Jaccard of their sets, or, for a story that copies part of another into new text,
with their containment (the share of the shorter text's words found in the longer).
"""
from __future__ import annotations

import difflib
import math
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from common import segment
from common.text import strip_invisible, to_simplified

THRESHOLD = 0.3  # exact Jaccard of the word sets at or above which two texts are near-duplicates
# A partial copy: at least this share of the shorter text's words is in the longer one, while their Jaccard is
# below THRESHOLD (two thirds of a story inside new text: Jaccard 0.24, containment 0.44). Only texts of at least
# PARTIAL_MIN_WORDS words count: a note of a dozen theme words is "contained" in every story on the theme.
CONTAINMENT = 0.4
PARTIAL_MIN_WORDS = 30
MISS = 0.005  # the candidate miss probability allowed at THRESHOLD, by the formula below


def candidate_probability(j: float, bands: int, rows: int, agree: int) -> float:
    """The chance that two texts whose LSH word sets have Jaccard j collide in at least `agree` of `bands` bands of
    `rows` MinHash values each: a band collides with probability p = j**rows, independently of the others, so the
    number of colliding bands is Binomial(bands, p)."""
    p = j ** rows
    return 1.0 - sum(math.comb(bands, i) * p ** i * (1 - p) ** (bands - i) for i in range(agree))


def choose_bands(threshold: float, miss: float, rows: int, agree: int) -> int:
    """The fewest bands of `rows` values such that a pair at Jaccard `threshold` shares at least `agree` of them
    with probability 1 - miss or more."""
    bands = agree
    while 1.0 - candidate_probability(threshold, bands, rows, agree) > miss:
        bands += 1
    return bands


# Why these shapes. With one shared band of r rows enough (agree=1), the old 48 bands of 4 put the S-curve's
# midpoint at (1/48)^(1/4) = 0.38, above the threshold: a pair at Jaccard 0.3 was missed 68 % of the time, at 0.4
# 29 %. Pushing that design under 1 % needs 567 bands of 4 (2,268 permutations) or 57 bands of 2, and the second
# makes a candidate of half the same-theme pairs (their word sets share 0.02-0.08 by the theme's own words). Asking
# for two shared bands of 3 rows instead is as sharp at the threshold and much steeper below it: 272 bands of 3
# (816 permutations) miss a pair at 0.3 with probability 0.50 % (at 0.4: 3e-8; a partial copy at 0.24 is a
# candidate 89 % of the time), while a pair at the background's 0.04 needs two of 272 chances of 6.4e-5 (~1.5e-4).
# The LSH words leave out the domain dictionary's terms (党员, 疫情防控 …): every story on the theme has them, so they
# only raise the background (median Jaccard 0.042 -> 0.022 on the generated set), while a copy keeps about the same
# Jaccard without them. The exact check still compares all words.
ROWS, AGREE = 3, 2
BANDS = choose_bands(THRESHOLD, MISS, ROWS, AGREE)  # 272
PERMUTATIONS = BANDS * ROWS
_rng = np.random.default_rng(20200701)
# Multiply-add hashing of 32-bit word hashes modulo 2^32 with a random odd multiplier: a permutation of the 32-bit
# values per row, and numpy does it in uint32 (12 times faster than 64-bit multiply-shift, which 816 rows need).
_A = _rng.integers(1, 1 << 32, size=PERMUTATIONS, dtype=np.uint64).astype(np.uint32) | np.uint32(1)
_B = _rng.integers(0, 1 << 32, size=PERMUTATIONS, dtype=np.uint64).astype(np.uint32)
_EMPTY = np.uint32(0xFFFFFFFF)  # the signature of a text without LSH words (such texts are never candidates)
# Odd multipliers that fold a band's ROWS values, and the band's number, into one 64-bit bucket key.
_FOLD = _rng.integers(1, 1 << 63, size=ROWS + 1, dtype=np.uint64) | np.uint64(1)
# Bucket sizes are capped: a bucket as large as this holds boilerplate, not copies.
MAX_BUCKET = 200


@dataclass(frozen=True)
class Fingerprint:
    doc_id: str
    features: frozenset[int]
    signature: np.ndarray


@dataclass(frozen=True)
class Match:
    a: str
    b: str
    similarity: float  # exact Jaccard of the two word sets
    containment: float = 0.0  # the share of the shorter text's words found in the longer
    kind: str = "near_duplicate"  # or "partial_copy": containment >= CONTAINMENT with a Jaccard below THRESHOLD


def features(text: str) -> frozenset[int]:
    """The text's content words of two or more characters, hashed to 32 bits."""
    return _features(segment.content_words(text))


def _features(content_words: list[str]) -> frozenset[int]:
    return frozenset(zlib.crc32(w.encode()) for w in content_words if len(w) >= 2)


def lsh_words(feats: frozenset[int]) -> frozenset[int]:
    """The words the LSH keys are made of: the text's words but the domain dictionary's terms."""
    return feats - _domain_hashes()


_domain: frozenset[int] | None = None


def _domain_hashes() -> frozenset[int]:
    global _domain
    if _domain is None:
        _domain = _features(sorted(segment.domain_terms()))
    return _domain


def signature(feats: frozenset[int]) -> np.ndarray:
    """The MinHash signature of a word set: per permutation, the least hash of its words."""
    if not feats:
        return np.full(PERMUTATIONS, _EMPTY, dtype=np.uint32)
    h = np.fromiter(feats, dtype=np.uint32, count=len(feats))
    return (np.multiply.outer(_A, h) + _B[:, None]).min(axis=1)  # wraps modulo 2^32, as meant


def band_keys(signatures: np.ndarray, first: int = 0) -> np.ndarray:
    """One 64-bit bucket key per band: (n, PERMUTATIONS) signatures -> (n, BANDS) keys (a 1-D signature
    gives BANDS keys; a slice of whole bands starting at band `first` gives those bands' keys). Two texts share
    a bucket when their ROWS values in that band are all equal; a chance collision of different values only adds
    a candidate, which the exact check then drops. The band's number is folded in, so a key names its band."""
    count = signatures.shape[-1] // ROWS
    bands = signatures.reshape(*signatures.shape[:-1], count, ROWS).astype(np.uint64)
    number = np.arange(first, first + count, dtype=np.uint64) * _FOLD[ROWS]
    keys = (bands * _FOLD[:ROWS]).sum(axis=-1, dtype=np.uint64) + number  # wraps modulo 2^64, as meant
    return np.where((signatures.reshape(bands.shape) == _EMPTY).all(axis=-1), np.uint64(0), keys)


def fingerprint(doc_id: str, text: str) -> Fingerprint:
    feats = features(text)
    return Fingerprint(doc_id, feats, signature(lsh_words(feats)))


BATCH = 200


def fingerprints(docs: Iterable[tuple[str, str]], processes: int = 1) -> list[Fingerprint]:
    """Fingerprints of many texts, segmented in batches; with processes > 1 in a process pool."""
    docs = list(docs)
    batches = [docs[i:i + BATCH] for i in range(0, len(docs), BATCH)]
    if processes <= 1 or len(docs) < 2000:
        return [p for batch in batches for p in _fingerprint_batch(batch)]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(processes) as pool:
        return [p for done in pool.map(_fingerprint_batch, batches) for p in done]


def _fingerprint_batch(docs: list[tuple[str, str]]) -> list[Fingerprint]:
    out = []
    for (doc_id, _), ws in zip(docs, segment.words_many([t for _, t in docs]), strict=True):
        feats = _features(segment.meaningful(ws))
        out.append(Fingerprint(doc_id, feats, signature(lsh_words(feats))))
    return out


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


def candidate_pairs(prints: Sequence[Fingerprint]) -> np.ndarray:
    """Index pairs (i < j) that share at least AGREE LSH buckets, as an (m, 2) array.

    Per band the keys are sorted, so equal keys lie side by side: the work is a sort
    per band, and pairs are made only inside the (few, small) buckets that hold more
    than one text; then the pairs met in AGREE bands or more are kept. Buckets larger
    than MAX_BUCKET hold boilerplate, not copies; key 0 is a text without LSH words.
    """
    n = len(prints)
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    signatures = np.stack([p.signature for p in prints])
    found = []
    for band in range(BANDS):
        # one band's keys at a time: all of them at once would be a 64-bit copy of every signature
        column = band_keys(signatures[:, band * ROWS:(band + 1) * ROWS], first=band)[:, 0]
        order = np.argsort(column, kind="stable")
        ordered = column[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        sizes = np.diff(np.r_[starts, n])
        keep = ordered[starts] != 0
        two = starts[(sizes == 2) & keep]  # most shared buckets hold a pair: made in one step
        first, second = order[two], order[two + 1]
        found.append(np.minimum(first, second) * n + np.maximum(first, second))
        larger = (sizes > 2) & (sizes <= MAX_BUCKET) & keep
        for start, size in zip(starts[larger].tolist(), sizes[larger].tolist()):
            members = np.sort(order[start:start + size])
            x, y = np.triu_indices(size, k=1)
            found.append(members[x] * n + members[y])
    codes, met = np.unique(np.concatenate(found), return_counts=True)
    codes = codes[met >= AGREE]
    return np.stack([codes // n, codes % n], axis=1)


def containment(a: frozenset[int], b: frozenset[int]) -> float:
    """The share of the shorter set's words found in the longer."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def judge(a: frozenset[int], b: frozenset[int], threshold: float = THRESHOLD) -> tuple[str, float, float] | None:
    """(kind, Jaccard, containment) of two word sets, or None when they are neither near-duplicates nor a copy of
    part of one in the other."""
    common = len(a & b)
    if not common:
        return None
    sim = common / (len(a) + len(b) - common)
    share = common / min(len(a), len(b))
    if sim >= threshold:
        return "near_duplicate", sim, share
    if share >= CONTAINMENT and min(len(a), len(b)) >= PARTIAL_MIN_WORDS:
        return "partial_copy", sim, share
    return None


def near_duplicates(prints: Sequence[Fingerprint], threshold: float = THRESHOLD) -> list[Match]:
    """Confirmed near-duplicate pairs and partial copies, most similar first."""
    found = []
    for i, j in candidate_pairs(prints).tolist():
        verdict = judge(prints[i].features, prints[j].features, threshold)
        if verdict is not None:
            kind, sim, share = verdict
            a, b = sorted((prints[i].doc_id, prints[j].doc_id))
            found.append(Match(a, b, round(sim, 3), round(share, 3), kind))
    return sorted(found, key=lambda m: (-m.similarity, m.a, m.b))


def overlapping_passage(text_a: str, text_b: str, context: int = 0) -> tuple[str, str]:
    """The longest passage the two texts share, cut from each text as it reads there (its full-width punctuation,
    its script, its line breaks), with `context` characters either side. Compared in the comparable form
    (`_comparable`), so 「黨員突擊隊」 in one matches 「党员突击队」 in the other."""
    a, where_a = _comparable(text_a)
    b, where_b = _comparable(text_b)
    m = difflib.SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
    if m.size == 0:
        return "", ""
    return (_cut(text_a, where_a, m.a, m.size, context), _cut(text_b, where_b, m.b, m.size, context))


def _comparable(text: str) -> tuple[str, list[int]]:
    """The text as `normalise` compares it (NFKC, Simplified, no invisible characters), without whitespace (a line
    broken in one copy and not the other still matches), and for each of its characters the index of the original
    character it came from."""
    simplified = to_simplified(text)
    if len(simplified) != len(text):  # a phrase converted to another length: convert character by character
        simplified = "".join(to_simplified(ch)[:1] or ch for ch in text)
    chars: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(simplified):
        folded = "".join(c for c in strip_invisible(unicodedata.normalize("NFKC", ch)) if not c.isspace())
        chars.append(folded)
        where.extend([i] * len(folded))
    return "".join(chars), where


def _cut(text: str, where: list[int], start: int, size: int, context: int) -> str:
    first, last = where[start], where[start + size - 1]
    return text[max(0, first - context): last + 1 + context]
