"""The campaign definition format's model: what a parsed definition is.

A campaign is data, not code (``docs/DOMAIN.md``): the ministry (教育部思政司) defines a campaign such as
the 2020 「四个一」 action once; every university derives its own copy with earlier deadlines and stricter
rules. A definition has tracks, each with the fields a submitter fills in, stages with a deadline per
org level, a media policy per file kind, quotas, forward counts and a rubric. These frozen dataclasses
are built only by `common.campaign.parse` from data that passed every check; `to_dict` gives the
mapping back (``parse_definition(d.to_dict()) == d``).
"""
from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from common.campaign.audience import Audience
from common.campaign.recurrence import Recurrence
from common.campaign.wording import iso, show
from common.levels import parent_level

# Org levels, bottom to top, are common.levels.LEVELS. Work flows upward: each level submits or
# forwards to its parent level by that level's deadline.
# Levels whose orgs create works. A university's party committee (学校党委, an org of level university) may
# submit its own where a notice asks it to (the plan's 「高校各级党组织负责人」: 学校党委书记's lecture); its work
# is weighed in the university's own round with what the colleges forwarded (common.levels.first_round_level).
SUBMIT_LEVELS = ("branch", "level2", "university")
# The ministry forwards to nobody, so it has neither a deadline nor a forward count.
DEADLINE_LEVELS = ("branch", "level2", "university")

DEPARTMENTS = {"organisation": "组织部", "propaganda": "宣传部"}
# number, phone, choices (several of the options) and people (name, post, org each) came with the seeds'
# nomination forms and contact sheets; their values are checked by common.campaign.values.
FIELD_TYPES = ("string", "text", "date", "list", "choice", "url", "number", "phone", "choices", "people")
# Every track has it: the name every service shows a work by (lists, rounds, mails, the library).
TITLE_FIELD = "title"

# Where a track's selection ends (DOMAIN.md: "forwarded up a level, or final at that level"). The
# level named in `decision` chooses last; every level below it forwards up as `forward` says.
DECISION_KINDS = {
    "select": "择优入选",  # a ranking; the chosen are the result (the ministry's national selection)
    "award": "评选表彰",  # a ranking; the chosen are awarded, by category when the track names one (两优一先)
    "publicity": "公示",  # the chosen are published for a period (公示期) before the result stands
    "library": "入库",  # the chosen enter the level's own 素材库 / 案例集
    "vetting": "审核把关",  # each work passes or fails; nothing is scored
}
# The ministry's national selection: what a track without `decision` has always meant.
DEFAULT_DECISION_LEVEL = "ministry"

# "A date alone means end of that day."
END_OF_DAY = time(23, 59, 59)


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    type: str  # one of FIELD_TYPES
    required: bool = False
    min_chars: int | None = None  # 字数, counted as Chinese word processors do
    max_chars: int | None = None
    min_items: int | None = None  # for lists
    max_items: int | None = None
    # for dates: the earliest and latest day a value may name (「6月30日前…讲授」), as YYYY-MM-DD
    min_date: str | None = None
    max_date: str | None = None
    min_value: float | None = None  # for numbers
    max_value: float | None = None
    choices: list[str] | None = None  # resolved: also set when choices_from is used
    choices_from: str | None = None  # "themes"
    choice_labels: dict[str, str] | None = None  # Chinese label per choice value, for the UI
    # Names a person (a lecturer, a branch): hidden from reviewers, who score blind.
    identifying: bool = False

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"key": self.key, "label": self.label, "type": self.type,
                               "required": self.required}
        for name in ("min_chars", "max_chars", "min_items", "max_items", "min_date", "max_date", "min_value", "max_value"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        # Keep the reference rather than a copy, so a round trip stays a reference.
        if self.choices_from is not None:
            out["choices_from"] = self.choices_from
        elif self.choices is not None:
            out["choices"] = list(self.choices)
        if self.choice_labels is not None:
            out["choice_labels"] = dict(self.choice_labels)
        if self.identifying:
            out["identifying"] = True
        return out


@dataclass(frozen=True)
class FileRequirement:
    kind: str  # one of MEDIA_KINDS
    min: int = 0
    max: int | None = None  # None: no limit
    # {choice field: [values]}: a work whose field has one of the values needs at least one file of the kind, though
    # the stage itself asks for none (「工作案例」 is a written case: it needs its document; a picture needs none)
    required_when: dict[str, list[str]] | None = None

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"kind": self.kind, "min": self.min, "max": self.max}
        if self.required_when:
            out["required_when"] = {key: list(values) for key, values in self.required_when.items()}
        return out

    def needed(self, fields: dict) -> int:
        """How many files of the kind a work with these field values needs."""
        if any(fields.get(key) in values for key, values in (self.required_when or {}).items()):
            return max(self.min, 1)
        return self.min

    def required_by(self, fields: dict) -> tuple[str, str] | None:
        """(field, value) that makes the kind required for a work with these fields; None: none does."""
        for key, values in (self.required_when or {}).items():
            if fields.get(key) in values:
                return key, fields[key]
        return None


