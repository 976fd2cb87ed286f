"""the roles of whoever recorded a movement event: the group its note belongs to

Revision ID: 0037_movement_note_roles
Revises: 0036_accounts_password_expired
Create Date: 2026-12-07

``movements`` gains ``recorded_roles``: the roles the recording user held when they
recorded the event (sorted, comma-separated; NULL for events recorded by no user: the
registration, an import, a command). The gate reads a note written by a role of a field
group (``health``: medical; ``protection_officer``: detention) as that group's data, so
that only the group's roles read it (docs/security.md, line 4, "Free-text notes").

Existing events are given the roles their recorder holds now (the best that is known;
an event of a user since deleted stays NULL: its note is then classified by the event's
kind and place only).

Downgrading drops the column.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0037_movement_note_roles"
down_revision = "0036_accounts_password_expired"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("movements", sa.Column("recorded_roles", sa.String(200), nullable=True))
    conn = op.get_bind()
    roles: dict[str, list[str]] = {}
    for user_id, role in conn.execute(sa.text("SELECT user_id, role FROM user_roles")):
        roles.setdefault(str(user_id), []).append(str(role))
    update = sa.text("UPDATE movements SET recorded_roles = :roles WHERE recorded_by = :user")
    for user_id, held in roles.items():
        conn.execute(update, {"roles": ",".join(sorted(held)), "user": user_id})


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE movements DROP COLUMN recorded_roles")
    else:
        op.drop_column("movements", "recorded_roles")
