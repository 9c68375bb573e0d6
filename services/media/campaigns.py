"""Media's copy of each campaign's media policies, per track and file kind, from `campaign_published`.

A correction publishes the campaign again with a higher `version`: its policies replace the copy whole (a track or
file kind it dropped leaves no policy behind). Events come at least once and the dead letters may replay an old
one after a newer one, so an older version is ignored (common.campaign.versions.newer_or_same).
"""
from __future__ import annotations

import logging

from sqlalchemy import select

from common.campaign.versions import version_of
from common.copies import takes_campaign_version
from services.media.models import CampaignCopy, MediaPolicyCopy

log = logging.getLogger(__name__)


def record_campaign(session, data: dict) -> bool:
    """Keep the media policies of the published version; False (and nothing changed) if the copy is newer."""
    campaign_id, version = data["campaign_id"], version_of(data)
    if not takes_campaign_version(session, CampaignCopy, campaign_id, version, log):
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
