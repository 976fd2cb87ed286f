"""matching keys of names written the Indonesian and Malay way, with p for f, with the
Moroccan and Algerian article fused to them, and with a compound's link glued to its
first half (issue 14)

Revision ID: 0034_keys
Revises: 0033_keys
Create Date: 2026-12-06

No schema change. A Latin name the name data never saw as written, but know with the
letters of Indonesian and Malay spellings read as those languages read them (sh ص, a
final zh ظ, ts ث, and the o of Javanese after them: Sholeh, Hafizh, Utsman), with p for
f (Sundanese and Turkic: Yusup, Sopyan), or without the article that Moroccan and
Algerian names fuse to them (Lhoussine, Lahcen, Lbachir), gets the name key of that
reading; a zh between vowels has a reading with z and h apart (Azhar, Mazhar: أزهر,
مظهر). A compound written with its link glued to the first half (Ziaur Rahman, Inamul
Haq, Nurul Islam) is one name, as Zia-ur-Rahman is; Nurul Huda is Nur and Huda. Keys
are computed by the matching engine (application code, which a migration never imports),
so this revision only leaves the rebuild marker of 0002 when persons are registered;
``corridor.upgrade`` (``corridor init``, ``db upgrade``, ``serve``, ``demo``) then
rebuilds the index with today's keys and removes the marker.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034_keys"
down_revision = "0033_keys"
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
