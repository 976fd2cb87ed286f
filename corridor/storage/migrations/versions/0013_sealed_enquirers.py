"""what identifies a tracing enquirer, sealed under the tracing key (issue 11)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

The enquirer's name, contact and location and the enquiry's note move from plain columns
of ``tracing_enquiries`` into one text column, ``sealed``, which the application seals
under a key of its own, the tracing key (``site_keys`` rows whose ``site_id`` is
``tracing``): ``site_keys.site_id`` loses its foreign key to ``sites``.

A migration has no master key, so it moves the values it finds as plain JSON, which the
application reads as it is; ``corridor keys seal`` then seals them (``corridor db
upgrade`` says when that is needed). An enquiry that retention anonymised has nothing to
move (NULL). Downgrading puts plain values back in their columns; values already sealed
cannot be unsealed without the key and come back as empty text, and the tracing key's
rows are deleted (the foreign key needs them gone).

Imports no application code: the tables are named here as they are at 0012.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TRACING_KEY = "tracing"
OLD = ("enquirer_name", "enquirer_contact", "enquirer_location", "note")
KEYS = ("name", "contact", "location", "note")
TOKEN_PREFIX = "enc:"
FK = "fk_site_keys_site_id_sites"


def _enquiries() -> sa.TableClause:
    return sa.table(
        "tracing_enquiries",
        sa.column("id"),
        sa.column("sealed"),
        sa.column("anonymised_at"),
        *map(sa.column, OLD),
    )


def _pack(row: sa.RowMapping) -> str:
    values = {k: row[old] for k, old in zip(KEYS, OLD, strict=True)}
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def upgrade() -> None:
    with op.batch_alter_table("tracing_enquiries", recreate="never") as batch:
        batch.add_column(sa.Column("sealed", sa.Text(), nullable=True))
    conn = op.get_bind()
    enquiries = _enquiries()
    rows = conn.execute(sa.select(enquiries)).mappings().all()
    for row in rows:
        if row["anonymised_at"] is not None:
            continue  # retention emptied it: nothing to keep
        conn.execute(
            sa.update(enquiries).where(enquiries.c.id == row["id"]).values(sealed=_pack(row))
        )
    with op.batch_alter_table("tracing_enquiries", recreate="never") as batch:
        for name in OLD:
            batch.drop_column(name)
    # Nothing refers to site_keys: on SQLite the table is rebuilt without the key.
    with op.batch_alter_table("site_keys") as batch:
        batch.drop_constraint(FK, type_="foreignkey")


def downgrade() -> None:
    conn = op.get_bind()
    site_keys = sa.table("site_keys", sa.column("site_id"))
    conn.execute(sa.delete(site_keys).where(site_keys.c.site_id == TRACING_KEY))
    with op.batch_alter_table("site_keys") as batch:
        batch.create_foreign_key(FK, "sites", ["site_id"], ["id"])
    with op.batch_alter_table("tracing_enquiries", recreate="never") as batch:
        for name in OLD[:3]:
            batch.add_column(
                sa.Column(name, sa.String(length=300), nullable=False, server_default="")
            )
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
    enquiries = _enquiries()
    rows = conn.execute(
        sa.select(enquiries.c.id, enquiries.c.sealed).where(enquiries.c.sealed.is_not(None))
    ).all()
    for enquiry_id, text in rows:
        if text.startswith(TOKEN_PREFIX):
            continue  # sealed: cannot be read here
        values = json.loads(text)
        conn.execute(
            sa.update(enquiries)
            .where(enquiries.c.id == enquiry_id)
            .values(
                {
                    old: values.get(k) or ("" if old != "note" else None)
                    for k, old in zip(KEYS, OLD, strict=True)
                }
            )
        )
    with op.batch_alter_table("tracing_enquiries", recreate="never") as batch:
        batch.drop_column("sealed")
