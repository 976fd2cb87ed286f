"""tests/support/worlds.py: a world laid into a fresh database is the world that was
built, row for row, its audit chain whole, its sequences where they were, and a test
acting on it writes as it would have on the database it was built in."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from corridor.security import audit
from corridor.security.roles import Role
from corridor.storage import Database
from corridor.storage.tables import metadata, persons
from tests.api.helpers import register, site
from tests.conftest import Clock, empty_database, make_client
from tests.support.worlds import Worlds, restore, take


def _content(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    with db.engine.connect() as conn:
        return {
            t.name: sorted((tuple(r) for r in conn.execute(t.select())), key=repr)
            for t in metadata.sorted_tables
        }


def _build(client: Any, clock: Clock) -> dict[str, Any]:
    camp = site(client, "Camp")
    hospital = site(client, "Hospital", kind="hospital")
    amina = register(client, camp, given_name="Amina", family_name="Khalil")["id"]
    clock.advance(hours=3)
    r = client.post(f"/api/persons/{amina}/events",
                    json={"kind": "hospitalised", "to_site_id": hospital})
    assert r.status_code == 201, r.text
    return {"camp": camp, "amina": amina}


def _fresh(db: Database, backend: str, template: Any, tmp_path: Any) -> Database:
    if backend == "sqlite":
        import shutil

        path = tmp_path / "again.db"
        shutil.copy(template, path)
        return Database(f"sqlite:///{path}")
    empty_database(db)
    return db


def test_a_snapshot_restores_every_row_and_sequence(
    database: Database, clock: Clock, backend: str, request: Any, tmp_path: Any
) -> None:
    with make_client(database, clock) as client:
        _build(client, clock)
    before = _content(database)
    assert before["persons"] and before["audit_events"] and before["movements"]
    snapshot = take(database, tmp_path / "kept.db")
    template = request.getfixturevalue("sqlite_template") if backend == "sqlite" else None
    again = _fresh(database, backend, template, tmp_path)
    assert not _content(again)["persons"]
    restore(again, snapshot)
    assert _content(again) == before
    with again.read() as conn:
        assert audit.verify(conn).ok
    # The sequences go on from where they were: a new row takes the next number.
    with make_client(again, clock, roles=(Role.ADMINISTRATOR, Role.REGISTRAR)) as client:
        camp = site(client, "Camp 2")
        register(client, camp, given_name="Nour")
    with again.read() as conn:
        assert audit.verify(conn).ok
        assert len(conn.execute(select(persons.c.id)).all()) == 2
    if again is not database:
        again.dispose()


WORLDS = Worlds(_build)


def test_worlds_give_each_test_the_builders_world(
    database: Database, clock: Clock, backend: str, tmp_path_factory: Any
) -> None:
    """Opened twice (two tests' databases), the world is the same, the client acts as
    its builder at the builder's last instant, and the second's writes stay its own."""
    with WORLDS.open(backend, database, clock, tmp_path_factory) as (client, world):
        built_at = clock()
        r = client.get(f"/api/persons/{world['amina']}")
        assert r.status_code == 200, r.text
        register(client, world["camp"], given_name="Only in the first")
    clock.advance(days=30)
    if backend == "postgresql":
        empty_database(database)  # as the next test's ``database`` fixture does
    with WORLDS.open(backend, database, clock, tmp_path_factory) as (client, world):
        assert clock() == built_at
        r = client.get(f"/api/persons/{world['amina']}")
        assert r.status_code == 200, r.text
        with database.read() as conn:
            names = set(conn.execute(select(persons.c.given_name)).scalars())
        assert names == {"Amina"}
