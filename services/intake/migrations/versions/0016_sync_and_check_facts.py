"""portals that mirror: the facts of a file's newest check (duration, resolution, codecs, subtitle coverage, pages)
kept on its record, and an index for listing a university's works by (updated_at, id) (issue #20)

Files checked before this revision have no facts (NULL) until media checks them again.

Revision ID: 0016
Revises: 0015
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('files', sa.Column('check_facts', sa.JSON(), nullable=True))
    op.create_index('ix_sub_tenant_updated', 'submissions', ['tenant_id', 'updated_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_sub_tenant_updated', table_name='submissions')
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.drop_column('check_facts')
