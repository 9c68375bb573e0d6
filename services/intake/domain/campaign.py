"""Campaign definitions: a campaign is data, not code.

The ministry (教育部思政司) defines a campaign such as the 2020 「四个一」 action
once; every university derives its own copy with earlier deadlines and stricter
rules, never looser ones (see docs/DOMAIN.md). A definition is one YAML
document (format: the shipped files in ``services/intake/definitions/``):
tracks, each with the fields a submitter fills in, stages with a deadline per
org level, a media policy per file kind, quotas, forward counts and a rubric.

This module parses and validates definitions and compares a derived one with
its parent. It is pure: no database, no messaging, no clock.

* `parse_definition` runs a JSON Schema (structure: unknown keys, types,
  enums) and then consistency checks (references, deadline order, operators…).
  Every problem is collected into ONE `Unprocessable` with code
  ``campaign_invalid`` and one entry per problem in ``details``, so that an
  editor fixes the whole file in one go.
* `check_tightens` raises ``campaign_loosens_parent`` naming every place where
  a derived definition is looser than its parent.

Paths in ``details[].field`` use dots and name list items by their ``key``
(``tracks.story.fields.text.max_chars``); media rules, which have no key, are
named by index in `parse_definition` (the item to edit in this file) and by
fact in `check_tightens` (the parent's rule that is no longer implied).
"""
from __future__ import annotations

import copy
import difflib
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from jsonschema import Draft202012Validator

from common.errors import Unprocessable
from common.levels import LEVELS, parent_level  # noqa: F401  (re-exported: intake imports them from here)
from common.locale import LEVEL_LABELS, byte_size
from common.text import single_line_problem

CAMPAIGN_INVALID = "campaign_invalid"
CAMPAIGN_LOOSENS_PARENT = "campaign_loosens_parent"

# Org levels, bottom to top. Work flows upward: each level submits or forwards
# to its parent level by that level's deadline.
# Levels whose orgs create works (a university only selects and forwards).
SUBMIT_LEVELS = ("branch", "level2")
# The ministry forwards to nobody, so it has neither a deadline nor a forward count.
DEADLINE_LEVELS = ("branch", "level2", "university")

DEPARTMENTS = {"organisation": "组织部", "propaganda": "宣传部"}
FIELD_TYPES = ("string", "text", "date", "list", "choice", "url")
OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "between", "in")
SEVERITIES = ("warning", "error")  # in increasing strictness: an error blocks, a warning informs
_SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

# The facts the media service reports per file kind, with their value type.
# A rule on an unknown fact would never fire, so a typo must be refused here.
# The media service owns the measuring; add a fact here when it learns one.
MEDIA_FACTS: dict[str, dict[str, str]] = {
    "video": {
        "container": "string", "video_codec": "string", "audio_codec": "string",
        "width": "number", "height": "number", "duration_s": "number", "frame_rate": "number",
        "has_audio": "boolean", "has_subtitles": "boolean", "size_bytes": "number",
    },
    "audio": {"format": "string", "codec": "string", "duration_s": "number", "size_bytes": "number"},
    "image": {"format": "string", "width": "number", "height": "number", "size_bytes": "number"},
    "document": {"format": "string", "pages": "number", "size_bytes": "number"},
    "subtitle": {"format": "string", "size_bytes": "number"},
}
MEDIA_KINDS = tuple(MEDIA_FACTS)
_OPS_FOR_TYPE = {
    "number": OPERATORS,
    "string": ("eq", "ne", "in"),
    "boolean": ("eq", "ne"),
}

# "A date alone means end of that day."
END_OF_DAY = time(23, 59, 59)

DEFINITIONS_DIR = Path(__file__).resolve().parent.parent / "definitions"



# --------------------------------------------------------------------------- #
# The parsed definition
# --------------------------------------------------------------------------- #

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
    choices: list[str] | None = None  # resolved: also set when choices_from is used
    choices_from: str | None = None  # "themes"
    choice_labels: dict[str, str] | None = None  # Chinese label per choice value, for the UI
    # Names a person (a lecturer, a branch): hidden from reviewers, who score blind.
    identifying: bool = False

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"key": self.key, "label": self.label, "type": self.type,
                               "required": self.required}
        for name in ("min_chars", "max_chars", "min_items", "max_items"):
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

    def to_dict(self) -> dict:
        return {"kind": self.kind, "min": self.min, "max": self.max}


@dataclass(frozen=True)
class Stage:
    key: str
    label: str
    required_fields: list[str]
    files: list[FileRequirement]
    # level -> aware datetime in the campaign's timezone, ordered bottom to top
    deadlines: dict[str, datetime]

    def to_dict(self) -> dict:
        return {
            "key": self.key, "label": self.label,
            "required_fields": list(self.required_fields),
            "files": [f.to_dict() for f in self.files],
            "deadlines": {level: _iso(moment) for level, moment in self.deadlines.items()},
        }


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
        return f"{self.fact} {self.op} {_show(self.value)}（{self.severity}）"


@dataclass(frozen=True)
class MediaPolicy:
    kind: str
    max_bytes: int | None  # hard upload limit; None: no campaign limit
    rules: list[MediaRule]

    def to_dict(self) -> dict:
        return {"max_bytes": self.max_bytes, "rules": [r.to_dict() for r in self.rules]}


@dataclass(frozen=True)
class Criterion:
    key: str
    label: str
    weight: float  # the weights of a rubric sum to 100
    max: float  # highest score a reviewer may give

    def to_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "weight": self.weight, "max": self.max}


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

    def to_dict(self) -> dict:
        return {
            "label": self.label, "department": self.department,
            "submit_levels": list(self.submit_levels), "naming_rule": self.naming_rule,
            "fields": [f.to_dict() for f in self.fields],
            "stages": [s.to_dict() for s in self.stages],
            "media": {kind: policy.to_dict() for kind, policy in self.media.items()},
            "quota": copy.deepcopy(self.quota), "quota_field": self.quota_field,
            "forward": dict(self.forward),
            "rubric": [c.to_dict() for c in self.rubric],
        }


@dataclass(frozen=True)
class CampaignDefinition:
    id: str
    title: str
    short_title: str
    derives_from: str | None
    timezone: str
    themes: list[str]
    tracks: dict[str, Track]
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
        }

    def media_policies(self) -> dict[str, dict[str, dict]]:
        """{track: {kind: policy}}, as carried by the campaign_published event."""
        return {
            key: {kind: {"kind": kind, **policy.to_dict()} for kind, policy in track.media.items()}
            for key, track in self.tracks.items()
        }


def effective_deadline(track: Track, stage_key: str, level: str) -> datetime | None:
    """The level's own deadline if set, else the nearest one above it, else None.

    A branch with no deadline of its own must still be done by the time its
    level-2 org has to forward.
    """
    return _effective(track.stage(stage_key).deadlines, level)


def _effective(deadlines: dict[str, datetime], level: str) -> datetime | None:
    current: str | None = level
    parent_level(level)  # refuses unknown levels
    while current is not None:
        if current in deadlines:
            return deadlines[current]
        current = parent_level(current)
    return None


# --------------------------------------------------------------------------- #
# Structure: the JSON Schema
# --------------------------------------------------------------------------- #

def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict:
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": sorted(required),
        "additionalProperties": False,
    }


def _list(items: dict, **extra: Any) -> dict:
    return {"type": "array", "items": items, **extra}


def _by_level(levels: Iterable[str], value: dict) -> dict:
    levels = list(levels)
    return {"type": "object", "propertyNames": {"enum": levels},
            "additionalProperties": value}


_SLUG = r"^[a-z0-9][a-z0-9-]{2,63}$"
# A parent is named by its id, or qualified by its owner (`ministry.siyige-2021`, `seu.lianyou-2018`).
_PARENT = r"^([a-z0-9][a-z0-9-]{1,62}\.)?[a-z0-9][a-z0-9-]{2,63}$"
_KEY = r"^[a-z][a-z0-9_]{0,39}$"
_TRACK_KEY = r"^[a-z_]{2,40}$"  # as TRACK in common/events.py
_DEADLINE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})?)?$"
_PATTERN_HINTS = {
    _SLUG: "小写字母、数字和连字符组成，3–64个字符，如 siyige-2020-seu",
    _PARENT: "上级活动的 id，如 siyige-2020（也可写明所属单位，如 ministry.siyige-2020）",
    _KEY: "以小写字母开头，由小写字母、数字和下划线组成，如 planned_date",
    _TRACK_KEY: "由小写字母和下划线组成，如 meeting_report",
    _DEADLINE: "日期 YYYY-MM-DD（当天23:59:59截止）或日期时间 YYYY-MM-DDTHH:MM（按活动时区）",
}

