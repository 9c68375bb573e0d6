"""Consistency checks of a campaign definition: what its JSON Schema cannot say.

References (a stage's required fields, a quota's field, media for every file kind a stage takes),
deadline order (a level before its parent, a stage before the next), quotas and forward counts per
level, rubric weights, media rules against the vocabulary of `common.campaign.media_rules`, and one
line per text. Each check returns problems (`common.campaign.wording.problem`); none raises.
"""
from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from common.campaign.media_rules import MEDIA_FACTS, OPERATORS, OPS_FOR_TYPE, TYPE_NAMES, value_fits, value_shape
from common.campaign.model import (
    DEADLINE_LEVELS,
    DECISION_KINDS,
    DEFAULT_DECISION_LEVEL,
    FIELD_TYPES,
    SCORED,
    TITLE_FIELD,
    effective_at,
    judged,
    parse_deadline,
    parse_opening,
    zone,
)
from common.campaign.recurrence import MONTH_PATTERN
from common.campaign.schema import DEADLINE_PATTERN
from common.campaign.values import is_phone
from common.campaign.wording import iso, join, local_time, problem, show
from common.levels import LEVELS, first_round_level
from common.locale import LEVEL_LABELS
from common.text import single_line_problem


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


def consistency_problems(data: dict, strict: bool) -> list[dict]:
    """Run every check; with a broken structure a check may trip over it and is skipped.

    `strict` is False when the schema already found problems: a check that
    crashes then only met a shape the schema has reported. Otherwise a crash is
    a bug here and must surface.
    """
    tz = zone(data.get("timezone"))
    one_line = {key: value for key, value in data.items() if key != "notice"}  # the notice's own words keep their lines
    checks: list[Callable[[], list[dict]]] = [lambda: _check_top(data, tz), lambda: _check_single_lines(one_line),
                                              lambda: _check_contacts(data)]
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
        problems.append(problem("timezone", "IANA 时区名，如 Asia/Shanghai", data["timezone"],
                                f"时区「{data['timezone']}」不存在；截止时间按此时区解释，"
                                "请写 IANA 时区名，如 Asia/Shanghai。"))
    if data.get("derives_from") is not None and data.get("derives_from") == data.get("id"):
        problems.append(problem("derives_from", "上级活动的 id", data["derives_from"],
                                "derives_from 不能指向本活动自己；请写上级（教育部）活动的 id，"
                                "或对顶层活动写 null。"))
    return problems


def _check_contacts(data: dict) -> list[dict]:
    """A contact can be reached: a phone an org can dial, or an e-mail (the seeds give both, or two phones)."""
    problems = []
    for index, contact in enumerate(data.get("contacts") or []):
        path, name = f"contacts.{index}", contact.get("name", "")
        phone = contact.get("phone")
        if isinstance(phone, str) and not is_phone(phone.strip()):
            problems.append(problem(f"{path}.phone", "手机号或带区号的固话", phone,
                                    f"联系人「{name}」的电话「{phone}」不是手机号（11 位）或带区号的固话"
                                    "（如 025-52090134）；请改正。"))
        if not phone and not contact.get("email"):
            problems.append(problem(path, "phone 或 email", None,
                                    f"联系人「{name}」没有电话也没有邮箱，基层党组织无从联系；请至少写一项。"))
    return problems


def _check_single_lines(data: Any, path: str = "") -> list[dict]:
    """Every text of a definition is one line: titles and labels go into mail subjects and round titles."""
    if isinstance(data, dict):
        return [p for key, value in data.items() for p in _check_single_lines(value, join(path, key))]
    if isinstance(data, list):
        return [p for index, value in enumerate(data) for p in _check_single_lines(value, join(path, _item_name(value, index)))]
    line = single_line_problem(data, path or "定义") if isinstance(data, str) else None
    return [] if line is None else [problem(path, line.expected, line.found, line.message)]


def _item_name(item: Any, index: int) -> Any:
    """List items are named by their `key` where they have one, as in every other path here."""
    return item["key"] if isinstance(item, dict) and isinstance(item.get("key"), str) else index


