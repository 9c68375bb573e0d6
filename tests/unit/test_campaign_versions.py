"""A campaign's copies never go back to an older version (issue #16): the rule, and each service's copy under it.

The rule is `common.campaign.versions.newer_or_same`; review, media and notify each apply it when a
`campaign_published` arrives. Here their copy functions run on SQLite in memory with the events in the order a
replay from the dead letters can bring them: version 2 first, then version 1.
"""
from __future__ import annotations

import copy
import logging
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from common.campaign import campaign_event_data
from common.campaign.versions import newer_or_same, version_of

CORRECTED_LABEL = "专题微党课（更正）"
CORRECTED_MAX_BYTES = 123_456_789
IGNORED = "campaign siyige-2020-seu: ignored campaign_published of version 1"


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(("stored", "incoming", "takes"), [
    (None, 1, True),   # the first event of a campaign
    (None, 3, True),   # a correction that overtook the first event
    (1, 2, True),      # a correction
    (2, 5, True),      # versions may be skipped (a copy that followed its parent, or a lost event)
    (2, 2, True),      # a redelivery: the same copy again
    (2, 1, False),     # a replay of an older event after a newer one
    (7, 6, False),
])
def test_a_copy_takes_a_newer_or_the_same_version_only(stored, incoming, takes):
    assert newer_or_same(stored, incoming) is takes


def test_an_event_without_a_version_is_version_1():
    assert version_of({"campaign_id": "c"}) == 1
    assert version_of({"campaign_id": "c", "version": 4, "change_note": "x"}) == 4


# --------------------------------------------------------------------------- the copies


def versions(seu) -> tuple[dict, dict]:
    """Version 1 as intake first publishes it (no `version`), and a version 2 that relabels the lecture track,
    changes its video limit, drops the story's images and drops the material track."""
    v1 = campaign_event_data(seu)
    v2 = {**copy.deepcopy(v1), "version": 2, "change_note": "微党课视频上限调整，战疫故事不再收图片，取消教育素材"}
    lecture = v2["tracks"]["lecture"]
    lecture["label"] = CORRECTED_LABEL
    lecture["media"]["video"]["max_bytes"] = CORRECTED_MAX_BYTES
    del v2["tracks"]["story"]["media"]["image"]
    del v2["tracks"]["material"]
    return v1, v2


def in_memory(base) -> Session:
    engine = create_engine("sqlite://")
    base.metadata.create_all(engine)
    return Session(engine)


def test_review_keeps_version_2_and_no_rubric_of_a_dropped_track(seu, caplog):
    from services.review.models import Base, CampaignCopy, RubricCopy
    from services.review.operations.copies import record_campaign

    v1, v2 = versions(seu)
    with in_memory(Base) as session:
        assert record_campaign(session, "seu", v1)
        session.flush()
        assert {r.track for r in session.scalars(select(RubricCopy))} == {"lecture", "story", "material", "report"}
        assert record_campaign(session, "seu", v2)
        session.flush()
        with caplog.at_level(logging.INFO):
            assert not record_campaign(session, "seu", v1)
        session.flush()
        assert IGNORED in caplog.text
        kept = session.get(CampaignCopy, "siyige-2020-seu")
        assert (kept.version, kept.tracks["lecture"]["label"]) == (2, CORRECTED_LABEL)
        assert "material" not in kept.tracks
        assert {r.track for r in session.scalars(select(RubricCopy))} == {"lecture", "story", "report"}
        assert record_campaign(session, "seu", v2)  # a redelivery of version 2 changes nothing
        session.flush()
        assert session.get(CampaignCopy, "siyige-2020-seu").tracks == v2["tracks"]


def media_policies(session) -> dict:
    from services.media.models import MediaPolicyCopy

    return {(p.track, p.kind): p.policy for p in session.scalars(select(MediaPolicyCopy))}


def test_media_keeps_version_2_and_no_policy_it_dropped(seu, caplog):
    from services.media.campaigns import record_campaign
    from services.media.models import Base, CampaignCopy

    v1, v2 = versions(seu)
    with in_memory(Base) as session:
        assert record_campaign(session, v1)
        session.flush()
        assert ("story", "image") in media_policies(session)
        assert record_campaign(session, v2)
        session.flush()
        with caplog.at_level(logging.INFO):
            assert not record_campaign(session, v1)
        session.flush()
        assert IGNORED in caplog.text
        policies = media_policies(session)
        assert session.get(CampaignCopy, "siyige-2020-seu").version == 2
        assert policies[("lecture", "video")]["max_bytes"] == CORRECTED_MAX_BYTES
        assert set(policies) == {("lecture", "video"), ("lecture", "subtitle"), ("story", "document"),
                                 ("story", "video")}


def test_media_remembers_a_version_that_left_no_policy(seu):
    """A version with no media policy at all still says it is the newest: version 1's do not come back."""
    from services.media.campaigns import record_campaign
    from services.media.models import Base

    v1, _ = versions(seu)
    bare = {**copy.deepcopy(v1), "version": 2}
    for track in bare["tracks"].values():
        track["media"] = {}
    with in_memory(Base) as session:
        record_campaign(session, v1)
        record_campaign(session, bare)
        session.flush()
        assert media_policies(session) == {}
        assert not record_campaign(session, v1)
        session.flush()
        assert media_policies(session) == {}


def test_notify_keeps_version_2(seu, caplog):
    from services.notify.copies import record_campaign_published
    from services.notify.models import Base, CampaignCopy

    v1, v2 = versions(seu)
    with in_memory(Base) as session:
        assert record_campaign_published(session, SimpleNamespace(tenant="seu", data=v2))
        session.flush()
        with caplog.at_level(logging.INFO):
            assert not record_campaign_published(session, SimpleNamespace(tenant="seu", data=v1))
        session.flush()
        assert IGNORED in caplog.text
        kept = session.get(CampaignCopy, "siyige-2020-seu")
        assert (kept.version, kept.tracks["lecture"]["label"]) == (2, CORRECTED_LABEL)
        assert "material" not in kept.tracks


def test_notify_counts_no_progress_for_what_a_newer_version_drops(seu):
    """The dashboard counts orgs per track and level of the copy: a track a correction drops leaves no row."""
    from services.notify.copies import record_campaign_published
    from services.notify.models import Base, Progress

    v1, v2 = versions(seu)
    with in_memory(Base) as session:
        assert record_campaign_published(session, SimpleNamespace(tenant="seu", data=v1))
        session.flush()
        assert "material" in {row.track for row in session.scalars(select(Progress))}
        assert record_campaign_published(session, SimpleNamespace(tenant="seu", data=v2))
        session.flush()
        tracks = {row.track for row in session.scalars(select(Progress))}
        assert "material" not in tracks and "lecture" in tracks
