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


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch:
        batch.add_column(
            sa.Column("password_expired", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch:
        batch.drop_column("password_expired")
