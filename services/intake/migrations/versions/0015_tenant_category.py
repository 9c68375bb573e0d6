"""a university's category (教育部直属高校 direct, 部省合建高校 co_built, 地方高校 local): whether it is in a campaign's
audience (the ministry's 2020 plan is for 直属高校 and 部省合建高校) (issue #16)

NULL: not registered yet (every tenant before this revision, and the ministry): such a university is treated as in
the audience of a campaign that names categories (common/campaign/audience.py); an operator sets it with
`python -m services.intake.admin set-category SLUG CATEGORY`.

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('tenants', sa.Column('category', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('category')
