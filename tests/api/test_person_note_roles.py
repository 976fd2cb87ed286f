"""A person's own free-text note, by field group (PROTECTION.md line 4).

An adult's note was shown to every role that reads the person, whoever wrote it: a
health officer's "treated for shrapnel wound, TB suspected" reached registrars, movement
officers and site managers. The note now keeps the roles of whoever last wrote it
(``persons.note_roles``, migration 0040), as a movement's note keeps its writer's
(``movements.recorded_roles``): a note a health officer wrote is medical, a protection
officer's is read as detention data, and it is withheld (``null``, said in ``withheld``
and ``note_withheld``) from every role outside the group, wherever the person is shown.
A role may not overwrite a note it may not read. A minor's note stays with
``minor_details`` as before; other notes are shown as before. (The route and command
tables check every route: tests/support/route_world.py plants a health officer's note.)
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from corridor.security.roles import Role
from tests.api.helpers import register, site, work_at
from tests.conftest import make_client

HEALTH_NOTE = "treated for shrapnel wound, TB suspected"
PROTECTION_NOTE = "his brother is held at the airport facility"
PLAIN_NOTE = "prefers to be called Abu Omar"

ROLES = {
    "registrar": Role.REGISTRAR,
    "mover": Role.MOVEMENT_OFFICER,
    "health": Role.HEALTH,
    "protection": Role.PROTECTION_OFFICER,
    "tracing": Role.TRACING_OFFICER,
    "manager": Role.SITE_MANAGER,
}


@pytest.fixture
def world(client: TestClient, database: Any, clock: Any) -> dict[str, Any]:
    camp = site(client, "Camp A")
    users: dict[str, TestClient] = {}
    for name, role in ROLES.items():
        users[name] = make_client(database, clock, roles=(role,))
        work_at(users[name], camp, admin=client)
    return {"admin": client, "camp": camp, "users": users}


def _adult(w: dict[str, Any], name: str, **fields: Any) -> dict[str, Any]:
    """An adult registered by the registrar (a note given is theirs: no field group)."""
    who = w["users"]["registrar"]
    return register(who, w["camp"], given_name=name, estimated_age=40, **fields)


def _patch(who: TestClient, person_id: str, **body: Any) -> Any:
    return who.patch(f"/api/persons/{person_id}", json=body)


def _shown(who: TestClient, person: dict[str, Any]) -> dict[str, str]:
    """Every answer of ``who`` that shows the person, by route: its text."""
    pid = person["id"]
    answers = {
        "api": who.get(f"/api/persons/{pid}"),
        "page.json": who.get(f"/persons/{pid}.json"),
        "page": who.get(f"/persons/{pid}"),
        "search": who.post(
            "/api/persons/search", json={"registration_number": person["registration_number"]}
        ),
    }
    for route, r in answers.items():
        assert r.status_code == 200, (route, r.text)
    return {route: r.text for route, r in answers.items()}


def _readers(w: dict[str, Any], person: dict[str, Any], note: str) -> set[str]:
    """Which roles read ``note`` on the person (on the API, the page's twin and a
    search); the others see it withheld, and said so."""
    seen = set()
    for name, who in w["users"].items():
        texts = _shown(who, person)
        found = {route for route, text in texts.items() if note in text}
        view = who.get(f"/api/persons/{person['id']}").json()
        if found:
            assert found >= {"api", "page.json", "search"}, (name, found)
            assert view["note"] == note and not view.get("note_withheld")
            seen.add(name)
        else:
            assert view["note"] is None and "note" in view["withheld"], (name, view)
            # Said so: a note of a group withheld (a child's note under minor_details is
            # withheld as every minor detail is, said by ``withheld`` only).
            assert view["note_withheld"] is (view["age"] >= 18 or name == "tracing"), name
    return seen


def test_a_health_officers_note_on_an_adult_is_medical(world: dict[str, Any]) -> None:
    person = _adult(world, "Omar")
    r = _patch(world["users"]["health"], person["id"], note=HEALTH_NOTE)
    assert r.status_code == 200, r.text
    assert r.json()["note"] == HEALTH_NOTE  # the writer reads their own group's note
    assert _readers(world, person, HEALTH_NOTE) == {"health"}


def test_a_protection_officers_note_on_an_adult_is_detention_data(
    world: dict[str, Any],
) -> None:
    person = _adult(world, "Yusuf")
    r = _patch(world["users"]["protection"], person["id"], note=PROTECTION_NOTE)
    assert r.status_code == 200, r.text
    assert _readers(world, person, PROTECTION_NOTE) == {"protection"}


def test_a_note_written_at_registration_is_the_registering_roles(
    world: dict[str, Any],
) -> None:
    health = world["users"]["health"]
    r = health.post(
        "/api/persons",
        json={
            "site_id": world["camp"],
            "given_name": "Karim",
            "estimated_age": 35,
            "note": HEALTH_NOTE,
            "consent": {"tracing": True, "share_with": []},
            "purpose": "registration and assistance",
            "legal_basis": "vital_interest",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["note"] == HEALTH_NOTE
    assert _readers(world, r.json(), HEALTH_NOTE) == {"health"}


def test_other_notes_are_shown_as_before(world: dict[str, Any]) -> None:
    person = _adult(world, "Salim", note=PLAIN_NOTE)
    assert _readers(world, person, PLAIN_NOTE) == set(ROLES)
    r = _patch(world["users"]["registrar"], person["id"], note=PLAIN_NOTE + ".")
    assert r.status_code == 200, r.text
    assert _readers(world, person, PLAIN_NOTE + ".") == set(ROLES)


def test_the_last_writer_decides_and_a_hidden_note_is_not_overwritten(
    world: dict[str, Any],
) -> None:
    users = world["users"]
    person = _adult(world, "Fadi", note=PLAIN_NOTE)
    assert _patch(users["health"], person["id"], note=HEALTH_NOTE).status_code == 200
    # A registrar may not replace (nor clear) what they may not read: refused, kept.
    for body in ({"note": "nothing to note"}, {"note": None}):
        r = _patch(users["registrar"], person["id"], **body)
        assert r.status_code == 403, r.text
        assert HEALTH_NOTE not in r.text
    assert users["health"].get(f"/api/persons/{person['id']}").json()["note"] == HEALTH_NOTE
    # Other details still change, and the note stays the health group's.
    r = _patch(users["registrar"], person["id"], kunya="Abu Fadi")
    assert r.status_code == 200, r.text
    assert r.json()["note"] is None and r.json()["note_withheld"] is True
    assert _readers(world, person, HEALTH_NOTE) == {"health"}
    # The health officer writes it again in plain words: the health group's still; cleared
    # by them, there is nothing left to withhold.
    assert _patch(users["health"], person["id"], note=None).status_code == 200
    view = users["registrar"].get(f"/api/persons/{person['id']}").json()
    assert view["note"] is None and not view.get("note_withheld")
    assert _patch(users["registrar"], person["id"], note=PLAIN_NOTE).status_code == 200
    assert _readers(world, person, PLAIN_NOTE) == set(ROLES)


def test_a_hidden_note_lost_with_its_sites_keys_is_not_overwritten_either(
    world: dict[str, Any],
) -> None:
    """After the evacuation drill destroys the camp's keys, the health officer's note
    reads as lost; before, a registrar's PATCH of it then passed (a lost note read as no
    note), so who may replace it changed with the drill. It is still the health group's
    to replace: refused for the registrar, and the health officer writes a new one."""
    users = world["users"]
    person = _adult(world, "Nizar")
    assert _patch(users["health"], person["id"], note=HEALTH_NOTE).status_code == 200
    services = world["admin"].app.state.services  # type: ignore[attr-defined]
    assert services.keys.destroy_site(world["camp"], "cli:drill") >= 1
    shown = users["health"].get(f"/api/persons/{person['id']}").json()
    assert shown["note"] is None and "note" in shown["unreadable"], shown
    for body in ({"note": "nothing to note"}, {"note": None}):
        r = _patch(users["registrar"], person["id"], **body)
        assert r.status_code == 403, r.text
    assert "note" in users["health"].get(f"/api/persons/{person['id']}").json()["unreadable"]
    r = _patch(users["health"], person["id"], note="seen again: TB ruled out")
    assert r.status_code == 200, r.text
    assert users["health"].get(f"/api/persons/{person['id']}").json()["note"] == (
        "seen again: TB ruled out"
    )


def test_a_minors_note_keeps_the_minor_details_rule(world: dict[str, Any]) -> None:
    child = register(world["admin"], world["camp"], given_name="Lina", estimated_age=9)
    protection = world["users"]["protection"]
    assert _patch(protection, child["id"], note=PROTECTION_NOTE).status_code == 200
    # minor_details (protection, tracing) and detention (protection): protection only.
    assert _readers(world, child, PROTECTION_NOTE) == {"protection"}
    other = register(world["admin"], world["camp"], given_name="Maya", estimated_age=8)
    assert _patch(protection, other["id"], note=None).status_code == 200
    registrar = world["users"]["registrar"]
    plain = register(registrar, world["camp"], given_name="Rami", estimated_age=7, note=PLAIN_NOTE)
    assert _readers(world, plain, PLAIN_NOTE) == {"protection", "tracing"}


def test_a_household_shows_a_members_note_by_group(world: dict[str, Any]) -> None:
    admin, camp = world["admin"], world["camp"]
    r = admin.post(
        "/api/households",
        json={
            "site_id": camp,
            "consent": {"tracing": True, "share_with": []},
            "purpose": "registration and assistance",
            "legal_basis": "vital_interest",
            "head": {"given_name": "Ahmad", "estimated_age": 45},
            "members": [{"given_name": "Huda", "estimated_age": 40, "relationship": "spouse"}],
        },
    )
    assert r.status_code == 201, r.text
    household = r.json()
    head = household["head_person_id"]
    assert _patch(world["users"]["health"], head, note=HEALTH_NOTE).status_code == 200
    for name, who in world["users"].items():
        texts = [
            who.get(f"/api/households/{household['id']}"),
            who.get(f"/households/{household['id']}.json"),
        ]
        for answer in texts:
            if answer.status_code == 404:
                continue
            assert answer.status_code == 200, (name, answer.text)
            assert (HEALTH_NOTE in answer.text) == (name == "health"), (name, answer.url)


PFIF = """<?xml version="1.0" encoding="UTF-8"?>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4">
  <pfif:person>
    <pfif:person_record_id>clinic.example.org/person.1</pfif:person_record_id>
    <pfif:source_date>2026-11-06T08:00:00Z</pfif:source_date>
    <pfif:full_name>Nabil Hamid</pfif:full_name>
    <pfif:sex>male</pfif:sex>
    <pfif:date_of_birth>1980-05</pfif:date_of_birth>
    <pfif:description>{note}</pfif:description>
  </pfif:person>
