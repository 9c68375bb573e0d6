"""A submitted work under a corrected campaign: what the new rules would refuse, as flags, never as a refusal.

When a campaign is corrected (a new version, or a derived copy following its parent's), the works already
submitted under the old rules stay submitted: a 组织部 that lowers a 字数 limit in July does not undo a college's
June submission behind its back. Instead each work is judged again with the very functions that decide a submit
(`submission.check_fields`, `submission.check_naming`, the track's stages and levels), and each refusal they would
give becomes a flag the org and its admins see next to the work. Pure: no database, no clock.
"""
from __future__ import annotations

from dataclasses import dataclass

from common.campaign.model import CampaignDefinition
from common.errors import DomainError
from common.locale import LEVEL_LABELS
from services.intake.domain import submission as rules


@dataclass(frozen=True)
class SubmittedWork:
    track: str
    stage: str | None  # the last stage submitted
    org_level: str
    org_names: tuple[str, ...]
    title: str
    fields: dict


@dataclass(frozen=True)
class RuleFlag:
    code: str
    field: str | None
    message: str


def flags_under(definition: CampaignDefinition, work: SubmittedWork) -> list[RuleFlag]:
    """Every refusal the rules of `definition` would give the work's submitted stages; [] when they accept it."""
    track = definition.tracks.get(work.track)
    if track is None:
        return [RuleFlag("track_removed", "track", f"更正后的活动「{definition.short_title}」不再设赛道「{work.track}」；"
                         "作品仍保留为已提交，请与活动发布单位确认如何处理。")]
    stage_keys = [s.key for s in track.stages]
    if work.stage not in stage_keys:
        return [RuleFlag("stage_removed", "stage", f"更正后的赛道「{track.label}」不再设阶段「{work.stage}」"
                         f"（现有阶段：{'、'.join(stage_keys)}）；作品仍保留为已提交，请与活动发布单位确认如何处理。")]
    flags = []
    if work.org_level not in track.submit_levels:
        allowed = "、".join(LEVEL_LABELS[lv] for lv in track.submit_levels)
        flags.append(RuleFlag("level_not_allowed", "org_id", f"更正后「{track.label}」改由{allowed}提交，"
                              f"提交本作品的是{LEVEL_LABELS.get(work.org_level, work.org_level)}。"))
    # the stages submitted so far, as editing a submitted work judges it (operations.submissions.update_submission)
    done = stage_keys[: stage_keys.index(work.stage) + 1]
    required = sorted({f for s in track.stages if s.key in done for f in s.required_fields})
    flags += _refusals(lambda: rules.check_fields(track, work.fields, definition.themes, required=required))
    flags += _refusals(lambda: rules.check_naming(track, work.title, list(work.org_names)))
    return flags


def _refusals(check) -> list[RuleFlag]:
    try:
        check()
    except DomainError as error:
        return [RuleFlag(d.get("code") or error.code, d.get("field"), d["message"]) for d in error.details] or [
            RuleFlag(error.code, error.field, error.message)]
    return []
