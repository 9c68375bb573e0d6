"""Assignment, rubric and ranking: the pure rules of the review, with properties and known truths."""
import collections
import random
from itertools import combinations

import pytest
from hypothesis import given, settings, strategies as st

from services.review.domain import ranking
from services.review.domain.assignment import AssignmentImpossible, AssignmentPlan, Reviewer, Work, assign, conflicted, reassign
from services.review.domain.rubric import InvalidMarks, check_marks, weighted_total

RUBRIC = [{"key": "thought", "label": "思想性", "weight": 40, "max": 10},
          {"key": "appeal", "label": "感染力", "weight": 30, "max": 10},
          {"key": "quality", "label": "制作质量", "weight": 30, "max": 10}]


# --------------------------------------------------------------------------- rubric

def test_marks_from_a_form_are_numbers_in_half_points():
    assert check_marks(RUBRIC, {"thought": "8.5", "appeal": "7", "quality": 10}, complete=True) == {
        "thought": 8.5, "appeal": 7.0, "quality": 10.0}
    assert check_marks(RUBRIC, {"thought": "9", "appeal": ""}, complete=False) == {"thought": 9.0}


@pytest.mark.parametrize("value", ["12", "-1", "8.3", "abc", "nan"])
def test_marks_out_of_the_scale_are_refused_naming_the_criterion(value):
    with pytest.raises(InvalidMarks) as err:
        check_marks(RUBRIC, {"thought": value, "appeal": "7", "quality": "7"}, complete=True)
    assert "思想性" in str(err.value) and "0 到 10" in str(err.value) and err.value.field == "thought"


def test_a_submission_needs_every_criterion_and_knows_no_others():
    with pytest.raises(InvalidMarks, match="感染力"):
        check_marks(RUBRIC, {"thought": "9", "quality": "9"}, complete=True)
    with pytest.raises(InvalidMarks, match="creativity"):
        check_marks(RUBRIC, {"creativity": "9"}, complete=False)


def test_weighted_total_is_out_of_100():
    assert weighted_total(RUBRIC, {"thought": 9, "appeal": 8.5, "quality": 8}) == 85.5
    assert weighted_total(RUBRIC, {"thought": 10, "appeal": 10, "quality": 10}) == 100.0


# --------------------------------------------------------------------------- assignment

def national_pool(n_works, n_reviewers, universities, seed=0):
    rng = random.Random(seed)
    reviewers = [Reviewer(f"r{i:03d}", f"u{i % universities}", None, frozenset({rng.choice("abc")}))
                 for i in range(n_reviewers)]
    works = [Work(f"w{i:05d}", f"u{rng.randrange(universities)}", (), frozenset({rng.choice("abcd")}))
             for i in range(n_works)]
    return works, reviewers


def check_plan(plan, works, reviewers, k, level, declared=frozenset()):
    by_w = collections.defaultdict(list)
    for w, r in plan.pairs:
        by_w[w].append(r)
    rv = {r.reviewer_id: r for r in reviewers}
    for w in works:
        assert len(by_w[w.work_id]) == k and len(set(by_w[w.work_id])) == k
        for r in by_w[w.work_id]:
            assert conflicted(level, rv[r], w, declared) is None
    assert sum(plan.loads.values()) == len(works) * k
    assert collections.Counter(r for _, r in plan.pairs) == {r: n for r, n in plan.loads.items() if n}


def test_every_work_gets_k_reviewers_none_from_its_university_and_loads_within_one():
    works, reviewers = national_pool(2000, 100, 20)
    declared = frozenset((f"r{i:03d}", f"w{i * 7:05d}") for i in range(100))
    plan = assign(works, reviewers, 3, level="ministry", declared=declared)
    check_plan(plan, works, reviewers, 3, "ministry", declared)
    assert plan.spread <= 1


@settings(max_examples=60, deadline=None)
@given(n_works=st.integers(1, 40), n_reviewers=st.integers(4, 15), universities=st.integers(2, 5),
       k=st.integers(1, 3), seed=st.integers(0, 10_000))
def test_assignment_properties_on_random_pools(n_works, n_reviewers, universities, k, seed):
    works, reviewers = national_pool(n_works, n_reviewers, universities, seed)
    try:
        plan = assign(works, reviewers, k, level="ministry")
    except AssignmentImpossible as exc:
        # only when some work really lacks k reviewers from other universities
        assert all(p["eligible"] < k for p in exc.problems)
        return
    check_plan(plan, works, reviewers, k, "ministry")
    # Balanced as far as conflicts allow: no work can move from a reviewer to one with two fewer.
    rv = {r.reviewer_id: r for r in reviewers}
    on = collections.defaultdict(set)
    for w, r in plan.pairs:
        on[w].add(r)
    for w in works:
        for giver in on[w.work_id]:
            for taker in rv:
                if plan.loads[giver] - plan.loads[taker] >= 2 and taker not in on[w.work_id]:
                    assert conflicted("ministry", rv[taker], w) is not None, (w, giver, taker)


