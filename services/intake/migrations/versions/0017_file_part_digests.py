"""the SHA-256 of each part of a multipart upload, where the portal declared them (issue #19): S3 verifies each part
against its digest and intake confirms the file by S3's composite checksum instead of reading it back

NULL: no part digests declared (every file before this revision, files of one PUT, the folder store, and portals
that leave them out): such an S3 object is read back to check its SHA-256, as before.

Revision ID: 0017
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('files', sa.Column('part_sha256', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.drop_column('part_sha256')
