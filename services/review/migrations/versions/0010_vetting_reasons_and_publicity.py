"""a confirmed selection keeps each failed work's vetting reason (审核不通过的原因), and a confirmed publicity its period
(公示期), whose end review announces once (publicity_ended; issue #16)

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

import common.db

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Selections confirmed before this keep no reason: their reasons went out in selection_made only.
    op.add_column('selections', sa.Column('reason', sa.Text(), nullable=True))
    op.create_table(
        'publicity_periods',
        sa.Column('round_id', sa.String(length=32), nullable=False),
        sa.Column('tenant', sa.String(length=64), nullable=False),
        sa.Column('label', sa.String(length=200), nullable=False),
        sa.Column('days', sa.Integer(), nullable=False),
        sa.Column('confirmed_at', common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ends_at', common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ended_at', common.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['round_id'], ['rounds.id']),
        sa.PrimaryKeyConstraint('round_id'),
    )
    op.create_index('ix_publicity_periods_due', 'publicity_periods', ['ended_at', 'ends_at'])
    # A publicity confirmed before this has no period here and no end announced: intake's words for its works
    # (「公示期满，已入选」) follow the clock as before.


def downgrade() -> None:
    op.drop_index('ix_publicity_periods_due', table_name='publicity_periods')
    op.drop_table('publicity_periods')
    with op.batch_alter_table('selections') as batch_op:
        batch_op.drop_column('reason')