@dataclass(frozen=True)
class Stage:
    key: str
    label: str
    required_fields: list[str]
    files: list[FileRequirement]
    # level -> aware datetime in the campaign's timezone, ordered bottom to top
    deadlines: dict[str, datetime]
    # When the stage starts taking submissions (「秋季开学后」); None: as soon as the campaign is published
    opens: datetime | None = None

    def to_dict(self) -> dict:
        out = {
            "key": self.key, "label": self.label,
            "required_fields": list(self.required_fields),
            "files": [f.to_dict() for f in self.files],
            "deadlines": {level: iso(moment) for level, moment in self.deadlines.items()},
        }
        if self.opens is not None:
            out["opens"] = iso(self.opens)
        return out


@dataclass(frozen=True)
class MediaRule:
    fact: str
    op: str  # one of OPERATORS
    value: Any
    severity: str  # "error" blocks the submission, "warning" informs
    hint: str | None = None  # Chinese advice shown with a finding

    def to_dict(self) -> dict:
        out = {"fact": self.fact, "op": self.op, "value": copy.deepcopy(self.value),
               "severity": self.severity}
        if self.hint is not None:
            out["hint"] = self.hint
        return out

    def describe(self) -> str:
        return f"{self.fact} {self.op} {show(self.value)}（{self.severity}）"


@dataclass(frozen=True)
class MediaPolicy:
    kind: str
    max_bytes: int | None  # hard upload limit; None: no campaign limit
    rules: list[MediaRule]

    def to_dict(self) -> dict:
        return {"max_bytes": self.max_bytes, "rules": [r.to_dict() for r in self.rules]}

    def to_event(self) -> dict:
        """The policy as events carry it and media judges with it (`media_rules.judge`): with its kind."""
        return {"kind": self.kind, **self.to_dict()}


@dataclass(frozen=True)
class Criterion:
    key: str
    label: str
    weight: float  # the weights of a rubric sum to 100
    max: float  # highest score a reviewer may give

    def to_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "weight": self.weight, "max": self.max}


@dataclass(frozen=True)
class Decision:
    """Where a track's selection ends: the level that chooses last, and what its choice is."""

    level: str = DEFAULT_DECISION_LEVEL  # nothing goes above it
    kind: str = "select"  # one of DECISION_KINDS
    label: str | None = None  # the result's own name (「校级“两优一先”表彰」), shown instead of the kind's
    # How many the deciding level may choose: a number, or a number per value of `category_field`;
    # None: as many as it judges worthy.
    places: int | dict[str, int] | None = None
    category_field: str | None = None  # award: the choice field naming each work's category
    publicity_days: int | None = None  # publicity: the 公示期, in days

    @property
    def title(self) -> str:
        return self.label or DECISION_KINDS[self.kind]

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"level": self.level, "kind": self.kind}
        for name in ("label", "places", "category_field", "publicity_days"):
            value = getattr(self, name)
            if value is not None:
                out[name] = copy.deepcopy(value)
        return out

    @classmethod
    def from_dict(cls, data: dict | None) -> Decision:
        data = data or {}
        return cls(level=data.get("level", DEFAULT_DECISION_LEVEL), kind=data.get("kind", "select"),
                   label=data.get("label"), places=copy.deepcopy(data.get("places")),
                   category_field=data.get("category_field"), publicity_days=data.get("publicity_days"))


