"""Notify's own tables: the log of every message, and the ministry's read model."""
from sqlalchemy import JSON, Column, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import declarative_base

from common.db import UTCDateTime, messaging_models, utcnow

Base = declarative_base()
OutboxMessage, ProcessedEvent = messaging_models(Base)


class MessageLog(Base):
    """One e-mail: what triggered it, to whom, and whether it went out."""

    __tablename__ = "messages"
    id = Column(Integer, primary_key=True, autoincrement=True)
    event_id = Column(String(32), nullable=False)
    kind = Column(String(40), nullable=False)
    tenant = Column(String(64), nullable=False, index=True)
    recipient = Column(String(200), nullable=False)
    subject = Column(String(300), nullable=False)
    state = Column(String(16), nullable=False)  # sent | failed
    error = Column(Text, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    __table_args__ = (UniqueConstraint("event_id", "kind", "recipient", name="uq_message_once"),)


class CampaignTitle(Base):
    __tablename__ = "campaigns"
    campaign_id = Column(String(64), primary_key=True)
    title = Column(String(300), nullable=False)
    derives_from = Column(String(64), nullable=True)


class TrackProgress(Base):
    """Read model for the ministry: works submitted per university, campaign and track."""

    __tablename__ = "track_progress"
    tenant = Column(String(64), primary_key=True)
    campaign_id = Column(String(64), primary_key=True)
    track = Column(String(40), primary_key=True)
    submitted = Column(Integer, nullable=False, default=0)
    withdrawn = Column(Integer, nullable=False, default=0)
    orgs = Column(JSON, nullable=False, default=list)  # ids of orgs that submitted
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
