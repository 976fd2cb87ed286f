"""who attached a tracing candidate, and the household it was offered through (issue 13)

Revision ID: 0018_trace
Revises: 0017_man
Create Date: 2027-01-20

``tracing_matches.proposed_by``: the officer who attached the candidate from a search
(NULL: the engine proposed it). ``tracing_matches.household_of``: the confirmed person
in whose household the candidate was offered for another person of the same enquiry
(NULL: not offered through a household). Both hold ids only.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_trace"
down_revision = "0017_man"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tracing_matches", recreate="never") as batch:
        batch.add_column(sa.Column("proposed_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("household_of", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tracing_matches") as batch:
        batch.drop_column("household_of")
        batch.drop_column("proposed_by")