_TEXT = {"type": "string", "minLength": 1}
_COUNT = {"type": "integer", "minimum": 0}

_FIELD = _object(
    {"key": {"type": "string", "pattern": _KEY}, "label": _TEXT, "type": {"enum": list(FIELD_TYPES)}},
    {
        "required": {"type": "boolean"},
        "min_chars": _COUNT, "max_chars": _COUNT, "min_items": _COUNT, "max_items": _COUNT,
        "choices": _list(_TEXT, minItems=1, uniqueItems=True),
        "choices_from": {"enum": ["themes"]},
        "choice_labels": {"type": "object", "additionalProperties": _TEXT},
        "identifying": {"type": "boolean"},
    },
)
_FILE = _object({"kind": {"enum": list(MEDIA_KINDS)}},
                {"min": _COUNT, "max": {"type": ["integer", "null"], "minimum": 0}})
_STAGE = _object(
    {"key": {"type": "string", "pattern": _KEY}, "label": _TEXT},
    {
        "required_fields": _list({"type": "string"}, uniqueItems=True),
        "files": _list(_FILE),
        "deadlines": _by_level(DEADLINE_LEVELS, {"type": "string", "pattern": _DEADLINE}),
    },
)
_RULE = _object(
    {"fact": _TEXT, "op": {"enum": list(OPERATORS)}, "value": {}, "severity": {"enum": list(SEVERITIES)}},
    {"hint": _TEXT},
)
_MEDIA_POLICY = _object({}, {"max_bytes": {"type": ["integer", "null"], "minimum": 1},
                             "rules": _list(_RULE)})
_CRITERION = _object({"key": {"type": "string", "pattern": _KEY}, "label": _TEXT,
                      "weight": {"type": "number", "minimum": 0},
                      "max": {"type": "number", "exclusiveMinimum": 0}})
# A quota is a count, or a count per value of quota_field; keywords of JSON
# Schema apply only to their own type, so one schema covers both shapes.
_QUOTA_VALUE = {"type": ["integer", "object"], "minimum": 0, "additionalProperties": _COUNT}
_TRACK = _object(
    {
        "label": _TEXT,
        "department": {"enum": list(DEPARTMENTS)},
        "submit_levels": _list({"enum": list(SUBMIT_LEVELS)}, minItems=1, uniqueItems=True),
        "fields": _list(_FIELD, minItems=1),
        "stages": _list(_STAGE, minItems=1),
    },
    {
        "naming_rule": {"type": "boolean"},
        "media": {"type": "object", "propertyNames": {"enum": list(MEDIA_KINDS)},
                  "additionalProperties": _MEDIA_POLICY},
        "quota": _by_level(SUBMIT_LEVELS, _QUOTA_VALUE),
        "quota_field": {"type": ["string", "null"]},
        "forward": _by_level(DEADLINE_LEVELS, _COUNT),
        "rubric": _list(_CRITERION),
    },
)
DEFINITION_SCHEMA = _object(
    {
        "id": {"type": "string", "pattern": _SLUG},
        "title": _TEXT,
        "timezone": _TEXT,
        "tracks": {"type": "object", "minProperties": 1,
                   "propertyNames": {"pattern": _TRACK_KEY}, "additionalProperties": _TRACK},
    },
    {
        "short_title": _TEXT,
        "derives_from": {"type": ["string", "null"], "pattern": _PARENT},
        "themes": _list(_TEXT, uniqueItems=True),
    },
)
_VALIDATOR = Draft202012Validator(DEFINITION_SCHEMA)

_TYPE_NAMES = {"string": "文本", "integer": "整数", "number": "数字", "boolean": "true 或 false",
               "array": "列表", "object": "键值映射", "null": "空值（null）"}


def _schema_problems(data: Any) -> list[dict]:
    problems: dict[tuple[str, str], dict] = {}
    for error in _VALIDATOR.iter_errors(data):
        for problem in _translate(error, data):
            # `required` yields one error per missing key, each of which we
            # translate for all missing keys: keep each problem once.
            problems.setdefault((problem["field"], problem["message"]), problem)
    return sorted(problems.values(), key=lambda p: p["field"])


def _translate(error, data: Any) -> list[dict]:
    """One jsonschema error as Chinese problems (additionalProperties may hold several keys)."""
    path = _path(data, error.absolute_path)
    where = f"{path} " if path else "定义顶层"
    kind, value, instance = error.validator, error.validator_value, error.instance
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        return [_unknown_key(_join(path, key), key, allowed) for key in instance if key not in allowed]
    if kind == "required":
        missing = [key for key in value if key not in instance]
        return [_problem(_join(path, key), key, None, f"{where}缺少必填项「{key}」；请补上。")
                for key in missing]
    schema_path = list(error.absolute_schema_path)
    if len(schema_path) >= 2 and schema_path[-2] == "propertyNames":
        # jsonschema reports a bad key at the mapping's path with the key as instance
        return [_bad_key(path, instance, {kind: value})]
    expected, text = _expectation(kind, value)
    message = f"{where}应为{text}，现为{_show(instance)}；请改正。"
    return [_problem(path, expected, instance, message)]


def _expectation(kind: str, value: Any) -> tuple[Any, str]:
    """(expected, Chinese description) for the remaining JSON Schema keywords."""
    if kind == "type":
        names = [value] if isinstance(value, str) else value
        return value, "或".join(_TYPE_NAMES.get(n, n) for n in names)
    if kind == "enum":
        return value, "以下之一：" + "、".join(map(str, value))
    if kind == "pattern":
        return value, _PATTERN_HINTS.get(value, f"符合 {value} 的文本")
    if kind in ("minimum", "exclusiveMinimum"):
        return value, f"{'不小于' if kind == 'minimum' else '大于'} {value} 的数"
    if kind in ("minItems", "minProperties"):
        return value, f"至少 {value} 项"
    if kind == "minLength":
        return "非空文本", "非空文本"
    if kind == "uniqueItems":
        return "不重复的列表", "不含重复项的列表"
    return value, f"符合「{kind}: {value}」的值"


def _unknown_key(path: str, key: str, allowed: list[str]) -> dict:
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    guess = f"，是否应为「{close[0]}」" if close else ""
    message = (f"{path} 不是可用的键{guess}；此处可用的键为：{'、'.join(allowed) or '（无）'}。"
               "请删除或改正拼写。")
    return _problem(path, allowed, key, message)


def _bad_key(path: str, key: str, rule: dict) -> dict:
    if "enum" in rule:
        allowed = rule["enum"]
        labels = "、".join(f"{k}（{LEVEL_LABELS[k]}）" if k in LEVEL_LABELS else k for k in allowed)
        message = f"{_join(path, key)}：「{key}」不是此处可用的键，应为 {labels} 之一；请改正。"
        return _problem(_join(path, key), allowed, key, message)
    hint = _PATTERN_HINTS.get(rule.get("pattern"), str(rule))
    message = f"{_join(path, key)}：键「{key}」的写法不对，应{hint}；请改名。"
    return _problem(_join(path, key), rule.get("pattern"), key, message)


def _path(data: Any, parts: Iterable[Any]) -> str:
    """Dotted path; list items that carry a `key` are named by it, others by index."""
    names, node = [], data
    for part in parts:
        item = node[part] if isinstance(node, (dict, list)) else None
        if isinstance(part, int) and isinstance(item, dict) and isinstance(item.get("key"), str):
            names.append(item["key"])
        else:
            names.append(str(part))
        node = item
    return ".".join(names)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


# --------------------------------------------------------------------------- #
# Parsing
# --------------------------------------------------------------------------- #

