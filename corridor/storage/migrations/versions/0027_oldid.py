"""an old id merged elsewhere, whose own record this installation never held (issue 16)

Revision ID: 0027_oldid
Revises: 0026_review
Create Date: 2027-02-14

``merged_ids``: at a site node, the id (and registration number) of a person merged at
the central into a survivor the node holds, where the node never held the merged-away
person's own record (registered at another site's node). ``merged_persons`` names two
``persons`` rows; this names only the survivor, so that the old id leads to it here as it
does at the central (docs/sync.md, "An old id a node never held").

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_oldid"
down_revision = "0026_review"
branch_labels = None
depends_on = None

ID = sa.String(36)


def upgrade() -> None:
    op.create_table(
        "merged_ids",
        sa.Column("person_id", ID, primary_key=True),
        sa.Column("survivor_id", ID, sa.ForeignKey("persons.id"), nullable=False),
        sa.Column("merge_id", ID, nullable=False),
        sa.Column("registration_number", sa.String(12)),
        sa.Column("merged_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_merged_ids_survivor_id", "merged_ids", ["survivor_id"])
    op.create_index("ix_merged_ids_registration_number", "merged_ids", ["registration_number"])


def downgrade() -> None:
    op.drop_table("merged_ids")
