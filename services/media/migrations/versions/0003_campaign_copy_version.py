"""media keeps which version of each campaign its policies are of, so an older `campaign_published` never
replaces a newer version's policies (issue #16)

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'campaigns',
        sa.Column('campaign_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('campaign_id'),
    )
    # The policies kept so far are of version 1, the version of an event that carries none: the next
    # correction (version 2 or more) replaces them, as it did before versions were kept.
    op.execute("INSERT INTO campaigns (campaign_id, version) SELECT DISTINCT campaign_id, 1 FROM media_policies")


def downgrade() -> None:
    op.drop_table('campaigns')
