"""the tracing outbox: persons still to be checked against open enquiries

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-01

A registration, a correction or an arrival writes one row per person here in its own
transaction; the tracing worker deletes the rows in the transaction that stores the
matches it found. A crash in between leaves them, and the next start checks them, however
long the outage was (before, a restart re-checked only the last hour of movements).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tracing_outbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("found_by", sa.String(20), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tracing_outbox")