def test_inside_a_university_nobody_gets_a_work_of_their_own_org_or_its_branches():
    works = [Work(f"w{i}", "seu", (f"branch{i % 4}", f"org{i % 2}")) for i in range(20)]
    reviewers = [Reviewer(f"r{i}", "seu", f"org{i % 2}") for i in range(6)]
    plan = assign(works, reviewers, 2, level="university")
    check_plan(plan, works, reviewers, 2, "university")
    owner = {r.reviewer_id: r.org_id for r in reviewers}
    assert all(owner[r] not in dict((w.work_id, w.org_path) for w in works)[w] for w, r in plan.pairs)


def test_kept_pairs_stay_and_count():
    works, reviewers = national_pool(30, 9, 3, seed=4)
    first = assign(works, reviewers, 2, level="ministry")
    keep = first.pairs[:10]
    again = assign(works, reviewers, 2, level="ministry", keep=keep)
    assert set(keep) <= set(again.pairs)
    check_plan(again, works, reviewers, 2, "ministry")


def test_the_same_input_in_any_order_gives_the_same_plan():
    works, reviewers = national_pool(300, 30, 5, seed=2)
    plan = assign(works, reviewers, 3, level="ministry")
    rng = random.Random(9)
    shuffled_w, shuffled_r = works[:], reviewers[:]
    rng.shuffle(shuffled_w)
    rng.shuffle(shuffled_r)
    assert assign(shuffled_w, shuffled_r, 3, level="ministry").pairs == plan.pairs


def test_expertise_is_preferred_among_equally_loaded_reviewers():
    reviewers = [Reviewer("r1", "u1", None, frozenset({"视频"})), Reviewer("r2", "u2", None, frozenset({"文字"}))]
    plan = assign([Work("w1", "u3", (), frozenset({"文字"}))], reviewers, 1, level="ministry")
    assert plan.pairs == [("w1", "r2")]
    plan = assign([Work("w1", "u3", (), frozenset({"视频"}))], reviewers, 1, level="ministry")
    assert plan.pairs == [("w1", "r1")]


def test_an_impossible_assignment_says_which_works_and_why():
    works = [Work("w1", "u1"), Work("w2", "u2")]
    reviewers = [Reviewer("r1", "u1"), Reviewer("r2", "u1"), Reviewer("r3", "u2")]
    with pytest.raises(AssignmentImpossible) as err:
        assign(works, reviewers, 2, level="ministry")
    assert [p["work_id"] for p in err.value.problems] == ["w1"]
    assert err.value.problems[0]["reasons"] == {"评审专家与作品同属一所高校": 2}
    assert "w1" in str(err.value) and "同属一所高校" in str(err.value) and "请增加评审专家" in str(err.value)


def test_a_declined_work_goes_to_an_eligible_colleague_never_back():
    works, reviewers = national_pool(40, 8, 4, seed=1)
    plan = assign(works, reviewers, 2, level="ministry")
    work_id, declined = plan.pairs[0]
    new_plan, chosen = reassign(plan, work_id, declined, works, reviewers, level="ministry")
    work = next(w for w in works if w.work_id == work_id)
    assert chosen != declined and (work_id, chosen) not in plan.pairs
    assert conflicted("ministry", next(r for r in reviewers if r.reviewer_id == chosen), work) is None
    assert (work_id, declined) not in new_plan.pairs and sum(new_plan.loads.values()) == len(plan.pairs)


def test_reassign_without_anyone_left_raises():
    plan = AssignmentPlan([("w1", "r1")], {"r1": 1, "r2": 0})
    with pytest.raises(AssignmentImpossible):
        reassign(plan, "w1", "r1", [Work("w1", "u1")], [Reviewer("r1", "u2"), Reviewer("r2", "u1")],
                 level="ministry")


# --------------------------------------------------------------------------- ranking

def test_a_strict_reviewer_no_longer_sinks_the_best_work():
    # r_strict marks 15 points below everyone on the works all three share; w_best got r_strict.
    scores = [ranking.Score(w, r, t) for w, r, t in [
        ("w_best", "r_strict", 70), ("w_best", "r1", 90),
        ("w_good", "r1", 85), ("w_good", "r2", 86),
        ("w_a", "r_strict", 60), ("w_a", "r2", 75), ("w_b", "r_strict", 65), ("w_b", "r1", 80),
        ("w_c", "r_strict", 55), ("w_c", "r2", 70)]]
    ranked = ranking.rank(scores, shrinkage=0.5)
    raw = sorted({s.work_id for s in scores}, key=lambda w: -sum(x.total for x in scores if x.work_id == w) / 2)
    assert raw[0] == "w_good"  # the raw mean puts the work that escaped the strict reviewer first
    assert ranked[0].work_id == "w_best" and ranked[0].rank == 1
    bias = {b.reviewer_id: b.bias for b in ranking.reviewer_biases(scores, shrinkage=0.5)}
    assert bias["r_strict"] < -5 < 0 < bias["r1"]


