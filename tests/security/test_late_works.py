"""Issue #14 item 19: a work submitted after its round's selection is not stranded in the closed round.

It opens the round's next batch (「… · 第2批」), which the admin sees in their list and can review and
select from, forwarding only what the first batch left of the limit.
"""
from sqlalchemy import select

from tests.conftest import wait_until
from tests.integration.test_review_service import INTAKE, admin, csrf, publish, review, story  # noqa: F401


def rounds_by_batch(store):
    from services.review.models import Entry, Round

    with store.transaction() as s:
        return {r.batch: (r.id, r.state, sorted(s.scalars(select(Entry.submission_id).where(Entry.round_id == r.id))))
                for r in s.scalars(select(Round))}


def test_a_work_after_the_selection_opens_the_next_batch_with_what_is_left_of_the_limit(review):
    from services.review import operations as ops
    from services.review.models import Round

    base, store = review["base"], review["store"]
    publish(review["amqp"], INTAKE, story("o-cse", 1), story("o-me", 1))
    wait_until(lambda: len(rounds_by_batch(store).get(1, (0, 0, []))[2]) == 2, what="two works in the round")
    first_id = rounds_by_batch(store)[1][0]

    web = admin(base)
    token = csrf(web.get(f"{base}/rounds/{first_id}").text)
    assert web.post(f"{base}/rounds/{first_id}/close", data={"csrf_token": token}).status_code in (200, 303)
    r = web.post(f"{base}/rounds/{first_id}/selection", data={"csrf_token": token, "selected": ["s-o-cse-1"]})
    assert r.status_code in (200, 303), r.text
    assert rounds_by_batch(store)[1][1] == "selected"

    publish(review["amqp"], INTAKE, story("o-ee", 1))  # submitted before its deadline, after the selection
    batches = wait_until(lambda: (b := rounds_by_batch(store)).get(2) and b, what="the late work's batch")
    assert batches[1][2] == ["s-o-cse-1", "s-o-me-1"]  # the selected batch keeps its record
    second_id, state, works = batches[2]
    assert (state, works) == ("open", ["s-o-ee-1"])

    listing = web.get(f"{base}/").text
    assert "第2批" in listing and second_id in listing
    page = web.get(f"{base}/rounds/{second_id}")
    assert page.status_code == 200 and "第2批" in page.text
    with store.transaction() as s:
        first, second = s.get(Round, first_id), s.get(Round, second_id)
        assert ops.ranking_of(s, second)["limit"] == ops.ranking_of(s, first)["limit"] - 1
