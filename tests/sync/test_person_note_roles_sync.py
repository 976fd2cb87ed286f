"""Whose field group a person's own note is (``persons.note_roles``, migration 0040)
travels with the note between installations (tests/api/test_person_note_roles.py is the
rule itself): a health officer's note written at a node stays medical at the central; a
conflict on the note shows neither side's value to a caller who may not read one of
them, who may not decide it either; taking the other side's note takes whose it is; a
state sent to another site's node leaves the roles out with the note."""

from __future__ import annotations

from typing import Any

from corridor.schemas import PersonPatch
from corridor.security.roles import Role
from corridor.services import Services
from corridor.sync.conflicts import ConflictReview
from corridor.sync.journal import WITHHELD, withheld
from corridor.sync.state import snapshot
from tests.conftest import MASTER_KEY, Clock
from tests.support.route_world import token_client
from tests.sync.helpers import hook, register, sync
from tests.sync.test_bundles import _apply

HEALTH_NOTE = "treated for shrapnel wound, TB suspected"
PLAIN_NOTE = "prefers to be called Umm Ali"


def _to_node(central: Services, node: Services) -> Any:
    return sync(node).import_bundle(
        sync(central).export(sync(node).identity()["id"]), audit=_apply(node)
    )


def _to_central(central: Services, node: Services) -> Any:
    return sync(central).import_bundle(sync(node).export(), audit=_apply(central))


def _write_note(s: Services, pid: str, note: str, roles: str | None) -> None:
    s.registration.update_person(
        pid, PersonPatch(note=note), audit=hook(s, "person.write"), note_roles=roles
    )


def _client(s: Services, clock: Clock, name: str, role: Role, site: str) -> Any:
    client, _ = token_client(s.db, clock, name, (role,), [site], master_key=MASTER_KEY)
    return client


def test_a_health_officers_note_stays_medical_at_the_central(pair, clock) -> None:
    central, node, exit_point, _ = pair
    pid = register(node, exit_point, "Samira")
    _write_note(node, pid, HEALTH_NOTE, "health")
    _to_central(central, node)
    assert central.registration.get_person(pid)["note_roles"] == "health"
    registrar = _client(central, clock, "reg-exit", Role.REGISTRAR, exit_point)
    r = registrar.get(f"/api/persons/{pid}")
    assert r.status_code == 200, r.text
    assert r.json()["note"] is None and r.json()["note_withheld"] is True
    assert HEALTH_NOTE not in r.text
    health = _client(central, clock, "health-exit", Role.HEALTH, exit_point)
    assert health.get(f"/api/persons/{pid}").json()["note"] == HEALTH_NOTE


def test_a_conflict_on_a_health_officers_note(pair, clock) -> None:
    central, node, exit_point, _ = pair
    pid = register(node, exit_point, "Rima")
    _to_central(central, node)
    _to_node(central, node)  # acknowledged
    _write_note(central, pid, PLAIN_NOTE, None)
    _write_note(node, pid, HEALTH_NOTE, "health")
    assert _to_central(central, node).conflicts == 1
    [conflict] = ConflictReview.of(central).queue()
    registrar = _client(central, clock, "reg-exit", Role.REGISTRAR, exit_point)
    r = registrar.get("/api/sync/conflicts")
    assert r.status_code == 200, r.text
    assert r.json()[0]["fields"] == [
        {"field": "note", "ours": None, "theirs": None, "withheld": True}
    ]
    assert HEALTH_NOTE not in r.text and HEALTH_NOTE not in registrar.get("/sync/conflicts").text
    refused = registrar.post(
        f"/api/persons/{pid}/resolve-conflict",
        json={"conflict_id": conflict["id"], "theirs": []},
    )
    assert refused.status_code == 403, refused.text
    health = _client(central, clock, "health-exit", Role.HEALTH, exit_point)
    [field] = health.get("/api/sync/conflicts").json()[0]["fields"]
    assert (field["ours"], field["theirs"], field["withheld"]) == (PLAIN_NOTE, HEALTH_NOTE, False)
    done = health.post(
        f"/api/persons/{pid}/resolve-conflict",
        json={"conflict_id": conflict["id"], "theirs": ["note"]},
    )
    assert done.status_code == 200, done.text
    person = central.registration.get_person(pid)
    assert (person["note"], person["note_roles"]) == (HEALTH_NOTE, "health")
    assert registrar.get(f"/api/persons/{pid}").json()["note_withheld"] is True


def test_another_sites_node_gets_neither_the_note_nor_whose_it_is(pair) -> None:
    central, node, exit_point, _ = pair
    pid = register(central, exit_point, "Huda")
    _write_note(central, pid, HEALTH_NOTE, "health")
    with central.db.read() as conn:
        state = snapshot(conn, pid)
    assert state["person"]["note_roles"] == "health"
    sent = withheld(state)
    assert sent["person"]["note"] is None and sent["person"]["note_roles"] is None
    assert {"note", "note_roles"} <= set(sent[WITHHELD])
