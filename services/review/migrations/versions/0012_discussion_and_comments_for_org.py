"""experts discuss a work their reviews disagree on (专家讨论), and a score keeps a second comment, for the submitting
org, apart from the confidential one to the admin (issue #17)

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

import common.db

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Scores saved before this have no comment for the org: empty, so nothing is sent for them.
    op.add_column('scores', sa.Column('comment_for_org', sa.Text(), nullable=False, server_default=''))
    op.add_column('score_log', sa.Column('comment_for_org', sa.Text(), nullable=False, server_default=''))
    op.create_table(
        'discussion_openings',
        sa.Column('round_id', sa.String(length=32), nullable=False),
        sa.Column('submission_id', sa.String(length=32), nullable=False),
        sa.Column('opened_at', common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['round_id'], ['rounds.id']),
        sa.PrimaryKeyConstraint('round_id', 'submission_id'),
    )
    op.create_table(
        'discussion_posts',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('round_id', sa.String(length=32), nullable=False),
        sa.Column('submission_id', sa.String(length=32), nullable=False),
        sa.Column('assignment_id', sa.String(length=32), nullable=True),
        sa.Column('admin_name', sa.String(length=200), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('at', common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['round_id'], ['rounds.id']),
        sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_discussion_posts_work', 'discussion_posts', ['round_id', 'submission_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_discussion_posts_work', table_name='discussion_posts')
    op.drop_table('discussion_posts')
    op.drop_table('discussion_openings')
    with op.batch_alter_table('score_log') as batch_op:
        batch_op.drop_column('comment_for_org')
    with op.batch_alter_table('scores') as batch_op:
        batch_op.drop_column('comment_for_org')
