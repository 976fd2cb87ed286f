"""retention of tracing data: a legal hold and an anonymised mark on enquiries (issue 4)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24

Columns are only added, so SQLite needs no table rebuild.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tracing_enquiries", recreate="never") as batch:
        batch.add_column(
            sa.Column("legal_hold", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tracing_enquiries", recreate="never") as batch:
        batch.drop_column("anonymised_at")
        batch.drop_column("legal_hold")
