"""an administrator's one-time password: the user changes it at their next sign-in

Revision ID: 0036_accounts_password_expired
Revises: 0035_links_removed
Create Date: 2026-12-07

``users`` gains ``password_expired`` (false for every existing user): set when an
administrator resets a forgotten password, cleared when the user chooses their own.
While it is set, the user's session reaches nothing but the change of password.

Downgrading drops the column: a one-time password not yet changed then works as the
user's own password (reset it again after upgrading).

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036_accounts_password_expired"
down_revision = "0035_links_removed"
branch_labels = None
depends_on = None


# Never a batch rebuild of ``users`` on SQLite: it drops the table, and the ``ON DELETE
# CASCADE`` of ``sessions`` and ``api_tokens`` empties them (everyone signed out). Adding
# a column with a default and dropping a plain one are ALTER TABLE there (SQLite 3.35+).


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("password_expired", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE users DROP COLUMN password_expired")
    else:
        op.drop_column("users", "password_expired")
