"""a confirmed round's selection is its record for good, and a work's rows across rounds are its history (issue #17):
looked up by work, so indexed by work

Revision ID: 0011
Revises: 0010
"""
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A round's page asks, for the works on it, their rows in every other round (history_of): by submission_id,
    # which the primary key (round_id, submission_id) does not serve.
    op.create_index('ix_selections_submission', 'selections', ['submission_id'])
    # No row changes. Every confirmed round already holds one selections row per work it ranked, the works it sent
    # up included (their entries moved on to the next round, their rows stayed): a confirmed round is now listed,
    # counted, ranked and exported from those rows, so rounds confirmed before this read again as they were
    # confirmed, and a work forwarded before this shows its earlier place as its history.


def downgrade() -> None:
    op.drop_index('ix_selections_submission', table_name='selections')
