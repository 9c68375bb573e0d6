"""Notify's own tables: contacts, campaigns and submissions it has heard of, the
message log, and the ministry's read model."""
from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import declarative_base

from common.copies import api_key_copy_model
from common.db import UTCDateTime, messaging_models, utcnow
from common.web import session_model

Base = declarative_base()
OutboxMessage, ProcessedEvent = messaging_models(Base)
WebSession = session_model(Base)  # who is signed in to the pages (common.web.Sessions)
ApiKeyCopy = api_key_copy_model(Base)  # the keys intake issued, to authenticate callers and sign people in


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
    # the campaign's version this copy is of: an older `campaign_published` arriving later is ignored
    version = Column(Integer, nullable=False, default=1, server_default="1")
    # what this version's announcement (活动通知) says beside title and tracks, to tell an org whose contact arrives
    # later: {"short_title", "contacts", "notice", "change_note", "attachment"} (announcement.kept)
    announcement = Column(JSON, nullable=True)
    # whom it is for ({categories?, universities?}, common.campaign.audience); NULL: every university
    audience = Column(JSON, nullable=True)


class SubmissionCopy(Base):
    """Which org has submitted which stage (for reminders and progress)."""

    __tablename__ = "submissions"
    submission_id = Column(String(32), primary_key=True)
    tenant = Column(String(64), nullable=False)
    campaign_id = Column(String(64), nullable=False)
    track = Column(String(40), nullable=False)
    org_id = Column(String(32), nullable=False)
    level = Column(String(16), nullable=False)
    stages = Column(JSON, nullable=False, default=list)  # stage keys submitted
    complete = Column(Boolean, nullable=False, default=False)  # the final stage is in
    state = Column(String(16), nullable=False)  # submitted | withdrawn | draft (reopened with nothing left in)
    # when the newest submission and the newest reopening counted here happened (intake's times): events
    # can arrive out of order, and an older one must not undo what a newer one counted
    last_submitted_at = Column(UTCDateTime, nullable=True)
    last_reopened_at = Column(UTCDateTime, nullable=True)
    # a recurring track's work: the period it belongs to (YYYY-MM, the month of its date field); None elsewhere
    period = Column(String(16), nullable=True)
    __table_args__ = (Index("ix_notify_sub_progress", "tenant", "campaign_id", "track", "level"),)


class TenantName(Base):
    __tablename__ = "tenants"
    tenant = Column(String(64), primary_key=True)
    name = Column(String(200), nullable=False)
    contact_email = Column(String(200), nullable=True)  # told about addresses that fail for good
    # direct, co_built, local (common.campaign.CATEGORIES); NULL: not registered. Whether it is in an audience
    category = Column(String(16), nullable=True)


