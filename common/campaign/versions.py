"""Which `campaign_published` a copy takes: a campaign's copies never go back to an older version.

Intake publishes a campaign again when it is corrected (services/intake/operations/versions.py), with the
campaign's `version`; the first publication carries none and is version 1. Events come at least once and a replay
from the dead letters (`python -m common.deadletters replay`) may bring an old one after a newer one, so media,
review and notify each keep the version of their copy and ask `newer_or_same` before replacing it.
"""
from __future__ import annotations

FIRST_VERSION = 1


def version_of(data: dict) -> int:
    """The version the `data` of a `campaign_published` carries: 1 when absent (every event before corrections)."""
    return data.get("version") or FIRST_VERSION


def newer_or_same(stored: int | None, incoming: int) -> bool:
    """Whether a copy kept at version `stored` (None: none kept yet) takes an event of version `incoming`.

    The same version again is a redelivery, or the replay of an event whose handling failed: taking it again
    writes what the copy already holds, so it is taken rather than counted as a conflict.
    """
    return stored is None or incoming >= stored
