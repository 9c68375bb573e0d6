"""Which official theme a lecture is closest to (主题建议), from its title, outline and subtitles.

Each theme is described by the words of its title and a few words that say what it
is about (`theme_words.yaml`); a lecture by the TF-IDF weights of its own words
(`common.segment.weighted_terms`: the field's terms kept whole, rare words weigh
more). The suggestion is the theme with the highest cosine similarity. It is advice
for the submitter and the admins: the submitter's chosen theme is never changed.
Pure apart from reading the word list once; CPU-bound (jieba), so callers run it in
`eventlet.tpool`.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import yaml

from common import segment

THEME_WORDS = Path(__file__).with_name("theme_words.yaml")
# Below this cosine the text shares too little with every theme to suggest one.
MIN_SCORE = 0.05


@lru_cache(maxsize=1)
def _theme_words() -> dict[str, tuple[str, ...]]:
    data = yaml.safe_load(THEME_WORDS.read_text(encoding="utf-8")) or {}
    return {str(k): tuple(str(w) for w in v) for k, v in data.items()}


@lru_cache(maxsize=64)
def _theme_vector(theme: str) -> dict[str, float]:
    vec = segment.weighted_terms(theme)
    for w in _theme_words().get(theme, ()):
        vec[w] = max(vec.get(w, 0.0), segment.idf(w))
    return vec


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    dot = sum(v * b.get(w, 0.0) for w, v in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def suggest_theme(text: str, themes: list[str]) -> dict | None:
    """{"theme": best or None, "score": its cosine, "scores": [{"theme", "score"}, … best first]};
    None when the campaign has no themes. `theme` is None when no theme reaches MIN_SCORE."""
    if not themes:
        return None
    vec = segment.weighted_terms(text)
    scores = sorted(((round(_cosine(vec, _theme_vector(t)), 3), t) for t in themes), key=lambda st: -st[0])
    best_score, best = scores[0]
    return {"theme": best if best_score >= MIN_SCORE else None, "score": best_score,
            "scores": [{"theme": t, "score": sc} for sc, t in scores]}
