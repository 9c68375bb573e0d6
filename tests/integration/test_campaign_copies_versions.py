"""Review, media and notify against a real RabbitMQ: a campaign's copies never go back to an older version.

Intake publishes `campaign_published` again when a campaign is corrected (issue #16). Here version 1 arrives,
then version 2 (which relabels a track, changes a media rule, drops a file kind and a track), then version 1
again, as a replay from the dead letters of a delivery that had failed would bring it. Each service keeps
version 2; media keeps no policy of what version 2 dropped, review no rubric of the dropped track.
"""
import copy

import pytest
from kombu import Connection, Exchange
from sqlalchemy import select

from common.db import Store
from common.events import make_event
from tests.conftest import wait_until

INTAKE = Exchange("intake.events", type="topic", durable=True)
CAMPAIGN = "siyige-2020-seu"
CORRECTED_LABEL = "专题微党课（更正）"
CORRECTED_MAX_BYTES = 123_456_789


def publish(amqp, *events):
    with Connection(amqp) as conn:
        producer = conn.Producer()
        for ev in events:
            producer.publish(ev.to_dict(), exchange=INTAKE, routing_key=ev.type, serializer="json", delivery_mode=2)


def versions() -> tuple[dict, dict]:
    """Version 1 as intake first publishes it (no `version`), and its correction, version 2."""
    from common.campaign import campaign_event_data, load_builtin_definitions

    v1 = campaign_event_data(load_builtin_definitions()[CAMPAIGN])
    v2 = {**copy.deepcopy(v1), "version": 2, "change_note": "微党课视频上限调整，战疫故事不再收图片，取消教育素材"}
    v2["tracks"]["lecture"]["label"] = CORRECTED_LABEL
    v2["tracks"]["lecture"]["media"]["video"]["max_bytes"] = CORRECTED_MAX_BYTES
    del v2["tracks"]["story"]["media"]["image"]
    del v2["tracks"]["material"]
    return v1, v2


@pytest.fixture
def services(make_config, start_service, tmp_path):
    """The three services that keep a copy of a campaign, each with its own database, on one broker."""
    from services.media.service import MediaService
    from services.notify.service import NotifyService
    from services.review.service import ReviewService

    stores = {}
    for cls in (ReviewService, MediaService, NotifyService):
        url = f"sqlite:///{tmp_path / f'{cls.name}.db'}"
        config = make_config(cls.name, DATABASE_URL=url, WEB_SECRET="test-secret")
        start_service(cls, config)
        stores[cls.name] = Store(url)
    return config["AMQP_URI"], stores


def handled(stores, event) -> bool:
    """Whether each service has handled `event` (its once-only handler recorded it, whatever it decided)."""
    from services.media.models import ProcessedEvent as MediaProcessed
    from services.notify.models import ProcessedEvent as NotifyProcessed
    from services.review.models import ProcessedEvent as ReviewProcessed

    for name, model in (("review", ReviewProcessed), ("media", MediaProcessed), ("notify", NotifyProcessed)):
        with stores[name].transaction() as s:
            if s.scalars(select(model).where(model.event_id == event.event_id)).first() is None:
                return False
    return True


def copies(stores) -> dict:
    """What each service keeps of the campaign: its version, the lecture's label, the rubrics, the policies."""
    from services.media.models import CampaignCopy as MediaCampaign, MediaPolicyCopy
    from services.notify.models import CampaignCopy as NotifyCampaign
    from services.review.models import CampaignCopy as ReviewCampaign, RubricCopy

    with stores["review"].transaction() as s:
        c = s.get(ReviewCampaign, CAMPAIGN)
        review = (c.version, c.tracks["lecture"]["label"], sorted(r.track for r in s.scalars(select(RubricCopy))))
    with stores["media"].transaction() as s:
        media = (s.get(MediaCampaign, CAMPAIGN).version,
                 {(p.track, p.kind): p.policy for p in s.scalars(select(MediaPolicyCopy))})
    with stores["notify"].transaction() as s:
        c = s.get(NotifyCampaign, CAMPAIGN)
        notify = (c.version, c.tracks["lecture"]["label"], sorted(c.tracks))
    return {"review": review, "media": media, "notify": notify}


def test_a_replayed_version_1_after_version_2_changes_no_copy(services):
    amqp, stores = services
    v1, v2 = versions()
    first, correction, replayed = (make_event("campaign_published", "seu", data) for data in (v1, v2, v1))

    publish(amqp, first)
    wait_until(lambda: handled(stores, first), timeout=30, what="version 1 handled by review, media and notify")
    before = copies(stores)
    assert before["review"] == (1, "专题微党课", ["lecture", "material", "report", "story"])
    assert ("story", "image") in before["media"][1] and ("material", "video") in before["media"][1]

    publish(amqp, correction)
    wait_until(lambda: handled(stores, correction), timeout=30, what="version 2 handled")
    publish(amqp, replayed)
    wait_until(lambda: handled(stores, replayed), timeout=30, what="the replayed version 1 handled")

    after = copies(stores)
    assert after["review"] == (2, CORRECTED_LABEL, ["lecture", "report", "story"])
    assert after["notify"] == (2, CORRECTED_LABEL, ["lecture", "report", "story"])
    version, policies = after["media"]
    assert version == 2
    assert policies[("lecture", "video")]["max_bytes"] == CORRECTED_MAX_BYTES
    assert set(policies) == {("lecture", "video"), ("lecture", "subtitle"), ("story", "document"), ("story", "video")}
