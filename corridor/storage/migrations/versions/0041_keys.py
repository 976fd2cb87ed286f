"""matching keys of Maghrebi compounds in -edine (issue 14)

Revision ID: 0041_keys
Revises: 0040_person_note_roles
Create Date: 2026-12-07

No schema change. A Latin name in -edine, the way Algerian, Tunisian and Moroccan French
spellings write a compound in الدين with one d (Azzedine, Ezzedine, Salahedine,
Badredine, Seifedine, Zinedine for عز الدين, صلاح الدين, بدر الدين, سيف الدين, زين الدين),
is now read as the compound it is (Azzedine and Ezzedine were read as a glued article
and "zedine"); and Ben glued to a family name after the first name (Benaissa, Benyoucef
for بن عيسى, بن يوسف) is taken apart where the name data know the rest as a name. Keys are computed by the matching engine (application code, which a
migration never imports), so this revision only leaves the rebuild marker of 0002 when
persons are registered; ``corridor.upgrade`` (``corridor init``, ``db upgrade``,
``serve``, ``demo``) then rebuilds the index with today's keys and removes the marker.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0041_keys"
down_revision = "0040_person_note_roles"
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
