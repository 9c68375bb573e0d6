"""Review's own tables: copies of what it needs from intake and media, and the review itself.

Copies (filled from events, never from another service's tables): campaigns
with their rubrics, the org trees (to mask names and to find conflicts),
API key hashes (admins sign in with their university's key), files with
their check results and derived files, and the works that entered review.

Its own: rounds (per campaign, track and level), reviewers, assignments,
scores with every change logged, sign-in links, and the confirmed selection.
"""
from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import declarative_base

from common.copies import api_key_copy_model
from common.db import UTCDateTime, messaging_models, utcnow
from common.web import session_model
from services.review.domain.lifecycles import AssignmentState, RoundState, ScoreState

Base = declarative_base()
OutboxMessage, ProcessedEvent = messaging_models(Base)
WebSession = session_model(Base)  # who is signed in to the pages (common.web.Sessions)
ApiKeyCopy = api_key_copy_model(Base)  # an admin signs in to the review UI with their university's (or the ministry's) key


class RubricCopy(Base):
    __tablename__ = "rubrics"
    campaign_id = Column(String(64), primary_key=True)
    track = Column(String(40), primary_key=True)
    criteria = Column(JSON, nullable=False)


class CampaignCopy(Base):
    """A published campaign as review needs it: tracks with labels, fields, quotas."""

    __tablename__ = "campaigns"
    campaign_id = Column(String(64), primary_key=True)
    tenant = Column(String(64), nullable=False)
    derives_from = Column(String(64), nullable=True)
    title = Column(String(300), nullable=False)
    tracks = Column(JSON, nullable=False)
    # the campaign's version this copy is of: an older `campaign_published` arriving later is ignored
    version = Column(Integer, nullable=False, default=1, server_default="1")


class TenantCopy(Base):
    __tablename__ = "tenants"
    tenant = Column(String(64), primary_key=True)
    name = Column(String(200), nullable=False)


class OrgCopy(Base):
    __tablename__ = "orgs"
    org_id = Column(String(32), primary_key=True)
    tenant = Column(String(64), nullable=False, index=True)
    name = Column(String(200), nullable=False)
    short_name = Column(String(100), nullable=True)
    level = Column(String(16), nullable=False)
    parent_id = Column(String(32), nullable=True)


class FileCopy(Base):
    """A stored file and its newest media check. The original name is never kept: reviewers score blind."""

    __tablename__ = "files"
    file_id = Column(String(32), primary_key=True)
    submission_id = Column(String(32), nullable=False, index=True)
    kind = Column(String(16), nullable=False)
    object_key = Column(String(300), nullable=False)
    content_type = Column(String(120), nullable=False)
    size = Column(Integer, nullable=False)
    verdict = Column(String(16), nullable=True)
    findings = Column(JSON, nullable=True)
    facts = Column(JSON, nullable=True)
    derived = Column(JSON, nullable=True)
    checked_at = Column(UTCDateTime, nullable=True)


class Entry(Base):
    """A work in review: a submitted (or forwarded) work and the round it sits in.

    `org_name` is for the admin's ranking only; reviewer pages never show it.
    """

    __tablename__ = "entries"
    submission_id = Column(String(32), primary_key=True)
    tenant = Column(String(64), nullable=False, index=True)
    campaign_id = Column(String(64), nullable=False)
    track = Column(String(40), nullable=False)
    stage = Column(String(40), nullable=False)
    final_stage = Column(Boolean, nullable=False, default=True)
    title = Column(String(300), nullable=False)
    org_id = Column(String(32), nullable=True)
    org_name = Column(String(200), nullable=True)
    org_level = Column(String(16), nullable=True)
    parent_org_id = Column(String(32), nullable=True)
    fields = Column(JSON, nullable=False, default=dict)
    file_ids = Column(JSON, nullable=False, default=list)
    state = Column(String(16), nullable=False)  # EntryState: submitted | withdrawn | reopened
    level = Column(String(16), nullable=True)  # the level whose round it is in
    # the work's current round, where withdrawal and reopening act; its confirmed places are in `selections`
    round_id = Column(String(32), ForeignKey("rounds.id"), nullable=True, index=True)
    submitted_at = Column(UTCDateTime, nullable=True)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class Round(Base):
    """A review round: one campaign, track and level of one university (or of the ministry).

    state: open (reviewers score) -> closed (scores final, ranking shown) -> selected (confirmed).
    A selected round takes no more works: one that arrives later (submitted before its own deadline,
    after the admin selected) opens the next batch of the same round, which forwards within what the
    earlier batches left of the limit.
    """

    __tablename__ = "rounds"
    id = Column(String(32), primary_key=True)
    tenant = Column(String(64), nullable=False, index=True)  # the university, or "ministry"
    campaign_id = Column(String(64), nullable=False)
    track = Column(String(40), nullable=False)
    level = Column(String(16), nullable=False)  # level2 | university | ministry
    owner_org_id = Column(String(32), nullable=False, default="")  # the level-2 org of a level2 round
    title = Column(String(300), nullable=False)
    reviewers_per_work = Column(Integer, nullable=False, default=3)
    scoring_deadline = Column(UTCDateTime, nullable=True)  # end of the day the admin set, Beijing time
    reminders_sent = Column(JSON, nullable=False, default=list)  # which reminders went out ("3", "1")
    state = Column(String(16), nullable=False, default=RoundState.OPEN.value)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    closed_at = Column(UTCDateTime, nullable=True)
    selected_at = Column(UTCDateTime, nullable=True)
    batch = Column(Integer, nullable=False, default=1, server_default="1")  # 1, then 2 for works after the selection
    __table_args__ = (UniqueConstraint("tenant", "campaign_id", "track", "level", "owner_org_id", "batch",
                                       name="uq_round"),)


