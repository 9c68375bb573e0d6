"""education material library: works selected in the ministry's round, and their full-text index;
keywords of forwarded works

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

from common.db import UTCDateTime


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text_key', sa.String(length=300), nullable=True))
    with op.batch_alter_table('forwarded_works', schema=None) as batch_op:
        batch_op.add_column(sa.Column('keywords', sa.JSON(), nullable=True))
    op.create_table(
        'library_works',
        sa.Column('doc_id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('submission_id', sa.String(length=32), nullable=False),
        sa.Column('tenant', sa.String(length=64), nullable=False),
        sa.Column('tenant_name', sa.String(length=200), nullable=False),
        sa.Column('campaign_id', sa.String(length=64), nullable=False),
        sa.Column('track', sa.String(length=40), nullable=False),
        sa.Column('track_label', sa.String(length=100), nullable=False),
        sa.Column('theme', sa.String(length=200), nullable=True),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('org_name', sa.String(length=200), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('keywords', sa.JSON(), nullable=False),
        sa.Column('files', sa.JSON(), nullable=False),
        sa.Column('selected_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('doc_id'),
        sa.UniqueConstraint('submission_id'),
    )
    for column in ('tenant', 'track', 'theme', 'year', 'selected_at'):
        op.create_index(f'ix_library_works_{column}', 'library_works', [column])
    # The full-text index: jieba's search-mode tokens, separated by spaces (library.py).
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("CREATE VIRTUAL TABLE library_fts USING fts5(tokens, tokenize = 'unicode61 remove_diacritics 0')")
    else:
        op.execute("CREATE TABLE library_fts (doc_id INTEGER PRIMARY KEY REFERENCES library_works (doc_id) "
                   "ON DELETE CASCADE, tokens TSVECTOR NOT NULL)")
        op.execute("CREATE INDEX ix_library_fts_tokens ON library_fts USING GIN (tokens)")


def downgrade() -> None:
    op.execute("DROP TABLE library_fts")
    op.drop_table('library_works')
    with op.batch_alter_table('forwarded_works', schema=None) as batch_op:
        batch_op.drop_column('keywords')
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.drop_column('text_key')
