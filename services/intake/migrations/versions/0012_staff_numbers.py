"""people carry their staff number (工号), unique within their home tenant, so single sign-on can match by it (issue #15)

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('accounts', sa.Column('staff_no', sa.String(length=64), nullable=True))
    op.create_index('ix_accounts_home_tenant_staff_no', 'accounts', ['home_tenant_id', 'staff_no'], unique=True)


def downgrade() -> None:
    op.drop_index('ix_accounts_home_tenant_staff_no', table_name='accounts')
    op.drop_column('accounts', 'staff_no')
