"""Near-duplicate texts: MinHash fingerprints over jieba words, banded LSH, then an exact check.

The same story sent by two branches, or copied from a published article with a
few words changed, shares most of its words even when its sentences are
reordered, 10–20 % of its characters are changed, or it was written in
Traditional script (normalised away before segmentation). Each text becomes the
set of its content words of two or more characters: a changed character breaks a
word into single characters, which are left out, so the words a copy keeps weigh
more than the debris (on the generated set, copies keep a Jaccard of 0.49 or more,
unrelated stories on the same theme stay below 0.13). MinHash (192 permutations)
estimates the Jaccard similarity of two sets; LSH (48 bands of 4) makes texts that
are alike collide in some band, so candidate pairs come from shared buckets and
the cost grows with the number of texts, not with the number of pairs. Candidates
are confirmed with the exact Jaccard of their sets.
"""
from __future__ import annotations

import difflib
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from common import segment
from common.text import strip_invisible, to_simplified

PERMUTATIONS = 192
BANDS, ROWS = 48, 4
THRESHOLD = 0.3  # exact Jaccard of the word sets at or above which two texts are near-duplicates
_rng = np.random.default_rng(20200701)
# Multiply-add-shift hashing of 32-bit word hashes: (a*h + b mod 2^64) >> 32 with a random odd a is a
# universal family (Dietzfelbinger), and needs no modulo, which numpy does slowly on uint64.
_A = _rng.integers(1, 1 << 63, size=PERMUTATIONS, dtype=np.uint64) | np.uint64(1)
_B = _rng.integers(0, 1 << 63, size=PERMUTATIONS, dtype=np.uint64)
_SHIFT = np.uint64(32)
_EMPTY = np.uint64(1 << 32)  # above every hash: the signature of a text without words
# Odd multipliers that fold a band's ROWS values into one 64-bit bucket key.
_FOLD = _rng.integers(1, 1 << 63, size=ROWS, dtype=np.uint64) | np.uint64(1)
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


def features(text: str) -> frozenset[int]:
    """The text's content words of two or more characters, hashed to 32 bits."""
    return _features(segment.content_words(text))


def _features(content_words: list[str]) -> frozenset[int]:
    return frozenset(zlib.crc32(w.encode()) for w in content_words if len(w) >= 2)


def signature(feats: frozenset[int]) -> np.ndarray:
    """The MinHash signature: per permutation, the least hash of the text's words."""
    if not feats:
        return np.full(PERMUTATIONS, _EMPTY, dtype=np.uint64)
    h = np.fromiter(feats, dtype=np.uint64, count=len(feats))
    return ((np.outer(_A, h) + _B[:, None]) >> _SHIFT).min(axis=1)


def band_keys(signatures: np.ndarray) -> np.ndarray:
    """One 64-bit bucket key per band: (n, PERMUTATIONS) signatures -> (n, BANDS) keys (a 1-D signature
    gives BANDS keys). Two texts share a bucket when their ROWS values in that band are all equal; a chance
    collision of different values only adds a candidate, which the exact check then drops."""
    bands = signatures.reshape(*signatures.shape[:-1], BANDS, ROWS)
    return (bands * _FOLD).sum(axis=-1, dtype=np.uint64)  # wraps modulo 2^64, as meant


def fingerprint(doc_id: str, text: str) -> Fingerprint:
    feats = features(text)
    return Fingerprint(doc_id, feats, signature(feats))


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
        out.append(Fingerprint(doc_id, feats, signature(feats)))
    return out


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


def candidate_pairs(prints: Sequence[Fingerprint]) -> np.ndarray:
    """Index pairs (i < j) that share at least one LSH bucket, as an (m, 2) array.

    Per band the keys are sorted, so equal keys lie side by side: the work is a sort
    per band, and pairs are made only inside the (few, small) buckets that hold more
    than one text. Buckets larger than MAX_BUCKET hold boilerplate, not copies.
    """
    n = len(prints)
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    keys = band_keys(np.stack([p.signature for p in prints]))
    found = []
    for band in range(BANDS):
        column = keys[:, band]
        order = np.argsort(column, kind="stable")
        ordered = column[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        sizes = np.diff(np.r_[starts, n])
        two = starts[sizes == 2]  # most shared buckets hold a pair: made in one step
        first, second = order[two], order[two + 1]
        found.append(np.minimum(first, second) * n + np.maximum(first, second))
        for start, size in zip(starts[(sizes > 2) & (sizes <= MAX_BUCKET)].tolist(),
                               sizes[(sizes > 2) & (sizes <= MAX_BUCKET)].tolist()):
            members = np.sort(order[start:start + size])
            x, y = np.triu_indices(size, k=1)
            found.append(members[x] * n + members[y])
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    codes = np.unique(np.concatenate(found))
    return np.stack([codes // n, codes % n], axis=1)


def near_duplicates(prints: Sequence[Fingerprint], threshold: float = THRESHOLD) -> list[Match]:
    """Confirmed near-duplicate pairs, most similar first."""
    found = []
    for i, j in candidate_pairs(prints).tolist():
        sim = jaccard(prints[i].features, prints[j].features)
        if sim >= threshold:
            a, b = sorted((prints[i].doc_id, prints[j].doc_id))
            found.append(Match(a, b, round(sim, 3)))
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
