"""Where a round's selection ends: forwarded to the level above, or final at the round's level.

The track's `decision` (common.campaign.model.Decision, in the campaign_published event) names the level
that chooses last and what its choice is: 择优入选, 表彰 (by category), 公示, 入库, 审核把关. A round below
that level forwards its chosen works up within `forward`/quota, as every round did before decisions; a
round at that level (and the ministry's, above which there is nobody) is final: nothing goes up, its
limit is the decision's `places` (a number, or a number per category read from the work's
`category_field`; none set: as many as it judges worthy), and the round page and the selection_made
event say what the result is in the decision's words. A track with no rubric that is not vetted
(COLLECTED) is collected and listed by intake, never put into a round.
Pure: no framework.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from common.campaign.model import COLLECTED, DECISION_KINDS, Decision, judged
from common.errors import Conflict, InvalidInput
from common.levels import LEVELS, forward_limit, parent_level
from common.locale import LEVEL_LABELS


@dataclass(frozen=True)
class RoundEnd:
    """What a round's confirmed selection does, and how many it may choose."""

    level: str
    decision: Decision
    final: bool  # the round's level decides: nothing goes up
    up: str | None  # where the chosen go when not final
    limit: int | None  # how many the round may choose in all; None: no number of its own
    places: dict[str, int] | None = None  # final, by category: each category limited on its own
    category_labels: dict[str, str] | None = None  # the category field's choice labels (member -> 优秀共产党员)

    def category_name(self, category: str | None) -> str | None:
        """A category as people read it: its choice label (优秀共产党员), else the value itself."""
        return (self.category_labels or {}).get(category, category) if category is not None else None

    @property
    def category_field(self) -> str | None:
        """The work's field naming its category: only an award at its deciding level is given by category."""
        if self.final and self.decision.kind == "award":
            return self.decision.category_field
        return None

    @property
    def vetting(self) -> bool:
        return self.final and self.decision.kind == "vetting"


def decision_of(track: dict) -> Decision:
    """The track's decision as review keeps the track (the event's dict); absent: the ministry's selection."""
    return Decision.from_dict(track.get("decision"))


def enters_review(track: dict | None) -> bool:
    """Whether a work of this track is put into a round at all.

    A COLLECTED track (no rubric and not vetting: meeting records, publicity reports) is only collected and
    listed. A campaign review has not heard of yet (None) is not judged as one without a rubric: its works
    enter as they always did, rather than silently never reaching a round.
    """
    if track is None:
        return True
    return judged(track.get("rubric") or [], decision_of(track).kind) != COLLECTED


def round_end(track: dict, level: str) -> RoundEnd:
    decision = decision_of(track)
    up = parent_level(level)
    final = up is None or LEVELS.index(level) >= LEVELS.index(decision.level)
    if not final:
        return RoundEnd(level, decision, False, up, forward_limit(track.get("forward", {}), track.get("quota", {}), level))
    places = decision.places
    if isinstance(places, dict):
        labels = next((f.get("choice_labels") for f in track.get("fields") or []
                       if f.get("key") == decision.category_field), None)
        return RoundEnd(level, decision, True, None, None, {str(k): int(v) for k, v in places.items()},
                        dict(labels) if labels else None)
    return RoundEnd(level, decision, True, None, None if places is None else int(places))


def remaining(end: RoundEnd, earlier: Iterable[str | None]) -> RoundEnd:
    """A later batch of the round chooses only what the earlier batches left: `earlier` holds the category (or
    None) of each work they chose."""
    earlier = list(earlier)
    limit = None if end.limit is None else max(0, end.limit - len(earlier))
    places = None
    if end.places is not None:
        taken = Counter(earlier)
        places = {category: max(0, n - taken.get(category, 0)) for category, n in end.places.items()}
    return replace(end, limit=limit, places=places)


def category_of(end: RoundEnd, fields: dict | None) -> str | None:
    key = end.category_field
    if key is None:
        return None
    value = (fields or {}).get(key)
    return value if isinstance(value, str) and value else None


def _places_text(end: RoundEnd) -> str:
    return "、".join(f"{end.category_name(category)} {n} 名" for category, n in (end.places or {}).items())


def describe(end: RoundEnd) -> str:
    """What the round's selection is, as its pages say it (never 「可向上一级报送：0」 where nothing goes up)."""
    if not end.final:
        above = LEVEL_LABELS.get(end.up or "", "上一级")
        return f"可向{above}报送：{'不限' if end.limit is None else end.limit} 件"
    d = end.decision
    named = f"（{d.label}）" if d.label else ""
    count = "名额不限" if end.limit is None else f"{end.limit} 件"
    if d.kind == "award":
        if end.places is not None:
            return f"表彰名额{named}：{_places_text(end)}"
        return f"表彰名额{named}：{'不限' if end.limit is None else f'{end.limit} 名'}"
    if d.kind == "publicity":
        return f"最终评选{named}：入选 {count}，公示 {d.publicity_days} 天"
    if d.kind == "library":
        return f"入库{named}：{count}"
    if d.kind == "vetting":
        return f"审核{named}：逐件通过/不通过"
    return f"最终评选{named}：入选 {count}" if end.limit is not None else f"最终评选{named}：入选名额不限"


