"""what an imported PFIF record wrote on its person, as keyed hashes

Revision ID: 0043_import_fields
Revises: 0042_erased_numbers
Create Date: 2026-12-07

``imported_records.fields``: for a record of another system whose expiry empties what
it gave (PFIF), the person fields it wrote, each with a keyed hash (the lookup hash,
under a key derived from the master key) of the value it left there, as JSON. An expired
record then clears only the fields that still hold what it wrote, never one a member of
staff typed or corrected since. NULL for rows written before (their expiry clears the
fields PFIF carries) and for every other source. Hashes only; an erasure clears them.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0043_import_fields"
down_revision = "0042_erased_numbers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("imported_records") as batch:
        batch.add_column(sa.Column("fields", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("imported_records") as batch:
        batch.drop_column("fields")
