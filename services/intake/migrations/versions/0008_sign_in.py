"""signing in: the second factor of accounts, and e-mailed single-use links (sign in, password reset) (issue #15)

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa
import common.db


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('accounts', sa.Column('totp_secret', sa.String(length=128), nullable=True))
    op.add_column('accounts', sa.Column('totp_enabled_at', common.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column('accounts', sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
    op.add_column('accounts', sa.Column('last_sign_in_at', common.db.UTCDateTime(timezone=True), nullable=True))
    op.create_table('account_links',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('created_at', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', common.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('voided_at', common.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('requested_from', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('account_links', schema=None) as batch_op:
        batch_op.create_index('ix_account_links_account_purpose', ['account_id', 'purpose'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('account_links', schema=None) as batch_op:
        batch_op.drop_index('ix_account_links_account_purpose')
    op.drop_table('account_links')
    for column in ('last_sign_in_at', 'totp_last_step', 'totp_enabled_at', 'totp_secret'):
        op.drop_column('accounts', column)
