"""Database plumbing every service shares.

Each service owns one database: a SQLite file under the data folder by default,
PostgreSQL when its URL says so. Schema changes go through Alembic, run on
start (`migrate`).

Two tables travel with every service's own models (`messaging_models`):
- `outbox`: events written in the same transaction as the state change they
  announce; the relay publishes them afterwards (no dual write).
- `processed_events`: one row per (consumer, event_id), inserted in the same
  transaction as the handler's effects, so a redelivered event is a no-op.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import JSON, BigInteger, Column, DateTime, Integer, String, Text, create_engine, event, func, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes stored as UTC on every backend.

    SQLite drops the offset, so values are normalised to UTC on the way in and
    marked UTC on the way out; PostgreSQL keeps `timestamptz`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware datetime")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str) -> Engine:
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # WAL lets readers run beside the one writer; foreign keys are off
            # by default in SQLite.
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Take the write lock up front: a deferred transaction that later
            # upgrades to a writer can deadlock against another writer.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _insert_for(session: Session):
    """The dialect's INSERT, which has ON CONFLICT DO NOTHING (both SQLite and PostgreSQL)."""
    return sqlite.insert if session.get_bind().dialect.name == "sqlite" else postgresql.insert


class Store:
    """Hands out transactions on one service database.

    Under eventlet, SQLite's busy handler sleeps in C and blocks the whole
    process; if the greenthread holding the write lock is waiting to be
    scheduled, that is a deadlock until the timeout. So on SQLite every
    transaction of this process is serialised by a (green) lock. PostgreSQL
    needs no such lock.
    """

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = threading.RLock() if is_sqlite(url) else None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        lock = self._write_lock or contextlib.nullcontext()
        with lock:
            session = self._sessions()
            try:
                with session.begin():
                    yield session
            finally:
                session.close()

    @contextlib.contextmanager
    def handling(self, event, consumer: str, processed_model) -> Iterator[Session | None]:
        """A transaction that records `event` as handled by `consumer`.

        Yields None when the event was already handled: the caller skips its
        work, and the message is acknowledged as done.
        """
        with self.transaction() as session:
            # One statement, not a read then an insert: the primary key (consumer, event_id) is the index
            # it checks, and on PostgreSQL a competing replica's uncommitted insert of the same event
            # makes this one wait for it and then do nothing, instead of failing on the key.
            inserted = session.execute(
                _insert_for(session)(processed_model)
                .values(consumer=consumer, event_id=event.event_id, processed_at=utcnow())
                .on_conflict_do_nothing()
            ).rowcount
            yield session if inserted else None

    def dispose(self):
        self.engine.dispose()


def messaging_models(Base):
    """The outbox and processed-event tables, declared on a service's own Base."""

    class OutboxMessage(Base):
        __tablename__ = "outbox"
        id = Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
        event_id = Column(String(32), nullable=False, unique=True)
        event_type = Column(String(64), nullable=False)
        tenant = Column(String(64), nullable=False)
        envelope = Column(JSON, nullable=False)
        created_at = Column(UTCDateTime, nullable=False, default=utcnow)
        published_at = Column(UTCDateTime, nullable=True, index=True)
        attempts = Column(Integer, nullable=False, default=0)
        last_error = Column(Text, nullable=True)

    class ProcessedEvent(Base):
        __tablename__ = "processed_events"
        consumer = Column(String(120), primary_key=True)
        event_id = Column(String(32), primary_key=True)
        processed_at = Column(UTCDateTime, nullable=False, default=utcnow, server_default=func.now())

    return OutboxMessage, ProcessedEvent


MIGRATION_LOCK = 726_001  # any constant: one advisory lock for "migrating this database"


def contains_text(column, value: str):
    """`column LIKE '%text%'` with the text taken literally: `%`, `_` and the escape character in it are
    escaped (SQLite and PostgreSQL alike). A `%` typed into a search box is text, not a pattern: `q=%`
    listed every work. Every LIKE on user text goes through here."""
    return column.contains(value, autoescape=True)


def serialize_on(session: Session, *key: str) -> None:
    """Until this transaction ends, other transactions serialising on the same key wait here.

    For handlers of different events about one object (a work's upload, check and submission)
    that each decide from what the others write: under READ COMMITTED, two running at once each
    miss the other's row and neither acts. The statements after this one see what the waited-for
    transaction committed. On PostgreSQL a transaction-scoped advisory lock; SQLite (BEGIN
    IMMEDIATE) runs one writer at a time already.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b("\x1f".join(key).encode("utf-8"), digest_size=8).digest()
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": int.from_bytes(digest, "big", signed=True)})


def migrate(url: str, migrations_dir: Path, wait_s: float = 60.0) -> None:
    """Bring the database at `url` to the newest revision in `migrations_dir`.

    Several replicas may start at once on an empty PostgreSQL database; an
    advisory lock lets one migrate while the others wait and then find the
    schema at head. The database may also come up after the service, so the
    first connection is retried for `wait_s` seconds.
    """
    import time

    from alembic import command
    from alembic.config import Config
    from sqlalchemy.exc import OperationalError

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    engine = make_engine(url)
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                conn = engine.connect()
                break
            except OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        with conn:
            if not is_sqlite(url):
                conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
                conn.commit()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
            if not is_sqlite(url):
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                conn.commit()
    finally:
        engine.dispose()