def parse_definition(source: str | dict) -> CampaignDefinition:
    """Parse YAML text or a mapping; raise Unprocessable(campaign_invalid) listing every problem."""
    data, problems = _load(source)
    if not isinstance(data, dict):
        problems.append(_problem("$", "键值映射（YAML 映射）", type(data).__name__,
                                 "活动定义应为一个 YAML 映射（以 id:、title: 等键开头），"
                                 f"现为 {type(data).__name__}；请检查文件内容。"))
        _fail_invalid(None, problems)
    data = _plain(data)
    schema_problems = _schema_problems(data)
    problems += schema_problems
    problems += _consistency_problems(data, strict=not schema_problems)
    if problems:
        _fail_invalid(data.get("id"), problems)
    return _build(data)


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as text and remembers duplicate keys.

    Dates stay text so that `2020-06-15T12:00` and `2020-07-17` are read alike
    (YAML would turn only the second into a date). A duplicate key would
    silently replace the first value, hiding e.g. a second `deadlines:`.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self.duplicates: list[tuple[Any, int]] = []

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key != "<<":
                if key in seen:
                    self.duplicates.append((key, key_node.start_mark.line + 1))
                seen.add(key)
        return super().construct_mapping(node, deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load(source: str | dict) -> tuple[Any, list[dict]]:
    if isinstance(source, dict):
        return copy.deepcopy(source), []
    if not isinstance(source, str):
        raise TypeError("parse_definition expects YAML text or a dict")
    loader = _Loader(source)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        _fail_invalid(None, [_yaml_problem(exc)])
    finally:
        loader.dispose()
    problems = [
        _problem(str(key), "每个键只出现一次", f"第{line}行", f"第{line}行：键「{key}」在同一层重复出现，"
                 "后面的值会悄悄覆盖前面的；请删除或合并重复的键。")
        for key, line in loader.duplicates
    ]
    return data, problems


def _yaml_problem(exc: yaml.YAMLError) -> dict:
    mark = getattr(exc, "problem_mark", None)
    where = f"第{mark.line + 1}行第{mark.column + 1}列" if mark else "文件中"
    detail = getattr(exc, "problem", None) or str(exc)
    return _problem("$", "合法的 YAML 文本（一个文档）", where,
                    f"YAML 语法错误（{where}）：{detail}；请检查缩进、冒号和引号，"
                    "且一个文件只写一个活动定义。")


def _plain(value: Any) -> Any:
    """Deep copy with dates as ISO text and keys as text, as YAML text would give."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (date, datetime)):  # datetime is a date
        return value.isoformat()
    return value


def _parse_deadline(text: str, tz: ZoneInfo) -> datetime:
    """Local time in the campaign's timezone; a date alone ends at 23:59:59."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return datetime.combine(date.fromisoformat(text), END_OF_DAY, tzinfo=tz)
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)


def _zone(name: Any) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if isinstance(name, str) else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


# --------------------------------------------------------------------------- #
# Building the dataclasses (only from data that passed every check)
# --------------------------------------------------------------------------- #

def _build(data: dict) -> CampaignDefinition:
    tz = ZoneInfo(data["timezone"])
    themes = list(data.get("themes", []))
    tracks = {key: _build_track(key, raw, themes, tz) for key, raw in data["tracks"].items()}
    return CampaignDefinition(
        id=data["id"], title=data["title"], short_title=data.get("short_title") or data["title"],
        derives_from=data.get("derives_from"), timezone=data["timezone"], themes=themes,
        tracks=tracks, raw=data,
    )


def _build_track(key: str, raw: dict, themes: list[str], tz: ZoneInfo) -> Track:
    return Track(
        key=key, label=raw["label"], department=raw["department"],
        submit_levels=list(raw["submit_levels"]), naming_rule=raw.get("naming_rule", False),
        fields=[_build_field(f, themes) for f in raw["fields"]],
        stages=[_build_stage(s, tz) for s in raw["stages"]],
        media={kind: _build_media(kind, p) for kind, p in raw.get("media", {}).items()},
        quota=copy.deepcopy(raw.get("quota", {})), quota_field=raw.get("quota_field"),
        forward=dict(raw.get("forward", {})),
        rubric=[Criterion(c["key"], c["label"], c["weight"], c["max"]) for c in raw.get("rubric", [])],
    )


def _build_field(raw: dict, themes: list[str]) -> FieldSpec:
    choices = list(themes) if raw.get("choices_from") == "themes" else raw.get("choices")
    return FieldSpec(
        key=raw["key"], label=raw["label"], type=raw["type"], required=raw.get("required", False),
        min_chars=raw.get("min_chars"), max_chars=raw.get("max_chars"),
        min_items=raw.get("min_items"), max_items=raw.get("max_items"),
        choices=list(choices) if choices is not None else None,
        choices_from=raw.get("choices_from"), choice_labels=raw.get("choice_labels"),
        identifying=raw.get("identifying", False),
    )


def _build_stage(raw: dict, tz: ZoneInfo) -> Stage:
    deadlines = raw.get("deadlines", {})
    return Stage(
        key=raw["key"], label=raw["label"], required_fields=list(raw.get("required_fields", [])),
        files=[FileRequirement(f["kind"], f.get("min", 0), f.get("max")) for f in raw.get("files", [])],
        deadlines={level: _parse_deadline(deadlines[level], tz)
                   for level in DEADLINE_LEVELS if level in deadlines},
    )


def _build_media(kind: str, raw: dict) -> MediaPolicy:
    rules = [MediaRule(r["fact"], r["op"], r["value"], r["severity"], r.get("hint"))
             for r in raw.get("rules", [])]
    return MediaPolicy(kind=kind, max_bytes=raw.get("max_bytes"), rules=rules)


# --------------------------------------------------------------------------- #
# Consistency checks (what a schema cannot say)
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class _TrackCtx:
    path: str  # "tracks.lecture"
    raw: dict
    themes: list
    tz: ZoneInfo

    @property
    def name(self) -> str:
        return f"赛道「{self.raw.get('label') or self.path}」"

    def fields(self) -> dict[str, dict]:
        return {f["key"]: f for f in self.raw.get("fields", []) if isinstance(f, dict) and "key" in f}


def _consistency_problems(data: dict, strict: bool) -> list[dict]:
    """Run every check; with a broken structure a check may trip over it and is skipped.

    `strict` is False when the schema already found problems: a check that
    crashes then only met a shape the schema has reported. Otherwise a crash is
    a bug here and must surface.
    """
    tz = _zone(data.get("timezone"))
    checks: list[Callable[[], list[dict]]] = [lambda: _check_top(data, tz), lambda: _check_single_lines(data)]
    tracks = data.get("tracks")
    for key, raw in (tracks.items() if isinstance(tracks, dict) else []):
        if not isinstance(raw, dict):
            continue
        ctx = _TrackCtx(f"tracks.{key}", raw, data.get("themes") or [], tz or ZoneInfo("UTC"))
        checks += [lambda c=ctx, check=check: check(c) for check in _TRACK_CHECKS]
    problems: list[dict] = []
    for check in checks:
        try:
            problems += check()
        except (KeyError, TypeError, AttributeError, ValueError, IndexError):
            if strict:
                raise
    return problems


def _check_top(data: dict, tz: ZoneInfo | None) -> list[dict]:
    problems = []
    if tz is None and isinstance(data.get("timezone"), str):
        problems.append(_problem("timezone", "IANA 时区名，如 Asia/Shanghai", data["timezone"],
                                 f"时区「{data['timezone']}」不存在；截止时间按此时区解释，"
                                 "请写 IANA 时区名，如 Asia/Shanghai。"))
    if data.get("derives_from") is not None and data.get("derives_from") == data.get("id"):
        problems.append(_problem("derives_from", "上级活动的 id", data["derives_from"],
                                 "derives_from 不能指向本活动自己；请写上级（教育部）活动的 id，"
                                 "或对顶层活动写 null。"))
    return problems


def _check_single_lines(data: Any, path: str = "") -> list[dict]:
    """Every text of a definition is one line: titles and labels go into mail subjects and round titles."""
    if isinstance(data, dict):
        return [p for key, value in data.items() for p in _check_single_lines(value, _join(path, key))]
    if isinstance(data, list):
        return [p for index, value in enumerate(data) for p in _check_single_lines(value, _join(path, _item_name(value, index)))]
    line = single_line_problem(data, path or "定义") if isinstance(data, str) else None
    return [] if line is None else [_problem(path, line.expected, line.found, line.message)]