def confirm_label(end: RoundEnd) -> str:
    """The ranking page's button: what confirming does."""
    if not end.final:
        return "确认入选名单并报送"
    return {"award": "确认表彰名单", "publicity": "确认公示名单", "library": "确认入库名单",
            "vetting": "确认审核结果"}.get(end.decision.kind, "确认最终入选名单")


def preselected(end: RoundEnd, ranked: Sequence[tuple[str, str | None]]) -> set[str]:
    """The works the ranking page ticks before the admin chooses: the best within the limit (and within each
    category's places). `ranked`: (work, category) in rank order."""
    left = dict(end.places) if end.places is not None else None
    chosen: set[str] = set()
    for work, category in ranked:
        if end.limit is not None and len(chosen) >= end.limit:
            break
        if left is not None:
            if left.get(category or "", 0) <= 0:
                continue
            left[category] -= 1
        chosen.add(work)
    return chosen


def check_places(end: RoundEnd, chosen: Sequence[tuple[str, str, str | None]]) -> None:
    """Refuse a selection over the round's limit, in the round's own words; `chosen`: (work, title, category).

    Every problem at once: each category over its places, and the works without a category the places count.
    """
    if end.limit is not None and len(chosen) > end.limit:
        over = len(chosen) - end.limit
        if end.final:
            what = "表彰" if end.decision.kind == "award" else DECISION_KINDS[end.decision.kind]
            raise Conflict(f"本轮为最终评定（{end.decision.title}），最多{what} {end.limit} 件，当前选了 {len(chosen)} 件。"
                           f"请取消 {over} 件后再确认。", code="selection_over_places", expected=end.limit,
                           found=len(chosen))
        above = LEVEL_LABELS.get(end.up or "", "上一级")
        raise Conflict(f"本轮最多可向{above}报送 {end.limit} 件，当前选了 {len(chosen)} 件。请取消 {over} 件后再确认。",
                       code="selection_over_quota", expected=end.limit, found=len(chosen))
    if end.places is None:
        return
    field = end.category_field or "category"
    without = [title for _, title, category in chosen if category is None]
    if without:
        raise Conflict(f"本轮按类别表彰，所选作品中有 {len(without)} 件没有填写类别（字段 {field}）："
                       f"{'、'.join(f'《{t}》' for t in without[:5])}。这些作品无法计入名额，请取消后再确认。",
                       code="selection_without_category", expected=sorted(end.places), found=without[:5])
    counts = Counter(category for _, _, category in chosen)
    problems = [f"「{end.category_name(category)}」"
                f"{'没有表彰名额' if category not in end.places else f'最多 {end.places[category]} 名'}，"
                f"当前选了 {n} 名" for category, n in counts.items() if n > end.places.get(category, 0)]
    if problems:
        raise Conflict(f"本轮按类别表彰（名额：{_places_text(end)}）：{'；'.join(problems)}。"
                       "请在超出的类别中取消多选的作品后再确认。", code="selection_over_places",
                       expected=dict(end.places), found=dict(counts))


REASON_MAX_CHARS = 200


def vetting_reasons(chosen: set[str], works: Sequence[tuple[str, str]], reasons: dict[str, str]) -> dict[str, str]:
    """A vetting's reasons for the works that fail it: each one needs its reason (what the org must put right);
    `works`: (work, title) of every work of the round. All missing or too long ones are reported at once."""
    out, missing, too_long = {}, [], []
    for work, title in works:
        if work in chosen:
            continue
        reason = " ".join((reasons.get(work) or "").split())
        if not reason:
            missing.append(title)
        elif len(reason) > REASON_MAX_CHARS:
            too_long.append(title)
        out[work] = reason
    if missing:
        raise InvalidInput(f"审核不通过的作品须写明原因，以下 {len(missing)} 件还没有写："
                           f"{'、'.join(f'《{t}》' for t in missing[:5])}{'等' if len(missing) > 5 else ''}。"
                           "请填写原因（告诉报送单位哪里需要改正），或将其标记为通过。",
                           code="vetting_reason_missing", field="reason", found=missing[:5])
    if too_long:
        raise InvalidInput(f"不通过的原因最多 {REASON_MAX_CHARS} 字，以下作品的原因太长："
                           f"{'、'.join(f'《{t}》' for t in too_long[:5])}。请精简后再确认。",
                           code="vetting_reason_too_long", field="reason", expected=REASON_MAX_CHARS,
                           found=too_long[:5])
    return out


def event_decision(end: RoundEnd) -> dict | None:
    """The decision as selection_made carries it from a final round; None when the round forwards."""
    if not end.final:
        return None
    d = end.decision
    out = {"level": end.level, "kind": d.kind, "label": d.title}
    if d.publicity_days is not None:
        out["publicity_days"] = d.publicity_days
    return out
