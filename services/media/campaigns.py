"""Media's copy of each campaign's media policies, per track and file kind, from `campaign_published`.

A correction publishes the campaign again with a higher `version`: its policies replace the copy whole (a track or
file kind it dropped leaves no policy behind). Events come at least once and the dead letters may replay an old
one after a newer one, so an older version is ignored (common.campaign.versions.newer_or_same).
"""
from __future__ import annotations

import logging

from sqlalchemy import select

from common.campaign.versions import newer_or_same, version_of
from common.db import serialize_on
from services.media.models import CampaignCopy, MediaPolicyCopy

log = logging.getLogger(__name__)


def record_campaign(session, data: dict) -> bool:
    """Keep the media policies of the published version; False (and nothing changed) if the copy is newer."""
    campaign_id, version = data["campaign_id"], version_of(data)
    # two versions handled at once would each read the copy before the other wrote it
    serialize_on(session, "campaign_published", campaign_id)
    stored = session.get(CampaignCopy, campaign_id)
    if not newer_or_same(stored.version if stored else None, version):
        log.info("campaign %s: ignored campaign_published of version %s, the policies are of version %s",
                 campaign_id, version, stored.version)
        return False
    session.merge(CampaignCopy(campaign_id=campaign_id, version=version))
    kept = {(track, kind) for track, spec in data["tracks"].items() for kind in spec["media"]}
    for row in session.scalars(select(MediaPolicyCopy).where(MediaPolicyCopy.campaign_id == campaign_id)):
        if (row.track, row.kind) not in kept:
            session.delete(row)
    for track, spec in data["tracks"].items():
        for kind, policy in spec["media"].items():
            session.merge(MediaPolicyCopy(campaign_id=campaign_id, track=track, kind=kind, policy=policy))
    return True
