"""matching keys of other Latin orthographies (issue 14)

Revision ID: 0023_keys
Revises: 0022_auditvia
Create Date: 2026-12-05

No schema change. The blocking keys of a person now also hold the keys of the Somali
(x = h, c = ain) and Indonesian (sy = sh, tj = ch) readings of their names, and pair keys
over every reading. Keys are computed by the matching engine (application code, which a
migration never imports), so this revision only leaves the rebuild marker of 0002 when
persons are registered; ``corridor.upgrade`` (``corridor init``, ``db upgrade``,
``serve``, ``demo``) then rebuilds the index with today's keys and removes the marker.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_keys"
down_revision = "0022_auditvia"
branch_labels = None
depends_on = None

# Frozen copy of corridor.storage.migrate.REBUILD_MATCH_INDEX.
REBUILD_MATCH_INDEX = "!rebuild-match-index"


def upgrade() -> None:
    conn = op.get_bind()
    if not conn.execute(sa.text("SELECT count(*) FROM persons")).scalar():
        return
    counts = sa.table("match_key_counts", sa.column("key"), sa.column("n"))
    marked = conn.execute(
        sa.select(sa.func.count()).select_from(counts).where(counts.c.key == REBUILD_MATCH_INDEX)
    ).scalar()
    if not marked:
        conn.execute(sa.insert(counts).values(key=REBUILD_MATCH_INDEX, n=1))


def downgrade() -> None:
    # The keys of this revision are a superset of the old ones; an older application
    # finds what it used to find in them. Nothing to undo.
    pass