def _item_name(item: Any, index: int) -> Any:
    """List items are named by their `key` where they have one, as in every other path here."""
    return item["key"] if isinstance(item, dict) and isinstance(item.get("key"), str) else index


def _check_unique_keys(ctx: _TrackCtx) -> list[dict]:
    problems = []
    for part in ("fields", "stages", "rubric"):
        keys = [item.get("key") for item in ctx.raw.get(part, []) if isinstance(item, dict)]
        for key in sorted({k for k in keys if keys.count(k) > 1}):
            problems.append(_problem(f"{ctx.path}.{part}.{key}", "唯一的 key", f"出现{keys.count(key)}次",
                                     f"{ctx.name}的 {part} 中 key「{key}」出现了{keys.count(key)}次，"
                                     "应唯一；请改名或删除重复项。"))
    for stage in ctx.raw.get("stages", []):
        kinds = [f.get("kind") for f in stage.get("files", [])]
        for kind in sorted({k for k in kinds if kinds.count(k) > 1}):
            problems.append(_problem(f"{ctx.path}.stages.{stage.get('key')}.files", "每种文件只列一次",
                                     kind, f"{ctx.name}阶段「{stage.get('label')}」的 files 中「{kind}」"
                                     "列了多次；请合并为一项，用 min/max 表示数量。"))
    return problems


def _check_fields(ctx: _TrackCtx) -> list[dict]:
    problems = []
    for spec in ctx.raw.get("fields", []):
        path = f"{ctx.path}.fields.{spec['key']}"
        problems += _check_field_rules(ctx, path, spec)
        problems += _check_field_choices(ctx, path, spec)
    return problems


# Which field rules make sense for which field types.
_RULES_FOR_TYPES = {"min_chars": ("string", "text"), "max_chars": ("string", "text"),
                    "min_items": ("list",), "max_items": ("list",),
                    "choices": ("choice",), "choices_from": ("choice",), "choice_labels": ("choice",)}


def _check_field_rules(ctx: _TrackCtx, path: str, spec: dict) -> list[dict]:
    if spec["type"] not in FIELD_TYPES:
        return []  # the schema reported the type; which rules fit is then unknown
    problems = []
    for rule, types in _RULES_FOR_TYPES.items():
        if rule in spec and spec["type"] not in types:
            problems.append(_problem(f"{path}.{rule}", f"type 为 {'/'.join(types)}", spec["type"],
                                     f"{ctx.name}字段「{spec['label']}」的类型是 {spec['type']}，"
                                     f"不能用 {rule}（只适用于 {'/'.join(types)}）；请删除该规则或改类型。"))
    for low, high in (("min_chars", "max_chars"), ("min_items", "max_items")):
        if low in spec and high in spec and spec[low] > spec[high]:
            problems.append(_problem(f"{path}.{low}", f"不大于 {high}={spec[high]}", spec[low],
                                     f"{ctx.name}字段「{spec['label']}」的 {low}（{spec[low]}）"
                                     f"大于 {high}（{spec[high]}），无人能满足；请调整。"))
    return problems


def _check_field_choices(ctx: _TrackCtx, path: str, spec: dict) -> list[dict]:
    if spec["type"] != "choice":
        return []
    has_list, has_ref = "choices" in spec, "choices_from" in spec
    if has_list == has_ref:
        return [_problem(path, "choices 或 choices_from 二者之一", "两者都有" if has_list else "两者都没有",
                         f"{ctx.name}选择题字段「{spec['label']}」应恰好给出 choices（选项列表）"
                         "或 choices_from: themes 之一；请改正。")]
    if has_ref and not ctx.themes:
        return [_problem(f"{path}.choices_from", "非空的 themes", [],
                         f"{ctx.name}字段「{spec['label']}」的选项取自 themes，但活动没有定义 themes；"
                         "请在顶层写出主题列表。")]
    choices = ctx.themes if has_ref else spec["choices"]
    extra = [v for v in spec.get("choice_labels", {}) if v not in choices]
    if extra:
        return [_problem(f"{path}.choice_labels", choices, extra,
                         f"{ctx.name}字段「{spec['label']}」的 choice_labels 含有不在选项中的值"
                         f"{_show(extra)}；请删除或改为选项之一。")]
    return []


def _check_stages(ctx: _TrackCtx) -> list[dict]:
    problems = []
    fields, media = ctx.fields(), ctx.raw.get("media", {})
    for stage in ctx.raw.get("stages", []):
        path = f"{ctx.path}.stages.{stage['key']}"
        for key in stage.get("required_fields", []):
            if key not in fields:
                problems.append(_problem(f"{path}.required_fields", sorted(fields), key,
                                         f"{ctx.name}阶段「{stage['label']}」要求填写「{key}」，"
                                         f"但本赛道没有这个字段（现有：{'、'.join(fields)}）；"
                                         "请改正或先在 fields 中定义。"))
        problems += _check_stage_files(ctx, path, stage, media)
    return problems


def _check_stage_files(ctx: _TrackCtx, path: str, stage: dict, media: dict) -> list[dict]:
    problems = []
    for spec in stage.get("files", []):
        kind = spec["kind"]
        if kind not in media:
            problems.append(_problem(f"{ctx.path}.media.{kind}", f"media.{kind} 的媒体规则", None,
                                     f"{ctx.name}阶段「{stage['label']}」接收 {kind} 文件，但 media 中没有 "
                                     f"{kind} 的规则（大小上限、格式）；请补上。"))
        if spec.get("max") is not None and spec.get("min", 0) > spec["max"]:
            problems.append(_problem(f"{path}.files.{kind}", f"min 不大于 max={spec['max']}", spec.get("min"),
                                     f"{ctx.name}阶段「{stage['label']}」的 {kind} 文件数下限大于上限；请调整。"))
    return problems


def _stage_deadlines(stage: dict, tz: ZoneInfo) -> dict[str, datetime]:
    """The stage's deadlines that parse, bottom to top; unparseable ones are reported elsewhere."""
    out = {}
    for level in DEADLINE_LEVELS:
        text = stage.get("deadlines", {}).get(level)
        try:
            out[level] = _parse_deadline(text, tz)
        except (TypeError, ValueError):
            continue
    return out


def _check_deadline_values(ctx: _TrackCtx) -> list[dict]:
    problems = []
    for stage in ctx.raw.get("stages", []):
        for level, text in stage.get("deadlines", {}).items():
            if level in DEADLINE_LEVELS and isinstance(text, str) and re.match(_DEADLINE, text):
                try:
                    _parse_deadline(text, ctx.tz)
                except ValueError:
                    problems.append(_problem(f"{ctx.path}.stages.{stage['key']}.deadlines.{level}",
                                             "存在的日期", text, f"{ctx.name}阶段「{stage['label']}」"
                                             f"{LEVEL_LABELS[level]}的截止时间「{text}」"
                                             "不是存在的日期或时刻；请改正。"))
    return problems


def _check_deadline_order(ctx: _TrackCtx) -> list[dict]:
    """Within a stage a lower level's deadline falls strictly before its parent's."""
    problems = []
    for stage in ctx.raw.get("stages", []):
        deadlines = list(_stage_deadlines(stage, ctx.tz).items())
        for (low, low_at), (high, high_at) in zip(deadlines, deadlines[1:]):
            if low_at >= high_at:
                problems.append(_problem(
                    f"{ctx.path}.stages.{stage['key']}.deadlines.{low}", f"早于 {_iso(high_at)}", _iso(low_at),
                    f"{ctx.name}阶段「{stage['label']}」：{LEVEL_LABELS[low]}的截止时间应早于"
                    f"{LEVEL_LABELS[high]}的（{_fmt(high_at)}），因为下级提交后上级才能择优上报；"
                    f"现为 {_fmt(low_at)}。请提前{LEVEL_LABELS[low]}的截止时间。"))
    return problems


