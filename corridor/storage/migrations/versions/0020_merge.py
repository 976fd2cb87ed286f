"""review and merge of duplicate persons (issue 15)

Revision ID: 0020_merge
Revises: 0019_exportsel
Create Date: 2027-01-27

``duplicate_pairs``: probable duplicates proposed for review and what an officer decided
(never proposed again once rejected). ``person_merges``: every merge as a recorded fact,
with the ids of the rows that followed the survivor, so that an unmerge restores both
persons exactly. ``merged_persons``: the merges in force (the old id -> its survivor).
Ids, probabilities and levels only: no name, no field value.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_merge"
down_revision = "0019_exportsel"
branch_labels = None
depends_on = None

ID = sa.String(36)
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "duplicate_pairs",
        sa.Column("id", ID, nullable=False),
        sa.Column("person_a", ID, sa.ForeignKey("persons.id"), nullable=False),
        sa.Column("person_b", ID, sa.ForeignKey("persons.id"), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("found_by", sa.String(20), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("decided_by", sa.String(100)),
        sa.Column("decided_at", WHEN),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_duplicate_pairs"),
        sa.UniqueConstraint("person_a", "person_b", name="uq_duplicate_pairs_person_a_person_b"),
    )
    op.create_index("ix_duplicate_pairs_person_a", "duplicate_pairs", ["person_a"])
    op.create_index("ix_duplicate_pairs_person_b", "duplicate_pairs", ["person_b"])
    op.create_index("ix_duplicate_pairs_status", "duplicate_pairs", ["status"])
    op.create_table(
        "person_merges",
        sa.Column("id", ID, primary_key=True),
        sa.Column("survivor_id", ID, sa.ForeignKey("persons.id"), nullable=False),
        sa.Column("merged_id", ID, sa.ForeignKey("persons.id"), nullable=False),
        sa.Column("pair_id", ID),
        sa.Column("reason", sa.Text()),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.Column("merged_by", sa.String(100)),
        sa.Column("merged_at", WHEN, nullable=False),
        sa.Column("unmerged_by", sa.String(100)),
        sa.Column("unmerged_at", WHEN),
        sa.Column("unmerge_reason", sa.Text()),
    )
    op.create_index("ix_person_merges_survivor_id", "person_merges", ["survivor_id"])
    op.create_index("ix_person_merges_merged_id", "person_merges", ["merged_id"])
    op.create_table(
        "merged_persons",
        sa.Column("person_id", ID, sa.ForeignKey("persons.id"), primary_key=True),
        sa.Column("survivor_id", ID, sa.ForeignKey("persons.id"), nullable=False),
        sa.Column("merge_id", ID, sa.ForeignKey("person_merges.id"), nullable=False),
    )
    op.create_index("ix_merged_persons_survivor_id", "merged_persons", ["survivor_id"])


def downgrade() -> None:
    op.drop_table("merged_persons")
    op.drop_table("person_merges")
    op.drop_table("duplicate_pairs")