# How a track's works are judged at each round: scored by experts against the rubric, vetted (passed or
# failed by the round's admin, nothing scored), or collected and listed (no rubric: meeting records,
# publicity reports), never put into a round.
SCORED, VETTED, COLLECTED = "scored", "vetted", "collected"


@dataclass(frozen=True)
class Track:
    key: str
    label: str
    department: str  # organisation (组织部) | propaganda (宣传部)
    submit_levels: list[str]
    naming_rule: bool  # 「党组织名称+作品名称」 required on the title
    fields: list[FieldSpec]
    stages: list[Stage]
    media: dict[str, MediaPolicy]
    quota: dict[str, Any]  # level -> int, or level -> {value of quota_field: int}
    quota_field: str | None
    forward: dict[str, int]  # level -> works an org of that level forwards upward
    rubric: list[Criterion]
    decision: Decision = field(default_factory=Decision)
    # {value of quota_field: [file kinds]}: works of that value count against the quota by their files of those kinds
    # (「10件左右图片和音视频素材」 counts pictures and clips, 件 by 件), not one each; see `items_of`
    quota_items: dict[str, list[str]] = field(default_factory=dict)
    # A university's copy must run a required track; it may leave out one that is not (SEU runs no 组织生活会 record).
    required: bool = True
    # Runs once per period (「月度组织生活」: a record each month); None: once. See common.campaign.recurrence.
    recurrence: Recurrence | None = None

    @property
    def judged(self) -> str:
        """SCORED, VETTED or COLLECTED: how a round treats the track's works."""
        return judged(self.rubric, self.decision.kind)

    def field(self, key: str) -> FieldSpec:
        for spec in self.fields:
            if spec.key == key:
                return spec
        raise KeyError(f"track {self.key!r} has no field {key!r}")

    def stage(self, key: str) -> Stage:
        for stage in self.stages:
            if stage.key == key:
                return stage
        raise KeyError(f"track {self.key!r} has no stage {key!r}")

    def forwarding_deadline(self, level: str) -> datetime | None:
        """When a round at `level` must have forwarded the track's works (module function forwarding_deadline)."""
        return forwarding_deadline({s.key: s.deadlines for s in self.stages}, level)

    def item_kinds(self, fields: dict) -> list[str] | None:
        """The file kinds a work with these fields is counted by against its quota; None: it counts as one work."""
        if self.quota_field is None:
            return None
        return self.quota_items.get(fields.get(self.quota_field))

    def to_dict(self) -> dict:
        return {
            "label": self.label, "department": self.department,
            "submit_levels": list(self.submit_levels), "naming_rule": self.naming_rule,
            "fields": [f.to_dict() for f in self.fields],
            "stages": [s.to_dict() for s in self.stages],
            "media": {kind: policy.to_dict() for kind, policy in self.media.items()},
            "quota": copy.deepcopy(self.quota), "quota_field": self.quota_field,
            "forward": dict(self.forward),
            **({"quota_items": copy.deepcopy(self.quota_items)} if self.quota_items else {}),
            "rubric": [c.to_dict() for c in self.rubric],
            # written only when it says something: no decision is the ministry's national selection
            **({"decision": self.decision.to_dict()} if self.decision != Decision() else {}),
            **({"required": False} if not self.required else {}),
            **({"recurrence": self.recurrence.to_dict()} if self.recurrence is not None else {}),
        }


def items_of(kinds: list[str], file_kinds: list[str]) -> int:
    """What one work counts as against an item quota: its files of `kinds` (件 by 件), and at least one, so that
    counting by items is never looser than counting works (a work with no such file is still one 素材)."""
    return max(1, sum(1 for kind in file_kinds if kind in kinds))


def judged(rubric: list, decision_kind: str) -> str:
    """How a round treats works of a track with this rubric and decision kind (see SCORED)."""
    if decision_kind == "vetting":
        return VETTED
    return SCORED if rubric else COLLECTED


