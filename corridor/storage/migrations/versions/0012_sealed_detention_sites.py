"""where a detention site is, sealed under its own key (issue 4)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23

A detention site's name, P-code, locality and coordinates move into ``sites.sealed``,
sealed under the site's key, and its plain name becomes a neutral label. A migration has
no master key: it only adds the column, and ``corridor keys seal`` seals the detention
sites already there (``corridor db upgrade`` says when that is needed). Downgrading drops
the column: a site sealed by then keeps its label as its name.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites", recreate="never") as batch:
        batch.add_column(sa.Column("sealed", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites", recreate="never") as batch:
        batch.drop_column("sealed")
