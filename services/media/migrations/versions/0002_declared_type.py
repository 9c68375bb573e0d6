"""declared type

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the type the portal declared, kept so that `python -m services.media.admin recheck` checks it again
    with op.batch_alter_table('check_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('declared_type', sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('check_reports', schema=None) as batch_op:
        batch_op.drop_column('declared_type')
