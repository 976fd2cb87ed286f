"""Issue 16: the merged-away id of a person a node never held.

One woman registered at the exit's node (Samira, id A) and at the camp's node (id B)
while apart, merged at the central. The exit's node holds A and never held B's record;
B must still lead to A there wherever it is used (the person's API and page, a search by
registration number, a movement, a correction, a manifest line), exactly as at the
central; a node holding neither learns nothing. And the other way round: A merged into
B at the central while the exit's node holds only A: what it recorded under A while apart
lands on B, and A is no separate live person there any more.

A central (SQLite and PostgreSQL, the ``backend`` fixture) and site nodes on SQLite,
exchanging bundles through the services (``tests/sync/test_facts.py``'s set-up).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import tests.web.conftest
from corridor.domain.ids import format_registration_number
from corridor.schemas import (
    CheckInIn,
    DispatchIn,
    ManifestIn,
    ManifestPersonsIn,
    PersonPatch,
    PersonSearchIn,
    StatusEventIn,
)
from corridor.services import Services
from corridor.storage import queries
from corridor.storage.merge_tables import merged_ids, merged_persons
from corridor.storage.tables import manifest_items, movements, persons
from tests.conftest import Clock
from tests.sync.helpers import hook, register
from tests.sync.test_bundles import NODE_KEY, _enrol, _node_services
from tests.sync.test_facts import _pull, _push, _rows
from tests.web.conftest import page_client


@pytest.fixture
def more_sites() -> list[tuple[str, str]]:
    """A hospital, whose node holds neither registration."""
    return [("Hospital", "hospital")]


class Apart:
    """Samira registered at both nodes while apart, both registrations at the central."""

    def __init__(self, three: Any, hospital_node: Services) -> None:
        self.central, self.exit, self.camp, self.exit_site, self.camp_site = three
        self.hospital = hospital_node
        self.a = register(self.exit, self.exit_site, "Samira", "+963933100001")
        self.b = register(self.camp, self.camp_site, "Samira", "+963933100005")
        _push(self.exit, self.central)
        _push(self.camp, self.central)
        self.a_number = _number(self.central, self.a)
        self.b_number = _number(self.central, self.b)

    def merge(self, survivor: str, merged: str) -> None:
        self.central.merges.merge(
            survivor, merged, "one woman", "cli:test", audit=hook(self.central, "person.merge")
        )

    def pull_all(self) -> None:
        for node in (self.exit, self.camp, self.hospital):
            assert _pull(self.central, node).waiting == 0


def _number(s: Services, pid: str) -> str:
    [row] = _rows(s, persons, persons.c.id == pid)
    return str(row["registration_number"])


@pytest.fixture
def apart(three: Any, tmp_path: Path, sqlite_template: Path, clock: Clock) -> Iterator[Apart]:
    hospital = _node_services(tmp_path, sqlite_template, clock, "node-hospital")
    _enrol(three[0], hospital, "Hospital")
    world = Apart(three, hospital)
    clock.advance(hours=1)
    yield world
    hospital.db.dispose()


def _node_api(node: Services, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A signed-in client of the node's own app (the node's master key), an officer of
    every site the node knows."""
    monkeypatch.setattr(tests.web.conftest, "MASTER_KEY", NODE_KEY)
    return page_client(node.db, clock)