def _check_stage_sequence(ctx: _TrackCtx) -> list[dict]:
    """A later stage cannot close before an earlier one for the same level."""
    problems = []
    stages = ctx.raw.get("stages", [])
    parsed = [_stage_deadlines(stage, ctx.tz) for stage in stages]
    for index, stage in enumerate(stages):
        for level, moment in parsed[index].items():
            later = [(stages[j], _effective(parsed[j], level)) for j in range(index + 1, len(stages))]
            broken = [(s, at) for s, at in later if at is not None and at < moment]
            if broken:
                other, at = broken[0]
                problems.append(_problem(
                    f"{ctx.path}.stages.{stage['key']}.deadlines.{level}", f"不晚于 {_iso(at)}", _iso(moment),
                    f"{ctx.name}：阶段「{stage['label']}」{LEVEL_LABELS[level]}的截止时间（{_fmt(moment)}）"
                    f"晚于后面阶段「{other['label']}」的（{_fmt(at)}），阶段要按顺序完成；"
                    "请提前前一阶段或推后后一阶段的截止时间。"))
    return problems


def _check_quota(ctx: _TrackCtx) -> list[dict]:
    problems = []
    submit, quota_field = ctx.raw.get("submit_levels", []), ctx.raw.get("quota_field")
    choices = _quota_choices(ctx, problems) if quota_field is not None else None
    for level, value in ctx.raw.get("quota", {}).items():
        path = f"{ctx.path}.quota.{level}"
        if level not in submit:
            problems.append(_problem(path, submit, level,
                                     f"{ctx.name}给{LEVEL_LABELS.get(level, level)}设了配额，但该层级不提交作品"
                                     f"（submit_levels：{'、'.join(submit)}）；请删除该配额或改 submit_levels。"))
        problems += _check_quota_shape(ctx, path, value, quota_field, choices)
    return problems


def _quota_choices(ctx: _TrackCtx, problems: list[dict]) -> list[str] | None:
    key = ctx.raw["quota_field"]
    spec = ctx.fields().get(key)
    if spec is None or spec.get("type") != "choice":
        problems.append(_problem(f"{ctx.path}.quota_field", "本赛道的一个选择题字段", key,
                                 f"{ctx.name}按「{key}」分项计配额，但它不是本赛道的选择题字段；"
                                 "请指向一个 type: choice 的字段。"))
        return None
    if not spec.get("required"):
        problems.append(_problem(f"{ctx.path}.fields.{key}.required", True, spec.get("required", False),
                                 f"{ctx.name}按「{spec['label']}」分项计配额，该字段必须必填，"
                                 "否则不填就能绕过配额；请设 required: true。"))
    return ctx.themes if spec.get("choices_from") == "themes" else spec.get("choices", [])


def _check_quota_shape(ctx, path: str, value: Any, quota_field: str | None, choices) -> list[dict]:
    if quota_field is None and isinstance(value, dict):
        return [_problem(path, "整数", value, f"{ctx.name}的配额按值分项，但没有设 quota_field；"
                         "请设 quota_field 或把配额写成一个整数。")]
    if quota_field is not None and not isinstance(value, dict):
        return [_problem(path, f"按「{quota_field}」取值分项的映射", value,
                         f"{ctx.name}设了 quota_field「{quota_field}」，配额应写成 {{取值: 数量}}；请改写。")]
    unknown = [v for v in (value if isinstance(value, dict) else {}) if choices is not None and v not in choices]
    if unknown:
        return [_problem(path, choices, unknown, f"{ctx.name}的配额含有「{quota_field}」没有的取值"
                         f"{_show(unknown)}（可选：{'、'.join(choices)}）；请改正。")]
    return []


def _check_forward(ctx: _TrackCtx) -> list[dict]:
    """Only a level at or above the lowest submitting level has anything to forward."""
    submit = [lvl for lvl in ctx.raw.get("submit_levels", []) if lvl in LEVELS]
    if not submit:
        return []
    lowest = min(LEVELS.index(lvl) for lvl in submit)
    return [
        _problem(f"{ctx.path}.forward.{level}", f"{LEVELS[lowest]} 或更高层级", level,
                 f"{ctx.name}：{LEVEL_LABELS[level]}下面没有提交作品的组织，无作品可报送；"
                 "请删除该项或改 submit_levels。")
        for level in ctx.raw.get("forward", {}) if level in LEVELS and LEVELS.index(level) < lowest
    ]


def _check_rubric(ctx: _TrackCtx) -> list[dict]:
    rubric = ctx.raw.get("rubric", [])
    total = sum(c["weight"] for c in rubric)
    if rubric and not math.isclose(total, 100):
        weights = "+".join(f"{c['label']}{c['weight']}" for c in rubric)
        return [_problem(f"{ctx.path}.rubric", 100, total,
                         f"{ctx.name}评分细则的权重之和应为100，现为{_show(total)}（{weights}）；请调整权重。")]
    return []


def _check_media(ctx: _TrackCtx) -> list[dict]:
    problems = []
    for kind, policy in ctx.raw.get("media", {}).items():
        for index, rule in enumerate(policy.get("rules", [])):
            path = f"{ctx.path}.media.{kind}.rules.{index}"
            problems += _check_rule(ctx, path, kind, rule)
    return problems


def _check_rule(ctx: _TrackCtx, path: str, kind: str, rule: dict) -> list[dict]:
    facts = MEDIA_FACTS[kind]
    fact, op, value = rule["fact"], rule["op"], rule["value"]
    if op not in OPERATORS:
        return []  # the schema reported the operator
    if fact not in facts:
        close = difflib.get_close_matches(fact, list(facts), n=1, cutoff=0.6)
        guess = f"，是否应为「{close[0]}」" if close else ""
        return [_problem(f"{path}.fact", sorted(facts), fact,
                         f"{ctx.name}的 {kind} 规则用了未知的检测项「{fact}」{guess}；"
                         f"{kind} 文件可检测：{'、'.join(facts)}。请改正。")]
    fact_type = facts[fact]
    if op not in _OPS_FOR_TYPE[fact_type]:
        return [_problem(f"{path}.op", list(_OPS_FOR_TYPE[fact_type]), op,
                         f"{ctx.name}的 {kind} 规则：{fact} 是{_TYPE_NAMES[fact_type]}，只能用 "
                         f"{'、'.join(_OPS_FOR_TYPE[fact_type])} 比较，现为 {op}；请换运算符。")]
    if not _value_fits(op, value, fact_type):
        shape = _value_shape(op, fact_type)
        return [_problem(f"{path}.value", shape, value,
                         f"{ctx.name}的 {kind} 规则 {fact} {op} 的取值应为{shape}，现为 {_show(value)}；"
                         "请改正取值。")]
    return []


def _is_type(value: Any, fact_type: str) -> bool:
    if fact_type == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if fact_type == "string":
        return isinstance(value, str) and value != ""
    return isinstance(value, bool)


def _value_fits(op: str, value: Any, fact_type: str) -> bool:
    if op == "between":
        return (isinstance(value, list) and len(value) == 2
                and all(_is_type(v, fact_type) for v in value) and value[0] <= value[1])
    if op == "in":
        return (isinstance(value, list) and bool(value) and all(_is_type(v, fact_type) for v in value)
                and len(set(value)) == len(value))
    return _is_type(value, fact_type)


def _value_shape(op: str, fact_type: str) -> str:
    one = {"number": "一个数字", "string": "一段非空文本", "boolean": "true 或 false"}[fact_type]
    if op == "between":
        return "两个数字组成的列表 [下限, 上限]，且下限不大于上限"
    if op == "in":
        return f"不重复的非空列表，每项为{one}"
    return one


_TRACK_CHECKS: tuple[Callable[[_TrackCtx], list[dict]], ...] = (
    _check_unique_keys, _check_fields, _check_stages, _check_deadline_values, _check_deadline_order,
    _check_stage_sequence, _check_quota, _check_forward, _check_rubric, _check_media,
)


# --------------------------------------------------------------------------- #
# Derived definitions may only tighten
# --------------------------------------------------------------------------- #

