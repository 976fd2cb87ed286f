"""Migration 0040 adds ``persons.note_roles`` (the roles of whoever last wrote a
person's own note: a health or protection officer's note is their field group's). Who
wrote an existing note is not stored: a note gets the roles held now by every user who
may have written it (the registering user, each user of an allowed ``person.write`` on
the person); a person with no note gets none; downgrading drops the column."""

from __future__ import annotations

from sqlalchemy import inspect, select

from corridor.security.roles import Role
from corridor.storage.migrate import current_revision, head_revision, upgrade
from corridor.storage.tables import persons
from tests.api.helpers import register, site, work_at
from tests.conftest import make_client
from tests.storage.steps import downgrade_to


def _columns(database) -> set[str]:
    return {c["name"] for c in inspect(database.engine).get_columns("persons")}


def test_0040_gives_old_notes_the_roles_of_whoever_may_have_written_them(
    client, database, clock
):
    camp = site(client, "Camp A")
    registrar = make_client(database, clock, roles=(Role.REGISTRAR,))
    health = make_client(database, clock, roles=(Role.HEALTH,))
    for who in (registrar, health):
        work_at(who, camp, admin=client)
    seen = register(registrar, camp, given_name="Omar", estimated_age=40, note="seen by health")
    plain = register(registrar, camp, given_name="Ali", estimated_age=30, note="plain words")
    bare = register(registrar, camp, given_name="Huda", estimated_age=35)
    for person in (seen, bare):  # a health officer wrote to them after (not the note)
        r = health.patch(
            f"/api/persons/{person['id']}", json={"vulnerabilities": {"medical_note": "TB"}}
        )
        assert r.status_code == 200, r.text
    downgrade_to(database, "0039_seal_movement_notes")
    assert "note_roles" not in _columns(database)
    upgrade(database)
    assert current_revision(database) == head_revision()
    with database.read() as conn:
        held = dict(conn.execute(select(persons.c.id, persons.c.note_roles)).all())
    assert held[seen["id"]] == "health,registrar"
    assert held[plain["id"]] == "registrar"
    assert held[bare["id"]] is None
    # Read after the upgrade: the note a health officer may have written is withheld from
    # the registrar (the safe side), the registrar's own is not.
    assert registrar.get(f"/api/persons/{seen['id']}").json()["note_withheld"] is True
    assert registrar.get(f"/api/persons/{plain['id']}").json()["note"] == "plain words"
    assert health.get(f"/api/persons/{seen['id']}").json()["note"] == "seen by health"
    downgrade_to(database, "0039_seal_movement_notes")
    assert "note_roles" not in _columns(database)
    upgrade(database)
