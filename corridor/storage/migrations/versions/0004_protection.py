"""protection data: sealed person fields, lookup hashes, biometrics, retention (issue 4)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

The phone and document-number columns were short plain text; they become sealed tokens
(text) with a keyed lookup hash beside them. A migration has no master key, so it cannot
encrypt values already stored: it refuses to run on a database that holds phones or
document numbers in the clear (rebuild a demo with ``corridor demo --force``). Columns
are dropped and added, never altered, so SQLite needs no table rebuild.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _refuse_plaintext() -> None:
    conn = op.get_bind()
    phones = conn.execute(sa.text("SELECT count(*) FROM persons WHERE phone IS NOT NULL"))
    docs = conn.execute(sa.text("SELECT count(*) FROM person_documents"))
    if phones.scalar() or docs.scalar():
        raise RuntimeError(
            "0004 encrypts phones and document numbers, and this database holds them in "
            "the clear: a migration has no master key to encrypt them. Export and "
            "re-register them (a demo: corridor demo --force)."
        )


def upgrade() -> None:
    _refuse_plaintext()
    with op.batch_alter_table("persons", recreate="never") as batch_op:
        batch_op.drop_column("phone")
    with op.batch_alter_table("persons", recreate="never") as batch_op:
        batch_op.add_column(sa.Column("phone", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("phone_hash", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("biometric_reference", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("legal_hold", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_persons_phone_hash"), ["phone_hash"], unique=False)
    with op.batch_alter_table("person_documents", recreate="never") as batch_op:
        batch_op.drop_column("number")
    with op.batch_alter_table("person_documents", recreate="never") as batch_op:
        batch_op.add_column(sa.Column("number", sa.Text(), nullable=True))

    op.create_table(
        "disposal_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("disposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposal_log")),
    )
    with op.batch_alter_table("disposal_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disposal_log_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    # Sealed values cannot go back into the short plain columns: they are dropped.
    with op.batch_alter_table("disposal_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disposal_log_run_id"))
    op.drop_table("disposal_log")
    op.execute("DELETE FROM person_documents")
    with op.batch_alter_table("person_documents", recreate="never") as batch_op:
        batch_op.drop_column("number")
    with op.batch_alter_table("person_documents", recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("number", sa.String(length=60), server_default="", nullable=False)
        )
    with op.batch_alter_table("persons", recreate="never") as batch_op:
        batch_op.drop_index(batch_op.f("ix_persons_phone_hash"))
    with op.batch_alter_table("persons", recreate="never") as batch_op:
        for name in ("anonymised_at", "legal_hold", "biometric_reference", "phone_hash", "phone"):
            batch_op.drop_column(name)
    with op.batch_alter_table("persons", recreate="never") as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=40), nullable=True))
