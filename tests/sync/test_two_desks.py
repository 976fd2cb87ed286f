"""Issue 16: two desks of one site through the central (a third origin), docs/sync.md
"The conflict review queue".

The central (SQLite and PostgreSQL) and two nodes of the exit point (desk A, the
``pair`` fixture's node, and desk B, enrolled as in tests/sync/test_bundles.py): both
desks change the same person's phone apart. Each of the three installations then holds
its own copy of one conflict (the central and desk A: desk B's change against desk A's;
desk B: desk A's against its own). A decision at any of them settles every copy, by
the two changes the conflict holds, and carries the value chosen to all three; a
correction made meanwhile at the central does not decide it silently at a desk.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from corridor.schemas import PersonPatch
from corridor.services import Services
from corridor.sync.conflicts import ConflictReview
from tests.conftest import Clock
from tests.sync.helpers import exchange, hook, register, sync
from tests.sync.test_bundles import _enrol, _node_services
from tests.sync.test_facts import _pull, _push

PHONE_A = "+963933200002"
PHONE_B = "+963933300003"


@pytest.fixture
def desks(
    pair: tuple[Services, Services, str, str], tmp_path: Path, sqlite_template: Path, clock: Clock
) -> Iterator[tuple[Services, Services, Services, str]]:
    central, desk_a, exit_point, _ = pair
    desk_b = _node_services(tmp_path, sqlite_template, clock, "desk-b")
    _enrol(central, desk_b, "Exit")
    yield central, desk_a, desk_b, exit_point
    desk_b.db.dispose()


def _apart(central: Services, desk_a: Services, desk_b: Services, exit_point: str) -> str:
    """A person known at all three; then the phone changed at both desks apart, and
    every installation synced: three copies of one conflict."""
    pid = register(desk_a, exit_point, "Samira", "+963933100001")
    _push(desk_a, central)
    _pull(central, desk_a)
    _pull(central, desk_b)
    desk_a.registration.update_person(
        pid, PersonPatch(phone=PHONE_A), audit=hook(desk_a, "person.write")
    )
    desk_b.registration.update_person(
        pid, PersonPatch(phone=PHONE_B, father_name="Ahmad"), audit=hook(desk_b, "person.write")
    )
    _push(desk_a, central)
    _push(desk_b, central)
    _pull(central, desk_a)
    _pull(central, desk_b)
    for s in (central, desk_a, desk_b):
        [c] = ConflictReview.of(s).queue()
        assert c["fields"] == ["phone"]
    return pid


def _phones(pid: str, *installations: Services) -> list[str]:
    return [s.registration.get_person(pid)["phone"] for s in installations]


@pytest.mark.parametrize("choice", ["ours", "theirs"])
def test_a_decision_at_the_central_settles_the_copies_at_both_desks(desks, choice) -> None:
    central, desk_a, desk_b, exit_point = desks
    pid = _apart(central, desk_a, desk_b, exit_point)
    [c] = ConflictReview.of(central).queue()
    ConflictReview.of(central).resolve(
        pid,
        c["id"],
        ["phone"] if choice == "theirs" else [],
        by="cli:test",
        audit=hook(central, "person.write"),
    )
    exchange(central, desk_a, desk_b)
    chosen = PHONE_B if choice == "theirs" else PHONE_A
    assert _phones(pid, central, desk_a, desk_b) == [chosen] * 3
    for s in (central, desk_a, desk_b):
        assert ConflictReview.of(s).queue() == []
        assert sync(s).status()["conflicts"] == 0
        assert s.registration.get_person(pid)["names"]["father_name"] == "Ahmad"
    exchange(central, desk_a, desk_b)  # and nothing more comes of it
    assert _phones(pid, central, desk_a, desk_b) == [chosen] * 3


def test_a_decision_at_a_desk_settles_the_central_and_the_other_desk(desks) -> None:
    central, desk_a, desk_b, exit_point = desks
    pid = _apart(central, desk_a, desk_b, exit_point)
    [at_b] = ConflictReview.of(desk_b).queue()
    # Desk B's copy: its own phone is ours, desk A's is theirs. It takes desk A's.
    assert [(v["ours"], v["theirs"]) for v in at_b["values"]] == [(PHONE_B, PHONE_A)]
    ConflictReview.of(desk_b).resolve(
        pid, at_b["id"], ["phone"], by="cli:test", audit=hook(desk_b, "person.write")
    )
    exchange(central, desk_a, desk_b)
    assert _phones(pid, central, desk_a, desk_b) == [PHONE_A] * 3
    for s in (central, desk_a, desk_b):
        assert ConflictReview.of(s).queue() == [], s
        assert sync(s).status()["conflicts"] == 0


def test_a_correction_at_the_central_does_not_decide_an_open_conflict_at_a_desk(
    desks,
) -> None:
    """The central corrects another field while the conflict is open there: desk B keeps
    its own phone and its copy stays open (before: the correction followed on from desk
    B's change and wrote the central's phone there without a decision)."""
    central, desk_a, desk_b, exit_point = desks
    pid = _apart(central, desk_a, desk_b, exit_point)
    central.registration.update_person(
        pid, PersonPatch(grandfather_name="Hassan"), audit=hook(central, "person.write")
    )
    exchange(central, desk_a, desk_b)
    assert _phones(pid, central, desk_a, desk_b) == [PHONE_A, PHONE_A, PHONE_B]
    assert desk_b.registration.get_person(pid)["names"]["grandfather_name"] == "Hassan"
    for s in (central, desk_a, desk_b):
        assert len(ConflictReview.of(s).queue()) == 1, s
    # Decided at the central afterwards: every copy settles on the value chosen.
    [c] = ConflictReview.of(central).queue()
    ConflictReview.of(central).resolve(
        pid, c["id"], ["phone"], by="cli:test", audit=hook(central, "person.write")
    )
    exchange(central, desk_a, desk_b)
    assert _phones(pid, central, desk_a, desk_b) == [PHONE_B] * 3
    for s in (central, desk_a, desk_b):
        assert ConflictReview.of(s).queue() == []
        assert s.registration.get_person(pid)["names"]["grandfather_name"] == "Hassan"


def test_a_registration_number_given_twice_is_refused_with_a_clear_error(
    desks, monkeypatch
) -> None:
    """docs/sync.md "Registration numbers": desk B gives a new person the number desk A
    gave another (forced here: numbers are random). The central refuses desk B's bundle
    with a message naming the number, both persons' sites and nodes and what to do, and
    writes nothing."""
    from sqlalchemy import func, select

    from corridor.services.registration import persons as registration
    from corridor.storage.sync_tables import sync_acks, sync_changes
    from corridor.storage.tables import persons
    from corridor.sync.service import BundleRefused

    central, desk_a, desk_b, exit_point = desks
    samira = register(desk_a, exit_point, "Samira", "+963933100001")
    _push(desk_a, central)
    [number] = [central.registration.get_person(samira)["registration_number"]]
    raw = number.replace("-", "")
    monkeypatch.setattr(registration, "new_registration_number", lambda: raw)
    huda = register(desk_b, exit_point, "Huda", "+963933100002")
    monkeypatch.undo()

    def counts() -> list[int]:
        with central.db.read() as conn:
            return [
                conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (persons, sync_changes, sync_acks)
            ]

    before = counts()
    with pytest.raises(BundleRefused) as refused:
        _push(desk_b, central)
    message = str(refused.value)
    assert number in message and "given twice" in message
    assert huda in message and samira in message
    assert sync(desk_b).identity()["id"] in message and sync(desk_a).identity()["id"] in message
    assert "Exit" in message and "Nothing was imported" in message
    assert "new number" in message
    assert counts() == before
    assert "Huda" not in message and "Samira" not in message  # no name in an error


def test_a_decision_settles_the_copies_at_two_sites_nodes(three) -> None:
    """The ``three`` fixture: a woman registered at the exit's node is on a truck to the
    camp, whose node holds her (without the exit's sealed fields). Both nodes correct
    her father's name apart. The central keeps the exit's (it came first) and relays its
    state to the camp sealed again under the camp's key (another change id): the camp's
    copy of the conflict holds the central's change, with the camp's own as ours, and
    is recognised by ours; the exit's node received the central's state, its own name:
    no copy there. A decision at the central settles every copy, one name everywhere."""
    central, node_a, node_b, exit_point, camp = three
    from tests.sync.test_facts import _dispatched

    pid = register(node_a, exit_point, "Samira", "+963933100001")
    _dispatched(node_a, exit_point, camp, [pid])
    exchange(central, node_a, node_b)
    exchange(central, node_a, node_b)
    assert node_b.registration.get_person(pid)["names"]["given_name"] == "Samira"
    node_a.registration.update_person(
        pid, PersonPatch(father_name="Ahmad"), audit=hook(node_a, "person.write")
    )
    node_b.registration.update_person(
        pid, PersonPatch(father_name="Omar"), audit=hook(node_b, "person.write")
    )
    exchange(central, node_a, node_b)
    exchange(central, node_a, node_b)
    # The exit's node received the central's state (its own name kept there): no copy.
    assert [len(ConflictReview.of(s).queue()) for s in (central, node_a, node_b)] == [1, 0, 1]
    [c] = ConflictReview.of(central).queue()
    ConflictReview.of(central).resolve(
        pid, c["id"], ["father_name"], by="cli:test", audit=hook(central, "person.write")
    )
    exchange(central, node_a, node_b)
    names = [
        s.registration.get_person(pid)["names"]["father_name"] for s in (central, node_a, node_b)
    ]
    chosen = names[0]
    assert chosen in ("Ahmad", "Omar") and names == [chosen] * 3
    for s in (central, node_a, node_b):
        assert ConflictReview.of(s).queue() == [], s
