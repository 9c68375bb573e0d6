"""Review's own tables: its copy of rubrics and of the works that entered review."""
from sqlalchemy import JSON, Column, String
from sqlalchemy.orm import declarative_base

from common.db import UTCDateTime, messaging_models, utcnow

Base = declarative_base()
OutboxMessage, ProcessedEvent = messaging_models(Base)


class RubricCopy(Base):
    __tablename__ = "rubrics"
    campaign_id = Column(String(64), primary_key=True)
    track = Column(String(40), primary_key=True)
    criteria = Column(JSON, nullable=False)


class Entry(Base):
    """A submitted work as review knows it: ids and title, never the org's name."""

    __tablename__ = "entries"
    submission_id = Column(String(32), primary_key=True)
    tenant = Column(String(64), nullable=False, index=True)
    campaign_id = Column(String(64), nullable=False)
    track = Column(String(40), nullable=False)
    stage = Column(String(40), nullable=False)
    title = Column(String(300), nullable=False)
    state = Column(String(16), nullable=False)  # submitted | withdrawn
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
