"""Issue 16: erasure and legal holds across nodes.

A central (SQLite and PostgreSQL, the ``backend`` fixture) and two site nodes on SQLite,
the exit's and the camp's (``tests/sync/test_facts.py``'s set-up). An erasure made at
the central reaches every node holding the person, and one made at a node reaches the
central and the other nodes: each copy is anonymised as a retention run does, with the
same registration number, and no change payload held anywhere still names the person.
A legal hold travels too, and blocks an erasure on the other side.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from corridor.errors import Conflict
from corridor.schemas import CheckInIn, PersonPatch, ReceiveIn, StatusEventIn
from corridor.security.tables import disposal_log, site_keys
from corridor.services import Services
from corridor.storage.sync_tables import sync_changes
from corridor.storage.tables import manifests, movements, person_documents, persons
from corridor.sync.journal import open_payload
from tests.conftest import Clock
from tests.sync.helpers import hook, register
from tests.sync.test_facts import _dispatched, _pull, _push, _rows


@pytest.fixture
def more_sites() -> list[tuple[str, str]]:
    """A hospital, known to the nodes from enrolment: where persons move on to."""
    return [("Hospital", "hospital")]


NAMES = ("Samira", "Khalil", "+963933100001", "ID-100001", "left at the gate")


def _erase(s: Services, pid: str) -> dict[str, Any]:
    return s.retention.erase(pid, "the person's request", audit=hook(s, "person.export"))


def _hold(s: Services, pid: str, on: bool = True) -> None:
    s.retention.hold("person", pid, on, audit=hook(s, "retention.hold"))


def _readable(s: Services, pid: str) -> list[str]:
    """Every payload of the person's changes held at ``s``, opened as JSON text (a key
    gone here: left out)."""
    out = []
    for change in _rows(s, sync_changes, sync_changes.c.person_id == pid):
        state = open_payload(s.vault, change["site_id"], change["payload"])
        if state is not None:
            out.append(json.dumps(state, ensure_ascii=False, default=str))
    return out


def _assert_erased(s: Services, pid: str, number: str) -> None:
    [row] = _rows(s, persons, persons.c.id == pid)
    assert row["anonymised_at"] is not None
    assert row["given_name"] is None and row["family_name"] is None and row["phone"] is None
    assert row["registration_number"] == number  # the same at every installation
    assert _rows(s, person_documents, person_documents.c.person_id == pid) == []
    assert all(m["note"] is None for m in _rows(s, movements, movements.c.person_id == pid))
    payloads = _readable(s, pid)
    assert payloads, "the person's changes are held here"
    for text in payloads:
        for name in NAMES:
            assert name not in text


def _number(s: Services, pid: str) -> str:
    [row] = _rows(s, persons, persons.c.id == pid)
    return str(row["registration_number"])


def test_an_erasure_at_the_central_reaches_the_nodes_holding_the_person(
    three, clock: Clock
) -> None:
    central, node_a, node_b, exit_point, camp = three
    samira = register(node_a, exit_point, "Samira", "+963933100001")
    stays = register(node_a, exit_point, "Nour", "+963933100002")
    _dispatched(node_a, exit_point, camp, [samira])
    _push(node_a, central)
    _pull(central, node_b)
    _pull(central, node_a)
    assert any("Samira" in t for t in _readable(node_b, samira))  # before: readable
    clock.advance(hours=1)

    _erase(central, samira)
    number = _number(central, samira)
    _assert_erased(central, samira, number)  # the central's own payloads too
    _pull(central, node_a)
    _pull(central, node_b)
    _assert_erased(node_a, samira, number)
    _assert_erased(node_b, samira, number)
    # Nobody else was touched.
    assert node_a.registration.get_person(stays)["names"]["given_name"] == "Nour"
    assert node_a.registration.get_person(stays)["phone"] == "+963933100002"


def test_an_erasure_at_a_node_reaches_the_central_and_the_other_node(three, clock: Clock) -> None:
    central, node_a, node_b, exit_point, camp = three
    samira = register(node_a, exit_point, "Samira", "+963933100001")
    _dispatched(node_a, exit_point, camp, [samira])
    _push(node_a, central)
    _pull(central, node_b)
    clock.advance(hours=1)

    _erase(node_a, samira)
    number = _number(node_a, samira)
    _assert_erased(node_a, samira, number)
    _push(node_a, central)
    _assert_erased(central, samira, number)
    _pull(central, node_b)
    _assert_erased(node_b, samira, number)
    _pull(central, node_a)  # the exit's node gets nothing back that names her
    _assert_erased(node_a, samira, number)


def test_a_correction_made_apart_does_not_bring_an_erased_person_back(three, clock: Clock) -> None:
    central, node_a, _, exit_point, _camp = three
    samira = register(node_a, exit_point, "Samira", "+963933100001")
    _push(node_a, central)
    _pull(central, node_a)
    clock.advance(hours=1)
    node_a.registration.update_person(
        samira, PersonPatch(given_name="Samira Khalil", note="left at the gate"),
        audit=hook(node_a, "person.write"),
    )  # fmt: skip
    _erase(central, samira)
    number = _number(central, samira)
    _push(node_a, central)  # the correction, made before the node knew
    _assert_erased(central, samira, number)
    _pull(central, node_a)
    _assert_erased(node_a, samira, number)


def test_a_legal_hold_travels_and_blocks_an_erasure_at_the_other_side(three, clock: Clock) -> None:
    central, node_a, _, exit_point, _camp = three
    samira = register(node_a, exit_point, "Samira", "+963933100001")
    nour = register(node_a, exit_point, "Nour", "+963933100002")
    _push(node_a, central)
    _pull(central, node_a)

    _hold(central, samira)
    _pull(central, node_a)
    [row] = _rows(node_a, persons, persons.c.id == samira)
    assert row["legal_hold"] is True
    with pytest.raises(Conflict):
        _erase(node_a, samira)
    assert node_a.registration.get_person(samira)["names"]["given_name"] == "Samira"

    # A hold placed at the node reaches the central.
    _hold(node_a, nour)
    _push(node_a, central)
    with pytest.raises(Conflict):
        _erase(central, nour)

    # Lifted at the central: the node may erase again.
    _hold(central, samira, False)
    _pull(central, node_a)
    _erase(node_a, samira)
    _push(node_a, central)
    _assert_erased(central, samira, _number(node_a, samira))


def test_an_erasure_received_for_a_person_on_hold_here_is_a_conflict_and_erases_nothing(
    three, clock: Clock
) -> None:
    central, node_a, _, exit_point, _camp = three
    samira = register(node_a, exit_point, "Samira", "+963933100001")
    _push(node_a, central)
    _pull(central, node_a)
    clock.advance(hours=1)
    _hold(central, samira)  # at the central, while the node erases her apart
    _erase(node_a, samira)
    _push(node_a, central)
    assert central.registration.get_person(samira)["names"]["given_name"] == "Samira"
    [row] = _rows(central, persons, persons.c.id == samira)
    assert row["anonymised_at"] is None and row["legal_hold"] is True
    states = {c["state"] for c in _rows(central, sync_changes, sync_changes.c.person_id == samira)}
    assert "conflict" in states


def _forgets(central: Services, pid: str) -> int:
    changes = _rows(central, sync_changes, sync_changes.c.person_id == pid)
    return sum(1 for c in changes if c["kind"] == "person.forget")


def _counts(s: Services, site: str) -> tuple[int, list[tuple[str, int, int]]]:
    """A site's figures as counts: present now, and each day's arrivals and departures."""
    f = s.figures.site_figures(site)
    days = [(d["date"], _total(d["arrivals"]), _total(d["departures"])) for d in f["daily"]]
    return _total(f["present"]), days


def _total(table: Any) -> int:
    if isinstance(table, dict):
        return sum(_total(v) for v in table.values())
    return int(table) if isinstance(table, int) else 0


def test_a_person_who_left_the_camp_is_forgotten_by_the_camps_node(three, clock: Clock) -> None:
    central, node_a, node_b, exit_point, camp = three
    [hospital] = [s["id"] for s in central.sites.all() if s["name"] == "Hospital"]
    samira = register(node_a, exit_point, "Samira", "+963933100001")
    manifest = _dispatched(node_a, exit_point, camp, [samira])
    _push(node_a, central)
    _pull(central, node_b)
    clock.advance(hours=2)
    node_b.manifests.check_in(
        manifest, CheckInIn(person_id=samira), audit=hook(node_b, "manifest.write")
    )
    _push(node_b, central)
    _pull(central, node_a)
    clock.advance(days=1)
    before = _counts(central, camp)

    # She moves on from the camp to the hospital (recorded at the central): the camp's
    # node has no reason left to hold her.
    central.movements.record(
        samira, StatusEventIn(kind="transferred", to_site_id=hospital),
        audit=hook(central, "movement.write"),
    )  # fmt: skip
    _pull(central, node_b)
    [row] = _rows(node_b, persons, persons.c.id == samira)
    assert row["anonymised_at"] is not None and row["given_name"] is None
    assert not any("Samira" in t for t in _readable(node_b, samira))
    [gone] = _rows(node_b, disposal_log, disposal_log.c.record_id == samira)
    assert gone["category"] == "sync_forget"
    # The camp's figures still count her stay and departure, as the central's do.
    assert _counts(node_b, camp) == _counts(central, camp) != before
    # Whole at the central and at the exit's node (her registering site).
    _pull(central, node_a)
    assert central.registration.get_person(samira)["names"]["given_name"] == "Samira"
    assert node_a.registration.get_person(samira)["phone"] == "+963933100001"
    # One forget, not one per round.
    _pull(central, node_b)
    _pull(central, node_a)
    assert _forgets(central, samira) == 1

    # She comes back to the camp: the camp's node holds her again, by name.
    clock.advance(days=1)
    central.movements.record(
        samira, StatusEventIn(kind="transferred", to_site_id=camp),
        audit=hook(central, "movement.write"),
    )  # fmt: skip
    _pull(central, node_b)
    [row] = _rows(node_b, persons, persons.c.id == samira)
    assert row["anonymised_at"] is None and row["given_name"] == "Samira"
    assert _counts(node_b, camp) == _counts(central, camp)


def test_a_person_of_the_nodes_own_site_is_never_forgotten(three, clock: Clock) -> None:
    central, node_a, _, exit_point, camp = three
    samira = register(node_a, exit_point, "Samira", "+963933100001")
    _push(node_a, central)
    central.movements.record(
        samira, StatusEventIn(kind="transferred", to_site_id=camp),
        audit=hook(central, "movement.write"),
    )  # fmt: skip
    _pull(central, node_a)
    assert _forgets(central, samira) == 0
    assert node_a.registration.get_person(samira)["names"]["given_name"] == "Samira"


def test_a_manifest_received_with_everyone_checked_in_is_received_everywhere(
    three, clock: Clock
) -> None:
    central, node_a, node_b, exit_point, camp = three
    samira = register(node_a, exit_point, "Samira", "+963933100001")
    nour = register(node_a, exit_point, "Nour", "+963933100002")
    manifest = _dispatched(node_a, exit_point, camp, [samira, nour])
    _push(node_a, central)
    _pull(central, node_b)
    clock.advance(hours=2)
    write = hook(node_b, "manifest.write")
    for pid in (samira, nour):
        node_b.manifests.check_in(manifest, CheckInIn(person_id=pid), audit=write)
    node_b.manifests.receive(manifest, ReceiveIn(), audit=write)
    _push(node_b, central)
    _pull(central, node_a)
    for s in (central, node_a, node_b):
        [m] = _rows(s, manifests, manifests.c.id == manifest)
        assert m["status"] == "received" and m["received_at"] is not None


def test_a_site_key_created_at_the_central_after_enrolment_reaches_the_node(
    three, clock: Clock
) -> None:
    central, node_a, _, exit_point, _camp = three
    clock.advance(days=1)
    central.keys.rotate_site(exit_point, "test")  # a new active key, after enrolment
    samira = register(central, exit_point, "Samira", "+963933100001")
    report = _pull(central, node_a)  # sealed under the new key: opened at the node
    assert report.applied == 1
    assert node_a.registration.get_person(samira)["phone"] == "+963933100001"
    at_central = _rows(central, site_keys, site_keys.c.site_id == exit_point)
    at_node = _rows(node_a, site_keys, site_keys.c.site_id == exit_point)
    assert {(k["id"], k["state"]) for k in at_node} == {(k["id"], k["state"]) for k in at_central}
    # The node seals its own writes under the new key, which the central opens.
    nour = register(node_a, exit_point, "Nour", "+963933100002")
    _push(node_a, central)
    assert central.registration.get_person(nour)["phone"] == "+963933100002"


def test_after_a_drill_and_a_new_key_at_the_central_the_node_keeps_working(
    three, clock: Clock
) -> None:
    central, node_a, _, exit_point, _camp = three
    samira = register(node_a, exit_point, "Samira", "+963933100001")
    _push(node_a, central)
    _pull(central, node_a)
    central.keys.destroy_site(exit_point, "cli:admin")  # the evacuation drill
    central.keys.rotate_site(exit_point, "cli:admin")  # and a fresh key
    nour = register(central, exit_point, "Nour", "+963933100002")
    report = _pull(central, node_a)
    assert not report.wiped and report.applied == 1
    assert node_a.registration.get_person(nour)["phone"] == "+963933100002"
    assert node_a.registration.get_person(samira)["phone"] is None  # old key gone
    live = _rows(node_a, site_keys, site_keys.c.wrapped_key.is_not(None))
    assert [k["state"] for k in live] == ["active"]
