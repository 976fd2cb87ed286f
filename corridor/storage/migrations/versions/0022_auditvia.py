"""the id a write was sent to, in its audit event (issue 15)

Revision ID: 0022_auditvia
Revises: 0021_changes
Create Date: 2027-02-03

``audit_events.via_person_id``: for a write sent to a merged person's old id, that old id
(the event's ``person_id`` names the survivor the write landed on). Nullable: the rows
written before have none, and the hash chain covers the column only where it is set
(security/audit.py ``row_hash``), so their hashes, and the chain, stay as they were.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_auditvia"
down_revision = "0021_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (no table copy: the rows stay as written).
    op.add_column("audit_events", sa.Column("via_person_id", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("via_person_id")
