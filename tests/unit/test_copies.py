"""The copies of intake's keys and tenants that review and notify keep (common/copies.py)."""
from __future__ import annotations

from sqlalchemy import Column, String, create_engine
from sqlalchemy.orm import Session, declarative_base

from common.copies import api_key_copy_model, key_holder, name_tenant, record_key_issued, record_key_revoked
from common.web import session_model

Base = declarative_base()
ApiKeyCopy = api_key_copy_model(Base)
WebSession = session_model(Base)


class Tenant(Base):
    __tablename__ = "tenants"
    tenant = Column(String(64), primary_key=True)
    name = Column(String(200), nullable=False)
    contact_email = Column(String(200), nullable=True)  # a service's own column stays as it was


def _session() -> Session:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    return Session(engine)


def test_an_issued_key_signs_in_until_revoked_and_revoking_signs_its_holders_out():
    from datetime import datetime, timedelta, timezone

    with _session() as session:
        record_key_issued(session, ApiKeyCopy, Tenant, "seu",
                          {"key_hash": "h1", "tenant_kind": "university", "tenant_name": "东南大学"})
        session.add(WebSession(id_hash="x", role="university", tenant="seu", principal="h1", data={},
                               expires_at=datetime.now(timezone.utc) + timedelta(hours=1)))
        session.flush()
        assert key_holder(session, ApiKeyCopy, "h1").tenant == "seu"
        assert key_holder(session, ApiKeyCopy, "h2") is None
        record_key_revoked(session, ApiKeyCopy, WebSession, {"key_hash": "h1"})
        session.flush()
        assert key_holder(session, ApiKeyCopy, "h1") is None
        assert session.query(WebSession).count() == 0


def test_a_tenant_is_renamed_without_losing_what_the_service_added():
    with _session() as session:
        name_tenant(session, Tenant, "seu", "东南大学").contact_email = "dw@seu.edu.cn"
        session.flush()
        record_key_issued(session, ApiKeyCopy, Tenant, "seu",
                          {"key_hash": "h1", "tenant_kind": "university", "tenant_name": "东南大学党委"})
        session.flush()
        row = session.get(Tenant, "seu")
        assert (row.name, row.contact_email) == ("东南大学党委", "dw@seu.edu.cn")
