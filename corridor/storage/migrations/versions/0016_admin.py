"""a site can be closed (issue 12: administration)

Revision ID: 0016
Revises: 0013
Create Date: 2027-01-10

``sites.closed_at``: when an administrator closed the site. A closed site keeps its
persons, movements and figures; it takes no new registration or arrival. NULL: open.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites", recreate="never") as batch:
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("closed_at")
