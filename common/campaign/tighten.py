"""A derived copy may only tighten its parent: `check_tightens` and the decision for every key.

A university's copy of a ministry campaign (``derives_from``) keeps every track, field, stage and
media rule its parent has, and may only make them stricter: earlier deadlines, smaller quotas, more
required fields, narrower media rules at least as severe, never less blind. `check_tightens` raises
``campaign_loosens_parent`` naming every place where the copy is looser, media rules by fact (the
parent's rule that is no longer implied).
"""
from __future__ import annotations

from datetime import datetime

from common.campaign.media_rules import implies
from common.campaign.model import (
    COLLECTED,
    DEADLINE_LEVELS,
    CampaignDefinition,
    FieldSpec,
    FileRequirement,
    MediaPolicy,
    MediaRule,
    Stage,
    Track,
    effective_at,
)
from common.campaign.wording import CAMPAIGN_LOOSENS_PARENT, fail, iso, levels, local_time, problem, show, size
from common.levels import LEVELS, parent_level
from common.locale import CATEGORY_LABELS, LEVEL_LABELS

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
LATER = "later"  # an opening: not earlier than the parent's, and not dropped
STAYS_TRUE = "stays_true"  # true in the parent stays true (a requirement, a blindness setting)
IMPLIED = "implied"  # each parent media rule is implied by a child rule at least as severe and narrow

