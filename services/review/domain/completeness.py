"""What the admin should know before closing the scoring or confirming the selection (issue #17 items 5 and 7).

Closing and confirming cannot be undone from the page the orgs see, so when data is incomplete the admin is asked
once more, told what is missing (「3 份评分未提交」) and what will happen (「将向教育部报送 3 件，不能撤回」). A work
with fewer than k (the round's reviewers per work) submitted scores is flagged on the ranking (「评分不足：2/3」) and
not pre-ticked. The ranking can be read by its raw mean too; a row whose place differs between the two orders says
so, and the page says when the bias correction rests on few scores per expert.
Pure: no framework.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from services.review.domain.ranking import RankedWork, ReviewerBias

FEW_SCORES_PER_EXPERT = 5  # below this an expert's bias is mostly the shrinkage, not what they did
SORTS = ("normalised", "raw")


def short_of_k(k: int, submitted: Mapping[str, int], works: Iterable[str], *, experts_assigned: bool = True
               ) -> dict[str, int]:
    """The works with fewer than k submitted scores, with how many they have (0 when nobody scored). A round where
    no expert is assigned anything is decided without expert scores (the admin's own choice, as before): nothing
    is missing there, so nothing is flagged or asked."""
    if not experts_assigned:
        return {}
    return {w: submitted.get(w, 0) for w in works if submitted.get(w, 0) < k}


def pretickable(ranked: Sequence[str], short: Mapping[str, int]) -> list[str]:
    """The works the page may pre-tick, in rank order: never one short of its k scores."""
    return [w for w in ranked if w not in short]


@dataclass(frozen=True)
class Question:
    """Asked before an irreversible step: what is missing and what will happen."""

    missing: list[str]
    consequence: str


def before_closing(pending: int, short: Mapping[str, int], k: int) -> Question | None:
    """Closing with `pending` assigned scores not submitted asks first; None: the scoring is complete (or nobody
    was assigned anything, so there is nothing to wait for), one click closes it."""
    if pending <= 0:
        return None
    missing = [f"{pending} 份评分未提交"]
    if short:
        missing.append(f"{len(short)} 件作品的已提交评分少于 {k} 份")
    return Question(missing, "结束评分后专家不能再提交或修改评分，未提交的评分不计入排名。")


def before_confirming(selected: Sequence[str], short: Mapping[str, int], k: int, up_label: str | None,
                      final_words: str = "") -> Question | None:
    """Confirming a selection that holds a work short of its k scores asks first; None: one click confirms."""
    weak = [w for w in selected if w in short]
    if not weak:
        return None
    missing = [f"所选 {len(weak)} 件作品的已提交评分少于 {k} 份"]
    if up_label:
        consequence = f"将向{up_label}报送 {len(selected)} 件，不能撤回。"
    else:
        consequence = f"将确认 {len(selected)} 件为最终结果{('（' + final_words + '）') if final_words else ''}，不能撤回。"
    return Question(missing, consequence)


def sorted_rows(ranked: Sequence[RankedWork], sort: str) -> list[RankedWork]:
    """The ranking in the chosen order: `normalised` (the rank, as today) or `raw` (the raw mean, best first)."""
    if sort == "raw":
        return sorted(ranked, key=lambda r: (-r.raw_mean, -r.normalised, r.work_id))
    return sorted(ranked, key=lambda r: (r.rank, r.work_id))


def other_places(ranked: Sequence[RankedWork], sort: str) -> dict[str, int]:
    """For each work whose place differs between the two orders, its place in the order not shown."""
    by_norm = {r.work_id: n for n, r in enumerate(sorted_rows(ranked, "normalised"), start=1)}
    by_raw = {r.work_id: n for n, r in enumerate(sorted_rows(ranked, "raw"), start=1)}
    shown, other = (by_raw, by_norm) if sort == "raw" else (by_norm, by_raw)
    return {w: other[w] for w in shown if other[w] != shown[w]}


def few_scores_note(biases: Sequence[ReviewerBias], threshold: int = FEW_SCORES_PER_EXPERT) -> str | None:
    """A sentence when the bias correction rests on few scores per expert, naming the count; None otherwise."""
    few = [b for b in biases if b.n_scores < threshold]
    if not few:
        return None
    least = min(b.n_scores for b in few)
    return (f"校正依据较少：{len(few)} 位专家的评分少于 {threshold} 份（最少 {least} 份），"
            f"其偏差估计向 0 收缩，校正后得分与原始平均分的差别应谨慎看待。")
