"""every library entry has a shelf: the national one ("ministry") or the own 素材库 of the tenant whose round
decided, so a university's own library is read only by that university

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('library_works', sa.Column('shelf', sa.String(length=64), nullable=True))
    # Entries from the ministry's selection are national. A university's own 素材库 entry (added since decisions,
    # before shelves existed) is the one work in the library that was never forwarded to the ministry: it goes to
    # its university's shelf, not the national one every reader sees.
    op.execute("UPDATE library_works SET shelf = CASE WHEN EXISTS (SELECT 1 FROM forwarded_works f "
               "WHERE f.submission_id = library_works.submission_id AND f.to_level = 'ministry') "
               "THEN 'ministry' ELSE tenant END")
    # Not null and no default from here on: an entry must say whose it is (SQLite copies the table for this;
    # doc_id, which library_fts's rowid follows, is copied as it is).
    with op.batch_alter_table('library_works', schema=None) as batch_op:
        batch_op.alter_column('shelf', existing_type=sa.String(length=64), nullable=False)
    op.create_index('ix_library_works_shelf', 'library_works', ['shelf'])


def downgrade() -> None:
    op.drop_index('ix_library_works_shelf', table_name='library_works')
    with op.batch_alter_table('library_works', schema=None) as batch_op:
        batch_op.drop_column('shelf')
