"""near-duplicates (issue #19): LSH bands chosen from the threshold (272 bands of 3, two to agree), so every work's
bands are made again from its kept words; a match records its containment and its kind (partial copies)

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('text_matches', sa.Column('containment', sa.Float(), nullable=True))
    op.add_column('text_matches', sa.Column('kind', sa.String(16), nullable=False, server_default='near_duplicate'))
    # The old 48 bands of 4 keys cannot meet the new ones: without this, works indexed before would never be found
    # again. text_prints keeps each work's word hashes, which is all a signature needs.
    from common import neardup

    bind = op.get_bind()
    op.execute("DELETE FROM text_bands")
    prints = bind.execute(sa.text("SELECT submission_id, features FROM text_prints")).all()
    bands = sa.table('text_bands', sa.column('band', sa.Integer), sa.column('key', sa.String),
                     sa.column('submission_id', sa.String))
    for sid, feats in prints:
        if isinstance(feats, str):  # SQLite hands JSON back as text
            import json

            feats = json.loads(feats)
        keys = neardup.band_keys(neardup.signature(neardup.lsh_words(frozenset(feats))))
        rows = [{"band": b, "key": format(int(k), "016x"), "submission_id": sid} for b, k in enumerate(keys) if k]
        if rows:
            bind.execute(bands.insert(), rows)


def downgrade() -> None:
    op.drop_column('text_matches', 'kind')
    op.drop_column('text_matches', 'containment')
