"""A derived copy follows its parent's correction: a three-way merge of raw definitions, then the checks.

When a published campaign is corrected (a new version, docs/DOMAIN.md: 「A published campaign is corrected
by a new version, never silently」), every copy derived from it is a FULL definition of its own (SEU's copy
repeats the ministry's tracks with its own deadlines). `follow(old_parent, new_parent, child)` carries the
correction over to the copy the way a person comparing the three documents would:

- a value the copy left as the old parent had it takes the new parent's value (the copy follows);
- a value the copy overrode stays the copy's (its own decision is not undone by a correction elsewhere);
- lists of keyed items (fields and stages by ``key``, a stage's files by ``kind``, rubric criteria by ``key``,
  media rules by fact, operator and severity) are merged item by item, so the ministry's new field reaches SEU
  although SEU's list of fields differs from the ministry's; other lists (themes, submit levels, contacts)
  are values;
- a track the parent added is added to the copy; one the parent removed is removed unless the copy changed
  it (then it stays, as the copy's own track).

The merge never guesses which side is right: an override that the correction made looser than the new
parent (the ministry moved a deadline earlier than SEU's own) is reported as a conflict, with its path,
for the copy's owner to resolve. A merged copy that does not parse (the parent dropped a field the copy's
stage still requires) is reported the same way. No conflicts: the merged copy can be published as the
copy's next version. Pure: no framework, no clock, no database.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any

from common.campaign.parse import parse_definition
from common.campaign.tighten import check_tightens
from common.errors import Unprocessable

_ABSENT = object()  # a key a mapping does not have (distinct from a value of None)

# The identity of an item in a list of mappings, by the list's key in the format (common.campaign.schema).
# Media rules have no key of their own; two rules on the same fact with the same operator and severity are
# one rule written twice, so the three together name a rule (SEU's warning `duration_s le 1200` stays apart
# from the ministry's error `duration_s le 1800`).
_ITEM_KEYS: tuple[tuple[str, ...], ...] = (("key",), ("kind",), ("fact", "op", "severity"))


def follow(old_parent: dict, new_parent: dict, child: dict) -> tuple[dict, list[dict]]:
    """The copy `child` with the correction `old_parent` → `new_parent` carried over, and its conflicts.

    All three are raw definitions (mappings as published). Conflicts are ``{path, code, expected, found,
    message}`` (the messages in Chinese, from the checks); the merged copy is returned even when there are
    conflicts, for the owner to see what following would give, but it must not be published then.
    """
    merged = _merge(old_parent, new_parent, child)
    if merged is _ABSENT or not isinstance(merged, dict):  # a copy is never absent; defensive for bad input
        merged = copy.deepcopy(child)
    return merged, follow_conflicts(new_parent, merged)


def follow_conflicts(new_parent: dict, merged: dict) -> list[dict]:
    """Every place where `merged` is not a valid copy of `new_parent`: parse problems, then loosenings."""
    try:
        parent = parse_definition(new_parent)
        definition = parse_definition(merged)
        # the copy may name its parent qualified (`ministry.siyige-2020`); it is judged against the parent as
        # that names itself, as intake does when it publishes
        check_tightens(parent, dataclasses.replace(definition, derives_from=parent.id))
    except Unprocessable as error:
        return [{"path": p["field"], "code": error.code, "expected": p["expected"], "found": p["found"],
                 "message": p["message"]} for p in error.details] or [
                    {"path": error.field or "$", "code": error.code, "expected": error.expected,
                     "found": error.found, "message": error.message}]
    return []


def _merge(old: Any, new: Any, mine: Any) -> Any:
    if _same(mine, old):
        return _copy(new)  # not overridden: the correction applies (also when it adds or removes)
    if _same(new, old):
        return _copy(mine)  # not corrected: the copy's own value stands
    if isinstance(mine, dict) and isinstance(new, dict) and isinstance(old, (dict, type(_ABSENT))):
        return _merge_mappings(old if isinstance(old, dict) else {}, new, mine)
    if isinstance(mine, list) and isinstance(new, list) and isinstance(old, (list, type(_ABSENT))):
        keyed = _merge_keyed(old if isinstance(old, list) else [], new, mine)
        if keyed is not None:
            return keyed
    return _copy(mine)  # both changed it: the copy's override stands, the checks judge it


def _copy(value: Any) -> Any:
    return value if value is _ABSENT else copy.deepcopy(value)  # a copy of _ABSENT would no longer be absent


def _same(a: Any, b: Any) -> bool:
    if a is _ABSENT or b is _ABSENT:
        return a is b
    return a == b


def _merge_mappings(old: dict, new: dict, mine: dict) -> dict:
    out = {}
    # the copy's order first, then what the parent added, in the parent's order
    for key in [*mine, *(k for k in new if k not in mine)]:
        value = _merge(old.get(key, _ABSENT), new.get(key, _ABSENT), mine.get(key, _ABSENT))
        if value is not _ABSENT:
            out[key] = value
    return out


def _identity_of(items: list) -> tuple[str, ...] | None:
    """The key fields naming every item of `items` uniquely, or None when the list is not keyed."""
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for names in _ITEM_KEYS:
        if all(all(n in i for n in names) for i in items):
            ids = [_id(i, names) for i in items]
            if len(set(ids)) == len(ids):
                return names
            return None
    return None


def _id(item: dict, names: tuple[str, ...]) -> tuple:
    return tuple(repr(item[n]) for n in names)


def _merge_keyed(old: list, new: list, mine: list) -> list | None:
    identities = {_identity_of(lst) for lst in (old, new, mine) if lst}
    if len(identities) != 1 or None in identities:
        return None  # not a list of keyed items (or keyed differently): a value, judged whole
    names = identities.pop()
    olds, news, mines = ({_id(i, names): i for i in lst} for lst in (old, new, mine))
    # the copy's order (a stage order the checks keep to the parent's), the parent's additions after the item
    # that precedes them in the parent's list
    order = list(mines)
    for position, ident in enumerate(news):
        if ident not in order:
            before = next((p for p in reversed(list(news)[:position]) if p in order), None)
            order.insert(order.index(before) + 1 if before is not None else 0, ident)
    out = []
    for ident in order:
        value = _merge(olds.get(ident, _ABSENT), news.get(ident, _ABSENT), mines.get(ident, _ABSENT))
        if value is not _ABSENT:
            out.append(value)
    return out
