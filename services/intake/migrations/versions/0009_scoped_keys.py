"""API keys become scoped credentials: scopes, an owner account, expiry, last use, rotation (issue #15)

Keys issued before have no scopes recorded (NULL): they keep every scope, as the university owner's portal key,
and no expiry, so no portal breaks.

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa
import common.db


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('api_keys', sa.Column('scopes', sa.JSON(), nullable=True))
    op.add_column('api_keys', sa.Column('account_id', sa.String(length=32), nullable=True))
    op.add_column('api_keys', sa.Column('expires_at', common.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column('api_keys', sa.Column('last_used_at', common.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column('api_keys', sa.Column('last_used_from', sa.String(length=64), nullable=True))
    op.add_column('api_keys', sa.Column('rotated_from', sa.String(length=32), nullable=True))


def downgrade() -> None:
    for column in ('rotated_from', 'last_used_from', 'last_used_at', 'expires_at', 'account_id', 'scopes'):
        op.drop_column('api_keys', column)
