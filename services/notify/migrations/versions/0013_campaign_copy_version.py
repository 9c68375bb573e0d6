"""the copy of a campaign keeps the campaign's version, so an older `campaign_published` never replaces a newer copy
(issue #16)

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every copy kept so far counts as version 1, the version of an event that carries none: the next
    # correction (version 2 or more) replaces it, as it did before versions were kept.
    op.add_column('campaigns', sa.Column('version', sa.Integer(), nullable=False, server_default='1'))


def downgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('version')
