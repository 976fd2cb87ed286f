"""medical details sealed at rest (issue 4)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23

MUAC, oedema and the six Washington Group answers move from plain columns into one text
column, ``medical``, which the field vault seals under the site's key; the triage
categories that figures count (``muac_status``, ``disabled`` and the flags) stay.

A migration has no master key, so it moves the values it finds as plain JSON, which the
application reads as it is; ``corridor keys seal`` then seals them (``corridor db
upgrade`` says when that is needed). Downgrading puts plain values back in their columns;
values already sealed cannot be unsealed without the key and are dropped.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

WG = ("seeing", "hearing", "walking", "remembering", "self_care", "communicating")
OLD = ("muac_mm", "oedema", *(f"wg_{d}" for d in WG))


def _pack(row: sa.RowMapping) -> str | None:
    details: dict[str, object] = {}
    if row["muac_mm"] is not None:
        details["muac_mm"] = row["muac_mm"]
    if row["oedema"] is not None:
        details["oedema"] = bool(row["oedema"])
    wg = {d: row[f"wg_{d}"] for d in WG if row[f"wg_{d}"] is not None}
    if wg:
        details["wg"] = wg
    return json.dumps(details, separators=(",", ":")) if details else None


def upgrade() -> None:
    with op.batch_alter_table("persons", recreate="never") as batch:
        batch.add_column(sa.Column("medical", sa.Text(), nullable=True))
    conn = op.get_bind()
    persons = sa.table("persons", sa.column("id"), sa.column("medical"), *map(sa.column, OLD))
    recorded = sa.or_(*(persons.c[c].is_not(None) for c in OLD))
    rows = conn.execute(sa.select(persons).where(recorded)).mappings().all()
    for row in rows:
        conn.execute(sa.update(persons).where(persons.c.id == row["id"]).values(medical=_pack(row)))
    with op.batch_alter_table("persons", recreate="never") as batch:
        for name in OLD:
            batch.drop_column(name)


def downgrade() -> None:
    with op.batch_alter_table("persons", recreate="never") as batch:
        batch.add_column(sa.Column("muac_mm", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("oedema", sa.Boolean(), nullable=True))
        for d in WG:
            batch.add_column(sa.Column(f"wg_{d}", sa.SmallInteger(), nullable=True))
    conn = op.get_bind()
    persons = sa.table("persons", sa.column("id"), sa.column("medical"), *map(sa.column, OLD))
    rows = conn.execute(
        sa.select(persons.c.id, persons.c.medical).where(persons.c.medical.is_not(None))
    ).all()
    for person_id, text in rows:
        if text.startswith("enc:"):
            continue  # sealed: cannot be read here
        details = json.loads(text)
        wg = details.get("wg", {})
        values = {"muac_mm": details.get("muac_mm"), "oedema": details.get("oedema")}
        values |= {f"wg_{d}": wg.get(d) for d in WG}
        conn.execute(sa.update(persons).where(persons.c.id == person_id).values(**values))
    with op.batch_alter_table("persons", recreate="never") as batch:
        batch.drop_column("medical")