def _check_unique_keys(ctx: _TrackCtx) -> list[dict]:
    problems = []
    for part in ("fields", "stages", "rubric"):
        keys = [item.get("key") for item in ctx.raw.get(part, []) if isinstance(item, dict)]
        for key in sorted({k for k in keys if keys.count(k) > 1}):
            problems.append(problem(f"{ctx.path}.{part}.{key}", "唯一的 key", f"出现{keys.count(key)}次",
                                    f"{ctx.name}的 {part} 中 key「{key}」出现了{keys.count(key)}次，"
                                    "应唯一；请改名或删除重复项。"))
    for stage in ctx.raw.get("stages", []):
        kinds = [f.get("kind") for f in stage.get("files", [])]
        for kind in sorted({k for k in kinds if kinds.count(k) > 1}):
            problems.append(problem(f"{ctx.path}.stages.{stage.get('key')}.files", "每种文件只列一次",
                                    kind, f"{ctx.name}阶段「{stage.get('label')}」的 files 中「{kind}」"
                                    "列了多次；请合并为一项，用 min/max 表示数量。"))
    return problems


def _check_fields(ctx: _TrackCtx) -> list[dict]:
    problems = _check_title_field(ctx)
    for spec in ctx.raw.get("fields", []):
        path = f"{ctx.path}.fields.{spec['key']}"
        problems += _check_field_rules(ctx, path, spec)
        problems += _check_field_choices(ctx, path, spec)
    return problems


def _check_title_field(ctx: _TrackCtx) -> list[dict]:
    """Every service names a work by its title: each track has a required one-line `title` field."""
    spec = ctx.fields().get(TITLE_FIELD)
    if spec is not None and spec.get("type") == "string" and spec.get("required"):
        return []
    found = None if spec is None else {k: spec.get(k) for k in ("type", "required")}
    return [problem(f"{ctx.path}.fields.{TITLE_FIELD}", {"type": "string", "required": True}, found,
                    f"{ctx.name}需要一个必填的单行文本字段 title（作品名称、推荐对象等），各处列表、评审和邮件都用它称呼作品；"
                    "请加上 {key: title, label: 作品名称, type: string, required: true}"
                    + ("。" if spec is None else "，或把现有的 title 改为 type: string、required: true。"))]


# Which field rules make sense for which field types.
_RULES_FOR_TYPES = {"min_chars": ("string", "text"), "max_chars": ("string", "text"),
                    "min_items": ("list", "choices", "people"), "max_items": ("list", "choices", "people"),
                    "min_date": ("date",), "max_date": ("date",), "min_value": ("number",), "max_value": ("number",),
                    "choices": ("choice", "choices"), "choices_from": ("choice", "choices"),
                    "choice_labels": ("choice", "choices")}


def _check_field_rules(ctx: _TrackCtx, path: str, spec: dict) -> list[dict]:
    if spec["type"] not in FIELD_TYPES:
        return []  # the schema reported the type; which rules fit is then unknown
    problems = []
    for rule, types in _RULES_FOR_TYPES.items():
        if rule in spec and spec["type"] not in types:
            problems.append(problem(f"{path}.{rule}", f"type 为 {'/'.join(types)}", spec["type"],
                                    f"{ctx.name}字段「{spec['label']}」的类型是 {spec['type']}，"
                                    f"不能用 {rule}（只适用于 {'/'.join(types)}）；请删除该规则或改类型。"))
    for name in ("min_date", "max_date"):
        if isinstance(spec.get(name), str) and not _is_day(spec[name]):
            problems.append(problem(f"{path}.{name}", "存在的日期", spec[name],
                                    f"{ctx.name}字段「{spec['label']}」的 {name}「{spec[name]}」不是存在的日期；请改正。"))
    for low, high in (("min_chars", "max_chars"), ("min_items", "max_items"), ("min_date", "max_date"),
                      ("min_value", "max_value")):
        if low in spec and high in spec and spec[low] > spec[high]:
            problems.append(problem(f"{path}.{low}", f"不大于 {high}={spec[high]}", spec[low],
                                    f"{ctx.name}字段「{spec['label']}」的 {low}（{spec[low]}）"
                                    f"大于 {high}（{spec[high]}），无人能满足；请调整。"))
    return problems


