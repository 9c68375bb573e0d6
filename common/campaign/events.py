"""A published campaign as `campaign_published` carries it: what media, review and notify keep of it.

Intake publishes a definition (`PublishedCampaign.of(definition, …).to_event()`); each consumer keeps
the part it needs (media the media policy per track and file kind, review the rubric and the fields
reviewers may see, notify the labels, stages, deadlines, levels, quotas and forward counts) and may
read it back with `PublishedCampaign.from_event` instead of picking at the dict. `TRACKS_SCHEMA` is
the event's schema for `tracks` (common/events.py), built from the same vocabulary the parser
checks definitions with, so an event can carry nothing a definition could not say.

Version 1 of the event; `fields`, `quota`, `forward` and `decision` joined it later (optional in the schema,
empty when absent), and so did the campaign's `short_title`, `contacts` and `notice` (notify announces the
campaign with them; absent: the title, no contacts, no notice), and a choice field's `choice_labels` (an award's
category by its name; absent: the value itself), and the campaign's `audience` (common.campaign.audience: notify
announces the ministry's campaign to the universities in it; absent: every university), so `from_event` reads every
version-1 event ever sent.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from common.campaign.audience import Audience
from common.campaign.media_rules import MEDIA_FACTS, OPERATORS, SEVERITIES
from common.campaign.model import (
    DEADLINE_LEVELS,
    DEPARTMENTS,
    FIELD_TYPES,
    CampaignDefinition,
    Contact,
    Criterion,
    Decision,
    MediaPolicy,
    MediaRule,
    Track,
    judged,
)
from common.campaign.recurrence import Recurrence
from common.campaign.schema import AUDIENCE_SCHEMA, DECISION_SCHEMA, NOTICE_MAX_CHARS, RECURRENCE_SCHEMA
from common.campaign.wording import iso
from common.levels import LEVELS


@dataclass(frozen=True)
class PublishedField:
    key: str
    label: str
    type: str
    identifying: bool = False  # hidden from reviewers, who score blind
    # a choice's Chinese label per value (表彰类别 member -> 优秀共产党员): how review and notify name an award's category
    choice_labels: dict[str, str] | None = None


@dataclass(frozen=True)
class PublishedTrack:
    key: str
    label: str
    department: str
    media: dict[str, MediaPolicy]
    rubric: list[Criterion]
    deadlines: dict[str, dict[str, datetime]]  # stage -> level -> moment
    submit_levels: list[str]
    stage_labels: dict[str, str]
    fields: list[PublishedField] = field(default_factory=list)
    quota: dict[str, Any] = field(default_factory=dict)
    forward: dict[str, int] = field(default_factory=dict)
    decision: Decision = field(default_factory=Decision)  # absent from early events: the ministry's selection
    # 「党组织名称+作品名称」: admin-facing exports name the work's files so (absent from early events: not named so)
    naming_rule: bool = False
    opens: dict[str, datetime] = field(default_factory=dict)  # stage -> when it starts taking submissions
    recurrence: Recurrence | None = None  # a record each period (「月度组织生活」); absent: the track runs once

    @property
    def judged(self) -> str:
        """SCORED, VETTED or COLLECTED (common.campaign.model): how a round treats the track's works."""
        return judged(self.rubric, self.decision.kind)

    @classmethod
    def of(cls, track: Track) -> PublishedTrack:
        return cls(
            key=track.key, label=track.label, department=track.department, media=dict(track.media),
            rubric=list(track.rubric), deadlines={s.key: dict(s.deadlines) for s in track.stages},
            submit_levels=list(track.submit_levels), stage_labels={s.key: s.label for s in track.stages},
            fields=[PublishedField(f.key, f.label, f.type, f.identifying,
                                   dict(f.choice_labels) if f.choice_labels else None) for f in track.fields],
            quota=copy.deepcopy(track.quota), forward=dict(track.forward), decision=track.decision,
            naming_rule=track.naming_rule,
            opens={s.key: s.opens for s in track.stages if s.opens is not None},
            recurrence=track.recurrence,
        )

    def to_event(self) -> dict:
        return {
            "label": self.label,
            "department": self.department,
            "media": {kind: policy.to_event() for kind, policy in self.media.items()},
            "rubric": [c.to_dict() for c in self.rubric],
            "deadlines": {stage: {level: iso(at) for level, at in by_level.items()}
                          for stage, by_level in self.deadlines.items()},
            "submit_levels": list(self.submit_levels),
            "stage_labels": dict(self.stage_labels),
            "fields": [{"key": f.key, "label": f.label, "type": f.type, "identifying": f.identifying,
                        **({"choice_labels": dict(f.choice_labels)} if f.choice_labels else {})}
                       for f in self.fields],
            "quota": copy.deepcopy(self.quota),
            "forward": dict(self.forward),
            "decision": self.decision.to_dict(),
            **({"naming_rule": True} if self.naming_rule else {}),
            **({"opens": {stage: iso(at) for stage, at in self.opens.items()}} if self.opens else {}),
            **({"recurrence": self.recurrence.to_event()} if self.recurrence is not None else {}),
        }

    @classmethod
    def from_event(cls, key: str, data: dict) -> PublishedTrack:
        return cls(
            key=key, label=data["label"], department=data["department"],
            media={kind: _policy(kind, p) for kind, p in data["media"].items()},
            rubric=[Criterion(c["key"], c["label"], c["weight"], c["max"]) for c in data["rubric"]],
            deadlines={stage: {level: datetime.fromisoformat(at) for level, at in by_level.items()}
                       for stage, by_level in data["deadlines"].items()},
            submit_levels=list(data["submit_levels"]), stage_labels=dict(data["stage_labels"]),
            fields=[PublishedField(f["key"], f["label"], f["type"], f.get("identifying", False), f.get("choice_labels"))
                    for f in data.get("fields", [])],
            quota=copy.deepcopy(data.get("quota", {})), forward=dict(data.get("forward", {})),
            decision=Decision.from_dict(data.get("decision")),
            naming_rule=data.get("naming_rule", False),
            opens={stage: datetime.fromisoformat(at) for stage, at in data.get("opens", {}).items()},
            recurrence=Recurrence.from_dict(data["recurrence"], data["recurrence"]["timezone"])
            if data.get("recurrence") else None,
        )

    def policy(self, kind: str) -> dict | None:
        """The media policy of a kind as media judges it (`media_rules.judge`), or None."""
        policy = self.media.get(kind)
        return policy.to_event() if policy is not None else None


