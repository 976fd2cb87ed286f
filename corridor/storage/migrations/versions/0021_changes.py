"""site-node sync: the change log, the nodes, the acknowledgements (issue 16)

Revision ID: 0021_changes
Revises: 0020_merge
Create Date: 2027-02-01

``sync_changes``: the outbox of facts (one sealed change per person a write touched,
numbered per origin node without gaps). ``sync_nodes``: this installation's identity
(one row with ``is_self``, created here with a fresh id) and the nodes it knows.
``sync_acks``: what each peer has acknowledged, per origin. Ids, numbers and sealed
tokens only.

Imports no application code.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0021_changes"
down_revision = "0020_merge"
branch_labels = None
depends_on = None

ID = sa.String(36)
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sync_changes",
        sa.Column("id", ID, nullable=False),
        sa.Column("origin_node", ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.String(64)),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("person_id", ID),
        sa.Column("site_id", ID),
        sa.Column("depends_on", ID),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("recorded_at", WHEN, nullable=False),
        sa.Column("received_at", WHEN),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("conflict_fields", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_sync_changes"),
        sa.UniqueConstraint("origin_node", "seq", name="uq_sync_changes_origin_node_seq"),
    )
    op.create_index("ix_sync_changes_person_id", "sync_changes", ["person_id"])
    op.create_index("ix_sync_changes_site_id", "sync_changes", ["site_id"])
    op.create_index("ix_sync_changes_state", "sync_changes", ["state"])
    nodes = op.create_table(
        "sync_nodes",
        sa.Column("id", ID, nullable=False),
        sa.Column("is_self", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("role", sa.String(10)),
        sa.Column("site_id", ID),
        sa.Column("central_url", sa.String(300)),
        sa.Column("signing_public", sa.Text()),
        sa.Column("box_public", sa.Text()),
        sa.Column("secret", sa.Text()),
        sa.Column("site_name", sa.String(200)),
        sa.Column("last_seq", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("requested_at", WHEN),
        sa.Column("approved_at", WHEN),
        sa.Column("approved_by", sa.String(64)),
        sa.Column("last_contact_at", WHEN),
        sa.PrimaryKeyConstraint("id", name="pk_sync_nodes"),
    )
    op.create_table(
        "sync_heads",
        sa.Column("person_id", ID, nullable=False),
        sa.Column("change_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("person_id", name="pk_sync_heads"),
    )
    op.create_table(
        "sync_acks",
        sa.Column("peer_node", ID, nullable=False),
        sa.Column("origin_node", ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("peer_node", "origin_node", name="pk_sync_acks"),
    )
    # This installation's own identity: every write is numbered under it from now on.
    op.bulk_insert(
        nodes, [{"id": str(uuid.uuid4()), "is_self": True, "status": "self", "last_seq": 0}]
    )


def downgrade() -> None:
    op.drop_table("sync_acks")
    op.drop_table("sync_heads")
    op.drop_table("sync_nodes")
    op.drop_index("ix_sync_changes_state", table_name="sync_changes")
    op.drop_index("ix_sync_changes_site_id", table_name="sync_changes")
    op.drop_index("ix_sync_changes_person_id", table_name="sync_changes")
    op.drop_table("sync_changes")
