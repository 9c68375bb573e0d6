"""Reading a campaign definition: YAML text or a mapping in, a `CampaignDefinition` out, or every problem.

`parse_definition` runs the JSON Schema (`common.campaign.schema`: structure, unknown keys, types,
enums) and then the consistency checks (`common.campaign.checks`: references, deadline order,
operators…). Every problem is collected into ONE `Unprocessable` with code ``campaign_invalid`` and
one entry per problem in ``details``, so that an editor fixes the whole file in one go. Paths in
``details[].field`` use dots and name list items by their ``key`` (``tracks.story.fields.text.max_chars``);
media rules, which have no key, are named by index (the item to edit in the file).
"""
from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from common.campaign.audience import Audience
from common.campaign.checks import consistency_problems
from common.campaign.model import (
    DEADLINE_LEVELS,
    CampaignDefinition,
    Contact,
    Criterion,
    Decision,
    FieldSpec,
    FileRequirement,
    MediaPolicy,
    MediaRule,
    Stage,
    Track,
    parse_deadline,
    parse_opening,
)
from common.campaign.recurrence import Recurrence
from common.campaign.schema import schema_problems
from common.campaign.wording import fail_invalid, problem


def parse_definition(source: str | dict) -> CampaignDefinition:
    """Parse YAML text or a mapping; raise Unprocessable(campaign_invalid) listing every problem."""
    data, problems = _load(source)
    if not isinstance(data, dict):
        problems.append(problem("$", "键值映射（YAML 映射）", type(data).__name__,
                                "活动定义应为一个 YAML 映射（以 id:、title: 等键开头），"
                                f"现为 {type(data).__name__}；请检查文件内容。"))
        fail_invalid(None, problems)
    data = _plain(data)
    structure = schema_problems(data)
    problems += structure
    problems += consistency_problems(data, strict=not structure)
    if problems:
        fail_invalid(data.get("id"), problems)
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
        fail_invalid(None, [_yaml_problem(exc)])
    finally:
        loader.dispose()
    problems = [
        problem(str(key), "每个键只出现一次", f"第{line}行", f"第{line}行：键「{key}」在同一层重复出现，"
                "后面的值会悄悄覆盖前面的；请删除或合并重复的键。")
        for key, line in loader.duplicates
    ]
    return data, problems


def _yaml_problem(exc: yaml.YAMLError) -> dict:
    mark = getattr(exc, "problem_mark", None)
    where = f"第{mark.line + 1}行第{mark.column + 1}列" if mark else "文件中"
    detail = getattr(exc, "problem", None) or str(exc)
    return problem("$", "合法的 YAML 文本（一个文档）", where,
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
        tracks=tracks, contacts=[Contact.from_dict(c) for c in data.get("contacts", [])],
        notice=data.get("notice"), audience=Audience.from_dict(data.get("audience")), raw=data,
    )


def _build_track(key: str, raw: dict, themes: list[str], tz: ZoneInfo) -> Track:
    return Track(
        key=key, label=raw["label"], department=raw["department"],
        submit_levels=list(raw["submit_levels"]), naming_rule=raw.get("naming_rule", False),
        fields=[_build_field(f, themes) for f in raw["fields"]],
        stages=[_build_stage(s, tz) for s in raw["stages"]],
        media={kind: _build_media(kind, p) for kind, p in raw.get("media", {}).items()},
        quota=copy.deepcopy(raw.get("quota", {})), quota_field=raw.get("quota_field"),
        quota_items=copy.deepcopy(raw.get("quota_items", {})),
        forward=dict(raw.get("forward", {})),
        rubric=[Criterion(c["key"], c["label"], c["weight"], c["max"]) for c in raw.get("rubric", [])],
        decision=Decision.from_dict(raw.get("decision")),
        required=raw.get("required", True),
        recurrence=Recurrence.from_dict(raw["recurrence"], tz.key) if raw.get("recurrence") else None,
    )


def _build_field(raw: dict, themes: list[str]) -> FieldSpec:
    choices = list(themes) if raw.get("choices_from") == "themes" else raw.get("choices")
    return FieldSpec(
        key=raw["key"], label=raw["label"], type=raw["type"], required=raw.get("required", False),
        min_chars=raw.get("min_chars"), max_chars=raw.get("max_chars"),
        min_items=raw.get("min_items"), max_items=raw.get("max_items"),
        min_date=raw.get("min_date"), max_date=raw.get("max_date"),
        min_value=raw.get("min_value"), max_value=raw.get("max_value"),
        choices=list(choices) if choices is not None else None,
        choices_from=raw.get("choices_from"), choice_labels=raw.get("choice_labels"),
        identifying=raw.get("identifying", False),
    )


def _build_stage(raw: dict, tz: ZoneInfo) -> Stage:
    deadlines = raw.get("deadlines", {})
    return Stage(
        key=raw["key"], label=raw["label"], required_fields=list(raw.get("required_fields", [])),
        files=[FileRequirement(f["kind"], f.get("min", 0), f.get("max"), copy.deepcopy(f.get("required_when")))
               for f in raw.get("files", [])],
        deadlines={level: parse_deadline(deadlines[level], tz)
                   for level in DEADLINE_LEVELS if level in deadlines},
        opens=parse_opening(raw["opens"], tz) if raw.get("opens") else None,
    )


def _build_media(kind: str, raw: dict) -> MediaPolicy:
    rules = [MediaRule(r["fact"], r["op"], r["value"], r["severity"], r.get("hint"))
             for r in raw.get("rules", [])]
    return MediaPolicy(kind=kind, max_bytes=raw.get("max_bytes"), rules=rules)
