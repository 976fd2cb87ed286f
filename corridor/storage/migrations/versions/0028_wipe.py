"""a node's name, and its confirmation that it carried out a wipe (issue 16)

Revision ID: 0028_wipe
Revises: 0027_oldid
Create Date: 2027-02-20

``sync_nodes.name``: the human name a node is given at ``corridor node init`` (two desks
of one site told apart), carried in its enrolment request and shown at the central.
``wipe_report``: the node's signed account of a wipe it carried out (JSON: when, the key
ids destroyed, how many persons anonymised, how many of its changes never reached the
central; no personal data), kept at the node (its own row) and, once received and its
signature verified, at the central (the node's row) with ``wipe_confirmed_at``.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028_wipe"
down_revision = "0027_oldid"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("sync_nodes") as batch:
        batch.add_column(sa.Column("name", sa.String(64)))
        batch.add_column(sa.Column("wipe_report", sa.Text()))
        batch.add_column(sa.Column("wipe_confirmed_at", WHEN))


def downgrade() -> None:
    with op.batch_alter_table("sync_nodes") as batch:
        batch.drop_column("wipe_confirmed_at")
        batch.drop_column("wipe_report")
        batch.drop_column("name")
