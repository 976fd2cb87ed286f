"""Issue 16 with issue 15: a merge made at the central of two persons registered at two
sites, one of them held at a site node, reaching that node (docs/sync.md, "Merges
across sites"). Samira registered at the exit's node (with a health officer's note) and
at the camp's node (a movement there with its note, sealed under the camp's key); the
central merges the camp's record into the exit's. At the central and at the exit's
node the moved movement's note is sealed under the kept site's key (the exit's) and
reads the same; the survivor's own note stays the health officer's (a registrar is
shown it withheld, a health officer reads it); nothing is lost or doubled. The central
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from corridor.schemas import PersonPatch, StatusEventIn
from corridor.security.crypto import FieldCipher
from corridor.security.roles import Role
from corridor.security.tables import site_keys
from corridor.services import Services
from corridor.storage.tables import movements, sites
from tests.conftest import MASTER_KEY, Clock
from tests.support.route_world import token_client
from tests.sync.helpers import hook, register
from tests.sync.test_facts import _pull, _push

HEALTH_NOTE = "treated for shrapnel wound, TB suspected"
MOVE_NOTE = "crossed with her sister at night"


@pytest.fixture
def more_sites() -> list[tuple[str, str]]:
    return [("Hospital", "hospital")]


@pytest.fixture
def world(
    three: Any,
) -> Iterator[tuple[Services, Services, Services, str, str, str]]:
    central, exit_node, camp_node, exit_site, camp_site = three
    with central.db.read() as conn:
        hospital = str(
            conn.execute(select(sites.c.id).where(sites.c.name == "Hospital")).scalar_one()
        )
    yield central, exit_node, camp_node, exit_site, camp_site, hospital


def _site_of_key(s: Services, token: str) -> str:
    with s.db.read() as conn:
        return str(
            conn.execute(
                select(site_keys.c.site_id).where(site_keys.c.id == FieldCipher.key_id_of(token))
            ).scalar_one()
        )


def _note_of(s: Services, event_id: str) -> tuple[str, str]:
    with s.db.read() as conn:
        row = conn.execute(
            select(movements.c.person_id, movements.c.note).where(movements.c.id == event_id)
        ).one()
        [opened] = s.vault.open_notes(conn, "movement.note", [row.note])
    return str(row.person_id), str(opened)


def test_a_cross_site_merge_with_notes_reaches_the_kept_sites_node(
    world: Any, clock: Clock
) -> None:
    central, exit_node, camp_node, exit_site, camp_site, hospital = world
    a = register(exit_node, exit_site, "Samira", "+963933100001")
    exit_node.registration.update_person(
        a, PersonPatch(note=HEALTH_NOTE), audit=hook(exit_node, "person.write"),
        note_roles="health",
    )  # fmt: skip
    b = register(camp_node, camp_site, "Samira", "+963933100005")
    clock.advance(hours=1)
    moved = camp_node.movements.record(
        b, StatusEventIn(kind="hospitalised", to_site_id=hospital, note=MOVE_NOTE),
        audit=hook(camp_node, "movement.write"),
    )  # fmt: skip
    _push(exit_node, central)
    _push(camp_node, central)
    with central.db.read() as conn:
        token = conn.execute(
            select(movements.c.note).where(movements.c.id == moved["id"])
        ).scalar_one()
    assert _site_of_key(central, token) == camp_site

    central.merges.merge(a, b, "one woman", "cli:test", audit=hook(central, "person.merge"))
    for node in (exit_node, camp_node):
        assert _pull(central, node).waiting == 0
    _push(exit_node, central)
    _push(camp_node, central)

    for s in (central, exit_node):
        assert s.merges.resolve(b) == a, s
        person_id, text = _note_of(s, moved["id"])
        assert (person_id, text) == (a, MOVE_NOTE), s
        with s.db.read() as conn:
            stored = conn.execute(
                select(movements.c.note).where(movements.c.id == moved["id"])
            ).scalar_one()
        assert _site_of_key(s, stored) == exit_site, s  # sealed under the kept site's key
        person = s.registration.get_person(a)
        assert (person["note"], person["note_roles"]) == (HEALTH_NOTE, "health"), s
        with s.db.read() as conn:
            ids = list(
                conn.execute(select(movements.c.id).where(movements.c.id == moved["id"])).scalars()
            )
        assert ids == [moved["id"]], s  # once
    # Readable to its group only, at the central.
    registrar, _ = token_client(
        central.db, clock, "reg-exit", (Role.REGISTRAR,), [exit_site], master_key=MASTER_KEY
    )
    r = registrar.get(f"/api/persons/{a}")
    assert r.status_code == 200, r.text
    assert r.json()["note_withheld"] is True and HEALTH_NOTE not in r.text
    health, _ = token_client(
        central.db, clock, "health-exit", (Role.HEALTH,), [exit_site], master_key=MASTER_KEY
    )
    assert health.get(f"/api/persons/{a}").json()["note"] == HEALTH_NOTE
    history = health.get(f"/api/persons/{a}/movements")
    assert history.status_code == 200, history.text
    assert MOVE_NOTE in history.text


