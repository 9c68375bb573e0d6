"""a video's `file_checked` held while its work's sidecar subtitles are being checked (issue #17)

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

import common.db

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # When the hold began, in the table so that a restart keeps it and its time limit (MEDIA_SIDECAR_WAIT_S);
    # indexed for the timer that announces the videos held too long.
    with op.batch_alter_table('check_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held_since', common.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_check_reports_held_since', ['held_since'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('check_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_check_reports_held_since')
        batch_op.drop_column('held_since')