TIGHTENING: dict[str, tuple[str, str]] = {
    "id": (FREE, "the copy's own name"),
    "title": (FREE, "a label"),
    "short_title": (FREE, "a label"),
    "timezone": (FREE, "deadlines are compared as moments, whatever zone they are written in"),
    "derives_from": (SAME, "names the parent it is checked against"),
    "themes": (SUBSET, "themes are the options of choice fields"),
    "contacts": (FREE, "each issuer names its own 联系人"),
    "contacts[].name": (FREE, "see contacts"),
    "contacts[].department": (FREE, "see contacts"),
    "contacts[].phone": (FREE, "see contacts"),
    "contacts[].email": (FREE, "see contacts"),
    "notice": (FREE, "each issuer's notice is its own text"),
    "audience": (SUBSET, "a copy is for no university its parent is not for; without one it has its parent's"),
    "audience.categories": (SUBSET, "only categories the parent names (a copy's audience replaces the parent's whole)"),
    "audience.universities": (SUBSET, "only universities the parent names: whether a named one is in a parent's "
                              "category is not known to the format"),
    "tracks": (KEPT, "every required track of the parent stays; a copy may leave out an optional one and add its own"),
    "tracks.*": (KEPT, "judged key by key below; a track of the copy's own ends where the parent cannot receive it"),
    "tracks.*.required": (STAYS_TRUE, "a track the parent requires stays required"),
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
    "tracks.*.fields[].min_date": (AT_LEAST, "the earliest day a date may name: not earlier than the parent's"),
    "tracks.*.fields[].max_date": (AT_MOST, "the latest day a date may name: not later than the parent's"),
    "tracks.*.fields[].min_value": (AT_LEAST, "the smallest number accepted"),
    "tracks.*.fields[].max_value": (AT_MOST, "the largest number accepted"),
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
    "tracks.*.stages[].files[].required_when": (KEPT, "a file a choice requires stays required (工作案例需附文档)"),
    "tracks.*.stages[].files[].required_when.*": (SUPERSET, "required for at least the parent's values"),
    "tracks.*.stages[].deadlines": (EARLIER, "judged level by level below"),
    "tracks.*.stages[].deadlines.*": (EARLIER, "a level's deadline"),
    "tracks.*.stages[].opens": (LATER, "a copy may open a stage later (its own notice goes out later), never earlier"),
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
    "tracks.*.quota_items": (KEPT, "a quota the parent counts in files stays counted in files"),
    "tracks.*.quota_items.*": (SUPERSET, "at least the parent's file kinds are counted: fewer would let more through"),
    "tracks.*.forward": (AT_MOST, "judged level by level below"),
    "tracks.*.forward.*": (AT_MOST, "works a level forwards upward"),
    "tracks.*.decision": (KEPT, "judged key by key below"),
    "tracks.*.decision.level": (SAME, "the level whose choice is final: a copy cannot stop short of it or go past it"),
    "tracks.*.decision.kind": (SAME, "what the final choice is (an award, a 公示, entry into a library…)"),
    "tracks.*.decision.label": (FREE, "the result's name"),
    "tracks.*.decision.places": (AT_MOST, "how many the deciding level may choose"),
    "tracks.*.decision.places.*": (AT_MOST, "places per category"),
    "tracks.*.decision.category_field": (SAME, "the category is read from the parent's field"),
    "tracks.*.decision.publicity_days": (AT_LEAST, "a 公示期 only gets longer: people have at least the parent's time "
                                         "to object"),
    "tracks.*.rubric": (FREE, "the copy's own reviewers' instrument; the national round scores with the "
                        "ministry's rubric (the round's campaign)"),
    "tracks.*.rubric[].key": (FREE, "see rubric"),
    "tracks.*.rubric[].label": (FREE, "see rubric"),
    "tracks.*.rubric[].weight": (FREE, "see rubric"),
    "tracks.*.rubric[].max": (FREE, "see rubric"),
    "tracks.*.recurrence": (SAME, "neither dropped (a monthly record would become one record) nor added (the quota "
                            "would count per period, not in all)"),
    "tracks.*.recurrence.first": (SAME, "the parent's months are the records it expects"),
    "tracks.*.recurrence.last": (SAME, "the parent's months are the records it expects"),
    "tracks.*.recurrence.field": (SAME, "a record's month is read from the parent's date field"),
    "tracks.*.recurrence.due_day": (AT_MOST, "a college may want its branches' records earlier in the month, never "
                                    "later; without one the parent's month closes on its last day"),
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
            if mine.required:
                problems.append(problem(f"tracks.{key}", key, None,
                                        f"上级活动要求开展赛道「{mine.label}」，派生活动不能删掉；请补回 tracks.{key}。"))
            continue  # an optional track the copy does not run
        if mine.required and not theirs.required:
            problems.append(problem(f"tracks.{key}.required", True, False,
                                    f"上级活动要求开展赛道「{mine.label}」，派生活动不能改为选做；请删除 required: false。"))
        for check in _TIGHTEN_CHECKS:
            problems += check(f"tracks.{key}", mine, theirs)
    for key in sorted(child.tracks.keys() - parent.tracks.keys()):
        problems += _own_track(parent, key, child.tracks[key])
    if problems:
        fail(CAMPAIGN_LOOSENS_PARENT,
             f"派生活动「{child.id}」有{{n}}处比上级活动「{parent.id}」宽松（派生活动只能收紧）", problems)


def _own_track(parent: CampaignDefinition, key: str, track: Track) -> list[dict]:
    """A track of the copy's own (WUST's 红色防火墙台账) is the copy's business, but it cannot be forwarded to where the
    parent runs no such track: it is collected, or its selection ends below the parent's deciding levels."""
    tops = {t.decision.level for t in parent.tracks.values()}
    if track.judged == COLLECTED or track.decision.level not in tops:
        return []
    below = [lv for lv in LEVELS if LEVELS.index(lv) < LEVELS.index(track.decision.level)
             and LEVELS.index(lv) > max(LEVELS.index(s) for s in track.submit_levels)]
    return [problem(f"tracks.{key}.decision.level", below, track.decision.level,
                    f"赛道「{track.label}」是派生活动自己新增的，上级活动「{parent.id}」没有这个赛道，"
                    f"作品不能报送到{LEVEL_LABELS[track.decision.level]}；请写 decision: {{level: "
                    f"{below[-1] if below else 'university'}, kind: …}}，在本单位最终评定。")]


def _tighten_top(parent: CampaignDefinition, child: CampaignDefinition) -> list[dict]:
    problems = []
    if child.derives_from != parent.id:
        problems.append(problem("derives_from", parent.id, child.derives_from,
                                f"派生活动应写 derives_from: {parent.id}，现为 {child.derives_from}；请改正。"))
    problems += _tighten_audience(parent, child)
    extra = [t for t in child.themes if t not in parent.themes]
    if extra:
        problems.append(problem("themes", parent.themes, extra,
                                f"派生活动不能新增上级没有的主题{show(extra)}（主题是选择题的选项）；请删除。"))
    return problems


def _tighten_audience(parent: CampaignDefinition, child: CampaignDefinition) -> list[dict]:
    """A copy's audience, when it names one, replaces its parent's: each of its lists may only hold what the
    parent's same list holds (a copy naming categories under a parent naming universities only would widen it)."""
    mine, theirs = parent.audience, child.audience
    if mine is None or theirs is None:
        return []
    problems = []
    for key, wording in (("categories", lambda vs: "、".join(CATEGORY_LABELS.get(v, v) for v in vs)),
                         ("universities", lambda vs: "、".join(vs))):
        allowed = getattr(mine, key) or ()
        extra = [v for v in getattr(theirs, key) or () if v not in allowed]
        if extra:
            problems.append(problem(f"audience.{key}", list(allowed), extra,
                                    f"上级活动「{parent.id}」面向{mine.describe()}，派生活动的受众不能扩大到"
                                    f"{wording(extra)}；请删除，或删去 audience（派生活动沿用上级活动的受众）。"))
    return problems


def _tighten_track_flags(path: str, parent: Track, child: Track) -> list[dict]:
    problems = []
    extra = [lvl for lvl in child.submit_levels if lvl not in parent.submit_levels]
    if extra:
        problems.append(problem(f"{path}.submit_levels", parent.submit_levels, child.submit_levels,
                                f"赛道「{parent.label}」上级只允许{levels(parent.submit_levels)}提交，"
                                f"派生活动新增了{levels(extra)}；请删除。"))
    if parent.naming_rule and not child.naming_rule:
        problems.append(problem(f"{path}.naming_rule", True, False,
                                f"赛道「{parent.label}」上级要求按「党组织名称+作品名称」命名，"
                                "派生活动不能取消；请设 naming_rule: true。"))
    if parent.quota_field is not None and child.quota_field != parent.quota_field:
        problems.append(problem(f"{path}.quota_field", parent.quota_field, child.quota_field,
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
            problems.append(problem(where, mine.key, None, f"赛道「{parent.label}」的字段「{mine.label}」"
                                    "是上级定义的，派生活动不能删掉；请补回。"))
            continue
        problems += _tighten_field(where, parent.label, mine, spec)
    return problems


def _tighten_field(where: str, track: str, mine: FieldSpec, spec: FieldSpec) -> list[dict]:
    name = f"赛道「{track}」字段「{mine.label}」"
    problems = []
    if mine.identifying and not spec.identifying:
        # reviewers score blind: a copy that shows 主讲人 would show them to national reviewers too
        problems.append(problem(f"{where}.identifying", True, False,
                                f"{name}在上级活动中标为识别身份的字段（identifying: true，评审专家看不到），"
                                "派生活动不能取消隐藏；请设 identifying: true。"))
    if spec.type != mine.type:
        return problems + [problem(f"{where}.type", mine.type, spec.type,
                                   f"{name}的类型应保持上级的 {mine.type}，现为 {spec.type}；请改回。")]
    if mine.required and not spec.required:
        problems.append(problem(f"{where}.required", True, False,
                                f"{name}上级要求必填，派生活动不能改为选填；请设 required: true。"))
    for rule, stricter in (("max_chars", "le"), ("max_items", "le"), ("max_date", "le"), ("max_value", "le"),
                           ("min_chars", "ge"), ("min_items", "ge"), ("min_date", "ge"), ("min_value", "ge")):
        problems += _tighten_bound(f"{where}.{rule}", name, rule, getattr(mine, rule),
                                   getattr(spec, rule), stricter)
    # Both taking their choices from themes: an added theme is reported once, at `themes`.
    from_themes = mine.choices_from == spec.choices_from == "themes"
    extra = [c for c in (spec.choices or []) if mine.choices is not None and c not in mine.choices]
    if extra and not from_themes:
        problems.append(problem(f"{where}.choices", mine.choices, extra,
                                f"{name}新增了上级没有的选项{show(extra)}；请删除。"))
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
    return [problem(where, wanted, theirs, f"{name}的 {rule} 上级为 {mine}，派生活动应{wanted}，"
                    f"现为{found}；请改为{wanted}。")]


def _tighten_stages(path: str, parent: Track, child: Track) -> list[dict]:
    problems = []
    theirs = {stage.key: stage for stage in child.stages}
    for mine in parent.stages:
        stage = theirs.get(mine.key)
        where = f"{path}.stages.{mine.key}"
        if stage is None:
            problems.append(problem(where, mine.key, None, f"赛道「{parent.label}」的阶段「{mine.label}」"
                                    "是上级定义的，派生活动不能删掉；请补回。"))
            continue
        problems += _tighten_required(where, parent, mine, stage)
        problems += _tighten_files(where, parent, mine, stage)
        problems += _tighten_deadlines(where, parent, mine, stage)
        problems += _tighten_opening(where, parent, mine, stage)
    order = [key for key in (s.key for s in child.stages) if key in {s.key for s in parent.stages}]
    if len(order) == len(parent.stages) and order != [s.key for s in parent.stages]:
        problems.append(problem(f"{path}.stages", [s.key for s in parent.stages], order,
                                f"赛道「{parent.label}」的阶段顺序应与上级一致；请调整顺序。"))
    return problems


def _tighten_required(where: str, track: Track, mine: Stage, stage: Stage) -> list[dict]:
    missing = [key for key in mine.required_fields if key not in stage.required_fields]
    if not missing:
        return []
    return [problem(f"{where}.required_fields", mine.required_fields, stage.required_fields,
                    f"赛道「{track.label}」阶段「{mine.label}」上级要求填写{show(missing)}，"
                    "派生活动不能去掉；请补回 required_fields。")]


def _tighten_files(where: str, track: Track, mine: Stage, stage: Stage) -> list[dict]:
    name = f"赛道「{track.label}」阶段「{mine.label}」"
    theirs = {f.kind: f for f in stage.files}
    problems = [_tighten_file(f"{where}.files.{need.kind}", name, need, theirs.get(need.kind))
                for need in mine.files]
    for kind in sorted(theirs.keys() - {f.kind for f in mine.files}):
        problems.append(problem(f"{where}.files.{kind}", [f.kind for f in mine.files], kind,
                                f"{name}上级不接收 {kind} 文件，派生活动不能新增；请删除。"))
    return [p for p in problems if p is not None]


def _tighten_file(path: str, name: str, need: FileRequirement, have: FileRequirement | None) -> dict | None:
    if have is None:
        if need.min == 0:
            return None  # dropping an optional kind only forbids it: stricter
        return problem(path, need.to_dict(), None, f"{name}上级要求至少 {need.min} 个 {need.kind} 文件，"
                       "派生活动不能去掉；请补回。")
    within_max = need.max is None or (have.max is not None and have.max <= need.max)
    if have.min >= need.min and within_max:
        return None
    limit = "不限" if need.max is None else need.max
    return problem(path, need.to_dict(), have.to_dict(),
                   f"{name}的 {need.kind} 文件数上级为 {need.min}–{limit}，派生活动只能提高下限、"
                   "降低上限；请改正。")


def _tighten_deadlines(where: str, track: Track, mine: Stage, stage: Stage) -> list[dict]:
    problems = []
    name = f"赛道「{track.label}」阶段「{mine.label}」"
    for level in DEADLINE_LEVELS:
        ours, theirs = mine.deadlines.get(level), stage.deadlines.get(level)
        path = f"{where}.deadlines.{level}"
        if ours is not None and (theirs is None or theirs > ours):
            found = "未设" if theirs is None else local_time(theirs)
            problems.append(problem(path, f"不晚于 {iso(ours)}", iso(theirs) if theirs else None,
                                    f"{name}{LEVEL_LABELS[level]}的截止时间上级为 {local_time(ours)}，派生活动只能提前，"
                                    f"现为{found}；请改为不晚于 {local_time(ours)}。"))
        elif ours is None and theirs is not None:
            problems += _tighten_added_deadline(path, name, mine, level, theirs)
    return problems


def _tighten_opening(where: str, track: Track, mine: Stage, stage: Stage) -> list[dict]:
    if mine.opens is None or (stage.opens is not None and stage.opens >= mine.opens):
        return []
    found = "未设（发布即开放）" if stage.opens is None else local_time(stage.opens)
    return [problem(f"{where}.opens", f"不早于 {iso(mine.opens)}", iso(stage.opens) if stage.opens else None,
                    f"赛道「{track.label}」阶段「{mine.label}」上级 {local_time(mine.opens)} 才开放，派生活动不能提前，"
                    f"现为{found}；请改为不早于 {local_time(mine.opens)}。")]


def _tighten_added_deadline(path: str, name: str, mine: Stage, level: str, theirs: datetime) -> list[dict]:
    """A deadline the parent leaves open must still fall before the parent's level above."""
    above = parent_level(level)
    limit = effective_at(mine.deadlines, above) if above else None
    if limit is None or theirs < limit:
        return []
    return [problem(path, f"早于 {iso(limit)}", iso(theirs),
                    f"{name}新增的{LEVEL_LABELS[level]}截止时间（{local_time(theirs)}）应早于上级活动中"
                    f"{LEVEL_LABELS[above]}的截止时间（{local_time(limit)}）；请提前。")]


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
            return [problem(where, mine, theirs, f"赛道「{track}」{what}上级按取值分项 {show(mine)}，"
                            "派生活动应同样分项且每项不超过上级；请改写。")]
        problems = []
        for value, count in mine.items():
            problems += _tighten_count(f"{where}.{value}", track, what, count, theirs.get(value))
        return problems
    if isinstance(theirs, int) and theirs <= mine:
        return []
    found = "未设（不限）" if theirs is None else show(theirs)
    return [problem(where, f"不大于 {mine}", theirs, f"赛道「{track}」{what}上级为 {mine}，派生活动只能"
                    f"不大于它，现为{found}；请改为不大于 {mine}。")]


def _tighten_decision(path: str, parent: Track, child: Track) -> list[dict]:
    mine, theirs, where = parent.decision, child.decision, f"{path}.decision"
    problems = []
    for name, what in (("level", "最终评定的层级"), ("kind", "评定结果"), ("category_field", "表彰类别字段")):
        if getattr(mine, name) != getattr(theirs, name):
            problems.append(problem(f"{where}.{name}", getattr(mine, name), getattr(theirs, name),
                                    f"赛道「{parent.label}」的{what}上级为 {show(getattr(mine, name))}，"
                                    f"派生活动应保持一致，现为 {show(getattr(theirs, name))}；请改回。"))
    if mine.places is not None:
        problems += _tighten_count(f"{where}.places", parent.label, "名额", mine.places, theirs.places)
    if mine.publicity_days is not None and (theirs.publicity_days or 0) < mine.publicity_days:
        problems.append(problem(f"{where}.publicity_days", f"不少于 {mine.publicity_days}", theirs.publicity_days,
                                f"赛道「{parent.label}」的公示期上级为 {mine.publicity_days} 天，派生活动只能更长，"
                                f"现为 {theirs.publicity_days or '未设'}；请改为不少于 {mine.publicity_days} 天。"))
    return problems


def _tighten_media(path: str, parent: Track, child: Track) -> list[dict]:
    problems = []
    for kind, mine in parent.media.items():
        where = f"{path}.media.{kind}"
        theirs = child.media.get(kind)
        if theirs is None:
            problems.append(problem(where, mine.to_dict(), None, f"赛道「{parent.label}」上级有 {kind} 文件的"
                                    "媒体规则，派生活动不能删掉；请补回。"))
            continue
        if mine.max_bytes is not None and (theirs.max_bytes is None or theirs.max_bytes > mine.max_bytes):
            problems.append(problem(f"{where}.max_bytes", f"不大于 {mine.max_bytes}", theirs.max_bytes,
                                    f"赛道「{parent.label}」{kind} 文件的大小上限上级为 "
                                    f"{size(mine.max_bytes)}，派生活动只能更小，现为"
                                    f"{size(theirs.max_bytes)}；请改为不大于 {mine.max_bytes}。"))
        for rule in mine.rules:
            if not any(implies(candidate, rule) for candidate in theirs.rules):
                problems.append(_lost_rule(f"{where}.rules.{rule.fact}", parent.label, kind, rule, theirs))
    return problems


def _lost_rule(where: str, track: str, kind: str, rule: MediaRule, theirs: MediaPolicy) -> dict:
    same_fact = [r.describe() for r in theirs.rules if r.fact == rule.fact]
    found = "；".join(same_fact) or "无"
    return problem(where, rule.describe(), same_fact or None,
                   f"赛道「{track}」{kind} 文件：上级规则 {rule.describe()} 在派生活动中没有同一检测项上"
                   f"至少同样严格的规则（现有：{found}）；请保留该规则，或改得更严（级别不低、范围更窄）。")


def _tighten_recurrence(path: str, parent: Track, child: Track) -> list[dict]:
    mine, theirs, where = parent.recurrence, child.recurrence, f"{path}.recurrence"
    if mine is None and theirs is None:
        return []
    if mine is None or theirs is None:
        wanted = "不设" if mine is None else show(mine.to_dict())
        return [problem(where, None if mine is None else mine.to_dict(), None if theirs is None else theirs.to_dict(),
                        f"赛道「{parent.label}」上级{'只开展一次' if mine is None else '按期开展'}，派生活动不能"
                        f"{'改为按期开展（配额会按期计，放宽了上级的配额）' if mine is None else '取消按期开展'}；"
                        f"请把 recurrence 改为{wanted}。")]
    problems = []
    for name, what in (("first", "首期"), ("last", "末期"), ("field", "确定所属期的日期字段")):
        if getattr(mine, name) != getattr(theirs, name):
            problems.append(problem(f"{where}.{name}", getattr(mine, name), getattr(theirs, name),
                                    f"赛道「{parent.label}」的{what}上级为 {getattr(mine, name)}，派生活动应保持一致，"
                                    f"现为 {getattr(theirs, name)}；请改回。"))
    if mine.due_day is not None and (theirs.due_day is None or theirs.due_day > mine.due_day):
        found = "未设（当月最后一天）" if theirs.due_day is None else f"每月 {theirs.due_day} 日"
        problems.append(problem(f"{where}.due_day", f"不大于 {mine.due_day}", theirs.due_day,
                                f"赛道「{parent.label}」每期上级于每月 {mine.due_day} 日截止，派生活动只能提前，现为{found}；"
                                f"请改为不大于 {mine.due_day}。"))
    return problems


def _tighten_required_when(path: str, parent: Track, child: Track) -> list[dict]:
    """A file the parent requires for some values of a choice (工作案例需附文档) stays required for them, unless the
    copy requires the kind of every work."""
    problems = []
    stages = {s.key: s for s in child.stages}
    for mine in (s for s in parent.stages if s.key in stages):  # a dropped stage is reported by _tighten_stages
        theirs = {f.kind: f for f in stages[mine.key].files}
        for need in mine.files:
            have = theirs.get(need.kind)
            if have is not None and have.min >= 1:
                continue
            for key, values in (need.required_when or {}).items():
                kept = (have.required_when or {}).get(key, []) if have is not None else []
                lost = [v for v in values if v not in kept]
                if lost:
                    problems.append(problem(
                        f"{path}.stages.{mine.key}.files.{need.kind}.required_when.{key}", values, kept or None,
                        f"赛道「{parent.label}」阶段「{mine.label}」上级要求「{key}」为{show(lost)}的作品附 {need.kind} 文件，"
                        f"派生活动不能取消；请在 files 的 {need.kind} 项写 required_when: {{{key}: {show(values)}}}。"))
    return problems


def _tighten_quota_items(path: str, parent: Track, child: Track) -> list[dict]:
    """A quota the parent counts in files (「10件左右图片和音视频素材」) counts at least those files in the copy."""
    problems = []
    for value, kinds in parent.quota_items.items():
        theirs = child.quota_items.get(value, [])
        lost = [k for k in kinds if k not in theirs]
        if lost:
            problems.append(problem(f"{path}.quota_items.{value}", kinds, theirs or None,
                                    f"赛道「{parent.label}」上级按文件件数计「{value}」的配额（{show(kinds)}文件每件计一件），"
                                    f"派生活动不能不计{show(lost)}；请写 quota_items: {{{value}: {show(kinds)}}}。"))
    return problems


_TIGHTEN_CHECKS = (_tighten_track_flags, _tighten_fields, _tighten_stages, _tighten_counts, _tighten_decision,
                   _tighten_required_when, _tighten_quota_items,
                   _tighten_media, _tighten_recurrence)
