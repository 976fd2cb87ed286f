"""Issue 16: a registration number given twice, and the administrator's way out
(docs/sync.md "Registration numbers").

Numbers are random: a node registering offline may give a new person the number of one
the central already holds. The central refuses that node's bundle whole with a message
naming the command to run; the administrator gives the central's person a new number
(``RegistrationService.renumber``: audited, journaled); the node's next push applies.
Both persons are then at the central with different numbers, the new number reaches the
node holding the renumbered person (and is shown on their page there), nothing is lost
or doubled. The central on SQLite and PostgreSQL (``three``: the exit's and the camp's
nodes on SQLite).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from corridor.errors import NotFound, ValidationFailed
from corridor.schemas import PersonPatch
from corridor.security.tables import audit_events
from corridor.services import Services
from corridor.services.registration import persons as registration
from corridor.services.registration import renumber as renumbering
from corridor.storage.number_tables import renumbered
from corridor.storage.sync_tables import sync_changes
from corridor.storage.tables import persons
from corridor.sync.service import BundleRefused
from tests.sync.helpers import hook, register, sync
from tests.sync.test_facts import _pull, _push


def _count(s: Services, table: Any, *where: Any) -> int:
    with s.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar())


def _number(s: Services, pid: str) -> str:
    return str(s.registration.get_person(pid)["registration_number"])


def _given_twice(
    central: Services, node_a: Services, node_b: Services, exit_point: str, camp: str, monkeypatch
) -> tuple[str, str, str]:
    """Samira registered at the exit's node and pushed to the central; Huda registered at
    the camp's node apart with Samira's number (forced: numbers are random)."""
    samira = register(node_a, exit_point, "Samira", "+963933100001")
    _push(node_a, central)
    number = _number(central, samira)
    monkeypatch.setattr(registration, "new_registration_number", lambda: number.replace("-", ""))
    huda = register(node_b, camp, "Huda", "+963933100002")
    monkeypatch.undo()
    assert _number(node_b, huda) == number
    return samira, huda, number


def test_a_number_given_twice_is_given_anew_and_the_node_push_then_applies(
    three, monkeypatch
) -> None:
    central, node_a, node_b, exit_point, camp = three
    samira, huda, number = _given_twice(central, node_a, node_b, exit_point, camp, monkeypatch)
    bundle = sync(node_b).export()
    before = _count(central, persons), _count(central, sync_changes)
    with pytest.raises(BundleRefused) as refused:
        sync(central).import_bundle(bundle, audit=hook(central, "sync.apply"))
    message = str(refused.value)
    # The message names the exact command, with the central's person (held here).
    assert f'corridor person renumber {samira} --reason "number given twice"' in message
    assert (_count(central, persons), _count(central, sync_changes)) == before

    done = central.registration.renumber(
        samira, "number given twice", audit=hook(central, "person.renumber")
    )
    new = done["registration_number"]
    assert done["person_id"] == samira and done["previous_number"] == number and new != number
    assert _number(central, samira) == new
    # The same bundle, sent again, now applies: both persons, two numbers.
    sync(central).import_bundle(bundle, audit=hook(central, "sync.apply"))
    assert _number(central, huda) == number and _number(central, samira) == new
    assert _count(central, persons) == before[0] + 1
    # Found by number: the old one is Huda's now, the new one Samira's.
    assert [p["id"] for p in _found(central, number)] == [huda]
    assert [p["id"] for p in _found(central, new)] == [samira]
    # The renumbering reaches the exit's node, which holds Samira (and is shown there).
    _pull(central, node_a)
    assert _number(node_a, samira) == new
    assert [h["previous_number"] for h in _history(node_a, samira)] == [number]
    assert [h["previous_number"] for h in _history(central, samira)] == [number]
    assert [p["id"] for p in _found(node_a, new)] == [samira]
    _pull(central, node_b)
    assert _number(node_b, huda) == number
    assert _history(node_b, huda) == []
    # Nothing lost or doubled: one row each everywhere; rounds again change nothing.
    for _ in range(2):
        _push(node_a, central)
        _push(node_b, central)
        _pull(central, node_a)
        _pull(central, node_b)
    assert _count(central, persons, persons.c.id.in_([samira, huda])) == 2
    assert _count(node_a, persons, persons.c.id == samira) == 1
    assert _count(node_b, persons, persons.c.id == huda) == 1
    assert _count(node_a, renumbered) == 1 and _count(central, renumbered) == 1
    assert _number(node_a, samira) == _number(central, samira) == new


def test_the_nodes_own_person_renumbered_there_before_its_push(three, monkeypatch) -> None:
    """The other way out: the camp's node gives its own person (not yet at the central) a
    new number; its next push carries her registration and the renumbering together, and
    the central takes the free number at once (the number given twice never lands)."""
    central, node_a, node_b, exit_point, camp = three
    samira, huda, number = _given_twice(central, node_a, node_b, exit_point, camp, monkeypatch)
    with pytest.raises(BundleRefused) as refused:
        sync(central).import_bundle(sync(node_b).export(), audit=hook(central, "sync.apply"))
    node_id = sync(node_b).identity()["id"]
    # The message names this way out too: the command, the person and the node.
    assert (
        f'at node {node_id} before it sends again (corridor person renumber {huda} --reason "'
        in str(refused.value)
    )
    done = node_b.registration.renumber(
        huda, "number given twice", audit=hook(node_b, "person.renumber")
    )
    new = done["registration_number"]
    _push(node_b, central)
    assert _number(central, huda) == new != number
    assert _number(central, samira) == number
    assert [p["id"] for p in _found(central, new)] == [huda]
    _pull(central, node_b)
    assert _number(node_b, huda) == new
    assert _count(central, persons, persons.c.id.in_([samira, huda])) == 2


def test_a_correction_at_the_node_and_the_renumbering_merge(three, monkeypatch) -> None:
    """The exit's node corrects Samira's details while the central renumbers her: the two
    changes merge field by field (different fields), no conflict."""
    central, node_a, node_b, exit_point, camp = three
    samira, huda, number = _given_twice(central, node_a, node_b, exit_point, camp, monkeypatch)
    central.registration.renumber(
        samira, "number given twice", audit=hook(central, "person.renumber")
    )
    node_a.registration.update_person(
        samira, PersonPatch(father_name="Ahmad"), audit=hook(node_a, "person.write")
    )
    _push(node_a, central)
    _push(node_b, central)
    _pull(central, node_a)
    new = _number(central, samira)
    assert new != number and _number(node_a, samira) == new
    for s in (central, node_a):
        assert s.registration.get_person(samira)["names"]["father_name"] == "Ahmad"
    assert _number(central, huda) == number


def test_renumbering_is_audited_and_refuses_bad_input(services, clock) -> None:
    from tests.sync.helpers import make_site

    site = make_site(services, "Exit")
    pid = register(services, site, "Samira")
    number = _number(services, pid)
    with pytest.raises(ValidationFailed):
        services.registration.renumber(pid, "  ", audit=hook(services, "person.renumber"))
    with pytest.raises(NotFound):
        services.registration.renumber(
            "0190aaaa-0000-7000-8000-000000000000", "x", audit=hook(services, "person.renumber")
        )
    with pytest.raises(NotFound):  # outside the caller's sites
        services.registration.renumber(
            pid, "x", audit=hook(services, "person.renumber"), scope=frozenset({"elsewhere"})
        )
    assert _number(services, pid) == number
    assert _count(services, audit_events, audit_events.c.action == "person.renumber") == 0
    done = services.registration.renumber(
        pid, "given twice", audit=hook(services, "person.renumber")
    )
    assert _number(services, pid) == done["registration_number"] != number
    assert _count(services, audit_events, audit_events.c.action == "person.renumber",
                  audit_events.c.person_id == pid) == 1  # fmt: skip
    assert _found(services, number) == []


def _found(s: Services, number: str) -> list[dict[str, Any]]:
    from corridor.schemas import PersonSearchIn

    return s.registration.search(PersonSearchIn(registration_number=number))


def _history(s: Services, pid: str) -> list[dict[str, Any]]:
    with s.db.read() as conn:
        return renumbering.history(conn, pid)


@pytest.fixture
def desks(pair, tmp_path, sqlite_template, clock):
    from tests.sync.test_bundles import _enrol, _node_services

    central, desk_a, exit_point, _ = pair
    desk_b = _node_services(tmp_path, sqlite_template, clock, "desk-b")
    _enrol(central, desk_b, "Exit")
    yield central, desk_a, desk_b, exit_point
    desk_b.db.dispose()


def test_a_number_given_twice_found_at_a_desk_pulling_first(desks, monkeypatch) -> None:
    """Two desks of one site: desk B pulls the central's person before it pushes its own
    with the same number. Its import is refused, naming the command to run at the
    central; once the central's person has a new number, desk B's round (push, pull)
    applies both."""
    central, desk_a, desk_b, exit_point = desks
    samira, huda, number = _given_twice(
        central, desk_a, desk_b, exit_point, exit_point, monkeypatch
    )
    with pytest.raises(BundleRefused) as refused:
        _pull(central, desk_b)
    message = str(refused.value)
    assert f"corridor person renumber {samira}" in message and "at the central" in message
    central.registration.renumber(
        samira, "number given twice", audit=hook(central, "person.renumber")
    )
    _push(desk_b, central)
    _pull(central, desk_b)
    _pull(central, desk_a)
    new = _number(central, samira)
    for s in (central, desk_a, desk_b):
        assert _number(s, samira) == new != number
        assert _number(s, huda) == number
        assert _count(s, persons, persons.c.id.in_([samira, huda])) == 2
    # Desk A held Samira under the old number: its page shows the number changed; desk
    # B never held her under it.
    assert [h["previous_number"] for h in _history(desk_a, samira)] == [number]
    assert _history(desk_b, samira) == []