def test_disagreement_spread_and_single_scores():
    ranked = {r.work_id: r for r in ranking.rank([ranking.Score("w1", "a", 30), ranking.Score("w1", "b", 90),
                                                  ranking.Score("w2", "a", 60), ranking.Score("w2", "b", 62),
                                                  ranking.Score("w3", "c", 75)])}
    assert ranked["w1"].disagreement and not ranked["w2"].disagreement
    assert ranked["w3"].n_scores == 1 and ranked["w3"].spread == 0 and ranked["w3"].raw_mean == 75


def test_ties_are_broken_deterministically():
    scores = [ranking.Score(w, "r", 80) for w in ("b", "a", "c")]
    assert [r.work_id for r in ranking.rank(scores)] == ["a", "b", "c"]


def brute_tau(a, b):
    pos = {x: i for i, x in enumerate(b)}
    concordant = sum(1 if pos[x] < pos[y] else -1 for x, y in combinations(a, 2))
    return concordant / (len(a) * (len(a) - 1) / 2)


@given(st.permutations(list(range(12))), st.permutations(list(range(12))))
def test_kendall_tau_matches_the_definition(a, b):
    assert ranking.kendall_tau(a, b) == pytest.approx(brute_tau(a, b))


def test_kendall_tau_extremes():
    items = list("abcdefgh")
    assert ranking.kendall_tau(items, items) == 1.0
    assert ranking.kendall_tau(items, items[::-1]) == -1.0


def taus(seed):
    scores, quality, bias = ranking.synthetic_round(600, 40, 3, bias_sd=8, noise_sd=4, seed=seed)
    truth = sorted(quality, key=lambda w: -quality[w])
    sums = collections.defaultdict(list)
    for s in scores:
        sums[s.work_id].append(s.total)
    raw = sorted(sums, key=lambda w: (-sum(sums[w]) / len(sums[w]), w))
    normalised = [r.work_id for r in ranking.rank(scores)]
    return ranking.kendall_tau(raw, truth), ranking.kendall_tau(normalised, truth), scores, bias


def test_normalised_ranking_agrees_with_the_truth_better_than_the_raw_mean():
    gains = []
    for seed in range(5):
        raw, normalised, _, _ = taus(seed)
        assert normalised > raw, (seed, raw, normalised)
        gains.append(normalised - raw)
    print("Kendall tau gain per seed:", [round(g, 3) for g in gains])
    assert sum(gains) / len(gains) >= 0.05


def test_recovered_biases_follow_the_true_ones():
    import numpy as np

    _, _, scores, true_bias = taus(11)
    fitted = {b.reviewer_id: b.bias for b in ranking.reviewer_biases(scores)}
    ids = sorted(true_bias)
    assert np.corrcoef([true_bias[i] for i in ids], [fitted[i] for i in ids])[0, 1] > 0.9


# --------------------------------------------------------------------------- drafts saved as the expert types

def test_an_autosaved_draft_follows_the_draft_buttons_rules_and_leaves_a_submitted_score_alone():
    from datetime import datetime, timedelta, timezone

    from common.errors import DomainError
    from services.review.domain.lifecycles import ScoreState
    from services.review.domain.scoring import AUTOSAVE_RUN, decide_draft, joins_last_log

    partial = decide_draft("open", RUBRIC, {"mark_thought": "8", "mark_appeal": "", "comment": " 好 "}, None)
    assert (partial.marks, partial.comment, partial.total, partial.action, partial.state) == (
        {"thought": 8.0}, "好", None, "draft", ScoreState.DRAFT)
    for form, current, code in (({"mark_thought": "11"}, ScoreState.DRAFT, "invalid_marks"),
                                ({"mark_thought": "8"}, ScoreState.SUBMITTED, "already_submitted")):
        with pytest.raises(DomainError) as err:
            decide_draft("open", RUBRIC, form, current)
        assert err.value.code == code
    with pytest.raises(DomainError) as err:  # a closed round first: the same answer as the form's
        decide_draft("closed", RUBRIC, {"mark_thought": "8"}, ScoreState.SUBMITTED)
    assert err.value.code == "round_closed" and err.value.status == 409

    now = datetime(2020, 7, 1, 20, 0, tzinfo=timezone.utc)
    assert joins_last_log("draft", now - timedelta(minutes=3), now)
    assert not joins_last_log("draft", now - AUTOSAVE_RUN, now)  # a new sitting: a new line
    assert not joins_last_log("submit", now - timedelta(seconds=5), now) and not joins_last_log(None, None, now)
