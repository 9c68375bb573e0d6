"""The body of every service's Alembic env.py (online mode only)."""
from __future__ import annotations


def run_migrations(target_metadata) -> None:
    from alembic import context

    from common.db import make_engine

    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:  # invoked by the alembic CLI, e.g. to autogenerate
        engine = make_engine(config.get_main_option("sqlalchemy.url"))
        with engine.connect() as conn:
            _run(context, conn, target_metadata)
            conn.commit()
        return
    _run(context, connection, target_metadata)


def _run(context, connection, target_metadata):
    # Batch mode lets ALTER TABLE work on SQLite too.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
