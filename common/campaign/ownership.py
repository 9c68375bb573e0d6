"""Who may publish what: a campaign's owner is the highest level it can reach.

A university (同济, 石油大学, 民族大学) publishes campaigns of its own, and nobody above it runs them:
the ministry never opens a round for 同济's 两优一先, so a work forwarded there would wait for a selection
that never comes. So a campaign owned at a level makes nothing go above that level (issue #16):

- its selection ends at the owner or below: `decision.level` (a track that writes no decision ends with
  the ministry's national selection, so a university's scored or vetted track must write one);
- nothing is forwarded from the owner's level or above: `forward.<level>` is how many works an org of
  that level sends to the level above it, so a university may set `forward.level2` but not
  `forward.university` (which is what it sends to the ministry);
- no deadline at the owner's level or above: `deadlines.<level>` is when that level must have handed its
  works up, so `deadlines.university` is the university's date at the ministry.

A track that is only collected and listed (no rubric, not vetted: `Track.judged == COLLECTED`) has no
selection, so its decision level says nothing and is not judged; its forward counts and deadlines are.
A derived copy keeps its parent's decision (`check_tightens` requires it): the rule judges only the
tracks the copy adds (`inherited` names the parent's). The ministry owns the top level and may publish
anything.
"""
from __future__ import annotations

from collections.abc import Iterable

from common.campaign.model import COLLECTED, DECISION_KINDS, CampaignDefinition, Track
from common.campaign.wording import problem
from common.errors import Unprocessable
from common.levels import LEVELS
from common.locale import LEVEL_LABELS

DECISION_ABOVE_OWNER = "decision_above_owner"


def above_owner_problems(definition: CampaignDefinition, owner_level: str,
                         inherited: Iterable[str] = ()) -> list[dict]:
    """Every place where a track of `definition`, owned at `owner_level`, reaches above it; [] when none.

    `inherited`: keys of tracks a derived copy takes from its parent, which keep the parent's reach.
    """
    if owner_level not in LEVELS:
        raise ValueError(f"unknown owner level {owner_level!r}; expected one of {LEVELS}")
    top, skip = LEVELS.index(owner_level), set(inherited)
    problems: list[dict] = []
    for key, track in definition.tracks.items():
        if key not in skip:
            problems += _track_problems(f"tracks.{key}", track, owner_level, top)
    return problems


def check_owner_reach(definition: CampaignDefinition, owner_level: str, inherited: Iterable[str] = ()) -> None:
    """Raise Unprocessable(decision_above_owner) naming every place that reaches above the owner."""
    problems = above_owner_problems(definition, owner_level, inherited)
    if not problems:
        return
    owner = LEVEL_LABELS[owner_level]
    shown = "；".join(p["message"].rstrip("。") for p in problems[:3])
    more = f"；另有{len(problems) - 3}处见 details" if len(problems) > 3 else ""
    first = problems[0]
    raise Unprocessable(
        f"活动「{definition.id}」由{owner}发布，活动中的一切止于{owner}，有{len(problems)}处超出：{shown}{more}。",
        code=DECISION_ABOVE_OWNER, field=first["field"], expected=first["expected"], found=first["found"],
        details=problems)


def _track_problems(path: str, track: Track, owner_level: str, top: int) -> list[dict]:
    owner, name = LEVEL_LABELS[owner_level], f"赛道「{track.label}」"
    problems = []
    decision = track.decision
    if track.judged != COLLECTED and LEVELS.index(decision.level) > top:
        kind = decision.kind if decision.kind in DECISION_KINDS else "select"
        problems.append(problem(
            f"{path}.decision.level", _at_or_below(top), decision.level,
            f"{name}由{LEVEL_LABELS[decision.level]}最终评定（decision.level: {decision.level}"
            f"{'，未写 decision 即为教育部的全国遴选' if decision.level == 'ministry' else ''}），"
            f"但本活动由{owner}发布，{LEVEL_LABELS[decision.level]}不会评选它的作品；"
            f"请写 decision: {{level: {owner_level}, kind: {kind}}}，在{owner}最终评定。"))
    for level in track.forward:
        if LEVELS.index(level) >= top:
            problems.append(problem(
                f"{path}.forward.{level}", _below(top), level,
                f"{name}写了 forward.{level}（{LEVEL_LABELS[level]}向{LEVEL_LABELS[LEVELS[LEVELS.index(level) + 1]]}"
                f"报送的数量），但本活动由{owner}发布，作品不出{owner}；请删除 forward.{level}"
                + ("。" if track.judged == COLLECTED else f"，要限定{owner}评选的数量请写 decision.places。")))
    for stage in track.stages:
        for level in stage.deadlines:
            if LEVELS.index(level) >= top:
                problems.append(problem(
                    f"{path}.stages.{stage.key}.deadlines.{level}", _below(top), level,
                    f"{name}阶段「{stage.label}」写了{LEVEL_LABELS[level]}的截止时间（deadlines.{level}，"
                    f"即{LEVEL_LABELS[level]}向{LEVEL_LABELS[LEVELS[LEVELS.index(level) + 1]]}报送的时间），"
                    f"但本活动由{owner}发布，作品不出{owner}；请删除 deadlines.{level}，"
                    f"只给{owner}以下的层级写截止时间" + (f"（如 deadlines.{LEVELS[top - 1]}）。" if top else "。")))
    return problems


def _at_or_below(top: int) -> list[str]:
    return [level for level in LEVELS[: top + 1] if level != "branch"]  # a branch never decides (DECISION_SCHEMA)


def _below(top: int) -> list[str]:
    return list(LEVELS[:top])
