"""messages: the files a mail carries (a campaign's notice as a Word document), their bytes stored once

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

from common.db import UTCDateTime

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachments', sa.JSON(), nullable=True))
    op.create_table(
        'message_attachments',
        sa.Column('sha256', sa.String(length=64), primary_key=True),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('message_attachments')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('attachments')
