"""scoring deadline and reviewer reminders

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
import common.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scoring_deadline', common.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reminders_sent', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.drop_column('reminders_sent')
        batch_op.drop_column('scoring_deadline')
