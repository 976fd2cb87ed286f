"""a bulk export of one list's persons (issue 13)

Revision ID: 0019_exportsel
Revises: 0018_trace
Create Date: 2027-01-27

``export_requests.selection``: the list whose persons the export holds and that list's
filter, as JSON (``{"list": "unaccounted", "site_id": ..., "since": ...}``); NULL, as for
every request before, means every person of the request's sites. It holds filters and,
for a search, person ids: never a name.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_exportsel"
down_revision = "0018_trace"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("export_requests", recreate="never") as batch:
        batch.add_column(sa.Column("selection", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("export_requests") as batch:
        batch.drop_column("selection")
