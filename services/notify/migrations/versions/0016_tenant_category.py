"""a university's category (tenant_registered) and a campaign's audience (campaign_published): the ministry's
announcement goes to, and its progress counts, only the universities a campaign is for (issue #16)

NULL category: not registered (treated as in an audience naming categories); NULL audience: every university
(a copy kept before this revision, until its campaign's next version).

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('tenants', sa.Column('category', sa.String(length=16), nullable=True))
    op.add_column('campaigns', sa.Column('audience', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('audience')
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('category')
