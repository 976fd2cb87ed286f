"""a conflict's review: who resolved it, when, and what was kept (issue 16)

Revision ID: 0026_review
Revises: 0025_guard
Create Date: 2027-02-12

A change applied in state ``conflict`` (both sides changed the same field apart) goes to
the review queue; an officer's decision is itself a correction, journaled like any other,
and marks the change resolved: ``resolved_by`` (the user), ``resolved_at``, and
``resolution`` (JSON: for each conflicting field, "ours" or "theirs", and the change the
decision wrote). A conflict stays in state ``conflict`` (changes made on it still find
their base); the queue lists those with no ``resolved_at``.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_review"
down_revision = "0025_guard"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("sync_changes") as batch:
        batch.add_column(sa.Column("resolved_by", sa.String(64)))
        batch.add_column(sa.Column("resolved_at", WHEN))
        batch.add_column(sa.Column("resolution", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("sync_changes") as batch:
        batch.drop_column("resolution")
        batch.drop_column("resolved_at")
        batch.drop_column("resolved_by")
