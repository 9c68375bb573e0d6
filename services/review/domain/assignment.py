"""Assignment of works to reviewers (分配评审任务): k each, no conflicts, loads balanced.

Greedy over a heap of reviewers keyed by (load, a stable hash): each work takes
the least-loaded eligible reviewers, preferring, among those with the lowest
load, the ones whose expertise matches the work's keywords; a repair pass then
moves works from the most to the least loaded reviewer while the loads differ
by more than one. Deterministic: inputs are sorted and ties broken by hashes
of the ids, never by Python's randomised hash() or input order.
"""
from __future__ import annotations

import hashlib
import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Work:
    work_id: str
    tenant: str
    org_path: tuple[str, ...] = ()
    keywords: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Reviewer:
    reviewer_id: str
    tenant: str | None = None
    org_id: str | None = None
    expertise: frozenset[str] = frozenset()


SAME_UNIVERSITY = "评审专家与作品同属一所高校"
SAME_ORG = "评审专家来自作品所在的党组织"
DECLARED = "已申报回避"


def conflicted(level: str, reviewer: Reviewer, work: Work,
               declared: frozenset[tuple[str, str]] = frozenset()) -> str | None:
    """None when the reviewer may score the work, else why not (in Chinese)."""
    if (reviewer.reviewer_id, work.work_id) in declared:
        return DECLARED
    if level == "ministry":
        if reviewer.tenant is not None and reviewer.tenant == work.tenant:
            return SAME_UNIVERSITY
    elif reviewer.org_id is not None and reviewer.org_id in work.org_path:
        return SAME_ORG
    return None


@dataclass
class AssignmentPlan:
    pairs: list[tuple[str, str]]  # (work_id, reviewer_id), sorted
    loads: dict[str, int] = field(default_factory=dict)

    @property
    def spread(self) -> int:
        return (max(self.loads.values()) - min(self.loads.values())) if self.loads else 0


class AssignmentImpossible(Exception):
    def __init__(self, problems: list[dict]):
        self.problems = problems
        first = problems[:3]
        parts = []
        for p in first:
            why = "，".join(f"{reason}：{n} 位" for reason, n in sorted(p["reasons"].items()))
            parts.append(f"作品 {p['work_id']} 需要 {p['needed']} 位评审专家，符合条件的只有 {p['eligible']} 位"
                         + (f"（{why}）" if why else ""))
        more = f"等 {len(problems)} 件作品" if len(problems) > len(first) else ""
        super().__init__("；".join(parts) + f"{more}。请增加评审专家或减少每件作品的评审人数。")


def _h(*parts: str) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest(), "big")


def _problem(level, work, reviewers, declared, needed, taken) -> dict:
    reasons: Counter = Counter()
    eligible = 0
    for r in reviewers:
        why = conflicted(level, r, work, declared)
        if why:
            reasons[why] += 1
        else:
            eligible += 1
    return {"work_id": work.work_id, "eligible": eligible, "needed": needed, "reasons": dict(reasons),
            "assigned": taken}


class _Greedy:
    """The greedy pass's state: who has which work, each reviewer's load, and a heap of (load, hash, id)."""

    def __init__(self, reviewers: Sequence[Reviewer], keep: Iterable[tuple[str, str]], level: str,
                 declared: frozenset[tuple[str, str]]):
        self.level, self.declared = level, declared
        self.by_id = {r.reviewer_id: r for r in reviewers}
        self.on_work: dict[str, set[str]] = defaultdict(set)
        self.loads = {r.reviewer_id: 0 for r in reviewers}
        self.kept = set()
        for work_id, reviewer_id in keep:
            if reviewer_id in self.loads and reviewer_id not in self.on_work[work_id]:
                self.on_work[work_id].add(reviewer_id)
                self.loads[reviewer_id] += 1
                self.kept.add((work_id, reviewer_id))
        self.rank = {r.reviewer_id: _h(r.reviewer_id) for r in reviewers}
        self.heap = [(self.loads[rid], self.rank[rid], rid) for rid in self.loads]
        heapq.heapify(self.heap)
        self.by_keyword: dict[str, set[str]] = defaultdict(set)
        for r in reviewers:
            for kw in r.expertise:
                self.by_keyword[kw].add(r.reviewer_id)

    def take(self, rid: str, work_id: str) -> None:
        self.on_work[work_id].add(rid)
        self.loads[rid] += 1
        heapq.heappush(self.heap, (self.loads[rid], self.rank[rid], rid))

    def missing(self, work: Work, k: int) -> int:
        return k - len(self.on_work[work.work_id])

    def experts_first(self, work: Work, need: int) -> None:
        """Among the least-loaded reviewers, those whose expertise matches the work's keywords, best match first."""
        while self.heap and self.heap[0][0] != self.loads[self.heap[0][2]]:
            heapq.heappop(self.heap)  # stale entries
        low = self.heap[0][0] if self.heap else 0
        chosen = self.on_work[work.work_id]
        matches = Counter(rid for kw in work.keywords for rid in self.by_keyword.get(kw, ()))
        fits = sorted((rid for rid in matches if self.loads[rid] == low and rid not in chosen
                       and not conflicted(self.level, self.by_id[rid], work, self.declared)),
                      key=lambda rid: (-matches[rid], _h(work.work_id, rid)))
        for rid in fits[:need]:
            self.take(rid, work.work_id)

    def least_loaded(self, work: Work, need: int) -> int:
        """The least-loaded eligible reviewers; returns how many the work still lacks."""
        chosen = self.on_work[work.work_id]
        aside = []
        while need > 0 and self.heap:
            load, r_rank, rid = heapq.heappop(self.heap)
            if load != self.loads[rid]:
                continue  # stale
            if rid in chosen or conflicted(self.level, self.by_id[rid], work, self.declared):
                aside.append((load, r_rank, rid))
                continue
            self.take(rid, work.work_id)
            need -= 1
        for entry in aside:
            heapq.heappush(self.heap, entry)
        return need


