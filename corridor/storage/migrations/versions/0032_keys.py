"""matching keys of Kurdish (Sorani) and Uyghur letters, and of Russian name forms (issue 14)

Revision ID: 0032_keys
Revises: 0031_keys
Create Date: 2026-12-06

No schema change. A name written in an Arabic-script alphabet that writes its vowels
(Sorani Kurdish: حەسەن, عەلی, ئەحمەد; Uyghur) is read as romanised (Hasan, Ali, Ahmad),
not as Arabic with ە read as a consonant; the other name parts of such a record are read
the same way. Kurdish forms of Abd (Ebdulla, Ebdurrehman) are compounds with Abd, and
the Kurdish titles Mela, Mala, Şêx and Kak are titles. Cyrillic г is read kh (the h of
Гасан, Ибрагим, Магомед), a patronymic (-ovich, -ovna) and a surname in -ov, -ova, -ev,
-eva, -zoda, -zade as the name they are made from (and the g of a Latin name with such
forms as the г it romanises), and Azerbaijani oglu and qizi as connectors. Keys are computed by the matching engine (application code, which a
migration never imports), so this revision only leaves the rebuild marker of 0002 when
persons are registered; ``corridor.upgrade`` (``corridor init``, ``db upgrade``,
``serve``, ``demo``) then rebuilds the index with today's keys and removes the marker.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032_keys"
down_revision = "0031_keys"
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
