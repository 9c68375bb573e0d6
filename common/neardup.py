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
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from common import segment
from common.text import normalise

PERMUTATIONS = 192
BANDS, ROWS = 48, 4
THRESHOLD = 0.3  # exact Jaccard of the word sets at or above which two texts are near-duplicates
_PRIME = (1 << 61) - 1
_rng = np.random.default_rng(20200701)
_A = _rng.integers(1, _PRIME, size=PERMUTATIONS, dtype=np.uint64)
_B = _rng.integers(0, _PRIME, size=PERMUTATIONS, dtype=np.uint64)
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
    if not feats:
        return np.full(PERMUTATIONS, np.iinfo(np.uint64).max, dtype=np.uint64)
    h = np.fromiter(feats, dtype=np.uint64, count=len(feats))
    # (a*h + b) mod p per permutation. uint64 products wrap modulo 2^64 before the reduction; the
    # family stays random enough for MinHash (the tests check the estimates against exact Jaccard).
    return ((np.outer(_A, h) + _B[:, None]) % _PRIME).min(axis=1)


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


def candidate_pairs(prints: Sequence[Fingerprint]) -> set[tuple[int, int]]:
    """Index pairs that share at least one LSH band."""
    pairs: set[tuple[int, int]] = set()
    if not prints:
        return pairs
    sigs = np.stack([p.signature for p in prints])
    for band in range(BANDS):
        block = sigs[:, band * ROWS:(band + 1) * ROWS]
        buckets: dict[bytes, list[int]] = defaultdict(list)
        for i, key in enumerate(map(bytes, block)):
            buckets[key].append(i)
        for members in buckets.values():
            if 1 < len(members) <= MAX_BUCKET:
                for x in range(len(members)):
                    for y in range(x + 1, len(members)):
                        pairs.add((members[x], members[y]))
    return pairs


def near_duplicates(prints: Sequence[Fingerprint], threshold: float = THRESHOLD) -> list[Match]:
    """Confirmed near-duplicate pairs, most similar first."""
    found = []
    for i, j in candidate_pairs(prints):
        sim = jaccard(prints[i].features, prints[j].features)
        if sim >= threshold:
            a, b = sorted((prints[i].doc_id, prints[j].doc_id))
            found.append(Match(a, b, round(sim, 3)))
    return sorted(found, key=lambda m: (-m.similarity, m.a, m.b))


def overlapping_passage(text_a: str, text_b: str, context: int = 0) -> tuple[str, str]:
    """The longest passage the two texts share (normalised), as it reads in each: for showing the match."""
    a, b = normalise(text_a), normalise(text_b)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    m = matcher.find_longest_match(0, len(a), 0, len(b))
    return a[max(0, m.a - context): m.a + m.size + context], b[max(0, m.b - context): m.b + m.size + context]