def test_the_old_id_of_a_person_the_exit_never_held_leads_to_the_survivor_there(
    apart: Apart, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = apart
    w.merge(w.a, w.b)
    w.pull_all()
    node = w.exit
    # The exit's node never held B's record, and still does not (no other site's person).
    assert _rows(node, persons, persons.c.id == w.b) == []
    [row] = _rows(node, merged_ids)
    assert (row["person_id"], row["survivor_id"], row["registration_number"]) == (
        w.b, w.a, w.b_number
    )  # fmt: skip
    # B leads to A here, as at the central.
    for s in (w.central, node):
        assert s.merges.resolve(w.b) == w.a
        found = s.registration.search(PersonSearchIn(registration_number=w.b_number))
        assert [p["id"] for p in found] == [w.a]

    # Through the node's API and pages, as a desk there would use them.
    api = _node_api(node, clock, monkeypatch)
    r = api.get(f"/api/persons/{w.b}")
    assert r.status_code == 200, r.text
    assert r.json()["id"] == w.a and r.json()["phone"] == "+963933100001"
    r = api.post("/api/persons/search", json={"registration_number": w.b_number})
    assert r.status_code == 200, r.text
    assert [p["id"] for p in r.json()] == [w.a]
    page = api.get(f"/persons/{w.b}")
    assert page.status_code == 200
    # A's page, listing B's number among the ids that lead here.
    assert format_registration_number(w.a_number) in page.text
    assert format_registration_number(w.b_number) in page.text

    # Writes under B land on A: a correction, a manifest line, a check-in by B's
    # registration number, a movement. (Merged, she is where her latest registration
    # put her: at the camp; a truck brings her to the exit.)
    node.registration.update_person(
        w.b, PersonPatch(given_name="Sameera"), audit=hook(node, "person.write")
    )
    write = hook(node, "manifest.write")
    m = node.manifests.create(
        ManifestIn(vehicle="Truck 7", from_site_id=w.camp_site, to_site_id=w.exit_site), audit=write
    )
    node.manifests.add_persons(m["id"], ManifestPersonsIn(person_ids=[w.b]), audit=write)
    [item] = _rows(node, manifest_items, manifest_items.c.manifest_id == m["id"])
    assert item["person_id"] == w.a
    node.manifests.dispatch(m["id"], DispatchIn(), audit=write)
    node.manifests.check_in(m["id"], CheckInIn(registration_number=w.b_number), audit=write)
    [item] = _rows(node, manifest_items, manifest_items.c.manifest_id == m["id"])
    assert item["person_id"] == w.a and item["checked_in_at"] is not None
    event = node.movements.record(
        w.b, StatusEventIn(kind="transferred", to_site_id=w.camp_site, note="back"),
        audit=hook(node, "movement.write"),
    )  # fmt: skip
    [moved] = _rows(node, movements, movements.c.id == event["id"])
    assert moved["person_id"] == w.a
    # Nothing stored under B here.
    assert _rows(node, movements, movements.c.person_id == w.b) == []

    # All of it reaches the central on A.
    _push(node, w.central)
    [moved] = _rows(w.central, movements, movements.c.id == event["id"])
    assert moved["person_id"] == w.a
    assert w.central.registration.get_person(w.a)["names"]["given_name"] == "Sameera"
    [item] = _rows(w.central, manifest_items, manifest_items.c.manifest_id == m["id"])
    assert item["person_id"] == w.a and item["checked_in_at"] is not None

    # The hospital's node holds neither: nothing of them, B leads nowhere there.
    hospital = w.hospital
    assert _rows(hospital, persons, persons.c.id.in_([w.a, w.b])) == []
    assert _rows(hospital, merged_ids) == [] and _rows(hospital, merged_persons) == []
    assert hospital.merges.resolve(w.b) == w.b
    assert hospital.registration.search(PersonSearchIn(registration_number=w.b_number)) == []
    there = _node_api(hospital, clock, monkeypatch)
    assert there.get(f"/api/persons/{w.b}").status_code == 404
    assert there.get(f"/api/persons/{w.a}").status_code == 404


def test_an_unmerge_or_an_erasure_at_the_central_takes_the_old_id_away_at_the_node(
    apart: Apart, clock: Clock
) -> None:
    w = apart
    w.merge(w.a, w.b)
    w.pull_all()
    assert w.exit.merges.resolve(w.b) == w.a

    w.central.merges.unmerge(w.b, "two women", "cli:test", audit=hook(w.central, "person.merge"))
    w.pull_all()
    assert _rows(w.exit, merged_ids) == []
    assert w.exit.merges.resolve(w.b) == w.b
    assert w.exit.registration.search(PersonSearchIn(registration_number=w.b_number)) == []

    # Merged again, then erased at the central (the person's request): the exit's node
    # anonymises her and keeps no trace of the old id's number.
    clock.advance(hours=1)
    w.merge(w.a, w.b)
    w.pull_all()
    assert w.exit.merges.resolve(w.b) == w.a
    w.central.retention.erase(w.a, "the person's request", audit=hook(w.central, "person.export"))
    w.pull_all()
    [row] = _rows(w.exit, persons, persons.c.id == w.a)
    assert row["anonymised_at"] is not None
    assert _rows(w.exit, merged_ids) == []
    assert w.exit.registration.search(PersonSearchIn(registration_number=w.b_number)) == []


def test_a_person_of_the_exit_merged_into_the_camps_registration_is_one_at_the_exits_node(
    apart: Apart,
) -> None:
    """The survivor is the person the exit's node does not hold (A merged into B). It
    receives B (without the camp's sealed fields: B is the camp's person) because A was
    registered at its site, makes the merge, and A is no separate live person there;
    what it recorded under A while apart lands on B, here and at the central."""
    w = apart
    node = w.exit
    event = node.movements.record(
        w.a, StatusEventIn(kind="transferred", to_site_id=w.camp_site),
        audit=hook(node, "movement.write"),
    )  # fmt: skip
    w.merge(w.b, w.a)
    _push(node, w.central)
    w.pull_all()
    for s in (w.central, node):
        assert s.merges.resolve(w.a) == w.b
        [moved] = _rows(s, movements, movements.c.id == event["id"])
        assert moved["person_id"] == w.b
        found = s.registration.search(PersonSearchIn(registration_number=w.a_number))
        assert [p["id"] for p in found] == [w.b]
    held = node.registration.get_person(w.b)
    assert held["names"]["given_name"] == "Samira" and held["phone"] is None  # the camp's
    with node.db.read() as conn:
        live = set(conn.execute(select(persons.c.id).where(queries.person_scope(None))).scalars())
    assert w.a not in live and w.b in live
    [row] = _rows(node, merged_persons)
    assert (row["person_id"], row["survivor_id"]) == (w.a, w.b)
    assert _rows(node, merged_ids) == []


def test_the_old_ids_record_arriving_with_the_merge_makes_it_with_both_rows(
    apart: Apart,
) -> None:
    """B transferred to the exit at the central and merged into A at once: the exit's
    node receives B's record and the merge in one bundle and makes the merge with both
    rows (``merged_persons``; B's movements follow A and are noted in the merge). B's
    record is the camp's, so the central then has the node forget it (anonymised, its
    number replaced): B's number is kept on a row for the old id alone, and still leads
    to A. Unmerged at the central: B's movements go back to B, the row goes."""
    w = apart
    w.central.movements.record(
        w.b, StatusEventIn(kind="transferred", to_site_id=w.exit_site),
        audit=hook(w.central, "movement.write"),
    )  # fmt: skip
    w.merge(w.a, w.b)
    w.pull_all()
    node = w.exit
    assert node.merges.resolve(w.b) == w.a
    [row] = _rows(node, merged_persons)
    assert (row["person_id"], row["survivor_id"]) == (w.b, w.a)
    assert _rows(node, movements, movements.c.person_id == w.b) == []
    [b] = _rows(node, persons, persons.c.id == w.b)
    assert b["anonymised_at"] is not None and b["given_name"] is None  # forgotten here
    [alone] = _rows(node, merged_ids)
    assert (alone["person_id"], alone["survivor_id"], alone["registration_number"]) == (
        w.b, w.a, w.b_number
    )  # fmt: skip
    found = node.registration.search(PersonSearchIn(registration_number=w.b_number))
    assert [p["id"] for p in found] == [w.a]
    [shown] = node.merges.merges_of(w.a)  # B's own number, not the forget's
    assert shown["registration_number"] == format_registration_number(w.b_number)

    w.central.merges.unmerge(w.b, "two women", "cli:test", audit=hook(w.central, "person.merge"))
    w.pull_all()
    assert node.merges.resolve(w.b) == w.b
    assert _rows(node, merged_ids) == [] and _rows(node, merged_persons) == []
    assert _rows(node, movements, movements.c.person_id == w.b) != []  # taken back


def test_the_data_protection_officers_look_ups_take_an_old_id_held_alone(apart: Apart) -> None:
    """The audit trail and a legal hold by B's id or number at the exit's node reach A,
    the person B leads to there (at the central, B's own record answers)."""
    w = apart
    w.merge(w.a, w.b)
    w.pull_all()
    node = w.exit
    for ref in (w.b, w.b_number, format_registration_number(w.b_number)):
        trail = node.oversight.trail(ref)
        assert trail.person_id == w.a
        assert trail.registration_number == format_registration_number(w.a_number)
        assert "sync.send" in {e.action for e in trail.entries}  # A sent from the exit
    change = node.retention.hold("person", w.b_number, True, audit=hook(node, "retention.hold"))
    assert change.record_id == w.a
    [row] = _rows(node, persons, persons.c.id == w.a)
    assert row["legal_hold"]
