"""the keyed hashes of erased persons' registration numbers (the DPO's look-up)

Revision ID: 0042_erased_numbers
Revises: 0041_keys
Create Date: 2026-12-07

``erased_numbers``: for each registration number a person held when erased (their own,
one they held before a renumbering, a record's merged into them), a keyed hash of it
(never the number), the person it led to and when, so that the data protection
officer's audit look-up by an old wristband number still finds the anonymised record's
trail. Hashes and ids only.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0042_erased_numbers"
down_revision = "0041_keys"
branch_labels = None
depends_on = None

ID = sa.String(36)


def upgrade() -> None:
    op.create_table(
        "erased_numbers",
        sa.Column("id", ID, primary_key=True),
        sa.Column("person_id", ID, sa.ForeignKey("persons.id"), nullable=False),
        sa.Column("number_hash", sa.String(32), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_erased_numbers_number_hash", "erased_numbers", ["number_hash"])


def downgrade() -> None:
    op.drop_table("erased_numbers")
