"""matching keys of a name made only of words that are articles elsewhere

Revision ID: 0044_keys
Revises: 0043_import_fields
Create Date: 2026-12-08

No schema change. A name field holding nothing but words that are the Arabic article or
a link before another name (Al, El, Ash, As: given names in English and Spanish, and
what some Greek and Georgian letters read as) gave no name unit at all, so the person
had no name key and could not be found by that name; such words are now the name.
Keys are computed by the matching engine (application code, which a
migration never imports), so this revision only leaves the rebuild marker of 0002 when
persons are registered; ``corridor.upgrade`` (``corridor init``, ``db upgrade``,
``serve``, ``demo``) then rebuilds the index with today's keys and removes the marker.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0044_keys"
down_revision = "0043_import_fields"
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
    # An older application rebuilds nothing on downgrade; the keys of this revision
    # differ from its own only for the names above, which it finds again once they are
    # edited or the index is rebuilt. Nothing to undo.
    pass
