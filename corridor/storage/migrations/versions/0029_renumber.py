"""registration numbers given anew (issue 16)

Revision ID: 0029_renumber
Revises: 0028_wipe
Create Date: 2027-02-24

``renumbered``: a person given a new registration number because another installation
gave their number to someone else (``corridor person renumber``; received at a node
with the person's change): the number before, the new one, when (docs/sync.md,
"Registration numbers"). Ids and numbers only.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029_renumber"
down_revision = "0028_wipe"
branch_labels = None
depends_on = None

ID = sa.String(36)


def upgrade() -> None:
    op.create_table(
        "renumbered",
        sa.Column("id", ID, primary_key=True),
        sa.Column("person_id", ID, sa.ForeignKey("persons.id"), nullable=False),
        sa.Column("previous_number", sa.String(12), nullable=False),
        sa.Column("registration_number", sa.String(12), nullable=False),
        sa.Column("renumbered_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_renumbered_person_id", "renumbered", ["person_id"])


def downgrade() -> None:
    op.drop_table("renumbered")
