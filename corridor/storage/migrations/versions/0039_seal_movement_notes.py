"""movement notes and separation reasons sealed at rest (PROTECTION.md line 7)

Revision ID: 0039_seal_movement_notes
Revises: 0038_keys
Create Date: 2026-12-07

No schema change. A movement event's note (``movements.note``) and why a person travels
apart from their household (``manifest_items.separation_reason``) are now sealed under
the person's registering site's key, as their phone, note and medical details are. A
migration has no master key and imports no application code, so it cannot seal: where
such text is stored in the clear, this revision leaves the marker of a data step, and
``corridor.upgrade`` (``corridor init``, ``db upgrade``, ``serve``, ``demo``) seals it
with today's code once the schema is at head and the master key is given (it waits
otherwise, and says so); ``corridor keys seal`` seals them too. Until then the
application reads a clear note as it is. The notes the check-in writes itself (a late
arrival, an arrival off the manifest) stay as they are; at a site node, the notes of
other sites' travellers are sealed under the node's own site's key (it holds no key of
theirs).

Downgrading cannot open what was sealed (no key here) and drops nothing: the sealed
notes and reasons stay sealed, and an older application shows each as its token
(``enc:v1:...``), never the text; upgrading again reads them. The marker goes.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0039_seal_movement_notes"
down_revision = "0038_keys"
branch_labels = None
depends_on = None

# Frozen copies of corridor.storage.migrate.SEAL_NOTES and crypto.TOKEN_PREFIX.
SEAL_NOTES = "!seal-notes"
TOKEN_PREFIX = "enc:v1:"
COLUMNS = (("movements", "note"), ("manifest_items", "separation_reason"))


def _counts() -> sa.TableClause:
    return sa.table("match_key_counts", sa.column("key"), sa.column("n"))


def upgrade() -> None:
    conn = op.get_bind()
    clear = 0
    for table, column in COLUMNS:
        t = sa.table(table, sa.column(column))
        col = t.c[column]
        clear += conn.execute(
            sa.select(sa.func.count())
            .select_from(t)
            .where(col.is_not(None), col.not_like(f"{TOKEN_PREFIX}%"))
        ).scalar_one()
    if not clear:
        return
    counts = _counts()
    marked = conn.execute(
        sa.select(sa.func.count()).select_from(counts).where(counts.c.key == SEAL_NOTES)
    ).scalar()
    if not marked:
        conn.execute(sa.insert(counts).values(key=SEAL_NOTES, n=1))


def downgrade() -> None:
    conn = op.get_bind()
    counts = _counts()
    conn.execute(sa.delete(counts).where(counts.c.key == SEAL_NOTES))