</pfif:pfif>
"""


def test_a_note_imported_by_a_health_officer_is_medical(world: dict[str, Any]) -> None:
    health = world["users"]["health"]
    r = health.post(
        "/api/imports/pfif",
        params={"site_id": world["camp"], "consent_tracing": True},
        files={"file": ("clinic.xml", PFIF.format(note=HEALTH_NOTE).encode())},
    )
    assert r.status_code in (200, 201), r.text
    [pid] = r.json()["person_ids"]
    person = health.get(f"/api/persons/{pid}").json()
    assert person["note"] == HEALTH_NOTE
    assert _readers(world, person, HEALTH_NOTE) == {"health"}


def test_the_access_request_holds_the_note_and_an_erasure_clears_whose_it_was(
    world: dict[str, Any], database: Any
) -> None:
    """The person's own note, whoever wrote it, is theirs in their access request (not
    whose group it is); an erasure takes the note and its writer's roles from the record
    and from every change the journal holds (PROTECTION.md line 11)."""
    import json

    from sqlalchemy import select

    from corridor.storage.sync_tables import sync_changes
    from corridor.storage.tables import persons
    from corridor.sync.journal import open_payload

    users = world["users"]
    person = _adult(world, "Amal")
    assert _patch(users["health"], person["id"], note=HEALTH_NOTE).status_code == 200
    protection = users["protection"]
    r = protection.get(f"/api/persons/{person['id']}/access-request")
    assert r.status_code == 200, r.text
    assert r.json()["person"]["note"] == HEALTH_NOTE
    assert "note_roles" not in r.text and "note_withheld" not in r.json()["person"]
    vault = world["admin"].app.state.services.vault

    def journal() -> list[Any]:
        with database.read() as conn:
            changes = conn.execute(
                select(sync_changes.c.site_id, sync_changes.c.payload).where(
                    sync_changes.c.person_id == person["id"]
                )
            ).all()
        states = [open_payload(vault, str(site_id), token) for site_id, token in changes]
        assert states and all(state is not None for state in states)
        return states

    with database.read() as conn:
        stored = conn.execute(
            select(persons.c.note_roles).where(persons.c.id == person["id"])
        ).scalar()
    assert stored == "health"
    assert "health" in [s["person"].get("note_roles") for s in journal()]  # it travels
    erase = {"ground": "consent_withdrawn", "confirm": True}
    r = protection.post(f"/api/persons/{person['id']}/erasure", json=erase)
    assert r.status_code == 200, r.text
    with database.read() as conn:
        stored = conn.execute(
            select(persons.c.note, persons.c.note_roles).where(persons.c.id == person["id"])
        ).one()
    assert tuple(stored) == (None, None)
    states = journal()
    assert all(state["person"].get("note_roles") is None for state in states)
    assert HEALTH_NOTE not in json.dumps(states)
