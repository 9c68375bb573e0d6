"""Issue #17 items 5 and 7: what is missing before closing or confirming, what is pre-ticked, the two orders."""
from services.review.domain import completeness as c
from services.review.domain.ranking import RankedWork, ReviewerBias


def work(wid, rank, raw, norm, n=3):
    return RankedWork(wid, rank, n, raw, norm, 0.0, False)


def test_a_work_with_fewer_than_k_submitted_scores_is_short_and_not_preticked():
    short = c.short_of_k(3, {"a": 3, "b": 2}, ["a", "b", "c"])
    assert short == {"b": 2, "c": 0}
    assert c.pretickable(["b", "a", "c"], short) == ["a"]
    assert c.short_of_k(1, {"a": 1}, ["a"]) == {}
    assert c.short_of_k(3, {}, ["a", "b"], experts_assigned=False) == {}  # decided without experts: nothing missing


def test_closing_asks_only_when_scores_are_missing_and_names_the_count():
    assert c.before_closing(0, {}, 3) is None
    assert c.before_closing(0, {"a": 0}, 3) is None  # nothing assigned is pending: nothing to wait for
    q = c.before_closing(3, {"a": 1, "b": 2}, 3)
    assert q.missing == ["3 份评分未提交", "2 件作品的已提交评分少于 3 份"]
    assert "不能再提交" in q.consequence


def test_confirming_asks_when_a_chosen_work_is_short_and_says_what_happens():
    assert c.before_confirming(["a", "b"], {"c": 1}, 3, "教育部") is None
    q = c.before_confirming(["a", "b", "c"], {"c": 1}, 3, "教育部")
    assert q.missing == ["所选 1 件作品的已提交评分少于 3 份"]
    assert q.consequence == "将向教育部报送 3 件，不能撤回。"
    final = c.before_confirming(["c"], {"c": 0}, 3, None, "入选")
    assert final.consequence == "将确认 1 件为最终结果（入选），不能撤回。"


def test_the_raw_order_and_the_rows_whose_place_differs():
    ranked = [work("a", 1, 70.0, 80.0), work("b", 2, 85.0, 78.0), work("c", 3, 60.0, 60.0)]
    assert [r.work_id for r in c.sorted_rows(ranked, "normalised")] == ["a", "b", "c"]
    assert [r.work_id for r in c.sorted_rows(ranked, "raw")] == ["b", "a", "c"]
    assert c.other_places(ranked, "normalised") == {"a": 2, "b": 1}  # 「按原始均分为第 2 名」
    assert c.other_places(ranked, "raw") == {"b": 2, "a": 1}
    assert c.other_places(ranked[2:], "raw") == {}


def test_a_correction_resting_on_few_scores_per_expert_is_named():
    assert c.few_scores_note([ReviewerBias("r1", 5, 1.0), ReviewerBias("r2", 9, -1.0)]) is None
    note = c.few_scores_note([ReviewerBias("r1", 2, 1.0), ReviewerBias("r2", 4, -1.0), ReviewerBias("r3", 8, 0.0)])
    assert "2 位专家的评分少于 5 份" in note and "最少 2 份" in note
