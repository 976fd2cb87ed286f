"""protection across nodes: revocation, remote wipe, a pull's freshness (issue 16)

Revision ID: 0025_guard
Revises: 0024_pgcover
Create Date: 2027-02-12

``sync_nodes`` gains ``revoked_at`` (a node the central's administrator revoked: its
bundles are refused), ``wipe_ordered_at`` and ``wiped_at`` (at the central: when the
administrator ordered a node's wipe and when the order was first delivered to it; at a
node, its own row: when it carried the order out) and ``last_request_at`` (at the
central: the ``created_at`` of the node's last pull request answered, to refuse a
replay; at a node, on its central's row: that of the last one it sent).

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025_guard"
down_revision = "0024_pgcover"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
COLUMNS = ("revoked_at", "wipe_ordered_at", "wiped_at", "last_request_at")


def upgrade() -> None:
    with op.batch_alter_table("sync_nodes") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, WHEN))


def downgrade() -> None:
    with op.batch_alter_table("sync_nodes") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
