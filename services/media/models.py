"""Media's own tables: its copy of the campaigns' media policies, and check reports."""
from sqlalchemy import JSON, Column, Integer, String, Text
from sqlalchemy.orm import declarative_base

from common.db import UTCDateTime, messaging_models, utcnow

Base = declarative_base()
OutboxMessage, ProcessedEvent = messaging_models(Base)


class CampaignCopy(Base):
    """Which version of a campaign media's policies are of (its policies are the rows of MediaPolicyCopy).

    A row of its own, not a column of the policies: a version whose tracks have no media policy left still
    says it is the newest, so an older `campaign_published` arriving later does not bring policies back.
    """

    __tablename__ = "campaigns"
    campaign_id = Column(String(64), primary_key=True)
    version = Column(Integer, nullable=False)


class MediaPolicyCopy(Base):
    """A track's policy for one file kind, as the last `campaign_published` said."""

    __tablename__ = "media_policies"
    campaign_id = Column(String(64), primary_key=True)
    track = Column(String(40), primary_key=True)
    kind = Column(String(16), primary_key=True)
    policy = Column(JSON, nullable=False)


class CheckReport(Base):
    """One file's check. state: checking (claimed by a replica) -> done; a done video may be held (`held_since`).

    The claim keeps two replicas from checking the same file when the same
    `file_uploaded` reaches both (a duplicate publish); it expires, so a
    replica that died mid-check does not block the file forever.
    """

    __tablename__ = "check_reports"
    file_id = Column(String(32), primary_key=True)
    submission_id = Column(String(32), nullable=False, index=True)
    tenant = Column(String(64), nullable=False)
    campaign_id = Column(String(64), nullable=False)
    track = Column(String(40), nullable=False)
    kind = Column(String(16), nullable=False)
    object_key = Column(String(300), nullable=False)
    declared_type = Column(String(120), nullable=True)  # the portal's type (`file_uploaded`), for a check again
    state = Column(String(16), nullable=False)
    claimed_by = Column(String(64), nullable=True)
    claimed_at = Column(UTCDateTime, nullable=True)
    verdict = Column(String(16), nullable=True)
    findings = Column(JSON, nullable=False, default=list)
    facts = Column(JSON, nullable=False, default=dict)
    derived = Column(JSON, nullable=False, default=dict)  # name -> object key
    cues = Column(JSON, nullable=False, default=list)  # subtitle cues (embedded, or the sidecar's own)
    text = Column(Text, nullable=False, default="")  # document or subtitle text, for text analysis
    checked_at = Column(UTCDateTime, nullable=True)
    # A video's report is kept but its `file_checked` waits while a subtitle file of its work is being checked
    # (pipeline.py); since when, so that the wait has an end even across a restart.
    held_since = Column(UTCDateTime, nullable=True, index=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
