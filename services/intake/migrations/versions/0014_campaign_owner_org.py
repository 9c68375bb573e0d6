"""a college (level-2 org) publishes a notice of its own to its branches, deriving from its university's (issue #16)

`owner_org_id` names the org that issued the campaign inside its owner university; NULL for the ministry's and a
university's own campaigns.

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('campaigns', sa.Column('owner_org_id', sa.String(length=32), nullable=True))
    op.create_index('ix_campaigns_owner_org_id', 'campaigns', ['owner_org_id'])


def downgrade() -> None:
    op.drop_index('ix_campaigns_owner_org_id', table_name='campaigns')
    op.drop_column('campaigns', 'owner_org_id')