class Reviewer(Base):
    """An expert in one round's pool (评审专家)."""

    __tablename__ = "reviewers"
    id = Column(String(32), primary_key=True)
    round_id = Column(String(32), ForeignKey("rounds.id"), nullable=False, index=True)
    name = Column(String(100), nullable=False)
    email = Column(String(200), nullable=False, index=True)  # trimmed, lower case: a person's rows in every round
    university = Column(String(64), nullable=True)  # tenant slug of the reviewer's own university
    org_id = Column(String(32), nullable=True)  # the reviewer's own org, for conflicts inside a university
    expertise = Column(JSON, nullable=False, default=list)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    __table_args__ = (UniqueConstraint("round_id", "email", name="uq_reviewer_round_email"),)


class Conflict(Base):
    """A declared conflict of interest (回避): the reviewer never gets the work."""

    __tablename__ = "conflicts"
    reviewer_id = Column(String(32), ForeignKey("reviewers.id"), primary_key=True)
    submission_id = Column(String(32), primary_key=True)
    reason = Column(Text, nullable=False, default="")
    declared_by = Column(String(16), nullable=False)  # reviewer | admin
    declared_at = Column(UTCDateTime, nullable=False, default=utcnow)


class Assignment(Base):
    """A work given to a reviewer. state: AssignmentState (assigned | declined | withdrawn)."""

    __tablename__ = "assignments"
    id = Column(String(32), primary_key=True)
    round_id = Column(String(32), ForeignKey("rounds.id"), nullable=False)
    reviewer_id = Column(String(32), ForeignKey("reviewers.id"), nullable=False)
    submission_id = Column(String(32), nullable=False)
    state = Column(String(16), nullable=False, default=AssignmentState.ASSIGNED.value)
    manual = Column(Boolean, nullable=False, default=False)
    position = Column(Integer, nullable=False, default=0)  # order in the reviewer's queue
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    declined_reason = Column(Text, nullable=True)
    __table_args__ = (
        UniqueConstraint("reviewer_id", "submission_id", name="uq_assignment"),
        Index("ix_assignments_round_state", "round_id", "state"),
        Index("ix_assignments_reviewer", "reviewer_id", "state", "position"),
    )


class Score(Base):
    """A reviewer's marks for one assignment. state: ScoreState (draft | submitted)."""

    __tablename__ = "scores"
    assignment_id = Column(String(32), ForeignKey("assignments.id"), primary_key=True)
    marks = Column(JSON, nullable=False, default=dict)
    comment = Column(Text, nullable=False, default="")  # to the round's admin, confidential (给管理员的评语)
    # to the submitting org, sent with the results only if the admin chooses so on confirming (给报送单位的意见)
    comment_for_org = Column(Text, nullable=False, default="", server_default="")
    total = Column(Float, nullable=True)
    state = Column(String(16), nullable=False, default=ScoreState.DRAFT.value)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    submitted_at = Column(UTCDateTime, nullable=True)


class ScoreLog(Base):
    """Every save of a score, in order: who changed what, when."""

    __tablename__ = "score_log"
    id = Column(Integer, primary_key=True, autoincrement=True)
    assignment_id = Column(String(32), ForeignKey("assignments.id"), nullable=False, index=True)
    action = Column(String(16), nullable=False)  # draft | submit | change
    marks = Column(JSON, nullable=False)
    total = Column(Float, nullable=True)
    comment = Column(Text, nullable=False, default="")
    comment_for_org = Column(Text, nullable=False, default="", server_default="")
    at = Column(UTCDateTime, nullable=False, default=utcnow)


