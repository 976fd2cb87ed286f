"""a family link recorded wrongly can be removed: its row stays, marked removed

Revision ID: 0035_links_removed
Revises: 0034_keys
Create Date: 2026-12-06

``relationships`` gains ``removed_at``, ``removed_by`` and ``removed_reason``: removing a
link (and its inverse) marks both rows, nothing is deleted. The unique key on (person,
other person, kind) becomes a unique index on the live rows only (``removed_at IS
NULL``), so that the link can be recorded again after a removal.

Downgrading deletes the removed rows: the older schema cannot mark them, and kept there
they would read as recorded links again (and, for the same persons and kind, collide
with a live one on the unique key).

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035_links_removed"
down_revision = "0034_keys"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
OLD_UNIQUE = "uq_relationships_person_id_other_person_id_kind"
LIVE_UNIQUE = "uq_relationships_live"
LIVE = sa.text("removed_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("relationships", schema=None) as batch:
        batch.add_column(sa.Column("removed_at", WHEN, nullable=True))
        batch.add_column(sa.Column("removed_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("removed_reason", sa.Text(), nullable=True))
        batch.drop_constraint(OLD_UNIQUE, type_="unique")
    op.create_index(
        LIVE_UNIQUE,
        "relationships",
        ["person_id", "other_person_id", "kind"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )


def downgrade() -> None:
    op.drop_index(LIVE_UNIQUE, table_name="relationships")
    op.execute("DELETE FROM relationships WHERE removed_at IS NOT NULL")
    with op.batch_alter_table("relationships", schema=None) as batch:
        batch.drop_column("removed_reason")
        batch.drop_column("removed_by")
        batch.drop_column("removed_at")
        batch.create_unique_constraint(OLD_UNIQUE, ["person_id", "other_person_id", "kind"])
