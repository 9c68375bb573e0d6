"""the times of the newest submission and reopening counted for a work, so late events cannot undo them

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 23:45:00
"""
from alembic import op
import sqlalchemy as sa
import common.db


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_submitted_at', common.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_reopened_at', common.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_column('last_reopened_at')
        batch_op.drop_column('last_submitted_at')
