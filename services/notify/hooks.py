"""Webhook subscriptions and deliveries: what the entrypoints call, one transaction each."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from common.campaign.audience import includes
from common.db import utcnow
from common.errors import Forbidden, NotFound, Unprocessable
from common.locale import beijing_iso, beijing_times
from services.notify import portal, webhooks
from services.notify.lifecycles import DELIVERY, DeliveryState
from services.notify.models import SubmissionCopy, TenantName, WebhookDelivery, WebhookSubscription

# What a portal can subscribe to: events about its own university (portal.py says what each carries).
DELIVERABLE = portal.DELIVERABLE
MAX_SUBSCRIPTIONS = 20


def subscribe(session, tenant: str | None, body: dict, check_destination: Callable[[str], object]
              ) -> tuple[WebhookSubscription, str]:
    """A new subscription; `check_destination` (destinations.check with the service's policy and
    resolver) refuses a URL that is not a public receiver."""
    if tenant is None:
        raise Forbidden("Webhook 由高校门户订阅本校的事件；教育部账户请使用进度订阅源。", code="university_only")
    check_destination(body["url"])
    unknown = sorted(set(body["event_types"]) - set(DELIVERABLE))
    if unknown:
        allowed = "、".join(f"{name}（{portal.LABELS[name]}）" for name in DELIVERABLE)
        raise Unprocessable(f"不能订阅这些事件：{'、'.join(unknown)}。可订阅：{allowed}。",
                            code="unknown_event_type", field="event_types", expected=list(DELIVERABLE), found=unknown)
    count = len(session.scalars(select(WebhookSubscription.id).where(WebhookSubscription.tenant == tenant,
                                                             WebhookSubscription.active)).all())
    if count >= MAX_SUBSCRIPTIONS:
        raise Unprocessable(f"每所高校最多 {MAX_SUBSCRIPTIONS} 个订阅，已有 {count} 个。请先删除不用的订阅。",
                            code="too_many_subscriptions", expected=MAX_SUBSCRIPTIONS, found=count)
    secret = webhooks.new_secret()
    sub = WebhookSubscription(id=uuid.uuid4().hex, tenant=tenant, url=body["url"],
                              event_types=sorted(set(body["event_types"])), secret=secret, active=True)
    session.add(sub)
    session.flush()  # its creation time, shown with the secret
    return sub, secret


def subscription_json(sub: WebhookSubscription) -> dict:
    return {"id": sub.id, "url": sub.url, "event_types": sub.event_types, "active": sub.active,
            "created_at": beijing_iso(sub.created_at)}


def own_subscription(session, tenant: str | None, sub_id: str) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, sub_id)
    if sub is None or sub.tenant != tenant or not sub.active:
        raise NotFound(f"找不到订阅 {sub_id}。", code="subscription_not_found", found=sub_id)
    return sub


def active_subscriptions(session, tenant: str | None) -> list[WebhookSubscription]:
    return session.scalars(select(WebhookSubscription).where(WebhookSubscription.tenant == tenant,
                                                             WebhookSubscription.active)).all()


def unsubscribe(session, tenant: str | None, sub_id: str) -> None:
    """The subscription ends; its deliveries not yet made fail when their turn comes (`record_outcome`)."""
    own_subscription(session, tenant, sub_id).active = False


def deliveries(session, tenant: str | None, sub_id: str) -> list[WebhookDelivery]:
    """The newest 200 deliveries of one of the caller's subscriptions."""
    sub = own_subscription(session, tenant, sub_id)
    return session.scalars(select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)
                           .order_by(WebhookDelivery.created_at.desc()).limit(200)).all()


def enqueue(session, event) -> int:
    """A delivery per active subscription of the event's university to its type.

    `event.tenant` is whose portal hears it: an event built for one university (portal.py), or one the platform
    published about one university's work."""
    subs = session.scalars(select(WebhookSubscription).where(WebhookSubscription.tenant == event.tenant,
                                                       WebhookSubscription.active)).all()
    added = 0
    for sub in subs:
        if event.type not in sub.event_types:
            continue
        exists = session.scalar(select(WebhookDelivery.id).where(WebhookDelivery.subscription_id == sub.id,
                                                           WebhookDelivery.event_id == event.event_id))
        if exists is None:
            d = WebhookDelivery(id=uuid.uuid4().hex, subscription_id=sub.id, tenant=event.tenant,
                                event_id=event.event_id, event_type=event.type,
                                body=json.dumps(beijing_times(event.to_dict()), ensure_ascii=False), attempts=0,
                                next_attempt_at=utcnow())
            DELIVERY.move(d, DeliveryState.PENDING)
            session.add(d)
            added += 1
    return added


def enqueue_all(session, events) -> int:
    """Each event (None: nothing to tell) to its university's subscriptions; how many deliveries were added."""
    return sum(enqueue(session, e) for e in events if e is not None)


def data_schema(name: str) -> dict:
    """The `data` of a deliverable event, as the API document describes it (portal.data_schema)."""
    return portal.data_schema(name)


