"""matching keys of German and Scandinavian spellings (issue 14)

Revision ID: 0038_keys
Revises: 0037_movement_note_roles
Create Date: 2026-12-07

No schema change. A person's blocking keys now hold the keys of a Latin name's German
reading of s as z (Siad, Seinab, Hamsa for Ziad, Zainab, Hamza), where the name data know
that reading far better than the name as written; a reading whose only consonant is one
letter gives its key too (Jahja, whose j are the y of Yahya: the key of h); and an Arabic
family name written glued with its article (العبدالله, العبدالرحمن) is read as the
compound it is. Keys are computed by the matching engine (application code, which a
migration never imports), so this revision only leaves the rebuild marker of 0002 when
persons are registered; ``corridor.upgrade`` (``corridor init``, ``db upgrade``,
``serve``, ``demo``) then rebuilds the index with today's keys and removes the marker.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0038_keys"
down_revision = "0037_movement_note_roles"
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
