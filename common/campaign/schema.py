"""The structure of a campaign definition, as a JSON Schema, and its errors in Chinese.

`schema_problems` runs the schema (unknown keys, types, enums, patterns) and words each error as a
problem a 组织部 editor can act on: the place (dots, list items named by their ``key``), what was
expected, what was found, and what to do. What a schema cannot say (references, deadline order,
operators per fact) is checked in `common.campaign.checks`.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from jsonschema import Draft202012Validator

from common.campaign.audience import CATEGORIES
from common.campaign.media_rules import MEDIA_KINDS, OPERATORS, SEVERITIES, TYPE_NAMES
from common.campaign.model import DEADLINE_LEVELS, DECISION_KINDS, DEPARTMENTS, FIELD_TYPES, SUBMIT_LEVELS
from common.campaign.recurrence import DUE_DAY_MAX, MONTH_PATTERN
from common.campaign.wording import join, problem, show
from common.levels import LEVELS
from common.locale import LEVEL_LABELS


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
_DAY = r"^\d{4}-\d{2}-\d{2}$"
DEADLINE_PATTERN = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})?)?$"
PATTERN_HINTS = {
    _SLUG: "小写字母、数字和连字符组成，3–64个字符，如 siyige-2020-seu",
    _PARENT: "上级活动的 id，如 siyige-2020（也可写明所属单位，如 ministry.siyige-2020）",
    _KEY: "以小写字母开头，由小写字母、数字和下划线组成，如 planned_date",
    _TRACK_KEY: "由小写字母和下划线组成，如 meeting_report",
    _DAY: "日期 YYYY-MM-DD，如 2020-06-30",
    DEADLINE_PATTERN: "日期 YYYY-MM-DD（当天23:59:59截止）或日期时间 YYYY-MM-DDTHH:MM（按活动时区）",
    MONTH_PATTERN: "月份 YYYY-MM，如 2020-03",
}

_TEXT = {"type": "string", "minLength": 1}
_COUNT = {"type": "integer", "minimum": 0}

_FIELD = _object(
    {"key": {"type": "string", "pattern": _KEY}, "label": _TEXT, "type": {"enum": list(FIELD_TYPES)}},
    {
        "required": {"type": "boolean"},
        "min_chars": _COUNT, "max_chars": _COUNT, "min_items": _COUNT, "max_items": _COUNT,
        "min_date": {"type": "string", "pattern": _DAY}, "max_date": {"type": "string", "pattern": _DAY},
        "min_value": {"type": "number"}, "max_value": {"type": "number"},
        "choices": _list(_TEXT, minItems=1, uniqueItems=True),
        "choices_from": {"enum": ["themes"]},
        "choice_labels": {"type": "object", "additionalProperties": _TEXT},
        "identifying": {"type": "boolean"},
    },
)
_FILE = _object({"kind": {"enum": list(MEDIA_KINDS)}},
                {"min": _COUNT, "max": {"type": ["integer", "null"], "minimum": 0},
                 # {choice field: [values]}: needed (at least one) by a work with one of the values (工作案例需附文档)
                 "required_when": {"type": "object", "propertyNames": {"pattern": _KEY},
                                   "additionalProperties": _list(_TEXT, minItems=1, uniqueItems=True)}})
_STAGE = _object(
    {"key": {"type": "string", "pattern": _KEY}, "label": _TEXT},
    {
        "required_fields": _list({"type": "string"}, uniqueItems=True),
        "files": _list(_FILE),
        "deadlines": _by_level(DEADLINE_LEVELS, {"type": "string", "pattern": DEADLINE_PATTERN}),
        "opens": {"type": "string", "pattern": DEADLINE_PATTERN},
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
PUBLICITY_DAYS_MAX = 30  # a 公示期 is days (5 or 7 working days in practice); a month is the longest we take
DECISION_SCHEMA = _object(  # campaign_published carries it as it is written (common.campaign.events)
    {"level": {"enum": [lv for lv in LEVELS if lv != "branch"]}, "kind": {"enum": list(DECISION_KINDS)}},
    {
        "label": _TEXT,
        # places is a count, or a count per value of category_field (as quota per quota_field)
        "places": {"type": ["integer", "object"], "minimum": 1, "additionalProperties": _COUNT},
        "category_field": {"type": "string", "pattern": _KEY},
        "publicity_days": {"type": "integer", "minimum": 1, "maximum": PUBLICITY_DAYS_MAX},
    },
)
# A track that runs once per period (common.campaign.recurrence); campaign_published carries it with its timezone.
RECURRENCE_SCHEMA = _object(
    {"first": {"type": "string", "pattern": MONTH_PATTERN},
     "last": {"type": "string", "pattern": MONTH_PATTERN}, "field": {"type": "string", "pattern": _KEY}},
    {"due_day": {"type": "integer", "minimum": 1, "maximum": DUE_DAY_MAX}},
)
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
        # {value of quota_field: [file kinds]}: that value's quota counts files of the kinds (「10件左右图片和音视频素材」)
        "quota_items": {"type": "object", "additionalProperties": _list({"enum": list(MEDIA_KINDS)}, minItems=1,
                                                                         uniqueItems=True)},
        "forward": _by_level(DEADLINE_LEVELS, _COUNT),
        "rubric": _list(_CRITERION),
        "decision": DECISION_SCHEMA,
        "required": {"type": "boolean"},
        "recurrence": RECURRENCE_SCHEMA,
    },
)
NOTICE_MAX_CHARS = 20000  # the longest seed notice is under 5,000 characters
_CONTACT = _object({"name": _TEXT}, {"department": {"enum": list(DEPARTMENTS)}, "phone": _TEXT,
                                     "email": {"type": "string", "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$"}})
# whom the campaign is for (common.campaign.audience): university categories and/or named universities
_UNIVERSITY_SLUG = r"^[a-z0-9][a-z0-9-]{1,62}$"  # as TENANT in common/events.py
PATTERN_HINTS[_UNIVERSITY_SLUG] = "高校的租户标识，由小写字母、数字和连字符组成，如 seu"
AUDIENCE_SCHEMA = {**_object({}, {
    "categories": _list({"enum": list(CATEGORIES)}, minItems=1, uniqueItems=True),
    "universities": _list({"type": "string", "pattern": _UNIVERSITY_SLUG}, minItems=1, uniqueItems=True),
}), "minProperties": 1}
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
        "contacts": _list(_CONTACT),
        "notice": {"type": "string", "minLength": 1, "maxLength": NOTICE_MAX_CHARS},
        "audience": AUDIENCE_SCHEMA,
    },
)
_VALIDATOR = Draft202012Validator(DEFINITION_SCHEMA)


def schema_problems(data: Any) -> list[dict]:
    problems: dict[tuple[str, str], dict] = {}
    for error in _VALIDATOR.iter_errors(data):
        for found in _translate(error, data):
            # `required` yields one error per missing key, each of which we
            # translate for all missing keys: keep each problem once.
            problems.setdefault((found["field"], found["message"]), found)
    return sorted(problems.values(), key=lambda p: p["field"])


def _translate(error, data: Any) -> list[dict]:
    """One jsonschema error as Chinese problems (additionalProperties may hold several keys)."""
    path = _path(data, error.absolute_path)
    where = f"{path} " if path else "定义顶层"
    kind, value, instance = error.validator, error.validator_value, error.instance
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        return [_unknown_key(join(path, key), key, allowed) for key in instance if key not in allowed]
    if kind == "required":
        missing = [key for key in value if key not in instance]
        return [problem(join(path, key), key, None, f"{where}缺少必填项「{key}」；请补上。")
                for key in missing]
    schema_path = list(error.absolute_schema_path)
    if len(schema_path) >= 2 and schema_path[-2] == "propertyNames":
        # jsonschema reports a bad key at the mapping's path with the key as instance
        return [_bad_key(path, instance, {kind: value})]
    expected, text = _expectation(kind, value)
    message = f"{where}应为{text}，现为{show(instance)}；请改正。"
    return [problem(path, expected, instance, message)]


def _expectation(kind: str, value: Any) -> tuple[Any, str]:
    """(expected, Chinese description) for the remaining JSON Schema keywords."""
    if kind == "type":
        names = [value] if isinstance(value, str) else value
        return value, "或".join(TYPE_NAMES.get(n, n) for n in names)
    if kind == "enum":
        return value, "以下之一：" + "、".join(map(str, value))
    if kind == "pattern":
        return value, PATTERN_HINTS.get(value, f"符合 {value} 的文本")
    if kind in ("minimum", "exclusiveMinimum"):
        return value, f"{'不小于' if kind == 'minimum' else '大于'} {value} 的数"
    if kind == "maximum":
        return value, f"不大于 {value} 的数"
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
    return problem(path, allowed, key, message)


def _bad_key(path: str, key: str, rule: dict) -> dict:
    if "enum" in rule:
        allowed = rule["enum"]
        labels = "、".join(f"{k}（{LEVEL_LABELS[k]}）" if k in LEVEL_LABELS else k for k in allowed)
        message = f"{join(path, key)}：「{key}」不是此处可用的键，应为 {labels} 之一；请改正。"
        return problem(join(path, key), allowed, key, message)
    hint = PATTERN_HINTS.get(rule.get("pattern"), str(rule))
    message = f"{join(path, key)}：键「{key}」的写法不对，应{hint}；请改名。"
    return problem(join(path, key), rule.get("pattern"), key, message)


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
