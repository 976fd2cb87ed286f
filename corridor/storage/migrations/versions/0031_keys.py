"""matching keys of Spanish, Portuguese and Russian spellings (issue 14)

Revision ID: 0031_keys
Revises: 0030_keys
Create Date: 2026-12-06

No schema change. A person's blocking keys now hold the keys of the Spanish (initial j =
kh, y = j), Portuguese and Catalan (x = sh; i and u for y and w) and Russian (kh = h)
readings of their names, read Azerbaijani ə and Maltese ħ as letters (they split a word
before) and the scholarly ḫ ǧ ṯ ḏ ġ as kh j th dh gh, and a name that follows the article
at the end of a name (al-Karim, al-Rashid, al-Hakim) is the family name, no longer the
second half of a compound; an Arabic name that begins with alef and lam but not with the
article (إلياس, إلهام) keeps them, and a name in -ilah (Jamilah, Nabilah) is no longer
read as a compound with Allah. Keys are computed by the matching engine
(application code, which a migration never imports), so this revision only leaves the
rebuild marker of 0002 when persons are registered; ``corridor.upgrade`` (``corridor
init``, ``db upgrade``, ``serve``, ``demo``) then rebuilds the index with today's keys
and removes the marker.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031_keys"
down_revision = "0030_keys"
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
