"""What the services that sign people in keep of intake's keys and tenants.

Intake issues API keys and registers tenants; review and notify authenticate callers and
sign people in with those keys, so each keeps a copy of every key's hash (never the key)
from `api_key_issued` / `api_key_revoked`, and of each tenant's name for its pages. The
table is declared on the service's own Base (like `common.messaging`'s outbox) because
each service owns its database; the rules for keeping it are the same everywhere, so
they are here once.
"""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, String

from common.campaign.versions import newer_or_same
from common.db import serialize_on
from common.web import end_sessions


def api_key_copy_model(Base):
    """The `api_keys` table: a key's hash, whose it is (tenant and its kind), and whether it was revoked."""

    class ApiKeyCopy(Base):
        """The hash of a key intake issued (`api_key_issued`), to authenticate callers here."""

        __tablename__ = "api_keys"
        key_hash = Column(String(64), primary_key=True)
        tenant = Column(String(64), nullable=False)
        tenant_kind = Column(String(16), nullable=False)
        revoked = Column(Boolean, nullable=False, default=False)
        # a portal key limited to some orgs or tracks (intake's domain/keys.Reach as stored); NULL: the whole tenant
        reach = Column(JSON, nullable=True)

    return ApiKeyCopy


def record_key_issued(session, keys, tenants, tenant: str, data: dict, needs: tuple[str, ...] = ()) -> None:
    """`api_key_issued`: the key authenticates from now on, and names its tenant.

    `needs`: the scopes of which a key must have one to be used here (at notify a portal's or a dashboard's,
    on review's pages a manager's); a key without any is not kept, so it authenticates nothing here.
    A key from before scopes has every scope.
    """
    if data.get("tenant_name"):
        name_tenant(session, tenants, tenant, data["tenant_name"])
    if needs and "scopes" in data and not set(needs) & set(data["scopes"]):
        return
    session.merge(keys(key_hash=data["key_hash"], tenant=tenant, tenant_kind=data["tenant_kind"], revoked=False,
                       reach=data.get("reach")))


def record_key_revoked(session, keys, web_sessions, data: dict) -> None:
    """`api_key_revoked`: the key no longer authenticates, and whoever signed in with it is signed out."""
    row = session.get(keys, data["key_hash"])
    if row is not None:
        row.revoked = True
    end_sessions(session, web_sessions, data["key_hash"])


def key_holder(session, keys, key_hash: str):
    """The copy of a key that may be used now (issued, not revoked), or None."""
    row = session.get(keys, key_hash)
    return None if row is None or row.revoked else row


def name_tenant(session, tenants, tenant: str, name: str):
    """Keep a tenant's name (a later event renames it); returns its row."""
    row = session.get(tenants, tenant)
    if row is None:
        row = tenants(tenant=tenant, name=name)
        session.add(row)
    else:
        row.name = name
    return row


def takes_campaign_version(session, copy_model, campaign_id: str, version: int, service_log) -> bool:
    """Whether a copy of a campaign takes `version` (common.campaign.versions.newer_or_same): False, logged, for an
    older one (a redelivery or a dead-letter replay after a correction), so a copy never goes back.

    Takes the campaign's serializing lock first: two versions handled at once would each read the copy before the
    other wrote it, and the older could win. `copy_model` is the service's copy, keyed by campaign id, with `version`.
    """
    serialize_on(session, "campaign_published", campaign_id)
    stored = session.get(copy_model, campaign_id)
    if newer_or_same(stored.version if stored else None, version):
        return True
    service_log.info("campaign %s: ignored campaign_published of version %s, the copy is at version %s",
                     campaign_id, version, stored.version)
    return False
