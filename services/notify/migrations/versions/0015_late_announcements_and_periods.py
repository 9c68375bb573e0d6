"""a campaign copy keeps what its announcement says (to announce it to orgs whose contact arrives later); a work copy
and a progress row of a recurring track keep their period (issue #16)

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL on a copy kept before: a late announcement of it gives its tracks and deadlines, without the notice
    # and contacts, until the campaign's next version is published
    op.add_column('campaigns', sa.Column('announcement', sa.JSON(), nullable=True))
    # YYYY-MM on a recurring track's works and rows; NULL elsewhere (a work copy kept before: counted in no period)
    op.add_column('submissions', sa.Column('period', sa.String(length=16), nullable=True))
    op.add_column('progress', sa.Column('period', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('progress', schema=None) as batch_op:
        batch_op.drop_column('period')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_column('period')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('announcement')