class DiscussionOpening(Base):
    """The round's admin opened a work's discussion (专家讨论) although the ranking does not flag it 分歧大."""

    __tablename__ = "discussion_openings"
    round_id = Column(String(32), ForeignKey("rounds.id"), primary_key=True)
    submission_id = Column(String(32), primary_key=True)
    opened_at = Column(UTCDateTime, nullable=False, default=utcnow)


class DiscussionPost(Base):
    """One message of a work's discussion: by an expert on the work (`assignment_id`) or by an admin (`admin_name`,
    as the admin's session names them; experts read 「管理员」). Experts read each other blind (domain/discussion.py)."""

    __tablename__ = "discussion_posts"
    id = Column(Integer, primary_key=True, autoincrement=True)
    round_id = Column(String(32), ForeignKey("rounds.id"), nullable=False)
    submission_id = Column(String(32), nullable=False)
    assignment_id = Column(String(32), ForeignKey("assignments.id"), nullable=True)
    admin_name = Column(String(200), nullable=True)
    body = Column(Text, nullable=False)
    at = Column(UTCDateTime, nullable=False, default=utcnow)
    __table_args__ = (Index("ix_discussion_posts_work", "round_id", "submission_id", "id"),)


class SignInLink(Base):
    """A single-use, expiring sign-in link sent to a reviewer; only its hash is kept."""

    __tablename__ = "sign_in_links"
    token_hash = Column(String(64), primary_key=True)
    reviewer_id = Column(String(32), ForeignKey("reviewers.id"), nullable=False, index=True)
    expires_at = Column(UTCDateTime, nullable=False)
    used_at = Column(UTCDateTime, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class SelectionRow(Base):
    """The confirmed selection of a round: each work's rank and whether it goes up (or, in a final round, is chosen).

    The round's record for good: a confirmed round lists, ranks and exports its works from these rows, the ones it
    sent up included (their `Entry.round_id` is the next round by then), and the next round shows them as a work's
    history (operations/selection.history_of).
    """

    __tablename__ = "selections"
    round_id = Column(String(32), ForeignKey("rounds.id"), primary_key=True)
    submission_id = Column(String(32), primary_key=True)
    rank = Column(Integer, nullable=False)
    normalised = Column(Float, nullable=True)
    raw_mean = Column(Float, nullable=True)
    selected = Column(Boolean, nullable=False)
    reason = Column(Text, nullable=True)  # 审核把关: why the work failed the vetting (null for every other row)
    # a work's rows across rounds are its history (院级 → 校级 → 全国), asked for by work
    __table_args__ = (Index("ix_selections_submission", "submission_id"),)


class PublicityPeriod(Base):
    """公示: a confirmed publicity's period (domain/publicity.py), and whether its end was announced.

    `ended_at` is set in the transaction that writes publicity_ended to the outbox, by a conditional update: of two
    replicas (or a restarted one) whose timers find the same period over, one announces it.
    """

    __tablename__ = "publicity_periods"
    round_id = Column(String(32), ForeignKey("rounds.id"), primary_key=True)
    tenant = Column(String(64), nullable=False)
    label = Column(String(200), nullable=False)  # the decision's name as selection_made said it (公示, or its own label)
    days = Column(Integer, nullable=False)
    confirmed_at = Column(UTCDateTime, nullable=False)
    ends_at = Column(UTCDateTime, nullable=False)
    ended_at = Column(UTCDateTime, nullable=True)
    __table_args__ = (Index("ix_publicity_periods_due", "ended_at", "ends_at"),)


class TextPrint(Base):
    """A work's text fingerprint (its word set, hashed) for near-duplicate detection across universities."""

    __tablename__ = "text_prints"
    submission_id = Column(String(32), primary_key=True)
    tenant = Column(String(64), nullable=False)
    features = Column(JSON, nullable=False)


class TextBand(Base):
    """One LSH band of a fingerprint: works that share a (band, key) are candidates."""

    __tablename__ = "text_bands"
    band = Column(Integer, primary_key=True)
    key = Column(String(40), primary_key=True)
    submission_id = Column(String(32), primary_key=True)


class TextMatch(Base):
    """Two works whose texts are near-duplicates, or one copies part of the other (a < b)."""

    __tablename__ = "text_matches"
    a = Column(String(32), primary_key=True)
    b = Column(String(32), primary_key=True, index=True)
    similarity = Column(Float, nullable=False)  # Jaccard of the word sets
    containment = Column(Float)  # the share of the shorter text's words in the longer (none before 0012)
    kind = Column(String(16), nullable=False, default="near_duplicate", server_default="near_duplicate")
    found_at = Column(UTCDateTime, nullable=False, default=utcnow)
