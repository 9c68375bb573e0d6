"""Media's own tables: its copy of the campaigns' media policies, and check reports."""
from sqlalchemy import JSON, Column, String
from sqlalchemy.orm import declarative_base

from common.db import UTCDateTime, messaging_models, utcnow

Base = declarative_base()
OutboxMessage, ProcessedEvent = messaging_models(Base)


class MediaPolicyCopy(Base):
    """A track's policy for one file kind, as the last `campaign_published` said."""

    __tablename__ = "media_policies"
    campaign_id = Column(String(64), primary_key=True)
    track = Column(String(40), primary_key=True)
    kind = Column(String(16), primary_key=True)
    policy = Column(JSON, nullable=False)


class CheckReport(Base):
    __tablename__ = "check_reports"
    file_id = Column(String(32), primary_key=True)
    submission_id = Column(String(32), nullable=False, index=True)
    tenant = Column(String(64), nullable=False)
    verdict = Column(String(16), nullable=False)
    findings = Column(JSON, nullable=False)
    facts = Column(JSON, nullable=False)
    checked_at = Column(UTCDateTime, nullable=False, default=utcnow)
