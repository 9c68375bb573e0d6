"""A confirmed round is the office's record (issue #17): its ranking as confirmed, and a work's history across rounds."""
from datetime import datetime, timezone

from services.review.domain import history, ranking


def at(day: int) -> datetime:
    return datetime(2020, 7, day, tzinfo=timezone.utc)


def test_a_confirmed_ranking_is_its_record_not_a_new_fit():
    # after the chosen works went up, a fit of what is left would make w2 first; the record keeps 2 and 4
    recorded = [ranking.Recorded("w1", 1, 88.0, 87.5), ranking.Recorded("w2", 2, 80.0, 81.0),
                ranking.Recorded("w3", 3, 75.0, 74.0), ranking.Recorded("w4", 4, 70.0, 70.0),
                ranking.Recorded("w5", 5, None, None)]
    fitted = [ranking.RankedWork("w2", 1, 3, 80.5, 79.9, 14.0, True), ranking.RankedWork("w4", 2, 3, 70.5, 70.1, 2.0,
                                                                                          False)]
    ranked, unscored = ranking.as_confirmed(recorded, fitted)
    assert [(r.work_id, r.rank, r.normalised, r.raw_mean) for r in ranked] == [
        ("w1", 1, 88.0, 87.5), ("w2", 2, 80.0, 81.0), ("w3", 3, 75.0, 74.0), ("w4", 4, 70.0, 70.0)]
    assert (ranked[1].n_scores, ranked[1].spread, ranked[1].disagreement) == (3, 14.0, True)  # the fit's details
    assert (ranked[0].n_scores, ranked[0].spread) == (0, 0.0)  # scores no longer found: the record still stands
    assert unscored == ["w5"]


def place(round_id, level, day, rank, selected, up="ministry", batch=1, scored=True, vetting=False):
    return history.Place(round_id, level, batch, at(day), rank, scored, selected, up, vetting)


def test_a_works_history_is_the_places_confirmed_before_the_round_oldest_first():
    places = [place("uni", "university", 24, 3, True), place("college", "level2", 10, 2, True, up="university"),
              place("nation", "ministry", 28, 1, True, up=None)]
    # the ministry's round, not confirmed yet: every place before it
    assert [p.round_id for p in history.earlier_places(places, "nation", None)] == ["college", "uni"]
    # the university round's record shows only what came before it, never the ministry's later result
    assert [p.round_id for p in history.earlier_places(places, "uni", at(24))] == ["college"]
    assert [history.describe(p) for p in history.earlier_places(places, "nation", at(28))] == [
        "院级评审第 2 名，报送高校党委", "校级评审第 3 名，报送教育部"]


def test_each_kind_of_result_is_said_in_words():
    assert history.describe(place("r", "university", 1, 4, False)) == "校级评审第 4 名，未报送"
    assert history.describe(place("r", "university", 1, 2, True, up=None, batch=2)) == "校级评审（第 2 批）第 2 名，入选"
    assert history.describe(place("r", "university", 1, 5, False, scored=False)) == "校级评审未评分，未报送"
    assert history.describe(place("r", "university", 1, 1, False, up=None, vetting=True)) == "校级评审：审核不通过"
