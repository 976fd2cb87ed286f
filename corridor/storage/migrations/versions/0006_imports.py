"""imports: submissions already taken in (issue 6)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imported_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=250), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("household_id", sa.String(length=36), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_imported_records_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_imported_records_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imported_records")),
    )
    with op.batch_alter_table("imported_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_imported_records_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            "uq_imported_records_source_external_id", ["source", "external_id"], unique=True
        )

    op.create_table(
        "pfif_notes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("note_record_id", sa.String(length=250), nullable=False),
        sa.Column("person_record_id", sa.String(length=250), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("linked_person_record_id", sa.String(length=250), nullable=True),
        sa.Column("author_name", sa.String(length=200), nullable=True),
        sa.Column("author_made_contact", sa.Boolean(), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=True),
        sa.Column("last_known_location", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("source_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("entry_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("case_id", sa.String(length=36), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_pfif_notes_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pfif_notes")),
        sa.UniqueConstraint("note_record_id", name=op.f("uq_pfif_notes_note_record_id")),
    )
    with op.batch_alter_table("pfif_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pfif_notes_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_pfif_notes_person_record_id"), ["person_record_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pfif_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pfif_notes_person_record_id"))
        batch_op.drop_index(batch_op.f("ix_pfif_notes_person_id"))
    op.drop_table("pfif_notes")
    with op.batch_alter_table("imported_records", schema=None) as batch_op:
        batch_op.drop_index("uq_imported_records_source_external_id")
        batch_op.drop_index(batch_op.f("ix_imported_records_person_id"))
    op.drop_table("imported_records")
