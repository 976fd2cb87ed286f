"""matching keys of more European and Kurdish spellings (issue 14)

Revision ID: 0030_keys
Revises: 0029_renumber
Create Date: 2026-12-06

No schema change. A person's blocking keys now read the letters of Czech, Bosnian,
Croatian, Polish and Romanian (š = sh, ž = zh, dž = j ...), Polish and Albanian digraphs
(sz, cz, xh) and hold the keys of the Kurdish (x = kh, c = j), Italian (sci, gi) and
Hungarian (sz = s) readings of their names, and read the digits of the Arabic chat
alphabet inside a name (Mo7ammad, 5aled). Keys are computed by the matching engine
(application code, which a migration never imports), so this revision only leaves the
rebuild marker of 0002 when persons are registered; ``corridor.upgrade`` (``corridor
init``, ``db upgrade``, ``serve``, ``demo``) then rebuilds the index with today's keys
and removes the marker.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030_keys"
down_revision = "0029_renumber"
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
    # differ from its own only for names written with the letters above, which it finds
    # again once they are edited or the index is rebuilt. Nothing to undo.
    pass
