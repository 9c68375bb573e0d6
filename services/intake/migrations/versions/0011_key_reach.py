"""a portal key limited to some orgs or tracks: its reach (issue #15)

NULL: the key reaches every org and track of its tenant, as every key issued before did.

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('api_keys', sa.Column('reach', sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column('api_keys', 'reach')
