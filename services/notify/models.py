"""Notify's own tables: contacts, campaigns and submissions it has heard of, the
message log, and the ministry's read model."""
from sqlalchemy import JSON, Column, Index, Integer, String, Text
from sqlalchemy.orm import declarative_base

from common.db import UTCDateTime, messaging_models, utcnow

Base = declarative_base()
OutboxMessage, ProcessedEvent = messaging_models(Base)


class Contact(Base):
    """An org of a university with its contact address (from `orgs_imported`)."""

    __tablename__ = "contacts"
    org_id = Column(String(32), primary_key=True)
    tenant = Column(String(64), nullable=False, index=True)
    name = Column(String(200), nullable=False)
    level = Column(String(16), nullable=False)
    parent_id = Column(String(32), nullable=True)
    email = Column(String(200), nullable=True)


class CampaignCopy(Base):
    """What notify needs of a campaign: title, owner, tracks with levels and deadlines."""

    __tablename__ = "campaigns"
    campaign_id = Column(String(64), primary_key=True)
    tenant = Column(String(64), nullable=False)  # who published it: the ministry or a university
    title = Column(String(300), nullable=False)
    derives_from = Column(String(64), nullable=True)
    tracks = Column(JSON, nullable=False)


class SubmissionCopy(Base):
    """Which org has submitted which stage (for reminders and progress)."""

    __tablename__ = "submissions"
    submission_id = Column(String(32), primary_key=True)
    tenant = Column(String(64), nullable=False)
    campaign_id = Column(String(64), nullable=False)
    track = Column(String(40), nullable=False)
    org_id = Column(String(32), nullable=False)
    stages = Column(JSON, nullable=False, default=list)  # stage keys submitted
    state = Column(String(16), nullable=False)  # submitted | withdrawn
    __table_args__ = (Index("ix_notify_sub_campaign", "campaign_id", "track", "state"),)


class MessageLog(Base):
    """One e-mail. pending -> sent, or -> failed (permanently refused or out of attempts).

    `dedupe_key` is unique: a redelivered event or a second reminder run finds
    the message already there and adds nothing.
    """

    __tablename__ = "messages"
    id = Column(Integer, primary_key=True, autoincrement=True)
    dedupe_key = Column(String(300), nullable=False, unique=True)
    kind = Column(String(40), nullable=False)
    tenant = Column(String(64), nullable=False, index=True)
    recipient = Column(String(200), nullable=False)
    subject = Column(String(300), nullable=False)
    body = Column(Text, nullable=False)
    state = Column(String(16), nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime, nullable=False, default=utcnow)
    last_error = Column(Text, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    sent_at = Column(UTCDateTime, nullable=True)
    __table_args__ = (Index("ix_messages_due", "state", "next_attempt_at"),)


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