@dataclass(frozen=True)
class Contact:
    """Whom an org asks about the campaign (the seeds' 「联系人和报送方式」): a name with a phone or an e-mail."""
    name: str
    department: str | None = None  # 组织部/宣传部 (DEPARTMENTS), when the notice names one per office
    phone: str | None = None
    email: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in (("name", self.name), ("department", self.department), ("phone", self.phone),
                                  ("email", self.email)) if v is not None}

    @classmethod
    def from_dict(cls, data: dict) -> Contact:
        return cls(data["name"], data.get("department"), data.get("phone"), data.get("email"))


@dataclass(frozen=True)
class CampaignDefinition:
    id: str
    title: str
    short_title: str
    derives_from: str | None
    timezone: str
    themes: list[str]
    tracks: dict[str, Track]
    contacts: list[Contact] = field(default_factory=list)
    notice: str | None = None  # the notice's own words, as its issuer wrote them, for the announcement
    # whom it is for (common.campaign.audience); None: every university (a copy without one: its parent's)
    audience: Audience | None = None
    # The validated source mapping (dates as text); not part of equality, so
    # that a definition equals its own to_dict() round trip.
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict:
        """JSON-ready; parse_definition(d.to_dict()) == d."""
        return {
            "id": self.id, "title": self.title, "short_title": self.short_title,
            "derives_from": self.derives_from, "timezone": self.timezone,
            "themes": list(self.themes),
            "tracks": {key: track.to_dict() for key, track in self.tracks.items()},
            **({"contacts": [c.to_dict() for c in self.contacts]} if self.contacts else {}),
            **({"notice": self.notice} if self.notice is not None else {}),
            **({"audience": self.audience.to_dict()} if self.audience is not None else {}),
        }

    def media_policies(self) -> dict[str, dict[str, dict]]:
        """{track: {kind: policy}}, as carried by the campaign_published event."""
        return {
            key: {kind: policy.to_event() for kind, policy in track.media.items()}
            for key, track in self.tracks.items()
        }


def effective_deadline(track: Track, stage_key: str, level: str) -> datetime | None:
    """The level's own deadline if set, else the nearest one above it, else None.

    A branch with no deadline of its own must still be done by the time its
    level-2 org has to forward.
    """
    return effective_at(track.stage(stage_key).deadlines, level)


def effective_at(deadlines: Mapping[str, datetime | str | None], level: str) -> datetime | None:
    """The level's own deadline if set, else the nearest one above it; ISO text (as event copies keep it) is read."""
    current: str | None = level
    parent_level(level)  # refuses unknown levels
    while current is not None:
        value = deadlines.get(current)
        if value:
            return datetime.fromisoformat(value) if isinstance(value, str) else value
        current = parent_level(current)
    return None


def forwarding_deadline(by_stage: Mapping[str, Mapping[str, datetime | str | None]], level: str) -> datetime | None:
    """When a round at `level` must have forwarded: the level's deadline (else the nearest above) of the track's
    LAST stage (`by_stage`: stage -> level -> moment, in the stages' order, as a Track or an event's copy has them).

    The last stage, because only a complete work (every stage in) enters a round and may go up: the lecture's
    registration (报名) deadlines come weeks before its video's, and the university forwards the finished video
    (「7月17日前报送」 is the video's date). Review refuses a late confirmation by it, intake a late forwarding,
    notify reminds by it and intake's supervision names it. None: no deadline at the level or above.
    """
    if not by_stage:
        return None
    return effective_at(list(by_stage.values())[-1] or {}, level)


def parse_opening(text: str, tz: ZoneInfo) -> datetime:
    """Local time in the campaign's timezone; a date alone opens at 00:00."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return datetime.combine(date.fromisoformat(text), time(0, 0), tzinfo=tz)
    at = datetime.fromisoformat(text)
    return at.replace(tzinfo=tz) if at.tzinfo is None else at.astimezone(tz)


def parse_deadline(text: str, tz: ZoneInfo) -> datetime:
    """Local time in the campaign's timezone; a date alone ends at 23:59:59."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return datetime.combine(date.fromisoformat(text), END_OF_DAY, tzinfo=tz)
    at = datetime.fromisoformat(text)
    return at.replace(tzinfo=tz) if at.tzinfo is None else at.astimezone(tz)


def zone(name: Any) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if isinstance(name, str) else None
    except (ZoneInfoNotFoundError, ValueError):
        return None
