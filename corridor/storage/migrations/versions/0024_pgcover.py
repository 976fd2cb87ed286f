"""the matching index's postings cover the consent flag on PostgreSQL (issue 15)

Revision ID: 0024_pgcover
Revises: 0023_keys
Create Date: 2027-02-10

A search sums, in one GROUP BY, the postings of the keys it chose, among those of
persons who consented to tracing (``person_match_keys.traceable``). On PostgreSQL the
primary key (key, person_id) did not hold ``traceable``, so every posting cost a visit
to the table's heap, scattered over thousands of pages at 1,000,000 persons. The
primary key now carries it (``INCLUDE (traceable)``): the search reads the index alone
(an index-only scan). SQLite's table is already stored in its primary key's order
(WITHOUT ROWID) with the flag beside it: nothing changes there. The declared schema
(the primary key's columns) is the same.

Imports no application code.
"""

from __future__ import annotations

from alembic import op

revision = "0024_pgcover"
down_revision = "0023_keys"
branch_labels = None
depends_on = None


def _primary_key(include: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "ALTER TABLE person_match_keys DROP CONSTRAINT pk_person_match_keys, "
        f"ADD CONSTRAINT pk_person_match_keys PRIMARY KEY (key, person_id){include}"
    )


def upgrade() -> None:
    _primary_key(" INCLUDE (traceable)")


def downgrade() -> None:
    _primary_key("")