def _policy(kind: str, data: dict) -> MediaPolicy:
    rules = [MediaRule(r["fact"], r["op"], r["value"], r["severity"], r.get("hint")) for r in data.get("rules", [])]
    return MediaPolicy(kind=kind, max_bytes=data.get("max_bytes"), rules=rules)


@dataclass(frozen=True)
class PublishedCampaign:
    campaign_id: str  # platform-wide: `<university>.<id>` for a university's own
    derives_from: str | None
    title: str
    tracks: dict[str, PublishedTrack]
    # what the announcement mail says besides the tracks (notify): the name its attachment is called by, whom
    # to ask, and the notice's own words; absent from early events
    short_title: str | None = None
    contacts: list[Contact] = field(default_factory=list)
    notice: str | None = None
    audience: Audience | None = None  # whom it is for; absent from early events and for everyone: None

    @classmethod
    def of(cls, definition: CampaignDefinition, campaign_id: str | None = None,
           derives_from: str | None = None) -> PublishedCampaign:
        """Ids platform-wide as intake stores them; the definition's own when not given."""
        return cls(campaign_id=campaign_id or definition.id,
                   derives_from=derives_from if campaign_id else definition.derives_from,
                   title=definition.title,
                   tracks={key: PublishedTrack.of(track) for key, track in definition.tracks.items()},
                   short_title=definition.short_title or None, contacts=list(definition.contacts),
                   notice=definition.notice, audience=definition.audience)

    def to_event(self) -> dict:
        return {"campaign_id": self.campaign_id, "derives_from": self.derives_from, "title": self.title,
                "tracks": {key: track.to_event() for key, track in self.tracks.items()},
                **({"short_title": self.short_title} if self.short_title else {}),
                **({"contacts": [c.to_dict() for c in self.contacts]} if self.contacts else {}),
                **({"notice": self.notice} if self.notice is not None else {}),
                **({"audience": self.audience.to_dict()} if self.audience is not None else {})}

    @classmethod
    def from_event(cls, data: dict) -> PublishedCampaign:
        return cls(campaign_id=data["campaign_id"], derives_from=data["derives_from"], title=data["title"],
                   tracks={key: PublishedTrack.from_event(key, t) for key, t in data["tracks"].items()},
                   short_title=data.get("short_title"),
                   contacts=[Contact.from_dict(c) for c in data.get("contacts", [])], notice=data.get("notice"),
                   audience=Audience.from_dict(data.get("audience")))


