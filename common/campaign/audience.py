"""Whom a campaign is for: its `audience` (the ministry's 2020 plan: 「在教育部直属高校和部省合建高校开展」).

    audience: {categories: [direct, co_built], universities: [seu, …]}

Either list may be left out; a definition without `audience` is for every university. A university is in the
audience when its category is one of `categories` OR its slug is one of `universities`. A university whose
category is not registered (NULL: the operator has not set it yet) counts as in the audience of a campaign that
names categories: an operator's omission must not silently hide the ministry's campaign from it (it still needs
naming in `universities` where a campaign names universities only). A university's copy (`derives_from`) need not
repeat the audience: without one it has its parent's; with one, it may only narrow it (common.campaign.tighten).
"""
from __future__ import annotations

from dataclasses import dataclass

from common.locale import CATEGORY_LABELS, CATEGORY_UNKNOWN_LABEL

CATEGORIES = tuple(CATEGORY_LABELS)  # direct, co_built, local
NOT_IN_AUDIENCE = "not_in_audience"


@dataclass(frozen=True)
class Audience:
    categories: tuple[str, ...] | None = None  # CATEGORIES
    universities: tuple[str, ...] | None = None  # tenant slugs

    @classmethod
    def from_dict(cls, data: dict | None) -> Audience | None:
        """None for no audience (everyone), as a definition or an event without the key has it."""
        if not data:
            return None
        categories, universities = data.get("categories"), data.get("universities")
        return cls(tuple(categories) if categories is not None else None,
                   tuple(universities) if universities is not None else None)

    def to_dict(self) -> dict:
        return {**({"categories": list(self.categories)} if self.categories is not None else {}),
                **({"universities": list(self.universities)} if self.universities is not None else {})}

    def includes(self, university: str, category: str | None) -> bool:
        if self.categories is None and self.universities is None:
            return True
        if self.categories is not None and (category is None or category in self.categories):
            return True  # an unregistered category is the operator's omission: not hidden (module docstring)
        return self.universities is not None and university in self.universities

    def describe(self, names: dict[str, str] | None = None) -> str:
        """In Chinese, for messages: 「教育部直属高校、部省合建高校」, with named universities after them."""
        parts = [CATEGORY_LABELS.get(c, c) for c in self.categories or ()]
        parts += [(names or {}).get(u, u) for u in self.universities or ()]
        return "、".join(parts) or "所有高校"


def includes(audience: Audience | dict | None, university: str, category: str | None) -> bool:
    """Whether a university (slug, category or None) is among those a campaign with `audience` is for."""
    if isinstance(audience, dict):
        audience = Audience.from_dict(audience)
    return audience is None or audience.includes(university, category)


def category_label(category: str | None) -> str:
    return CATEGORY_LABELS.get(category, category) if category else CATEGORY_UNKNOWN_LABEL
