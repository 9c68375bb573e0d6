"""forwarding: the level a work was forwarded to

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
import common.db


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('forwarded_to', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('forwarded_at', common.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_column('forwarded_at')
        batch_op.drop_column('forwarded_to')