def campaign_event_data(definition: CampaignDefinition, campaign_id: str | None = None,
                        derives_from: str | None = None) -> dict:
    """The `data` of `campaign_published` for a definition; ids platform-wide (the definition's own when not given)."""
    return PublishedCampaign.of(definition, campaign_id, derives_from).to_event()


# --------------------------------------------------------------------------- #
# The event's schema for `tracks`
# --------------------------------------------------------------------------- #

def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict:
    return {"type": "object", "properties": {**required, **(optional or {})}, "required": sorted(required),
            "additionalProperties": False}


_TEXT = {"type": "string", "minLength": 1}
_COUNT = {"type": "integer", "minimum": 0}
_KEY = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"}


def _policy_schema(kind: str) -> dict:
    rule = _object({"fact": {"enum": sorted(MEDIA_FACTS[kind])}, "op": {"enum": list(OPERATORS)}, "value": {},
                    "severity": {"enum": list(SEVERITIES)}}, {"hint": _TEXT})
    return _object({"kind": {"const": kind}, "max_bytes": {"type": ["integer", "null"], "minimum": 1},
                    "rules": {"type": "array", "items": rule}})


MEDIA_SCHEMA = _object({}, {kind: _policy_schema(kind) for kind in MEDIA_FACTS})
RUBRIC_SCHEMA = {"type": "array", "items": _object({
    "key": _KEY, "label": _TEXT, "weight": {"type": "number", "minimum": 0}, "max": {"type": "number", "exclusiveMinimum": 0},
})}
_BY_LEVEL = {"type": "object", "propertyNames": {"enum": list(DEADLINE_LEVELS)}}
TRACK_SCHEMA = _object(
    {
        "label": _TEXT,
        "department": {"enum": list(DEPARTMENTS)},
        "media": MEDIA_SCHEMA,
        "rubric": RUBRIC_SCHEMA,
        # stage -> level -> the moment it closes (RFC 3339, with the campaign's offset)
        "deadlines": {"type": "object", "propertyNames": {"pattern": _KEY["pattern"]},
                      "additionalProperties": {**_BY_LEVEL, "additionalProperties": {"type": "string", "format": "date-time"}}},
        "submit_levels": {"type": "array", "items": {"enum": list(LEVELS)}, "uniqueItems": True},
        "stage_labels": {"type": "object", "additionalProperties": _TEXT},
    },
    {
        # identifying fields (lecturers, branch) are hidden from reviewers; a choice's labels name its values
        "fields": {"type": "array", "items": _object({"key": _KEY, "label": _TEXT, "type": {"enum": list(FIELD_TYPES)}},
                                                     {"identifying": {"type": "boolean"},
                                                      "choice_labels": {"type": "object", "additionalProperties": _TEXT}})},
        # a count per level, or a count per value of the track's quota_field
        "quota": {"type": "object", "propertyNames": {"enum": list(LEVELS)},
                  "additionalProperties": {"type": ["integer", "object"], "minimum": 0, "additionalProperties": _COUNT}},
        "forward": {**_BY_LEVEL, "additionalProperties": _COUNT},
        # the files of its works are named 「党组织名称+作品名称」 in admin-facing exports; absent: false
        "naming_rule": {"type": "boolean"},
        # where the selection ends; absent (early events): the ministry's national selection
        "decision": DECISION_SCHEMA,
        # stage -> the moment it starts taking submissions; absent: open from publication
        "opens": {"type": "object", "propertyNames": {"pattern": _KEY["pattern"]},
                  "additionalProperties": {"type": "string", "format": "date-time"}},
        # a record each period: the definition's recurrence with the campaign's timezone, in which periods begin and end
        "recurrence": {**RECURRENCE_SCHEMA, "properties": {**RECURRENCE_SCHEMA["properties"], "timezone": _TEXT},
                       "required": sorted([*RECURRENCE_SCHEMA["required"], "timezone"])},
    },
)
# whom to ask (the definition's `contacts`) and the notice's text, as the definition's schema allows them
CONTACTS_SCHEMA = {"type": "array", "items": _object({"name": _TEXT}, {
    "department": {"enum": list(DEPARTMENTS)}, "phone": _TEXT, "email": _TEXT})}
NOTICE_SCHEMA = {"type": "string", "minLength": 1, "maxLength": NOTICE_MAX_CHARS}
# whom the campaign is for, as the definition's schema allows it
CAMPAIGN_AUDIENCE_SCHEMA = AUDIENCE_SCHEMA
TRACKS_SCHEMA = {"type": "object", "minProperties": 1, "propertyNames": {"pattern": "^[a-z_]{2,40}$"},
                 "additionalProperties": TRACK_SCHEMA}