# How a derived copy may differ from its parent, for every key of the format. Paths follow
# DEFINITION_SCHEMA: `*` is any key of a mapping, `[]` any item of a list. Every decision but FREE
# is enforced by check_tightens; a key added to the format without a decision here fails
# tests/security/test_derived_campaign_blind.py, which also loosens each enforced one.
FREE = "free"  # may change: it makes nothing easier to get through and hides nobody less
KEY = "key"  # the identity of a list item: renaming one drops the parent's item
KEPT = "kept"  # every item of the parent stays
SAME = "same"  # must equal the parent's
SUBSET = "subset"  # only values the parent has
SUPERSET = "superset"  # at least the parent's values
AT_MOST = "at_most"  # a limit: not above the parent's, and not dropped
AT_LEAST = "at_least"  # a minimum: not below the parent's
EARLIER = "earlier"  # a deadline: not later than the parent's, and not dropped
STAYS_TRUE = "stays_true"  # true in the parent stays true (a requirement, a blindness setting)
IMPLIED = "implied"  # each parent media rule is implied by a child rule at least as severe and narrow

TIGHTENING: dict[str, tuple[str, str]] = {
    "id": (FREE, "the copy's own name"),
    "title": (FREE, "a label"),
    "short_title": (FREE, "a label"),
    "timezone": (FREE, "deadlines are compared as moments, whatever zone they are written in"),
    "derives_from": (SAME, "names the parent it is checked against"),
    "themes": (SUBSET, "themes are the options of choice fields"),
    "tracks": (KEPT, "every track of the parent stays, and none is added"),
    "tracks.*": (KEPT, "judged key by key below"),
    "tracks.*.label": (FREE, "a label"),
    "tracks.*.department": (FREE, "which office of the university handles it (组织部/宣传部)"),
    "tracks.*.submit_levels": (SUBSET, "no level may submit that the parent does not let submit"),
    "tracks.*.naming_rule": (STAYS_TRUE, "「党组织名称+作品名称」 required by the parent stays required"),
    "tracks.*.fields": (KEPT, "every field of the parent stays; the copy may add its own"),
    "tracks.*.fields[].key": (KEY, "a renamed field is a dropped one"),
    "tracks.*.fields[].label": (FREE, "a label"),
    "tracks.*.fields[].type": (SAME, "a value valid for one type is not checked as the other"),
    "tracks.*.fields[].required": (STAYS_TRUE, "a required field stays required"),
    "tracks.*.fields[].min_chars": (AT_LEAST, "字数 minimum"),
    "tracks.*.fields[].max_chars": (AT_MOST, "字数 limit"),
    "tracks.*.fields[].min_items": (AT_LEAST, "list minimum"),
    "tracks.*.fields[].max_items": (AT_MOST, "list limit"),
    "tracks.*.fields[].choices": (SUBSET, "no option the parent does not offer"),
    "tracks.*.fields[].choices_from": (SUBSET, "resolved to choices, then judged as choices"),
    "tracks.*.fields[].choice_labels": (FREE, "how options are shown"),
    "tracks.*.fields[].choice_labels.*": (FREE, "how an option is shown"),
    "tracks.*.fields[].identifying": (STAYS_TRUE, "a field hidden from reviewers stays hidden (blind review)"),
    "tracks.*.stages": (KEPT, "every stage stays, in the parent's order"),
    "tracks.*.stages[].key": (KEY, "a renamed stage is a dropped one"),
    "tracks.*.stages[].label": (FREE, "a label"),
    "tracks.*.stages[].required_fields": (SUPERSET, "what a stage needs stays needed"),
    "tracks.*.stages[].files": (KEPT, "required kinds stay; no kind the parent does not accept"),
    "tracks.*.stages[].files[].kind": (KEY, "a file requirement is named by its kind"),
    "tracks.*.stages[].files[].min": (AT_LEAST, "how many files are needed"),
    "tracks.*.stages[].files[].max": (AT_MOST, "how many files are accepted"),
    "tracks.*.stages[].deadlines": (EARLIER, "judged level by level below"),
    "tracks.*.stages[].deadlines.*": (EARLIER, "a level's deadline"),
    "tracks.*.media": (KEPT, "every media policy of the parent stays"),
    "tracks.*.media.*": (KEPT, "judged key by key below"),
    "tracks.*.media.*.max_bytes": (AT_MOST, "upload size limit"),
    "tracks.*.media.*.rules": (IMPLIED, "every parent rule stays implied"),
    "tracks.*.media.*.rules[].fact": (IMPLIED, "a rule on another fact implies nothing"),
    "tracks.*.media.*.rules[].op": (IMPLIED, "judged with the value as the set of accepted values"),
    "tracks.*.media.*.rules[].value": (IMPLIED, "judged with the operator as the set of accepted values"),
    "tracks.*.media.*.rules[].severity": (IMPLIED, "an error may not become a warning"),
    "tracks.*.media.*.rules[].hint": (FREE, "advice shown with a finding"),
    "tracks.*.quota": (AT_MOST, "judged level by level below"),
    "tracks.*.quota.*": (AT_MOST, "works an org of that level may submit"),
    "tracks.*.quota.*.*": (AT_MOST, "works per value of quota_field"),
    "tracks.*.quota_field": (SAME, "the quota is counted the parent's way"),
    "tracks.*.forward": (AT_MOST, "judged level by level below"),
    "tracks.*.forward.*": (AT_MOST, "works a level forwards upward"),
    "tracks.*.rubric": (FREE, "the copy's own reviewers' instrument; the national round scores with the "
                              "ministry's rubric (the round's campaign)"),
    "tracks.*.rubric[].key": (FREE, "see rubric"),
    "tracks.*.rubric[].label": (FREE, "see rubric"),
    "tracks.*.rubric[].weight": (FREE, "see rubric"),
    "tracks.*.rubric[].max": (FREE, "see rubric"),
}


def check_tightens(parent: CampaignDefinition, child: CampaignDefinition) -> None:
    """Raise Unprocessable(campaign_loosens_parent) naming every place `child` is looser.

    Both must be parsed definitions. Rubrics, labels, titles and departments
    may change freely: they do not make it easier to get a work through.
    """
    problems = _tighten_top(parent, child)
    for key, mine in parent.tracks.items():
        theirs = child.tracks.get(key)
        if theirs is None:
            problems.append(_problem(f"tracks.{key}", key, None,
                                     f"上级活动有赛道「{mine.label}」，派生活动不能删掉；请补回 tracks.{key}。"))
            continue
        for check in _TIGHTEN_CHECKS:
            problems += check(f"tracks.{key}", mine, theirs)
    for key in sorted(child.tracks.keys() - parent.tracks.keys()):
        problems.append(_problem(f"tracks.{key}", sorted(parent.tracks), key,
                                 f"派生活动不能新增上级没有的赛道「{child.tracks[key].label}」；"
                                 "请删除，或请上级活动先加上。"))
    if problems:
        _fail(CAMPAIGN_LOOSENS_PARENT,
              f"派生活动「{child.id}」有{{n}}处比上级活动「{parent.id}」宽松（派生活动只能收紧）", problems)


def _tighten_top(parent: CampaignDefinition, child: CampaignDefinition) -> list[dict]:
    problems = []
    if child.derives_from != parent.id:
        problems.append(_problem("derives_from", parent.id, child.derives_from,
                                 f"派生活动应写 derives_from: {parent.id}，现为 {child.derives_from}；请改正。"))
    extra = [t for t in child.themes if t not in parent.themes]
    if extra:
        problems.append(_problem("themes", parent.themes, extra,
                                 f"派生活动不能新增上级没有的主题{_show(extra)}（主题是选择题的选项）；请删除。"))
    return problems


def _tighten_track_flags(path: str, parent: Track, child: Track) -> list[dict]:
    problems = []
    extra = [lvl for lvl in child.submit_levels if lvl not in parent.submit_levels]
    if extra:
        problems.append(_problem(f"{path}.submit_levels", parent.submit_levels, child.submit_levels,
                                 f"赛道「{parent.label}」上级只允许{_levels(parent.submit_levels)}提交，"
                                 f"派生活动新增了{_levels(extra)}；请删除。"))
    if parent.naming_rule and not child.naming_rule:
        problems.append(_problem(f"{path}.naming_rule", True, False,
                                 f"赛道「{parent.label}」上级要求按「党组织名称+作品名称」命名，"
                                 "派生活动不能取消；请设 naming_rule: true。"))
    if parent.quota_field is not None and child.quota_field != parent.quota_field:
        problems.append(_problem(f"{path}.quota_field", parent.quota_field, child.quota_field,
                                 f"赛道「{parent.label}」上级按「{parent.quota_field}」分项计配额，"
                                 "派生活动应保持一致；请改回。"))
    return problems