def assign(works: Sequence[Work], reviewers: Sequence[Reviewer], k: int, *, level: str,
           declared: frozenset[tuple[str, str]] = frozenset(),
           keep: Iterable[tuple[str, str]] = ()) -> AssignmentPlan:
    if k < 1:
        raise ValueError(f"每件作品至少需要 1 位评审专家，收到的是 {k}。")
    if not reviewers:
        raise AssignmentImpossible([{"work_id": w.work_id, "eligible": 0, "needed": k, "reasons": {}, "assigned": 0}
                                    for w in sorted(works, key=lambda w: w.work_id)])
    works = sorted(works, key=lambda w: w.work_id)
    reviewers = sorted(reviewers, key=lambda r: r.reviewer_id)
    greedy = _Greedy(reviewers, keep, level, declared)
    problems = []
    for work in works:
        if greedy.missing(work, k) <= 0:
            continue
        if work.keywords and greedy.by_keyword:
            greedy.experts_first(work, greedy.missing(work, k))
        if greedy.least_loaded(work, greedy.missing(work, k)) > 0:
            problems.append(_problem(level, work, reviewers, declared, k, len(greedy.on_work[work.work_id])))
    if problems:
        raise AssignmentImpossible(problems)
    _repair(works, greedy.by_id, greedy.on_work, greedy.loads, greedy.kept, level, declared)
    pairs = sorted((w, r) for w, rs in greedy.on_work.items() for r in rs)
    return AssignmentPlan(pairs, dict(greedy.loads))


def _repair(works, by_id, on_work, loads, kept, level, declared, max_moves: int = 100_000) -> None:
    """Move works from the most to the least loaded reviewers while loads differ by more than one."""
    work_by_id = {w.work_id: w for w in works}
    has: dict[str, set[str]] = defaultdict(set)
    for w, rs in on_work.items():
        for r in rs:
            has[r].add(w)

    def movable(giver: str, taker: str) -> str | None:
        """The first of the giver's works the taker may have instead (not kept, not theirs already, no conflict)."""
        for w in sorted(has[giver]):
            if (w, giver) in kept or taker in on_work[w]:
                continue
            if w not in work_by_id or conflicted(level, by_id[taker], work_by_id[w], declared):
                continue
            return w
        return None

    for _ in range(max_moves):
        order = sorted(loads, key=lambda r: (loads[r], _h(r)))
        move = _first_move(order, loads, movable)
        if move is None:
            return  # balanced, or conflicts leave no move that helps: the best balance the pool allows
        w, giver, taker = move
        on_work[w].discard(giver)
        on_work[w].add(taker)
        has[giver].discard(w)
        has[taker].add(w)
        loads[giver] -= 1
        loads[taker] += 1


def _first_move(order: list[str], loads: dict[str, int], movable) -> tuple[str, str, str] | None:
    """The first (work, giver, taker) that narrows the loads, most loaded givers and least loaded takers first."""
    low = order[0]
    for giver in reversed(order):
        if loads[giver] - loads[low] <= 1:
            return None
        for taker in order:
            if loads[giver] - loads[taker] <= 1:
                break
            w = movable(giver, taker)
            if w is not None:
                return w, giver, taker
    return None


def reassign(plan: AssignmentPlan, work_id: str, declined_by: str, works: Sequence[Work],
             reviewers: Sequence[Reviewer], *, level: str, declared: frozenset[tuple[str, str]] = frozenset(),
             refused: Iterable[tuple[str, str]] = ()) -> tuple[AssignmentPlan, str]:
    """Replace a reviewer who declined a work by the least-loaded eligible colleague."""
    work = next((w for w in works if w.work_id == work_id), None)
    if work is None:
        raise KeyError(work_id)
    refused = set(refused) | {(declined_by, work_id)}
    on = {r for w, r in plan.pairs if w == work_id and r != declined_by}
    loads = dict(plan.loads)
    if (work_id, declined_by) in plan.pairs:
        loads[declined_by] = loads.get(declined_by, 1) - 1
    candidates = [r for r in reviewers if r.reviewer_id not in on and r.reviewer_id != declined_by
                  and (r.reviewer_id, work_id) not in refused and not conflicted(level, r, work, declared)]
    if not candidates:
        raise AssignmentImpossible([_problem(level, work, reviewers, declared | frozenset(refused), len(on) + 1,
                                             len(on))])
    best = min(candidates, key=lambda r: (loads.get(r.reviewer_id, 0), -len(r.expertise & work.keywords),
                                          _h(work_id, r.reviewer_id)))
    loads[best.reviewer_id] = loads.get(best.reviewer_id, 0) + 1
    pairs = sorted([p for p in plan.pairs if p != (work_id, declined_by)] + [(work_id, best.reviewer_id)])
    return AssignmentPlan(pairs, loads), best.reviewer_id
