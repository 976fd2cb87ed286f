"""Free-text notes of movement events and manifests, by field group (PROTECTION.md line 4).

A note on a hospital admission or discharge is medical; a note on an event leaving from or
leading to a detention facility, and why a household travels apart on a truck to one, are
detention data; a note a health officer writes is medical, a protection officer's is
read as detention data; a correction's note is also the group's of the event it corrects.
Such a note is withheld (``null``, ``note_withheld``) from every role outside the group,
in the log, the person page's ``.json`` twin and the answer of the write itself: whoever
recorded it may write it and then not read it back. Other notes are shown as before.
(The route table checks the same on every route: tests/support/route_world.py plants
these notes as canaries.)"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from corridor.security.roles import Role
from tests.api.helpers import register, site, work_at
from tests.conftest import make_client

HOSPITAL_NOTE = "taken to hospital for TB treatment"
DETENTION_NOTE = "held at the facility on the river road"
HEALTH_NOTE = "needs insulin every morning"
PROTECTION_NOTE = "threatened by a neighbour, keep apart"
PLAIN_NOTE = "left with his cousin on the morning truck"


@pytest.fixture
def world(client: TestClient, database: Any, clock: Any) -> dict[str, Any]:
    camp = site(client, "Camp A")
    other = site(client, "Camp C")
    hospital = site(client, "Hospital H", "hospital")
    prison = site(client, "Facility D", "detention")
    users: dict[str, TestClient] = {}
    for name, role in (
        ("registrar", Role.REGISTRAR),
        ("mover", Role.MOVEMENT_OFFICER),
        ("health", Role.HEALTH),
        ("protection", Role.PROTECTION_OFFICER),
        ("manager", Role.SITE_MANAGER),
    ):
        users[name] = make_client(database, clock, roles=(role,))
        work_at(users[name], camp, other, hospital, prison, admin=client)
    return {
        "admin": client,
        "sites": {"camp": camp, "other": other, "hospital": hospital, "prison": prison},
        "users": users,
        "person": lambda name: register(client, camp, given_name=name, estimated_age=40)["id"],
    }


def _event(who: TestClient, person: str, **body: Any) -> dict[str, Any]:
    r = who.post(f"/api/persons/{person}/events", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _notes(who: TestClient, person: str) -> list[Any]:
    r = who.get(f"/api/persons/{person}/movements")
    assert r.status_code == 200, r.text
    page = who.get(f"/persons/{person}.json")
    assert page.status_code == 200, page.text
    assert [m["note"] for m in page.json()["movements"]] == [m["note"] for m in r.json()]
    return [m["note"] for m in r.json()]


def _readers(w: dict[str, Any], person: str, note: str) -> set[str]:
    """Which of the world's roles read ``note`` on the person's log (the rest must see
    it withheld, said so)."""
    seen = set()
    for name, who in w["users"].items():
        log = who.get(f"/api/persons/{person}/movements").json()
        notes = [m["note"] for m in log]
        if note in notes:
            seen.add(name)
        else:
            assert note not in who.get(f"/api/persons/{person}/movements").text
            assert note not in who.get(f"/persons/{person}.json").text
            assert any(m.get("note_withheld") for m in log), (name, log)
    return seen


def test_a_hospital_admission_note_is_medical(world: dict[str, Any]) -> None:
    person = world["person"]("Samira")
    shown = _event(
        world["users"]["mover"],
        person,
        kind="hospitalised",
        to_site_id=world["sites"]["hospital"],
        note=HOSPITAL_NOTE,
    )
    # The movement officer may write it, and not read it back, not even in the answer.
    assert shown["note"] is None and shown["note_withheld"] is True
    assert HOSPITAL_NOTE not in str(shown)
    assert _readers(world, person, HOSPITAL_NOTE) == {"health"}
    assert HOSPITAL_NOTE in _notes(world["admin"], person)


def test_a_note_on_an_event_into_detention_is_detention_data(world: dict[str, Any]) -> None:
    person = world["person"]("Khalid")
    shown = _event(
        world["users"]["mover"],
        person,
        kind="detained",
        to_site_id=world["sites"]["prison"],
        note=DETENTION_NOTE,
    )
    assert shown["note"] is None and shown["note_withheld"] is True
    assert _readers(world, person, DETENTION_NOTE) == {"protection"}
    # Released from the facility: the place is the facility, the note detention data.
    released = _event(
        world["users"]["protection"],
        person,
        kind="released",
        to_site_id=world["sites"]["camp"],
        note="released " + DETENTION_NOTE,
    )
    assert released["note"] == "released " + DETENTION_NOTE
    assert _readers(world, person, "released " + DETENTION_NOTE) == {"protection"}


def test_a_health_or_protection_officers_note_is_their_groups(world: dict[str, Any]) -> None:
    person = world["person"]("Nour")
    transfer = {"kind": "transferred", "to_site_id": world["sites"]["other"]}
    shown = _event(world["users"]["health"], person, **transfer, note=HEALTH_NOTE)
    assert shown["note"] == HEALTH_NOTE  # the writer reads their own group's note
    assert _readers(world, person, HEALTH_NOTE) == {"health"}
    back = {"kind": "transferred", "to_site_id": world["sites"]["camp"]}
    shown = _event(world["users"]["protection"], person, **back, note=PROTECTION_NOTE)
    assert shown["note"] == PROTECTION_NOTE
    assert _readers(world, person, PROTECTION_NOTE) == {"protection"}


def test_other_notes_are_shown_as_before(world: dict[str, Any]) -> None:
    person = world["person"]("Hamid")
    transfer = {"kind": "transferred", "to_site_id": world["sites"]["other"]}
    shown = _event(world["users"]["mover"], person, **transfer, note=PLAIN_NOTE)
    assert shown["note"] == PLAIN_NOTE and "note_withheld" not in shown
    for name in ("registrar", "mover", "health", "protection", "manager"):
        assert PLAIN_NOTE in _notes(world["users"][name], person), name


def test_a_correction_of_a_hospital_admission_is_medical(world: dict[str, Any]) -> None:
    person = world["person"]("Rima")
    mover = world["users"]["mover"]
    admitted = _event(
        mover, person, kind="hospitalised", to_site_id=world["sites"]["hospital"], note=None
    )
    r = mover.post(
        f"/api/movements/{admitted['id']}/corrections",
        json={"kind": "voided", "note": "not admitted: " + HOSPITAL_NOTE},
    )
    assert r.status_code == 201, r.text
    assert r.json()["note"] is None and r.json()["note_withheld"] is True
    assert _readers(world, person, "not admitted: " + HOSPITAL_NOTE) == {"health"}


def test_a_manifest_to_detention_withholds_why_a_household_travels_apart(
    world: dict[str, Any],
) -> None:
    admin, sites = world["admin"], world["sites"]
    reason = "taken for questioning " + DETENTION_NOTE
    for end, why, name in ((sites["prison"], reason, "Ahmad"), (sites["other"], PLAIN_NOTE, "Ali")):
        person = world["person"](name)
        m = admin.post(
            "/api/manifests",
            json={"vehicle": "truck 9", "from_site_id": sites["camp"], "to_site_id": end},
        ).json()
        r = admin.post(
            f"/api/manifests/{m['id']}/persons",
            json={"person_ids": [person], "separation_reason": why},
        )
        assert r.status_code in (200, 201), r.text
        assert why in admin.get(f"/api/manifests/{m['id']}").text  # stored, shown to some
        for role in ("registrar", "mover", "manager"):
            who = world["users"][role]
            api = who.get(f"/api/manifests/{m['id']}")
            page = who.get(f"/manifests/{m['id']}.json")
            assert api.status_code == page.status_code == 200, (api.text, page.text)
            [item] = api.json()["persons"]
            if why == reason:
                assert reason not in api.text and reason not in page.text, role
                assert item["separation_reason"] is None and item["separation_reason_withheld"]
            else:
                assert item["separation_reason"] == PLAIN_NOTE, role
