"""Migration 0037 adds ``movements.recorded_roles`` (the roles of whoever recorded an
event: a health or protection officer's note is their field group's): the events already
there get the roles their recorder holds; downgrading drops it."""

from __future__ import annotations

from sqlalchemy import inspect, select

from corridor.security.roles import Role
from corridor.storage.migrate import current_revision, head_revision, upgrade
from corridor.storage.tables import movements
from tests.api.helpers import register, site, work_at
from tests.conftest import make_client
from tests.storage.steps import downgrade_to


def _columns(database) -> set[str]:
    return {c["name"] for c in inspect(database.engine).get_columns("movements")}


def test_0037_gives_old_events_their_recorders_roles(client, database, clock):
    camp, other = site(client, "Camp A"), site(client, "Camp C")
    person = register(client, camp, given_name="Nour", estimated_age=40)["id"]
    health = make_client(database, clock, roles=(Role.HEALTH,))
    work_at(health, camp, other, admin=client)
    r = health.post(
        f"/api/persons/{person}/events",
        json={"kind": "transferred", "to_site_id": other, "note": "needs insulin"},
    )
    assert r.status_code == 201, r.text
    downgrade_to(database, "0036_accounts_password_expired")
    assert "recorded_roles" not in _columns(database)
    upgrade(database)
    assert current_revision(database) == head_revision()
    with database.read() as conn:
        held = dict(conn.execute(select(movements.c.kind, movements.c.recorded_roles)).all())
    assert held["transferred"] == "health"
    # Read again after the upgrade, the note is the health group's still.
    registrar = make_client(database, clock, roles=(Role.REGISTRAR,))
    work_at(registrar, camp, other, admin=client)
    assert "needs insulin" not in registrar.get(f"/api/persons/{person}/movements").text
    assert "needs insulin" in health.get(f"/api/persons/{person}/movements").text
    downgrade_to(database, "0036_accounts_password_expired")
    assert "recorded_roles" not in _columns(database)
    upgrade(database)