def _is_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _check_field_choices(ctx: _TrackCtx, path: str, spec: dict) -> list[dict]:
    if spec["type"] not in ("choice", "choices"):
        return []
    has_list, has_ref = "choices" in spec, "choices_from" in spec
    if has_list == has_ref:
        return [problem(path, "choices 或 choices_from 二者之一", "两者都有" if has_list else "两者都没有",
                        f"{ctx.name}选择题字段「{spec['label']}」应恰好给出 choices（选项列表）"
                        "或 choices_from: themes 之一；请改正。")]
    if has_ref and not ctx.themes:
        return [problem(f"{path}.choices_from", "非空的 themes", [],
                        f"{ctx.name}字段「{spec['label']}」的选项取自 themes，但活动没有定义 themes；"
                        "请在顶层写出主题列表。")]
    choices = ctx.themes if has_ref else spec["choices"]
    extra = [v for v in spec.get("choice_labels", {}) if v not in choices]
    if extra:
        return [problem(f"{path}.choice_labels", choices, extra,
                        f"{ctx.name}字段「{spec['label']}」的 choice_labels 含有不在选项中的值"
                        f"{show(extra)}；请删除或改为选项之一。")]
    return []


def _check_stages(ctx: _TrackCtx) -> list[dict]:
    problems = []
    fields, media = ctx.fields(), ctx.raw.get("media", {})
    for stage in ctx.raw.get("stages", []):
        path = f"{ctx.path}.stages.{stage['key']}"
        for key in stage.get("required_fields", []):
            if key not in fields:
                problems.append(problem(f"{path}.required_fields", sorted(fields), key,
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
            problems.append(problem(f"{ctx.path}.media.{kind}", f"media.{kind} 的媒体规则", None,
                                    f"{ctx.name}阶段「{stage['label']}」接收 {kind} 文件，但 media 中没有 "
                                    f"{kind} 的规则（大小上限、格式）；请补上。"))
        if spec.get("max") is not None and spec.get("min", 0) > spec["max"]:
            problems.append(problem(f"{path}.files.{kind}", f"min 不大于 max={spec['max']}", spec.get("min"),
                                    f"{ctx.name}阶段「{stage['label']}」的 {kind} 文件数下限大于上限；请调整。"))
    return problems


def _stage_deadlines(stage: dict, tz: ZoneInfo) -> dict[str, datetime]:
    """The stage's deadlines that parse, bottom to top; unparseable ones are reported elsewhere."""
    out = {}
    for level in DEADLINE_LEVELS:
        text = stage.get("deadlines", {}).get(level)
        try:
            out[level] = parse_deadline(text, tz)
        except (TypeError, ValueError):
            continue
    return out


def _check_deadline_values(ctx: _TrackCtx) -> list[dict]:
    problems = []
    for stage in ctx.raw.get("stages", []):
        for level, text in stage.get("deadlines", {}).items():
            if level in DEADLINE_LEVELS and isinstance(text, str) and re.match(DEADLINE_PATTERN, text):
                try:
                    parse_deadline(text, ctx.tz)
                except ValueError:
                    problems.append(problem(f"{ctx.path}.stages.{stage['key']}.deadlines.{level}",
                                            "存在的日期", text, f"{ctx.name}阶段「{stage['label']}」"
                                            f"{LEVEL_LABELS[level]}的截止时间「{text}」"
                                            "不是存在的日期或时刻；请改正。"))
    return problems


def _check_opening(ctx: _TrackCtx) -> list[dict]:
    """A stage opens before its first deadline: one that opens after it could never be submitted."""
    problems = []
    for stage in ctx.raw.get("stages", []):
        text = stage.get("opens")
        if not isinstance(text, str):
            continue
        path = f"{ctx.path}.stages.{stage['key']}.opens"
        try:
            opens = parse_opening(text, ctx.tz)
        except ValueError:
            problems.append(problem(path, "存在的日期", text, f"{ctx.name}阶段「{stage['label']}」的开放时间「{text}」"
                                    "不是存在的日期或时刻；请改正。"))
            continue
        deadlines = _stage_deadlines(stage, ctx.tz)
        first = min(deadlines.values(), default=None)
        if first is not None and opens >= first:
            problems.append(problem(path, f"早于 {iso(first)}", iso(opens),
                                    f"{ctx.name}阶段「{stage['label']}」{local_time(opens)}才开放，"
                                    f"但最早的截止时间是 {local_time(first)}，没有人能按时提交；"
                                    "请提前开放时间或推迟截止时间。"))
    return problems


def _check_deadline_order(ctx: _TrackCtx) -> list[dict]:
    """Within a stage a lower level's deadline falls strictly before its parent's."""
    problems = []
    for stage in ctx.raw.get("stages", []):
        deadlines = list(_stage_deadlines(stage, ctx.tz).items())
        for (low, low_at), (high, high_at) in zip(deadlines, deadlines[1:]):
            if low_at >= high_at:
                problems.append(problem(
                    f"{ctx.path}.stages.{stage['key']}.deadlines.{low}", f"早于 {iso(high_at)}", iso(low_at),
                    f"{ctx.name}阶段「{stage['label']}」：{LEVEL_LABELS[low]}的截止时间应早于"
                    f"{LEVEL_LABELS[high]}的（{local_time(high_at)}），因为下级提交后上级才能择优上报；"
                    f"现为 {local_time(low_at)}。请提前{LEVEL_LABELS[low]}的截止时间。"))
    return problems


def _check_stage_sequence(ctx: _TrackCtx) -> list[dict]:
    """A stage closes, at every level, no later than the stages after it: a registration for a video cannot
    stay open once the video is due. Compared where each level's work is really due (its own deadline or the
    nearest above), so a registration with only the university's date is caught against a college's video date."""
    problems = []
    stages = ctx.raw.get("stages", [])
    parsed = [_stage_deadlines(stage, ctx.tz) for stage in stages]
    for index, stage in enumerate(stages):
        for level in DEADLINE_LEVELS:
            moment = effective_at(parsed[index], level)
            # judged where either stage names the level: below it the same two dates meet again
            later = [(stages[j], effective_at(parsed[j], level)) for j in range(index + 1, len(stages))
                     if level in parsed[index] or level in parsed[j]]
            broken = [(s, at) for s, at in later if moment is not None and at is not None and at < moment]
            if not broken:
                continue
            other, at = broken[0]
            own = level in parsed[index]
            where = (f"阶段「{stage['label']}」{LEVEL_LABELS[level]}的截止时间（{local_time(moment)}）" if own else
                     f"阶段「{stage['label']}」对{LEVEL_LABELS[level]}没有自己的截止时间，沿用上级的（{local_time(moment)}），")
            problems.append(problem(
                f"{ctx.path}.stages.{stage['key']}.deadlines.{level}", f"不晚于 {iso(at)}", iso(moment),
                f"{ctx.name}：{where}晚于后面阶段「{other['label']}」{LEVEL_LABELS[level]}的截止时间（{local_time(at)}），"
                f"阶段要按顺序完成；请给阶段「{stage['label']}」设{LEVEL_LABELS[level]}截止时间，不晚于 {local_time(at)}"
                "，或推后后一阶段的截止时间。"))
    return problems


def _check_quota(ctx: _TrackCtx) -> list[dict]:
    problems = []
    submit, quota_field = ctx.raw.get("submit_levels", []), ctx.raw.get("quota_field")
    choices = _quota_choices(ctx, problems) if quota_field is not None else None
    for level, value in ctx.raw.get("quota", {}).items():
        path = f"{ctx.path}.quota.{level}"
        if level not in submit:
            problems.append(problem(path, submit, level,
                                    f"{ctx.name}给{LEVEL_LABELS.get(level, level)}设了配额，但该层级不提交作品"
                                    f"（submit_levels：{'、'.join(submit)}）；请删除该配额或改 submit_levels。"))
        problems += _check_quota_shape(ctx, path, value, quota_field, choices)
    return problems


def _quota_choices(ctx: _TrackCtx, problems: list[dict]) -> list[str] | None:
    key = ctx.raw["quota_field"]
    spec = ctx.fields().get(key)
    if spec is None or spec.get("type") != "choice":
        problems.append(problem(f"{ctx.path}.quota_field", "本赛道的一个选择题字段", key,
                                f"{ctx.name}按「{key}」分项计配额，但它不是本赛道的选择题字段；"
                                "请指向一个 type: choice 的字段。"))
        return None
    if not spec.get("required"):
        problems.append(problem(f"{ctx.path}.fields.{key}.required", True, spec.get("required", False),
                                f"{ctx.name}按「{spec['label']}」分项计配额，该字段必须必填，"
                                "否则不填就能绕过配额；请设 required: true。"))
    return ctx.themes if spec.get("choices_from") == "themes" else spec.get("choices", [])


def _check_quota_shape(ctx, path: str, value: Any, quota_field: str | None, choices) -> list[dict]:
    if quota_field is None and isinstance(value, dict):
        return [problem(path, "整数", value, f"{ctx.name}的配额按值分项，但没有设 quota_field；"
                        "请设 quota_field 或把配额写成一个整数。")]
    if quota_field is not None and not isinstance(value, dict):
        return [problem(path, f"按「{quota_field}」取值分项的映射", value,
                        f"{ctx.name}设了 quota_field「{quota_field}」，配额应写成 {{取值: 数量}}；请改写。")]
    unknown = [v for v in (value if isinstance(value, dict) else {}) if choices is not None and v not in choices]
    if unknown:
        return [problem(path, choices, unknown, f"{ctx.name}的配额含有「{quota_field}」没有的取值"
                        f"{show(unknown)}（可选：{'、'.join(choices)}）；请改正。")]
    return []


def _check_forward(ctx: _TrackCtx) -> list[dict]:
    """Only a level at or above the lowest submitting level has anything to forward."""
    submit = [lvl for lvl in ctx.raw.get("submit_levels", []) if lvl in LEVELS]
    if not submit:
        return []
    lowest = min(LEVELS.index(lvl) for lvl in submit)
    return [
        problem(f"{ctx.path}.forward.{level}", f"{LEVELS[lowest]} 或更高层级", level,
                f"{ctx.name}：{LEVEL_LABELS[level]}下面没有提交作品的组织，无作品可报送；"
                "请删除该项或改 submit_levels。")
        for level in ctx.raw.get("forward", {}) if level in LEVELS and LEVELS.index(level) < lowest
    ]


def _check_decision(ctx: _TrackCtx) -> list[dict]:
    """Where the selection ends: above every submitting level, with nothing forwarded or due from there up,
    and the settings its kind needs (and no other kind's)."""
    raw = ctx.raw.get("decision") or {}
    level, kind = raw.get("level", DEFAULT_DECISION_LEVEL), raw.get("kind", "select")
    if level not in LEVELS or kind not in DECISION_KINDS:
        return []  # the schema reported it
    path, top = f"{ctx.path}.decision", LEVELS.index(level)
    problems = []
    submit = [lvl for lvl in ctx.raw.get("submit_levels", []) if lvl in LEVELS]
    # a work is first weighed at common.levels.first_round_level of its org: a branch's by its level-2 org, a level-2
    # org's and a university party committee's own by the university, so the deciding level is at least that
    unweighed = [lvl for lvl in submit if lvl != "ministry" and LEVELS.index(first_round_level(lvl)) > top]
    if unweighed:
        first = max((first_round_level(lvl) for lvl in unweighed), key=LEVELS.index)
        problems.append(problem(f"{path}.level", f"{first} 或更高层级", level,
                                f"{ctx.name}由{LEVEL_LABELS[level]}最终评定，但"
                                f"{'、'.join(LEVEL_LABELS[lvl] for lvl in unweighed)}提交的作品要到{LEVEL_LABELS[first]}"
                                "才评选，没有人评它们；请把 decision.level 设为更高的层级，或改 submit_levels。"))
    for above in (lvl for lvl in ctx.raw.get("forward", {}) if lvl in LEVELS and LEVELS.index(lvl) >= top):
        problems.append(problem(f"{ctx.path}.forward.{above}", f"低于{LEVEL_LABELS[level]}的层级", above,
                                f"{ctx.name}在{LEVEL_LABELS[level]}最终评定，{LEVEL_LABELS[above]}不再向上报送；"
                                f"请删除 forward.{above}。"))
    for stage in ctx.raw.get("stages", []):
        for above in (lvl for lvl in stage.get("deadlines", {}) if lvl in LEVELS and LEVELS.index(lvl) >= top):
            problems.append(problem(
                f"{ctx.path}.stages.{stage.get('key')}.deadlines.{above}", f"低于{LEVEL_LABELS[level]}的层级", above,
                f"{ctx.name}在{LEVEL_LABELS[level]}最终评定，截止时间是下级向上提交或报送的时间，"
                f"{LEVEL_LABELS[above]}不再向上报送；请删除阶段「{stage.get('label')}」的 deadlines.{above}。"))
    return problems + _check_decision_kind(ctx, path, raw, kind)


def _check_decision_kind(ctx: _TrackCtx, path: str, raw: dict, kind: str) -> list[dict]:
    problems = []
    name = DECISION_KINDS[kind]
    if kind == "publicity" and "publicity_days" not in raw:
        problems.append(problem(f"{path}.publicity_days", "公示天数（1–30 的整数）", None,
                                f"{ctx.name}以公示结束，须写公示期：请补上 decision.publicity_days。"))
    if kind != "publicity" and "publicity_days" in raw:
        problems.append(problem(f"{path}.publicity_days", None, raw["publicity_days"],
                                f"{ctx.name}的结果是「{name}」，不公示；请删除 publicity_days，或把 kind 改为 publicity。"))
    if kind != "award" and "category_field" in raw:
        problems.append(problem(f"{path}.category_field", None, raw["category_field"],
                                f"{ctx.name}的结果是「{name}」，不分类别表彰；请删除 category_field，或把 kind 改为 award。"))
    rubric = ctx.raw.get("rubric", [])
    if kind == "vetting" and rubric:
        problems.append(problem(f"{ctx.path}.rubric", [], [c.get("key") for c in rubric],
                                f"{ctx.name}以审核把关结束（逐件通过或不通过），不打分；请删除 rubric，"
                                "或把 decision.kind 改为评分排序的一种（select、award、publicity、library）。"))
    if "decision" in ctx.raw and judged(rubric, kind) != SCORED and kind != "vetting":
        problems.append(problem(f"{ctx.path}.rubric", "至少一项评分标准", [],
                                f"{ctx.name}没有评分细则，作品只收集、列出，不进入评审，"
                                f"也就谈不上「{name}」；请补上 rubric，或把 decision.kind 改为 vetting（审核把关），"
                                "或删除 decision。"))
    return problems + _check_places(ctx, path, raw)


def _check_places(ctx: _TrackCtx, path: str, raw: dict) -> list[dict]:
    places, key = raw.get("places"), raw.get("category_field")
    problems, choices = [], None
    if key is not None:
        spec = ctx.fields().get(key)
        if spec is None or spec.get("type") != "choice":
            problems.append(problem(f"{path}.category_field", "本赛道的一个选择题字段", key,
                                    f"{ctx.name}按「{key}」分类别表彰，但它不是本赛道的选择题字段；"
                                    "请指向一个 type: choice 的字段（如 category）。"))
        else:
            if not spec.get("required"):
                problems.append(problem(f"{ctx.path}.fields.{key}.required", True, spec.get("required", False),
                                        f"{ctx.name}按「{spec['label']}」分类别表彰，该字段必须必填，"
                                        "否则作品没有类别；请设 required: true。"))
            choices = ctx.themes if spec.get("choices_from") == "themes" else spec.get("choices", [])
    if isinstance(places, dict):
        if key is None:
            problems.append(problem(f"{path}.places", "整数", places,
                                    f"{ctx.name}的名额按类别分项，但没有设 category_field；"
                                    "请设 category_field，或把名额写成一个整数。"))
        unknown = [v for v in places if choices is not None and v not in choices]
        if unknown:
            problems.append(problem(f"{path}.places", choices, unknown,
                                    f"{ctx.name}的名额含有「{key}」没有的类别{show(unknown)}"
                                    f"（可选：{'、'.join(choices)}）；请改正。"))
    return problems


def _check_rubric(ctx: _TrackCtx) -> list[dict]:
    rubric = ctx.raw.get("rubric", [])
    total = sum(c["weight"] for c in rubric)
    if rubric and not math.isclose(total, 100):
        weights = "+".join(f"{c['label']}{c['weight']}" for c in rubric)
        return [problem(f"{ctx.path}.rubric", 100, total,
                        f"{ctx.name}评分细则的权重之和应为100，现为{show(total)}（{weights}）；请调整权重。")]
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
        return [problem(f"{path}.fact", sorted(facts), fact,
                        f"{ctx.name}的 {kind} 规则用了未知的检测项「{fact}」{guess}；"
                        f"{kind} 文件可检测：{'、'.join(facts)}。请改正。")]
    fact_type = facts[fact].type
    if op not in OPS_FOR_TYPE[fact_type]:
        return [problem(f"{path}.op", list(OPS_FOR_TYPE[fact_type]), op,
                        f"{ctx.name}的 {kind} 规则：{fact} 是{TYPE_NAMES[fact_type]}，只能用 "
                        f"{'、'.join(OPS_FOR_TYPE[fact_type])} 比较，现为 {op}；请换运算符。")]
    if not value_fits(op, value, fact_type):
        shape = value_shape(op, fact_type)
        return [problem(f"{path}.value", shape, value,
                        f"{ctx.name}的 {kind} 规则 {fact} {op} 的取值应为{shape}，现为 {show(value)}；"
                        "请改正取值。")]
    return []


def _check_recurrence(ctx: _TrackCtx) -> list[dict]:
    """A recurring track: its months in order, a required date field that names each record's month, and no stage
    deadlines (each period's due day is the deadline; a stage date would contradict it in every month but one)."""
    raw = ctx.raw.get("recurrence")
    if not isinstance(raw, dict):
        return []
    path, problems = f"{ctx.path}.recurrence", []
    first, last = raw.get("first"), raw.get("last")
    months = [m for m in (first, last) if isinstance(m, str) and re.match(MONTH_PATTERN, m)]
    if len(months) == 2 and first > last:  # a month written otherwise is the schema's to report
        problems.append(problem(f"{path}.first", f"不晚于 last={last}", first,
                                f"{ctx.name}按期开展，首期（{first}）晚于末期（{last}），一期也没有；请调换或改正。"))
    key, stages = raw.get("field"), ctx.raw.get("stages", [])
    spec = ctx.fields().get(key)
    if spec is None or spec.get("type") != "date":
        problems.append(problem(f"{path}.field", "本赛道的一个日期字段", key,
                                f"{ctx.name}按「{key}」所在的月份确定每条记录属于哪一期，但它不是本赛道的日期字段"
                                "（type: date）；请指向如 held_on（召开日期）的日期字段。"))
    elif stages and key not in stages[0].get("required_fields", []):
        problems.append(problem(f"{ctx.path}.stages.{stages[0].get('key')}.required_fields", key, None,
                                f"{ctx.name}按「{spec.get('label')}」确定每条记录属于哪一期，提交时必须填写；"
                                f"请把 {key} 加入第一个阶段的 required_fields。"))
    for stage in stages:
        if stage.get("deadlines"):
            problems.append(problem(f"{ctx.path}.stages.{stage.get('key')}.deadlines", {}, stage["deadlines"],
                                    f"{ctx.name}按期开展，每期的截止时间由 recurrence.due_day（未设则为当月最后一天）决定，"
                                    f"阶段「{stage.get('label')}」另设的截止时间与之矛盾；请删除该阶段的 deadlines。"))
    return problems


def _choice_values(ctx: _TrackCtx, key: str | None) -> list | None:
    """The values of the track's choice field `key`; None: `key` names no choice field."""
    spec = ctx.fields().get(key) if isinstance(key, str) else None
    if spec is None or spec.get("type") != "choice":
        return None
    return ctx.themes if spec.get("choices_from") == "themes" else spec.get("choices", [])


def _check_required_when(ctx: _TrackCtx) -> list[dict]:
    """A file a choice requires (工作案例需附文档) names a choice field of the track and values it offers, and may be
    uploaded at all."""
    problems = []
    for stage in ctx.raw.get("stages", []):
        for spec in stage.get("files", []):
            path = f"{ctx.path}.stages.{stage['key']}.files.{spec['kind']}.required_when"
            where = f"{ctx.name}阶段「{stage['label']}」的 {spec['kind']} 文件"
            for key, values in (spec.get("required_when") or {}).items():
                choices = _choice_values(ctx, key)
                if choices is None:
                    problems.append(problem(f"{path}.{key}", "本赛道的一个选择题字段", key,
                                            f"{where}按「{key}」的取值要求上传，但「{key}」不是本赛道的选择题字段；"
                                            "请指向一个 type: choice 的字段（如 form）。"))
                    continue
                unknown = [v for v in values if v not in choices]
                if unknown:
                    problems.append(problem(f"{path}.{key}", choices, unknown,
                                            f"{where}的 required_when 含有「{key}」没有的取值{show(unknown)}"
                                            f"（可选：{'、'.join(choices)}）；请改正。"))
            if spec.get("required_when") and spec.get("max") == 0:
                problems.append(problem(f"{path}", "max 不为 0", 0, f"{where}有时必须上传，却最多 0 个，无人能满足；"
                                        "请删除 max: 0 或 required_when。"))
    return problems


def _check_quota_items(ctx: _TrackCtx) -> list[dict]:
    """A quota counted in files (「10件左右图片和音视频素材」) names values of quota_field and kinds the track takes."""
    raw = ctx.raw.get("quota_items") or {}
    if not raw:
        return []
    path, key = f"{ctx.path}.quota_items", ctx.raw.get("quota_field")
    if key is None:
        return [problem(path, "quota_field", None, f"{ctx.name}按文件件数计配额（quota_items），但没有设 quota_field；"
                        "请设 quota_field（如 form），按它的取值分项计。")]
    choices = _choice_values(ctx, key)  # a quota_field that is no choice field is reported by _check_quota
    accepted = {f.get("kind") for s in ctx.raw.get("stages", []) for f in s.get("files", [])}
    problems = []
    for value, kinds in raw.items():
        if choices is not None and value not in choices:
            problems.append(problem(f"{path}.{value}", choices, value,
                                    f"{ctx.name}的 quota_items 含有「{key}」没有的取值「{value}」"
                                    f"（可选：{'、'.join(choices)}）；请改正。"))
        unknown = [k for k in kinds if k not in accepted]
        if unknown:
            problems.append(problem(f"{path}.{value}", sorted(accepted), unknown,
                                    f"{ctx.name}按{show(unknown)}文件计「{value}」的件数，但本赛道的阶段不接收这种文件；"
                                    "请改正，或在阶段的 files 中加上。"))
    return problems


_TRACK_CHECKS: tuple[Callable[[_TrackCtx], list[dict]], ...] = (
    _check_unique_keys, _check_fields, _check_stages, _check_deadline_values, _check_opening, _check_deadline_order,
    _check_stage_sequence, _check_quota, _check_forward, _check_decision, _check_rubric, _check_media,
    _check_required_when, _check_quota_items,
    _check_recurrence,
)
