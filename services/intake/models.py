"""Intake's own tables: tenants, keys, the org tree, campaigns, submissions, files; people, their grants and
invitations, the audit log; the web sessions of its pages."""
from __future__ import annotations

import uuid

from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import declarative_base

from common.db import UTCDateTime, messaging_models, utcnow
from common.web import session_model
from services.intake.domain.lifecycles import AccountState, FileState, SubmissionState

Base = declarative_base()
OutboxMessage, ProcessedEvent = messaging_models(Base)
WebSession = session_model(Base)  # the invitation page's pre-session CSRF; sign-in sessions later


def new_id() -> str:
    return uuid.uuid4().hex


class Tenant(Base):
    """A university party committee (kind university) or the ministry."""

    __tablename__ = "tenants"
    id = Column(String(64), primary_key=True)  # slug: "seu", "wust", "ministry"
    name = Column(String(200), nullable=False)
    kind = Column(String(16), nullable=False)  # university | ministry
    # the organisation department's mailbox (e.g. seuzzb@126.com): told about addresses that fail
    contact_email = Column(String(200), nullable=True)
    # a university's category (common.campaign.CATEGORIES: direct, co_built, local): whether it is in a campaign's
    # audience; NULL: not registered (treated as in an audience that names categories), and the ministry's
    category = Column(String(16), nullable=True)
    receipt_seq = Column(Integer, nullable=False, default=0)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class ApiKey(Base):
    """A portal's key. Only its SHA-256 is stored; the key is shown once.

    Keys are 32 random bytes, so a fast hash is enough: there is nothing to
    brute-force that a slow hash would protect.
    """

    __tablename__ = "api_keys"
    id = Column(String(32), primary_key=True, default=new_id)
    tenant_id = Column(String(64), ForeignKey("tenants.id"), nullable=False, index=True)
    key_hash = Column(String(64), nullable=False, unique=True)
    prefix = Column(String(16), nullable=False)
    label = Column(String(200), nullable=False, default="")
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    revoked_at = Column(UTCDateTime, nullable=True)
    # scoped credentials (domain/keys.py): NULL scopes = a key from before scopes, with every scope
    scopes = Column(JSON, nullable=True)
    account_id = Column(String(32), nullable=True)  # a person's own key; NULL: the tenant's integration key
    expires_at = Column(UTCDateTime, nullable=True)  # NULL only for keys from before scopes
    last_used_at = Column(UTCDateTime, nullable=True)  # moved at most once a minute
    last_used_from = Column(String(64), nullable=True)
    rotated_from = Column(String(32), nullable=True)  # the key this one succeeded
    # a portal key limited to some orgs (with their subtrees) or tracks: {"org_ids": [...], "tracks": [...]};
    # NULL reaches the whole tenant (domain/keys.py Reach)
    reach = Column(JSON, nullable=True)


