"""matching keys of names written the Uzbek and Tajik way, of a final h that is ح, and of
names in other alphabets (issue 14)

Revision ID: 0033_keys
Revises: 0032_keys
Create Date: 2026-12-06

No schema change. A name written the Uzbek or Tajik way (a Tajik or Uzbek letter, or a
word only they form: -jon, -ulloh, -zoda) is read with its o as the long a (Fotima,
Ibrohim, Фотима are Fatima and Ibrahim), its x as kh and its gʻ as gh; the other name
parts of such a record are read the same way. A Latin name ending in a vowel and h has a
second reading with the h as the consonant ح (Salih, Fateh, Mamdouh), and an Arabic name
beginning with مم keeps both m (ممدوح). A name in another alphabet (Greek, Georgian,
Thaana ...) is read in Latin letters; before, it had no key at all. Keys are computed by
the matching engine (application code, which a migration never imports), so this
revision only leaves the rebuild marker of 0002 when persons are registered;
``corridor.upgrade`` (``corridor init``, ``db upgrade``, ``serve``, ``demo``) then
rebuilds the index with today's keys and removes the marker.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033_keys"
down_revision = "0032_keys"
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