def enqueue_file_checked(session, event, file) -> int:
    """Media's check of a file, to the portal of the university the file's work belongs to (notify's copy)."""
    return enqueue_all(session, [portal.file_checked(event, file, session.get(SubmissionCopy, file.submission_id))])


def enqueue_selection(session, event, final: dict | None) -> int:
    """A round's results, each work's to its own university's portal (a ministry round spans universities)."""
    return enqueue_all(session, portal.selection_results(event, final, lambda sid, said: work_tenant(session, sid, said)))


def enqueue_forwarded(session, event) -> int:
    """A work forwarded up, to its university's portal."""
    if work_tenant(session, event.data["submission_id"], event.tenant) is None:
        return 0
    return enqueue_all(session, [portal.forwarded_result(event)])


def enqueue_campaign(session, event) -> int:
    """A published campaign (a new version), to the portal of each university it is for."""
    universities = campaign_universities(session, event.tenant, event.data.get("audience"))
    return enqueue_all(session, portal.campaign_published(event, universities))


def work_tenant(session, submission_id: str, said: str) -> str | None:
    """The university of a work as notify's copy has it (intake's word); the event's `said` when there is no copy
    yet, None when the two disagree: a work is never told to another university's portal."""
    copy = session.get(SubmissionCopy, submission_id)
    if copy is None:
        return said
    return copy.tenant if copy.tenant == said else None


def campaign_universities(session, publisher: str, audience: dict | None) -> list[str]:
    """The universities a published campaign is for, of those with a portal subscribed: the ministry's, each
    registered university in its audience (common.campaign.audience); a university's own (a college's notice too),
    that university."""
    if publisher != "ministry":
        return [publisher]
    # only those with a subscription: 3,000 universities' rows are not read to find the few portals listening
    listening = select(WebhookSubscription.tenant).where(WebhookSubscription.active)
    return sorted(t.tenant for t in session.scalars(select(TenantName).where(TenantName.tenant != "ministry",
                                                                            TenantName.tenant.in_(listening)))
                  if includes(audience, t.tenant, t.category))


def delivery_json(d: WebhookDelivery) -> dict:
    return {"id": d.id, "event_id": d.event_id, "event_type": d.event_type, "state": d.state,
            "attempts": d.attempts, "last_status": d.last_status, "last_error": d.last_error,
            "created_at": beijing_iso(d.created_at), "next_attempt_at": beijing_iso(d.next_attempt_at),
            "delivered_at": beijing_iso(d.delivered_at)}


def replay(session, tenant: str | None, sub_id: str, delivery_id: str) -> WebhookDelivery:
    own_subscription(session, tenant, sub_id)
    d = session.get(WebhookDelivery, delivery_id)
    if d is None or d.subscription_id != sub_id:
        raise NotFound(f"找不到投递记录 {delivery_id}。", code="delivery_not_found", found=delivery_id)
    DELIVERY.move(d, DeliveryState.PENDING)
    d.next_attempt_at, d.attempts = utcnow(), 0
    return d


def claim_due(session, now: datetime, flights, lease: timedelta, key_of: Callable[[str], str]) -> list[tuple]:
    """Due deliveries this process has room for (delivery.Flights: per receiver, per university),
    claimed: their next attempt is pushed past `lease`, so another replica (or the next tick) leaves
    them alone while they are in flight; the attempt's outcome sets the real next time."""
    due = session.scalars(select(WebhookDelivery).where(WebhookDelivery.state == DeliveryState.PENDING,
                                                  WebhookDelivery.next_attempt_at <= now)
                    .order_by(WebhookDelivery.next_attempt_at).limit(200).with_for_update(skip_locked=True)).all()
    claimed, taken = [], {}
    for d in due:
        if len(claimed) >= flights.free():
            break
        if flights.flying(d.id):
            continue
        sub = session.get(WebhookSubscription, d.subscription_id)
        lanes = flights.lanes(key_of(sub.url), d.tenant)
        if not flights.has_room(lanes, taken):
            continue  # this receiver or university is busy: its deliveries wait, nobody else's do
        for lane, _ in lanes:
            taken[lane] = taken.get(lane, 0) + 1
        d.next_attempt_at = now + lease
        claimed.append((d.id, lanes, sub.url, sub.secret, d.body, d.event_type, sub.active))
    return claimed


def record_attempt(d: WebhookDelivery, status: int | None, error: str | None, now: datetime) -> None:
    d.attempts += 1
    d.last_status, d.last_error = status, error
    if status is not None and 200 <= status < 300:
        DELIVERY.move(d, DeliveryState.DELIVERED, at=now)
    elif webhooks.is_exhausted(d.attempts):
        DELIVERY.move(d, DeliveryState.FAILED)
    else:
        d.next_attempt_at = now + timedelta(seconds=webhooks.next_attempt_delay(d.attempts))


def record_outcome(session, delivery_id: str, status: int | None, error: str | None, active: bool) -> None:
    """What an attempt found, in the delivery log; a delivery of a deleted subscription fails for good."""
    d = session.get(WebhookDelivery, delivery_id)
    record_attempt(d, status, error, utcnow())
    if not active:
        DELIVERY.move(d, DeliveryState.FAILED)
