"""Notify's lifecycles (services/notify/lifecycles.py) and the use cases that move them, on SQLite in memory."""
from __future__ import annotations

import smtplib
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from common.lifecycle import IllegalMove
from services.notify import copies, hooks, mail, messages, outgoing
from services.notify.lifecycles import DELIVERY, MESSAGE, WORK, DeliveryState, MessageState, WorkState
from services.notify.models import Base, Contact, MessageLog, Progress, SubmissionCopy, TenantName, WebhookSubscription


def test_the_values_are_the_strings_the_database_and_the_api_have_always_held():
    assert WorkState.labels() == {"submitted": "已提交", "withdrawn": "已撤回", "draft": "未提交"}
    assert [m.value for m in MessageState] == ["pending", "sent", "failed"]
    assert [d.value for d in DeliveryState] == ["pending", "delivered", "failed"]


def test_a_withdrawn_work_copy_never_moves_again():
    work = SimpleNamespace(state=None)
    WORK.move(work, WorkState.SUBMITTED)
    WORK.move(work, WorkState.DRAFT)
    WORK.move(work, WorkState.WITHDRAWN)
    for target in (WorkState.SUBMITTED, WorkState.DRAFT):
        with pytest.raises(IllegalMove):
            WORK.move(work, target)


def test_a_message_and_a_delivery_are_created_pending_and_stamped_when_they_arrive():
    message, delivery = SimpleNamespace(state=None, sent_at=None), SimpleNamespace(state=None, delivered_at=None)
    with pytest.raises(IllegalMove):
        MESSAGE.move(message, MessageState.SENT)
    MESSAGE.move(message, MessageState.PENDING)
    MESSAGE.move(message, MessageState.SENT, at="t1")
    assert (message.state, message.sent_at) == ("sent", "t1")
    with pytest.raises(IllegalMove):
        MESSAGE.move(message, MessageState.PENDING)  # nothing sends a message twice on purpose
    DELIVERY.move(delivery, DeliveryState.PENDING)
    DELIVERY.move(delivery, DeliveryState.DELIVERED, at="t2")
    DELIVERY.move(delivery, DeliveryState.PENDING)  # a replay
    assert (delivery.state, delivery.delivered_at) == ("pending", "t2")


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Contact(org_id="o1", tenant="seu", name="马克思主义学院", level="level2", email="o1@seu.edu.cn"))
        session.add(TenantName(tenant="seu", name="东南大学", contact_email="admin@seu.edu.cn"))
        session.flush()
        yield session


def _work(kind: str, **data):
    base = {"submission_id": "s1", "campaign_id": "c1", "track": "story", "org_id": "o1", "org_level": "level2"}
    return SimpleNamespace(type=kind, tenant="seu", event_id=f"e-{kind}", data={**base, **data})


def _submitted(at: str, stage: str = "video", final: bool = True):
    return _work("submission_submitted", stage=stage, final_stage=final, submitted_at=at)


def _reopened(at: str, still_in: list[str]):
    return _work("submission_reopened", reopened_at=at, stages_submitted=still_in, reopened_stage="video")


def test_a_withdrawal_that_overtakes_the_submission_wins(session):
    copies.record_submission_withdrawn(session, _work("submission_withdrawn"))
    copies.record_submission_submitted(session, _submitted("2020-07-01T10:00:00+08:00"))
    copy = session.get(SubmissionCopy, "s1")
    assert (copy.state, copy.stages, copy.complete) == ("withdrawn", ["video"], True)
    progress = session.scalars(select(Progress)).one()
    assert (progress.works_withdrawn, progress.works_submitted, progress.orgs_submitted) == (1, 0, 0)


def test_a_reopening_leaves_the_work_submitted_up_to_the_stages_still_in(session):
    copies.record_submission_submitted(session, _submitted("2020-07-01T10:00:00+08:00", "registration", False))
    copies.record_submission_submitted(session, _submitted("2020-07-02T10:00:00+08:00"))
    copies.record_submission_reopened(session, _reopened("2020-07-03T10:00:00+08:00", ["registration"]))
    copy = session.get(SubmissionCopy, "s1")
    assert (copy.state, copy.stages, copy.complete) == ("submitted", ["registration"], False)
    copies.record_submission_reopened(session, _reopened("2020-07-04T10:00:00+08:00", []))
    assert (copy.state, copy.stages) == ("draft", [])


def test_an_older_reopening_does_not_undo_a_newer_submission(session):
    copies.record_submission_submitted(session, _submitted("2020-07-02T10:00:00+08:00"))
    copies.record_submission_reopened(session, _reopened("2020-07-01T10:00:00+08:00", []))
    copy = session.get(SubmissionCopy, "s1")
    assert (copy.state, copy.stages, copy.complete) == ("submitted", ["video"], True)


def test_a_message_refused_for_good_fails_and_is_reported_to_the_university_once(session):
    templates = mail.Templates()
    assert messages.enqueue(session, templates, kind="reminder", tenant="seu", recipient="o1@seu.edu.cn",
                            dedupe_key="k1", context={"org_name": "学院", "campaign": "思政课", "track": "故事",
                                                      "stage": "视频", "deadline": "7月1日", "days_left": 3})
    session.flush()
    message = session.scalars(select(MessageLog)).one()
    assert message.state == MessageState.PENDING
    refused = smtplib.SMTPRecipientsRefused({"o1@seu.edu.cn": (550, b"no such user")})
    outgoing.attempt_failed(session, templates, message, refused)
    outgoing.attempt_failed(session, templates, message, refused)
    session.flush()
    assert message.state == "failed" and message.attempts == 2
    reports = session.scalars(select(MessageLog).where(MessageLog.kind == "address_failed")).all()
    assert [r.recipient for r in reports] == ["admin@seu.edu.cn"]
    assert reports[0].state == "pending"


def test_a_delivery_fails_for_good_when_its_subscription_is_gone(session):
    session.add(WebhookSubscription(id="sub1", tenant="seu", url="https://portal.example/hook",
                                    event_types=["submission_withdrawn"], secret="x", active=True))
    session.flush()
    event = _work("submission_withdrawn")
    event.to_dict = lambda: {"type": event.type}
    assert hooks.enqueue(session, event) == 1
    session.flush()
    sub_id = hooks.active_subscriptions(session, "seu")[0].id
    delivery = hooks.deliveries(session, "seu", sub_id)[0]
    assert delivery.state == DeliveryState.PENDING
    hooks.record_outcome(session, delivery.id, None, "订阅已删除", active=False)
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("failed", 1, "订阅已删除")
    hooks.replay(session, "seu", sub_id, delivery.id)
    assert (delivery.state, delivery.attempts) == ("pending", 0)
