"""a published campaign is corrected by a new version, never silently; works the new rules would refuse are flagged (issue #16)

Every campaign published so far is its version 1: the backfill copies its definition into campaign_versions.

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa

from common.db import UTCDateTime


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('campaigns', sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
    op.add_column('campaigns', sa.Column('follow_conflicts', sa.JSON(), nullable=True))
    op.create_table(
        'campaign_versions',
        sa.Column('campaign_id', sa.String(length=64), sa.ForeignKey('campaigns.id'), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('definition', sa.JSON(), nullable=False),
        sa.Column('change_note', sa.String(length=300), nullable=True),
        sa.Column('published_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('published_by', sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint('campaign_id', 'version'),
    )
    op.execute("INSERT INTO campaign_versions (campaign_id, version, definition, published_at) "
               "SELECT id, 1, definition, published_at FROM campaigns")
    op.create_table(
        'submission_rule_flags',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('submission_id', sa.String(length=32), sa.ForeignKey('submissions.id'), nullable=False),
        sa.Column('campaign_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('field', sa.String(length=80), nullable=True),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('flagged_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_submission_rule_flags_submission_id', 'submission_rule_flags', ['submission_id'])


def downgrade() -> None:
    op.drop_index('ix_submission_rule_flags_submission_id', table_name='submission_rule_flags')
    op.drop_table('submission_rule_flags')
    op.drop_table('campaign_versions')
    op.drop_column('campaigns', 'follow_conflicts')
    op.drop_column('campaigns', 'version')