def _tighten_fields(path: str, parent: Track, child: Track) -> list[dict]:
    problems = []
    theirs = {spec.key: spec for spec in child.fields}
    for mine in parent.fields:
        spec = theirs.get(mine.key)
        where = f"{path}.fields.{mine.key}"
        if spec is None:
            problems.append(_problem(where, mine.key, None, f"赛道「{parent.label}」的字段「{mine.label}」"
                                     "是上级定义的，派生活动不能删掉；请补回。"))
            continue
        problems += _tighten_field(where, parent.label, mine, spec)
    return problems


def _tighten_field(where: str, track: str, mine: FieldSpec, spec: FieldSpec) -> list[dict]:
    name = f"赛道「{track}」字段「{mine.label}」"
    problems = []
    if mine.identifying and not spec.identifying:
        # reviewers score blind: a copy that shows 主讲人 would show them to national reviewers too
        problems.append(_problem(f"{where}.identifying", True, False,
                                 f"{name}在上级活动中标为识别身份的字段（identifying: true，评审专家看不到），"
                                 "派生活动不能取消隐藏；请设 identifying: true。"))
    if spec.type != mine.type:
        return problems + [_problem(f"{where}.type", mine.type, spec.type,
                                    f"{name}的类型应保持上级的 {mine.type}，现为 {spec.type}；请改回。")]
    if mine.required and not spec.required:
        problems.append(_problem(f"{where}.required", True, False,
                                 f"{name}上级要求必填，派生活动不能改为选填；请设 required: true。"))
    for rule, stricter in (("max_chars", "le"), ("max_items", "le"), ("min_chars", "ge"), ("min_items", "ge")):
        problems += _tighten_bound(f"{where}.{rule}", name, rule, getattr(mine, rule),
                                   getattr(spec, rule), stricter)
    # Both taking their choices from themes: an added theme is reported once, at `themes`.
    from_themes = mine.choices_from == spec.choices_from == "themes"
    extra = [c for c in (spec.choices or []) if mine.choices is not None and c not in mine.choices]
    if extra and not from_themes:
        problems.append(_problem(f"{where}.choices", mine.choices, extra,
                                 f"{name}新增了上级没有的选项{_show(extra)}；请删除。"))
    return problems


def _tighten_bound(where: str, name: str, rule: str, mine, theirs, stricter: str) -> list[dict]:
    """A bound the parent sets must stay, and may only move in the stricter direction."""
    if mine is None:
        return []
    ok = theirs is not None and (theirs <= mine if stricter == "le" else theirs >= mine)
    if ok:
        return []
    wanted = f"{'不大于' if stricter == 'le' else '不小于'} {mine}"
    found = "未设" if theirs is None else theirs
    return [_problem(where, wanted, theirs, f"{name}的 {rule} 上级为 {mine}，派生活动应{wanted}，"
                     f"现为{found}；请改为{wanted}。")]


def _tighten_stages(path: str, parent: Track, child: Track) -> list[dict]:
    problems = []
    theirs = {stage.key: stage for stage in child.stages}
    for mine in parent.stages:
        stage = theirs.get(mine.key)
        where = f"{path}.stages.{mine.key}"
        if stage is None:
            problems.append(_problem(where, mine.key, None, f"赛道「{parent.label}」的阶段「{mine.label}」"
                                     "是上级定义的，派生活动不能删掉；请补回。"))
            continue
        problems += _tighten_required(where, parent, mine, stage)
        problems += _tighten_files(where, parent, mine, stage)
        problems += _tighten_deadlines(where, parent, mine, stage)
    order = [key for key in (s.key for s in child.stages) if key in {s.key for s in parent.stages}]
    if len(order) == len(parent.stages) and order != [s.key for s in parent.stages]:
        problems.append(_problem(f"{path}.stages", [s.key for s in parent.stages], order,
                                 f"赛道「{parent.label}」的阶段顺序应与上级一致；请调整顺序。"))
    return problems


def _tighten_required(where: str, track: Track, mine: Stage, stage: Stage) -> list[dict]:
    missing = [key for key in mine.required_fields if key not in stage.required_fields]
    if not missing:
        return []
    return [_problem(f"{where}.required_fields", mine.required_fields, stage.required_fields,
                     f"赛道「{track.label}」阶段「{mine.label}」上级要求填写{_show(missing)}，"
                     "派生活动不能去掉；请补回 required_fields。")]


def _tighten_files(where: str, track: Track, mine: Stage, stage: Stage) -> list[dict]:
    name = f"赛道「{track.label}」阶段「{mine.label}」"
    theirs = {f.kind: f for f in stage.files}
    problems = [_tighten_file(f"{where}.files.{need.kind}", name, need, theirs.get(need.kind))
                for need in mine.files]
    for kind in sorted(theirs.keys() - {f.kind for f in mine.files}):
        problems.append(_problem(f"{where}.files.{kind}", [f.kind for f in mine.files], kind,
                                 f"{name}上级不接收 {kind} 文件，派生活动不能新增；请删除。"))
    return [p for p in problems if p is not None]


def _tighten_file(path: str, name: str, need: FileRequirement, have: FileRequirement | None) -> dict | None:
    if have is None:
        if need.min == 0:
            return None  # dropping an optional kind only forbids it: stricter
        return _problem(path, need.to_dict(), None, f"{name}上级要求至少 {need.min} 个 {need.kind} 文件，"
                        "派生活动不能去掉；请补回。")
    within_max = need.max is None or (have.max is not None and have.max <= need.max)
    if have.min >= need.min and within_max:
        return None
    limit = "不限" if need.max is None else need.max
    return _problem(path, need.to_dict(), have.to_dict(),
                    f"{name}的 {need.kind} 文件数上级为 {need.min}–{limit}，派生活动只能提高下限、"
                    "降低上限；请改正。")


def _tighten_deadlines(where: str, track: Track, mine: Stage, stage: Stage) -> list[dict]:
    problems = []
    name = f"赛道「{track.label}」阶段「{mine.label}」"
    for level in DEADLINE_LEVELS:
        ours, theirs = mine.deadlines.get(level), stage.deadlines.get(level)
        path = f"{where}.deadlines.{level}"
        if ours is not None and (theirs is None or theirs > ours):
            found = "未设" if theirs is None else _fmt(theirs)
            problems.append(_problem(path, f"不晚于 {_iso(ours)}", _iso(theirs) if theirs else None,
                                     f"{name}{LEVEL_LABELS[level]}的截止时间上级为 {_fmt(ours)}，派生活动只能提前，"
                                     f"现为{found}；请改为不晚于 {_fmt(ours)}。"))
        elif ours is None and theirs is not None:
            problems += _tighten_added_deadline(path, name, mine, level, theirs)
    return problems


def _tighten_added_deadline(path: str, name: str, mine: Stage, level: str, theirs: datetime) -> list[dict]:
    """A deadline the parent leaves open must still fall before the parent's level above."""
    above = parent_level(level)
    limit = _effective(mine.deadlines, above) if above else None
    if limit is None or theirs < limit:
        return []
    return [_problem(path, f"早于 {_iso(limit)}", _iso(theirs),
                     f"{name}新增的{LEVEL_LABELS[level]}截止时间（{_fmt(theirs)}）应早于上级活动中"
                     f"{LEVEL_LABELS[above]}的截止时间（{_fmt(limit)}）；请提前。")]


def _tighten_counts(path: str, parent: Track, child: Track) -> list[dict]:
    problems = []
    for level, mine in parent.quota.items():
        if level not in child.submit_levels:
            continue  # that level no longer submits at all: stricter
        problems += _tighten_count(f"{path}.quota.{level}", parent.label, "配额", mine, child.quota.get(level))
    for level, mine in parent.forward.items():
        problems += _tighten_count(f"{path}.forward.{level}", parent.label, "报送数", mine, child.forward.get(level))
    return problems


