"""manifests: expected arrival, late arrivals (issue 13: manifests)

Revision ID: 0017_man
Revises: 0016
Create Date: 2027-01-20

``manifests.expected_arrival``: when the vehicle is expected at its destination (set at
dispatch). Until then a person not yet checked in is "in transit", after it
"unaccounted for". NULL (manifests dispatched before this revision): already passed.

``manifest_items.late_arrival``: 1 when the person was checked in after the arrival was
closed (received), else NULL.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_man"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("manifests", recreate="never") as batch:
        batch.add_column(sa.Column("expected_arrival", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("manifest_items", recreate="never") as batch:
        batch.add_column(sa.Column("late_arrival", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("manifest_items") as batch:
        batch.drop_column("late_arrival")
    with op.batch_alter_table("manifests") as batch:
        batch.drop_column("expected_arrival")