class Org(Base):
    """A level-2 party organisation or a branch of one university."""

    __tablename__ = "orgs"
    id = Column(String(32), primary_key=True, default=new_id)
    tenant_id = Column(String(64), ForeignKey("tenants.id"), nullable=False)
    name = Column(String(200), nullable=False)
    short_name = Column(String(100), nullable=True)
    level = Column(String(16), nullable=False)  # level2 | branch
    parent_id = Column(String(32), ForeignKey("orgs.id"), nullable=True)
    code = Column(String(64), nullable=True)
    contact_name = Column(String(100), nullable=True)
    contact_email = Column(String(200), nullable=True)
    contact_phone = Column(String(40), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    __table_args__ = (
        UniqueConstraint("tenant_id", "name", name="uq_org_tenant_name"),
        Index("ix_orgs_tenant_level", "tenant_id", "level"),
    )


class Campaign(Base):
    """A published campaign definition; `owner_id` is the ministry or a university."""

    __tablename__ = "campaigns"
    id = Column(String(64), primary_key=True)
    owner_id = Column(String(64), ForeignKey("tenants.id"), nullable=False, index=True)
    derives_from = Column(String(64), ForeignKey("campaigns.id"), nullable=True)
    title = Column(String(300), nullable=False)
    definition = Column(JSON, nullable=False)  # as submitted (parsed YAML/JSON); the current version's
    published_at = Column(UTCDateTime, nullable=False, default=utcnow)  # of version 1
    # corrected by a new version, never silently (campaign_versions keeps every one)
    version = Column(Integer, nullable=False, default=1, server_default="1")
    # a derived copy that could not follow its parent's last correction: {parent_id, parent_version, change_note,
    # conflicts: [{path, code, message…}]} for its owner to resolve (a portal reads it); NULL when it follows
    follow_conflicts = Column(JSON, nullable=True)
    # a college's notice to its branches (机关党委's monthly 组织生活通知): the level-2 org that issued it inside the
    # owner university; its subtree alone submits to it. NULL for the ministry's and a university's own campaigns.
    owner_org_id = Column(String(32), nullable=True, index=True)  # an orgs.id (no FK: SQLite cannot add one)


class CampaignVersion(Base):
    """One published version of a campaign's definition, with why it was corrected (version 1 has no note)."""

    __tablename__ = "campaign_versions"
    campaign_id = Column(String(64), ForeignKey("campaigns.id"), primary_key=True)
    version = Column(Integer, primary_key=True)
    definition = Column(JSON, nullable=False)
    # ≤ 200 characters as a person writes it; a copy that follows says so before its parent's note
    change_note = Column(String(300), nullable=True)
    published_at = Column(UTCDateTime, nullable=False, default=utcnow)
    published_by = Column(String(200), nullable=True)  # the audit log's actor; NULL for versions before this table


class Submission(Base):
    """A work of one org in one track, submitted stage by stage.

    state: draft (nothing submitted yet) -> submitted (at least one stage) ->
    withdrawn (domain/lifecycles.py). `stage` is the last stage submitted;
    `complete` says whether that was the track's final stage.
    """

    __tablename__ = "submissions"
    id = Column(String(32), primary_key=True, default=new_id)
    tenant_id = Column(String(64), ForeignKey("tenants.id"), nullable=False)
    campaign_id = Column(String(64), ForeignKey("campaigns.id"), nullable=False)
    track = Column(String(40), nullable=False)
    org_id = Column(String(32), ForeignKey("orgs.id"), nullable=False)
    state = Column(String(16), nullable=False, default=SubmissionState.DRAFT.value)
    stage = Column(String(40), nullable=True)
    complete = Column(Boolean, nullable=False, default=False)
    title = Column(String(300), nullable=False, default="")
    fields = Column(JSON, nullable=False, default=dict)
    char_counts = Column(JSON, nullable=False, default=dict)
    # keywords and theme suggestion read from the text (domain/analysis.py); advice, never the submitter's fields
    analysis = Column(JSON, nullable=True)
    receipt_no = Column(String(64), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    submitted_at = Column(UTCDateTime, nullable=True)
    withdrawn_at = Column(UTCDateTime, nullable=True)
    # The highest level the work was forwarded to (择优报送), by a confirmed selection.
    forwarded_to = Column(String(16), nullable=True)
    forwarded_at = Column(UTCDateTime, nullable=True)
    __table_args__ = (
        Index("ix_sub_tenant_campaign_track", "tenant_id", "campaign_id", "track", "state"),
        Index("ix_sub_org_track", "org_id", "track", "state"),
        Index("ix_sub_tenant_updated", "tenant_id", "updated_at", "id"),  # syncing: updated_since and the cursor
    )


class Receipt(Base):
    """回执: one per stage submitted, kept even if the work is later withdrawn."""

    __tablename__ = "receipts"
    receipt_no = Column(String(64), primary_key=True)
    tenant_id = Column(String(64), ForeignKey("tenants.id"), nullable=False)
    submission_id = Column(String(32), ForeignKey("submissions.id"), nullable=False, index=True)
    stage = Column(String(40), nullable=False)
    issued_at = Column(UTCDateTime, nullable=False, default=utcnow)
    summary = Column(JSON, nullable=False)  # what was received: fields and files


class SubmissionLog(Base):
    """Every action on a submission, in order."""

    __tablename__ = "submission_log"
    id = Column(Integer, primary_key=True, autoincrement=True)
    submission_id = Column(String(32), ForeignKey("submissions.id"), nullable=False, index=True)
    action = Column(String(40), nullable=False)
    at = Column(UTCDateTime, nullable=False, default=utcnow)
    detail = Column(JSON, nullable=True)


class SubmissionRuleFlag(Base):
    """A submitted work that a later version of its campaign's rules would refuse: flagged, never reopened or
    refused by it (the org and its admins decide what to do)."""

    __tablename__ = "submission_rule_flags"
    id = Column(Integer, primary_key=True, autoincrement=True)
    submission_id = Column(String(32), ForeignKey("submissions.id"), nullable=False, index=True)
    campaign_id = Column(String(64), nullable=False)
    version = Column(Integer, nullable=False)  # the campaign version whose rules would refuse the work
    code = Column(String(40), nullable=False)  # as the refusal would be coded (text_too_long, naming_rule…)
    field = Column(String(80), nullable=True)
    message = Column(Text, nullable=False)
    flagged_at = Column(UTCDateTime, nullable=False, default=utcnow)


class FileRecord(Base):
    """A file of a submission: pending -> (received) -> stored (verified) | deleted | expired (domain/lifecycles.py)."""

    __tablename__ = "files"
    id = Column(String(32), primary_key=True, default=new_id)
    tenant_id = Column(String(64), ForeignKey("tenants.id"), nullable=False)
    submission_id = Column(String(32), ForeignKey("submissions.id"), nullable=False, index=True)
    kind = Column(String(16), nullable=False)
    original_name = Column(String(255), nullable=False)
    content_type = Column(String(120), nullable=False)
    declared_size = Column(BigInteger, nullable=False)
    declared_sha256 = Column(String(64), nullable=False)
    object_key = Column(String(300), nullable=False, unique=True)
    state = Column(String(16), nullable=False, default=FileState.PENDING.value)
    upload_token = Column(String(64), nullable=True, unique=True)
    upload_id = Column(String(300), nullable=True)  # S3 multipart
    # the SHA-256 (hex) of each part of an S3 multipart upload, as the portal declared them and the part URLs signed
    # them; NULL when not declared or not used (one PUT, the folder store): then the object is read back
    part_sha256 = Column(JSON, nullable=True)
    expires_at = Column(UTCDateTime, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    stored_at = Column(UTCDateTime, nullable=True)
    check_verdict = Column(String(16), nullable=True)  # passed | warnings | failed
    check_findings = Column(JSON, nullable=True)
    checked_at = Column(UTCDateTime, nullable=True)  # of the newest check recorded
    # what the newest check found (operations/checks.kept_facts): duration, resolution, codecs, subtitle coverage,
    # pages; NULL before a check, and for checks recorded before revision 0016
    check_facts = Column(JSON, nullable=True)
    __table_args__ = (Index("ix_files_state_expires", "state", "expires_at"),)


class Extension(Base):
    """A deadline extension an admin granted to one org for one stage."""

    __tablename__ = "extensions"
    id = Column(String(32), primary_key=True, default=new_id)
    tenant_id = Column(String(64), ForeignKey("tenants.id"), nullable=False)
    org_id = Column(String(32), ForeignKey("orgs.id"), nullable=False)
    campaign_id = Column(String(64), ForeignKey("campaigns.id"), nullable=False)
    track = Column(String(40), nullable=False)
    stage = Column(String(40), nullable=False)
    until = Column(UTCDateTime, nullable=False)
    reason = Column(Text, nullable=False, default="")
    granted_at = Column(UTCDateTime, nullable=False, default=utcnow)  # moved when granted again: its change time
    __table_args__ = (
        UniqueConstraint("org_id", "campaign_id", "track", "stage", name="uq_extension"),
    )


class IdempotencyKey(Base):
    """A portal's `Idempotency-Key`: the first response, replayed on a retry.

    Written in the same transaction as the effect, so a retry either finds the
    stored response or finds that nothing happened.
    """

    __tablename__ = "idempotency_keys"
    tenant_id = Column(String(64), ForeignKey("tenants.id"), primary_key=True)
    key = Column(String(200), primary_key=True)
    endpoint = Column(String(300), nullable=False)
    fingerprint = Column(String(64), nullable=False)
    status = Column(Integer, nullable=False)
    response = Column(JSON, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)


class Account(Base):
    """A person: one account across the platform (one e-mail), with a home tenant and grants in any tenant.

    state: invited (no password yet) -> active <-> disabled (domain/lifecycles.py).
    """

    __tablename__ = "accounts"
    id = Column(String(32), primary_key=True, default=new_id)
    home_tenant_id = Column(String(64), ForeignKey("tenants.id"), nullable=False, index=True)
    name = Column(String(100), nullable=False)
    email = Column(String(254), nullable=False, unique=True)  # normalised (domain/people.normalise_email)
    password_hash = Column(String(255), nullable=True)  # Argon2id, PHC string; none until the invitation is accepted
    state = Column(String(16), nullable=False, default=AccountState.INVITED.value)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    activated_at = Column(UTCDateTime, nullable=True)
    # the second factor (domain/signin.py): the TOTP secret (base32), set when enrolment starts and
    # trusted once a code from it was given (totp_enabled_at); the last time step accepted, so no code is used twice
    totp_secret = Column(String(128), nullable=True)  # sealed (sealing.py)
    totp_enabled_at = Column(UTCDateTime, nullable=True)
    totp_last_step = Column(BigInteger, nullable=True)
    last_sign_in_at = Column(UTCDateTime, nullable=True)
    # 工号, as the university's staff records and identity provider know it; single sign-on may match by it
    staff_no = Column(String(64), nullable=True)

    __table_args__ = (Index("ix_accounts_home_tenant_staff_no", "home_tenant_id", "staff_no", unique=True),)


class AccountGrant(Base):
    """A role with its scope, given IN one tenant (which may not be the account's home)."""

    __tablename__ = "account_grants"
    id = Column(String(32), primary_key=True, default=new_id)
    account_id = Column(String(32), ForeignKey("accounts.id"), nullable=False, index=True)
    tenant_id = Column(String(64), ForeignKey("tenants.id"), nullable=False, index=True)
    role = Column(String(32), nullable=False)
    department = Column(String(32), nullable=True)
    org_id = Column(String(32), ForeignKey("orgs.id"), nullable=True)
    granted_by = Column(String(200), nullable=False)  # the audit log's actor
    granted_at = Column(UTCDateTime, nullable=False, default=utcnow)
    # Unique over the scope with NULL as a value (a unique constraint lets NULLs repeat on both databases).
    __table_args__ = (
        Index("uq_account_grants_scope", "account_id", "tenant_id", "role", func.coalesce(department, ""),
              func.coalesce(org_id, ""), unique=True),
    )


class Invitation(Base):
    """A single-use link to set one's password. Only the token's SHA-256 is kept; the token is in the e-mail."""

    __tablename__ = "invitations"
    token_hash = Column(String(64), primary_key=True)
    account_id = Column(String(32), ForeignKey("accounts.id"), nullable=False, index=True)
    tenant_id = Column(String(64), ForeignKey("tenants.id"), nullable=False)  # who invited
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = Column(UTCDateTime, nullable=False)
    used_at = Column(UTCDateTime, nullable=True)
    voided_at = Column(UTCDateTime, nullable=True)  # a newer invitation of the same account replaced it


class AccountLink(Base):
    """A single-use e-mailed link: to sign in without a password (`sign_in`) or to set a new one (`password_reset`).
    Only the token's SHA-256 is kept; a newer link of the same purpose voids the older ones."""

    __tablename__ = "account_links"
    token_hash = Column(String(64), primary_key=True)
    account_id = Column(String(32), ForeignKey("accounts.id"), nullable=False)
    purpose = Column(String(16), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = Column(UTCDateTime, nullable=False)
    used_at = Column(UTCDateTime, nullable=True)
    voided_at = Column(UTCDateTime, nullable=True)
    requested_from = Column(String(64), nullable=True)  # the address the form was sent from, named in the e-mail
    __table_args__ = (Index("ix_account_links_account_purpose", "account_id", "purpose"),)


class SsoProvider(Base):
    """A tenant's own identity provider (OpenID Connect, services/intake/sso.py): one per tenant."""

    __tablename__ = "sso_providers"
    tenant_id = Column(String(64), ForeignKey("tenants.id"), primary_key=True)
    settings = Column(JSON, nullable=False)  # issuer, client_id, claims, scopes, grant rules: never the secret
    client_secret = Column(Text, nullable=False)  # sealed (AES-GCM, a key derived from WEB_SECRET): operations/sso.py
    updated_by = Column(String(200), nullable=False)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class AuditEntry(Base):
    """Who did what, to which object, when and from where. Append-only: nothing updates or deletes a row
    (tests/unit/test_audit_append_only.py walks the code; the migration adds triggers that refuse both)."""

    __tablename__ = "audit_log"
    id = Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    tenant_id = Column(String(64), ForeignKey("tenants.id"), nullable=False)
    at = Column(UTCDateTime, nullable=False, default=utcnow)
    actor = Column(String(200), nullable=False)  # "key:sk_seu_ab12 (portal)", "account:<id> (<name>)"
    action = Column(String(64), nullable=False)  # stable code: account.invited, grant.added, ...
    object_type = Column(String(32), nullable=False)
    object_id = Column(String(64), nullable=True)
    detail = Column(JSON, nullable=True)
    address = Column(String(64), nullable=True)  # the client's address (common.http.client_address)
    __table_args__ = (Index("ix_audit_tenant_at", "tenant_id", "at"),)
