"""Lifecycles: a thing's states, their Chinese labels, the moves between them, and the one place a state changes.

Each lifecycle (a submission, a file, a check, a round, an assignment, a score, ...) is a
`State` enum whose members carry their label, and a `Lifecycle` naming the moves allowed
from each state and which column records when a state was reached:

    class RoundState(State):
        OPEN = "open", "评分中"
        CLOSED = "closed", "评分已结束"

    ROUND = Lifecycle("round", {None: {RoundState.OPEN}, RoundState.OPEN: {RoundState.CLOSED}, ...})
    ROUND.move(rnd, RoundState.CLOSED)

`Lifecycle.move` is the only code that assigns `.state` (tests/unit/test_lifecycles.py walks the
sources to keep it so). Values stay the plain strings the database and the events have always
held: a member is a `str`, compares equal to its value and is stored as it.

A move that is not allowed raises `IllegalMove`, a programming error: the use case's guard,
which speaks to the user with a stable code and a Chinese message, should have refused first.
Pure: no framework.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any


class State(StrEnum):
    """A lifecycle's states; each member is `NAME = "value", "中文标签"`."""

    label: str

    def __new__(cls, value: str, label: str = ""):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def labels(cls) -> dict[str, str]:
        """{value: label}, for templates and messages."""
        return {member.value: member.label for member in cls}

    @classmethod
    def label_of(cls, value: str | None, default: str = "") -> str:
        try:
            return cls(value).label
        except ValueError:
            return default or str(value)


class IllegalMove(RuntimeError):
    """A state change the lifecycle does not allow: a bug in the caller, never a user's mistake."""


class Lifecycle:
    """The moves allowed between `State`s, and the columns that record when a state was reached."""

    def __init__(self, name: str, moves: Mapping[State | None, Iterable[State]],
                 stamps: Mapping[State, str] | None = None):
        self.name = name
        self.moves = {source: frozenset(targets) for source, targets in moves.items()}
        self.stamps = dict(stamps or {})

    def allows(self, current: str | None, target: State) -> bool:
        """May a thing in `current` (None: not yet created) move to `target`? Staying put is always allowed."""
        if current is not None and current == target:
            return True
        return target in self.moves.get(current, frozenset())

    def move(self, thing: Any, target: State, at: datetime | None = None) -> str | None:
        """Set `thing.state` to `target` (and its time stamp column to `at`); returns the state it left."""
        current = getattr(thing, "state", None)
        if not self.allows(current, target):
            raise IllegalMove(f"{self.name}: {current!r} -> {target.value!r} is not an allowed move")
        thing.state = target.value
        column = self.stamps.get(target)
        if column is not None and at is not None:
            setattr(thing, column, at)
        return current
