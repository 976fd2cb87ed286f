"""protection data: sealed person fields, lookup hashes, biometrics, retention (issue 4)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

The phone and document-number columns were short plain text; they become text columns
for sealed tokens, with a keyed lookup hash beside them (``persons.phone_hash``;
``person_documents.number_key``, which held the plain normalised number).

A migration has no master key, so it can neither seal the values already stored nor
compute their lookup hashes. It moves each phone and document number into the new column
as it is (plain; the application reads a value that is not a token as it is), leaves
``phone_hash`` NULL and sets ``number_key`` to ``PENDING_LOOKUP``, which no lookup hash
equals: until ``corridor keys seal`` seals them and computes their hashes (``corridor db
upgrade`` says when that is needed), exact search does not find them, and no plain
number stays in the key column. Columns are dropped and added, never altered, so SQLite
needs no table rebuild; the values go through a temporary column.

Downgrading puts plain values back into the short columns (with ``number_key`` computed
again); sealed values cannot be unsealed without the key: sealed phones are dropped and
documents with a sealed number are deleted.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Frozen copies: a field token's prefix (corridor.security.crypto.TOKEN_PREFIX) and the
# number_key of a document whose lookup hash waits for the master key (a lookup hash is
# 22 base64url characters, never empty).
TOKEN_LIKE = "enc:%"
PENDING_LOOKUP = ""
OLD_PHONE_LENGTH = 40
OLD_NUMBER_LENGTH = 60


def _document_key(number: str) -> str:
    """Frozen copy of 0001's exact-match key (services.person_rows.document_key)."""
    return re.sub(r"[^0-9A-Z]", "", number.upper())


def _replace_column(
    table: str, name: str, new_type: sa.types.TypeEngine[str], keep: sa.ColumnElement[bool]
) -> None:
    """Replace column ``name`` of ``table`` by one of ``new_type`` (nullable, at the end
    of the table), carrying over the values for which ``keep`` holds."""
    temp = f"_{name}_carried"
    with op.batch_alter_table(table, recreate="never") as batch_op:
        batch_op.add_column(sa.Column(temp, new_type, nullable=True))
    t = sa.table(table, sa.column(name), sa.column(temp))
    op.execute(t.update().where(keep).values({temp: t.c[name]}))
    with op.batch_alter_table(table, recreate="never") as batch_op:
        batch_op.drop_column(name)
    with op.batch_alter_table(table, recreate="never") as batch_op:
        batch_op.add_column(sa.Column(name, new_type, nullable=True))
    op.execute(t.update().values({name: t.c[temp]}))
    with op.batch_alter_table(table, recreate="never") as batch_op:
        batch_op.drop_column(temp)


def upgrade() -> None:
    phone = sa.column("phone", sa.Text())
    _replace_column("persons", "phone", sa.Text(), phone.is_not(None))
    with op.batch_alter_table("persons", recreate="never") as batch_op:
        batch_op.add_column(sa.Column("phone_hash", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("biometric_reference", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("legal_hold", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_persons_phone_hash"), ["phone_hash"], unique=False)
    _replace_column("person_documents", "number", sa.Text(), sa.true())
    documents = sa.table("person_documents", sa.column("number_key"))
    op.execute(documents.update().values(number_key=PENDING_LOOKUP))

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
    # Plain values go back into the short columns; sealed ones cannot be read here.
    with op.batch_alter_table("disposal_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disposal_log_run_id"))
    op.drop_table("disposal_log")
    conn = op.get_bind()
    documents = sa.table(
        "person_documents", sa.column("id"), sa.column("number"), sa.column("number_key")
    )
    number = documents.c.number
    plain = sa.and_(
        number.is_not(None),
        number.not_like(TOKEN_LIKE),
        sa.func.length(number) <= OLD_NUMBER_LENGTH,
    )
    kept = conn.execute(sa.select(documents.c.id, number).where(plain)).all()
    conn.execute(documents.delete().where(sa.not_(plain)))
    with op.batch_alter_table("person_documents", recreate="never") as batch_op:
        batch_op.drop_column("number")
    with op.batch_alter_table("person_documents", recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("number", sa.String(length=60), server_default="", nullable=False)
        )
    for doc_id, text in kept:
        conn.execute(
            documents.update()
            .where(documents.c.id == doc_id)
            .values(number=text, number_key=_document_key(text))
        )
    with op.batch_alter_table("persons", recreate="never") as batch_op:
        batch_op.drop_index(batch_op.f("ix_persons_phone_hash"))
    with op.batch_alter_table("persons", recreate="never") as batch_op:
        for name in ("anonymised_at", "legal_hold", "biometric_reference", "phone_hash"):
            batch_op.drop_column(name)
    phone = sa.column("phone", sa.Text())
    _replace_column(
        "persons",
        "phone",
        sa.String(length=OLD_PHONE_LENGTH),
        sa.and_(
            phone.is_not(None),
            phone.not_like(TOKEN_LIKE),
            sa.func.length(phone) <= OLD_PHONE_LENGTH,
        ),
    )