class Counter(Base):
    """Monotonic change numbers for the feeds' since-cursor."""

    __tablename__ = "counters"
    name = Column(String(40), primary_key=True)
    value = Column(BigInteger, nullable=False)


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
    html_body = Column(Text, nullable=True)  # from a `<name>.body.html` template, sent as an alternative part
    # why the university's own template was not used (ours was): shown in GET /api/v1/messages
    template_error = Column(Text, nullable=True)
    state = Column(String(16), nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime, nullable=False, default=utcnow)
    last_error = Column(Text, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    sent_at = Column(UTCDateTime, nullable=True)
    # files sent with it, [{"name", "content_type", "sha256", "size"}]; their bytes are in `message_attachments`
    attachments = Column(JSON, nullable=True)
    __table_args__ = (Index("ix_messages_due", "state", "next_attempt_at"),)


class MessageAttachment(Base):
    """The bytes of a file mails carry, once however many mails carry it (by its SHA-256).

    A campaign's notice goes to every university, and a university's to each of its orgs: a 40 KB document
    in each of 3,000 rows of the log would be 120 MB for one announcement, here it is one row.
    """

    __tablename__ = "message_attachments"
    sha256 = Column(String(64), primary_key=True)
    data = Column(LargeBinary, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class Progress(Base):
    """Read model for the ministry: per university, campaign, track and submitting level.

    Recomputed for its key on every event that touches it; `seq` is the
    change number the feed's since-cursor follows.
    """

    __tablename__ = "progress"
    tenant = Column(String(64), primary_key=True)
    campaign_id = Column(String(64), primary_key=True)
    track = Column(String(40), primary_key=True)
    level = Column(String(16), primary_key=True)
    orgs_expected = Column(Integer, nullable=False, default=0)
    orgs_submitted = Column(Integer, nullable=False, default=0)
    works_submitted = Column(Integer, nullable=False, default=0)  # final stage in
    works_in_progress = Column(Integer, nullable=False, default=0)  # an earlier stage in
    works_withdrawn = Column(Integer, nullable=False, default=0)
    works_forwarded = Column(Integer, nullable=False, default=0)
    # a recurring track's row counts one period (the current one, YYYY-MM: periods.counted_period); None: all works
    period = Column(String(16), nullable=True)
    seq = Column(BigInteger, nullable=False, unique=True)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class WebhookSubscription(Base):
    """A portal's subscription to event types of its own university."""

    __tablename__ = "webhook_subscriptions"
    id = Column(String(32), primary_key=True)
    tenant = Column(String(64), nullable=False, index=True)
    url = Column(String(500), nullable=False)
    event_types = Column(JSON, nullable=False)
    secret = Column(String(100), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class WebhookDelivery(Base):
    """One event to one subscription: pending -> delivered, or failed after its attempts."""

    __tablename__ = "webhook_deliveries"
    id = Column(String(32), primary_key=True)  # sent as X-Siyige-Delivery
    subscription_id = Column(String(32), nullable=False, index=True)
    tenant = Column(String(64), nullable=False)
    event_id = Column(String(32), nullable=False)
    event_type = Column(String(64), nullable=False)
    body = Column(Text, nullable=False)
    state = Column(String(16), nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime, nullable=False, default=utcnow)
    last_status = Column(Integer, nullable=True)
    last_error = Column(Text, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    delivered_at = Column(UTCDateTime, nullable=True)
    __table_args__ = (UniqueConstraint("subscription_id", "event_id", name="uq_delivery_once"),
                      Index("ix_deliveries_due", "state", "next_attempt_at"))


class FileCopy(Base):
    """Which org a file belongs to (from `file_uploaded`), to tell it the check result; what it is (`file_checked`)."""

    __tablename__ = "files"
    file_id = Column(String(32), primary_key=True)
    tenant = Column(String(64), nullable=False)
    submission_id = Column(String(32), nullable=False)
    org_id = Column(String(32), nullable=False)
    name = Column(String(255), nullable=False)
    # media's copy of the file's text (a document's, a video's subtitles), for the material library
    text_key = Column(String(300), nullable=True)
    # the type media determined from the content: the only one the file is served under (never the declared one)
    content_type = Column(String(120), nullable=True)


class ForwardedWork(Base):
    """A work a level forwarded upward (择优报送), with what the level above needs to see of it.

    The ministry's feed lists those forwarded to it; a university sees its own.
    `seq` is the change number the feed's since-cursor follows.
    """

    __tablename__ = "forwarded_works"
    submission_id = Column(String(32), primary_key=True)
    tenant = Column(String(64), nullable=False, index=True)
    tenant_name = Column(String(200), nullable=False, default="")
    campaign_id = Column(String(64), nullable=False)
    root_campaign_id = Column(String(64), nullable=True)
    track = Column(String(40), nullable=False)
    org_name = Column(String(200), nullable=False)
    org_level = Column(String(16), nullable=False)
    to_level = Column(String(16), nullable=False)
    title = Column(String(300), nullable=False)
    receipt_no = Column(String(64), nullable=True)
    fields = Column(JSON, nullable=False)
    files = Column(JSON, nullable=False)
    keywords = Column(JSON, nullable=True)  # of its prose and its documents' and subtitles' text
    forwarded_at = Column(UTCDateTime, nullable=False)
    seq = Column(BigInteger, nullable=False, unique=True)
    __table_args__ = (Index("ix_forwarded_level_seq", "to_level", "seq"),)


class LibraryWork(Base):
    """A work of the education material library (教育素材库): selected in the ministry's round, or chosen for a
    university's own 素材库 by its round.

    `shelf` is whose library it is on: "ministry" (the national shelf, everyone's) or the slug of the tenant whose
    round decided (a university's own, only its own readers'); library.shelves_for says who reads which. No
    default: an entry that does not say whose it is must fail, not land on the shelf everyone reads.

    Its words are indexed in `library_fts`, which the migration creates per dialect
    (an FTS5 table on SQLite, a tsvector with a GIN index on PostgreSQL); see library.py.
    """

    __tablename__ = "library_works"
    doc_id = Column(Integer, primary_key=True, autoincrement=True)
    submission_id = Column(String(32), nullable=False, unique=True)
    shelf = Column(String(64), nullable=False, index=True)
    tenant = Column(String(64), nullable=False, index=True)  # the university whose work it is
    tenant_name = Column(String(200), nullable=False)
    campaign_id = Column(String(64), nullable=False)
    track = Column(String(40), nullable=False, index=True)
    track_label = Column(String(100), nullable=False)
    theme = Column(String(200), nullable=True, index=True)
    year = Column(Integer, nullable=False, index=True)
    title = Column(String(300), nullable=False)
    org_name = Column(String(200), nullable=False)
    text = Column(Text, nullable=False)  # title, prose fields and the text of its documents and subtitles
    keywords = Column(JSON, nullable=False)
    files = Column(JSON, nullable=False)
    selected_at = Column(UTCDateTime, nullable=False, index=True)
