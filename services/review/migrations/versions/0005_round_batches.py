"""rounds in batches: a work that arrives after a round's selection opens the next batch of that round

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 22:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch', sa.Integer(), nullable=False, server_default='1'))
        batch_op.drop_constraint('uq_round', type_='unique')
        batch_op.create_unique_constraint('uq_round', ['tenant', 'campaign_id', 'track', 'level', 'owner_org_id',
                                                       'batch'])


def downgrade() -> None:
    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.drop_constraint('uq_round', type_='unique')
        batch_op.create_unique_constraint('uq_round', ['tenant', 'campaign_id', 'track', 'level', 'owner_org_id'])
        batch_op.drop_column('batch')
