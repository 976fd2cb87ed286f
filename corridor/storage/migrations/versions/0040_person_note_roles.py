"""the roles of whoever last wrote a person's note: the group the note belongs to

Revision ID: 0040_person_note_roles
Revises: 0039_seal_movement_notes
Create Date: 2026-12-07

``persons`` gains ``note_roles``: the roles the user who last wrote the person's own
free-text note held when they wrote it (sorted, comma-separated; NULL for a note
written by no user: an import or a command, or no note). The gate reads a note written
by a role of a field group (``health``: medical; ``protection_officer``: detention) as
that group's data, so that only the group's roles read it, as a movement's note
(``movements.recorded_roles``, 0037; docs/security.md, line 4, "Free-text notes").

Who wrote an existing note is not stored: the audit log names who wrote each person
(``person.write``), not which field. An existing note is given the roles held now by
every user who may have written it: the registering user (``persons.recorded_by``) and
each user of an allowed ``person.write`` event naming the person. A note is then
withheld from a role outside a group if any of them held that group's role (the safe
side: a registrar may no longer read a note that a health officer could have written;
the health officer sees it, and writing it again records their roles only). A person
with no note gets NULL.

Downgrading drops the column.

Imports no application code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0040_person_note_roles"
down_revision = "0039_seal_movement_notes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("persons", sa.Column("note_roles", sa.String(200), nullable=True))
    conn = op.get_bind()
    held: dict[str, set[str]] = {}
    for user_id, role in conn.execute(sa.text("SELECT user_id, role FROM user_roles")):
        held.setdefault(str(user_id), set()).add(str(role))
    writers: dict[str, set[str]] = {}
    noted = sa.text("SELECT id, recorded_by FROM persons WHERE note IS NOT NULL")
    for person_id, recorded_by in conn.execute(noted):
        writers[str(person_id)] = {str(recorded_by)} if recorded_by else set()
    if not writers:
        return
    written = sa.text(
        "SELECT DISTINCT person_id, user_id FROM audit_events "
        "WHERE action = 'person.write' AND outcome = 'allowed' AND person_id IS NOT NULL"
    )
    for person_id, user_id in conn.execute(written):
        if str(person_id) in writers:
            writers[str(person_id)].add(str(user_id))
    update = sa.text("UPDATE persons SET note_roles = :roles WHERE id = :person")
    for person_id, users in writers.items():
        roles = sorted(set().union(*(held.get(u, set()) for u in users)))
        if roles:
            conn.execute(update, {"roles": ",".join(roles)[:200], "person": person_id})


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE persons DROP COLUMN note_roles")
    else:
        op.drop_column("persons", "note_roles")