def _tighten_count(where: str, track: str, what: str, mine, theirs) -> list[dict]:
    if isinstance(mine, dict):
        if not isinstance(theirs, dict):
            return [_problem(where, mine, theirs, f"赛道「{track}」{what}上级按取值分项 {_show(mine)}，"
                             "派生活动应同样分项且每项不超过上级；请改写。")]
        problems = []
        for value, count in mine.items():
            problems += _tighten_count(f"{where}.{value}", track, what, count, theirs.get(value))
        return problems
    if isinstance(theirs, int) and theirs <= mine:
        return []
    found = "未设（不限）" if theirs is None else _show(theirs)
    return [_problem(where, f"不大于 {mine}", theirs, f"赛道「{track}」{what}上级为 {mine}，派生活动只能"
                     f"不大于它，现为{found}；请改为不大于 {mine}。")]


def _tighten_media(path: str, parent: Track, child: Track) -> list[dict]:
    problems = []
    for kind, mine in parent.media.items():
        where = f"{path}.media.{kind}"
        theirs = child.media.get(kind)
        if theirs is None:
            problems.append(_problem(where, mine.to_dict(), None, f"赛道「{parent.label}」上级有 {kind} 文件的"
                                     "媒体规则，派生活动不能删掉；请补回。"))
            continue
        if mine.max_bytes is not None and (theirs.max_bytes is None or theirs.max_bytes > mine.max_bytes):
            problems.append(_problem(f"{where}.max_bytes", f"不大于 {mine.max_bytes}", theirs.max_bytes,
                                     f"赛道「{parent.label}」{kind} 文件的大小上限上级为 "
                                     f"{_size(mine.max_bytes)}，派生活动只能更小，现为"
                                     f"{_size(theirs.max_bytes)}；请改为不大于 {mine.max_bytes}。"))
        for rule in mine.rules:
            if not any(_implies(candidate, rule) for candidate in theirs.rules):
                problems.append(_lost_rule(f"{where}.rules.{rule.fact}", parent.label, kind, rule, theirs))
    return problems


def _lost_rule(where: str, track: str, kind: str, rule: MediaRule, theirs: MediaPolicy) -> dict:
    same_fact = [r.describe() for r in theirs.rules if r.fact == rule.fact]
    found = "；".join(same_fact) or "无"
    return _problem(where, rule.describe(), same_fact or None,
                    f"赛道「{track}」{kind} 文件：上级规则 {rule.describe()} 在派生活动中没有同一检测项上"
                    f"至少同样严格的规则（现有：{found}）；请保留该规则，或改得更严（级别不低、范围更窄）。")


_TIGHTEN_CHECKS = (_tighten_track_flags, _tighten_fields, _tighten_stages, _tighten_counts, _tighten_media)


# Rule implication: a child rule implies a parent rule when it is at least as
# severe and every value it accepts is accepted by the parent's rule. A rule's
# accepted values are a closed/open range, a finite set, or "all but" a set.

def _implies(child: MediaRule, parent: MediaRule) -> bool:
    return (child.fact == parent.fact
            and _SEVERITY_RANK[child.severity] >= _SEVERITY_RANK[parent.severity]
            and _subset(_accepted(child), _accepted(parent)))


def _accepted(rule: MediaRule) -> tuple[str, Any]:
    op, v = rule.op, rule.value
    if op == "in":
        return "set", tuple(v)
    if op == "eq":
        return "set", (v,)
    if op == "ne":
        return "not", (v,)
    inf = math.inf
    bounds = {"lt": (-inf, False, v, False), "le": (-inf, False, v, True),
              "gt": (v, False, inf, False), "ge": (v, True, inf, False),
              "between": (v[0] if isinstance(v, list) else v, True, v[1] if isinstance(v, list) else v, True)}
    return "range", bounds[op]


def _contains(accepted: tuple[str, Any], x: Any) -> bool:
    kind, data = accepted
    if kind == "set":
        return x in data
    if kind == "not":
        return x not in data
    if not _is_type(x, "number"):
        return False
    lo, lo_in, hi, hi_in = data
    return (lo < x or (lo_in and lo == x)) and (x < hi or (hi_in and x == hi))


def _subset(child: tuple[str, Any], parent: tuple[str, Any]) -> bool:
    (ckind, cdata), (pkind, pdata) = child, parent
    if ckind == "set":
        return all(_contains(parent, x) for x in cdata)
    if ckind == "not":
        return pkind == "not" and set(pdata) <= set(cdata)
    if pkind == "range":
        return _range_within(cdata, pdata)
    if pkind == "not":
        return not any(_contains(child, x) for x in pdata)
    lo, lo_in, hi, hi_in = cdata  # a range inside a finite set only if it is one point
    return lo == hi and lo_in and hi_in and lo in pdata


def _range_within(inner: tuple, outer: tuple) -> bool:
    ilo, ilo_in, ihi, ihi_in = inner
    olo, olo_in, ohi, ohi_in = outer
    lower_ok = ilo > olo or (ilo == olo and (olo_in or not ilo_in))
    upper_ok = ihi < ohi or (ihi == ohi and (ohi_in or not ihi_in))
    return lower_ok and upper_ok


# --------------------------------------------------------------------------- #
# Built-in definitions
# --------------------------------------------------------------------------- #

def load_builtin_definitions(directory: Path | str | None = None) -> dict[str, CampaignDefinition]:
    """Every `*.yaml` next to this package, validated, each child checked against its parent."""
    folder = Path(directory) if directory is not None else DEFINITIONS_DIR
    definitions: dict[str, CampaignDefinition] = {}
    for path in sorted(folder.glob("*.yaml")):
        definition = _parse_file(path)
        if definition.id != path.stem or definition.id in definitions:
            _fail_invalid(definition.id, [_problem("id", path.stem, definition.id,
                          f"文件 {path.name} 中的 id「{definition.id}」应与文件名一致且不重复；请改正。")])
        definitions[definition.id] = definition
    for definition in definitions.values():
        if definition.derives_from is None:
            continue
        parent = definitions.get(definition.derives_from)
        if parent is None:
            _fail_invalid(definition.id, [_problem("derives_from", sorted(definitions), definition.derives_from,
                          f"活动「{definition.id}」的上级「{definition.derives_from}」不存在；请改正 derives_from。")])
        check_tightens(parent, definition)
    return definitions


def _parse_file(path: Path) -> CampaignDefinition:
    try:
        return parse_definition(path.read_text(encoding="utf-8"))
    except Unprocessable as exc:
        raise Unprocessable(f"{path.name}：{exc.message}", code=exc.code, details=exc.details) from exc


# --------------------------------------------------------------------------- #
# Problems and their wording
# --------------------------------------------------------------------------- #

def _problem(field_path: str, expected: Any, found: Any, message: str) -> dict:
    return {"field": field_path, "expected": _jsonable(expected), "found": _jsonable(found), "message": message}


def _fail_invalid(definition_id: Any, problems: list[dict]) -> None:
    name = f"活动定义「{definition_id}」" if isinstance(definition_id, str) else "活动定义"
    _fail(CAMPAIGN_INVALID, name + "有{n}处问题", problems)


def _fail(code: str, headline: str, problems: list[dict]) -> None:
    """One error for all problems: a headline with the count, the first three, the rest in details."""
    shown = "；".join(p["message"].rstrip("。") for p in problems[:3])
    more = f"；另有{len(problems) - 3}处见 details" if len(problems) > 3 else ""
    message = f"{headline.replace('{n}', str(len(problems)))}：{shown}{more}。"
    raise Unprocessable(message, code=code, details=problems)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return value


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _fmt(moment: datetime) -> str:
    """How a person reads a deadline: local time, seconds only when they matter."""
    return moment.strftime("%Y-%m-%d %H:%M:%S" if moment.second else "%Y-%m-%d %H:%M")


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, str):
        return f"「{value}」"
    return str(value)


def _levels(levels: Iterable[str]) -> str:
    return "、".join(LEVEL_LABELS.get(level, level) for level in levels)


def _size(n: int | None) -> str:
    if n is None:
        return "不限"
    return byte_size(n) if n < 1024 else f"{byte_size(n)}（{n} 字节）"
