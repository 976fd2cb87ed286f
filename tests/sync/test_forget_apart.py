"""The central's forget made before it held what the camp's node recorded (docs/sync.md,
"A person who left a node's site"; corridor/sync/forgets.py).

A central (SQLite and PostgreSQL) and the exit's and the camp's nodes (the ``three``
fixture). Samira, registered at the exit, is put on a truck to the camp, known at all
three. Apart, the camp's node checks her in off the truck while the exit's node corrects
her departure: into her death before the truck left, or voids the dispatch. The exit's
correction reaches the central first, so the central no longer sees a reason for the
camp's node to hold her and sends it a forget.

Before: where she died, the camp's node held the forget as a conflict on ``movements``
for ever (the officer's decision, made at the central, is never sent to a node she is
not of), its log kept the arrival and its manifest the check-in, which the central does
not hold. Where the dispatch was voided, the camp's node anonymised her though she is at
the camp there and at the central. And a change of hers the camp's node had not sent
yet was sealed again with every person field withheld: the central's import of it
failed, and the camp's node could push nothing more.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from corridor.schemas import CheckInIn, CorrectionIn, PersonPatch, StatusEventIn
from corridor.services import Services
from corridor.storage.sync_tables import sync_changes
from corridor.storage.tables import movements, person_locations, persons
from corridor.sync.conflicts import ConflictReview
from corridor.sync.forgets import WITHDRAWN_BY
from corridor.sync.journal import FORGET_KIND, open_payload
from tests.conftest import Clock
from tests.sync.helpers import checked_in, event_log, exchange, hook, register
from tests.sync.test_facts import _dispatched, _node_id, _pull, _push, _rows


@pytest.fixture
def more_sites() -> list[tuple[str, str]]:
    return [("Hospital", "hospital")]


_item, _log = checked_in, event_log


def _open(s: Services, pid: str) -> list[dict[str, Any]]:
    return _rows(
        s, sync_changes, sync_changes.c.person_id == pid,
        sync_changes.c.state == "conflict", sync_changes.c.resolved_at.is_(None),
    )  # fmt: skip


def _where(s: Services, pid: str) -> Any:
    [row] = _rows(s, person_locations, person_locations.c.person_id == pid)
    return row["site_id"]


def _whole(s: Services, pid: str) -> bool:
    [row] = _rows(s, persons, persons.c.id == pid)
    return row["anonymised_at"] is None and row["given_name"] == "Samira"


def _payloads(s: Services, pid: str, origin: str) -> list[dict[str, Any]]:
    out = []
    for c in _rows(s, sync_changes, sync_changes.c.person_id == pid):
        if c["origin_node"] == origin:
            state = open_payload(s.vault, c["site_id"], c["payload"])
            assert state is not None
            out.append(state)
    return out


def _apart(three: Any, clock: Clock, how: str, sent: bool) -> tuple[str, str, str, dict[str, Any]]:
    """Samira on a truck from the exit to the camp, known at all three; apart, the exit's
    node corrects the dispatch (``how``: into her death, or voided) and the camp's node
    checks her in; the exit pushes, then the camp pushes (``sent``) and pulls, or pulls
    first (its check-in not yet sent when the forget arrives). The person, the
    manifest, the dispatch's id, the check-in."""
    central, node_a, node_b, exit_point, camp = three
    pid = register(node_a, exit_point, "Samira")
    manifest = _dispatched(node_a, exit_point, camp, [pid])
    _push(node_a, central)
    _pull(central, node_b)
    _pull(central, node_a)
    clock.advance(hours=3)
    [left] = _rows(
        node_a, movements, movements.c.person_id == pid, movements.c.kind == "dispatched"
    )
    node_a.movements.correct(
        left["id"], CorrectionIn(kind=how, note="recorded at the gate"),
        audit=hook(node_a, "movement.write"),
    )  # fmt: skip
    checked = node_b.manifests.check_in(
        manifest, CheckInIn(person_id=pid), audit=hook(node_b, "manifest.write")
    )
    _push(node_a, central)
    clock.advance(minutes=10)
    if sent:
        _push(node_b, central)
    _pull(central, node_b)  # the central's forget reaches the camp's node
    return pid, manifest, left["id"], checked


@pytest.mark.parametrize("sent", [True, False], ids=["sent", "unsent"])
@pytest.mark.parametrize("decide", ["ours", "theirs"])
def test_a_forget_after_a_death_at_the_exit_leaves_no_conflict_open_at_the_camp(
    three, clock: Clock, sent: bool, decide: str
) -> None:
    central, node_a, node_b, exit_point, camp = three
    pid, manifest, left, checked = _apart(three, clock, "deceased", sent)
    camp_node = _node_id(node_b)
    # The camp's node forgot her: nothing held open there, its log and manifest the
    # central's (her check-in withdrawn from them), its own change kept as recorded.
    [row] = _rows(node_b, persons, persons.c.id == pid)
    assert row["anonymised_at"] is not None and row["given_name"] is None
    assert _open(node_b, pid) == []
    assert ConflictReview.of(node_b).queue() == []
    assert checked["movement_id"] not in {e[0] for e in _log(node_b, pid)}
    assert _item(node_b, manifest, pid) == (None, None, None) == _item(central, manifest, pid)
    assert _log(node_b, pid) <= _log(central, pid)
    [own] = [s for s in _payloads(node_b, pid, camp_node) if s["movements"]]
    assert checked["movement_id"] in {m["id"] for m in own["movements"]}
    [item] = own["manifest_items"]
    assert item["arrival_movement_id"] == checked["movement_id"]
    withdrawn = _rows(
        node_b, sync_changes, sync_changes.c.person_id == pid, sync_changes.c.state == "conflict"
    )
    forget_ids = {c["id"] for c in _rows(node_b, sync_changes, sync_changes.c.kind == FORGET_KIND)}
    for c in withdrawn:
        assert json.loads(c["resolution"])[WITHDRAWN_BY] in forget_ids
    if not sent:
        _push(node_b, central)  # the check-in travels after the forget: held there
    [held] = [c for c in ConflictReview.of(central).queue() if c["person_id"] == pid]
    assert held["fields"] == ["movements"]

    review = ConflictReview.of(central)
    if decide == "theirs":  # she did not die: the death voided, her arrival taken
        [died] = [e for e in _log(central, pid) if e[2] == left]
        central.movements.correct(
            died[0], CorrectionIn(kind="voided", note="she did not die"),
            audit=hook(central, "movement.write"),
        )  # fmt: skip
        review.resolve(
            pid, held["id"], ["movements"], by="cli:test", audit=hook(central, "person.write")
        )
    else:
        review.resolve(pid, held["id"], [], by="cli:test", audit=hook(central, "person.write"))
    exchange(central, node_a, node_b)
    exchange(central, node_a, node_b)

    for s in (central, node_a, node_b):
        assert _open(s, pid) == [], s
        assert ConflictReview.of(s).queue() == [], s
    item = _item(central, manifest, pid)
    log = _log(central, pid)
    assert _item(node_a, manifest, pid) == item and _log(node_a, pid) == log
    assert _item(node_b, manifest, pid) == item
    arrivals = [e for e in log if e[1] == "arrived"]
    assert [a[0] for a in arrivals] == [checked["movement_id"]]  # once, not doubled
    if decide == "theirs":  # at the camp: held there whole again, the same history
        assert item[2] == checked["movement_id"]
        assert _where(central, pid) == _where(node_b, pid) == camp
        assert _whole(node_b, pid) and _log(node_b, pid) == log
    else:  # dead at the exit: the check-in corrected back everywhere
        assert item == (None, None, None)
        assert _where(central, pid) == _where(node_a, pid) != camp
        assert not _whole(node_b, pid) and _log(node_b, pid) <= log


@pytest.mark.parametrize("sent", [True, False], ids=["sent", "unsent"])
def test_a_forget_after_the_dispatch_was_voided_is_not_carried_out_where_she_arrived(
    three, clock: Clock, sent: bool
) -> None:
    """The dispatch voided at the exit, her arrival checked in at the camp: both stand,
    and she is at the camp. The forget, made before the central held the check-in, is
    not carried out: the camp's node holds her whole, as every installation places her."""
    central, node_a, node_b, exit_point, camp = three
    pid, manifest, left, checked = _apart(three, clock, "voided", sent)
    assert _whole(node_b, pid)
    exchange(central, node_a, node_b)
    exchange(central, node_a, node_b)
    item = _item(central, manifest, pid)
    assert item[2] == checked["movement_id"]
    for s in (central, node_a, node_b):
        assert _where(s, pid) == camp, s
        assert _item(s, manifest, pid) == item, s
        assert _log(s, pid) == _log(central, pid), s
        assert _open(s, pid) == [], s
    assert _whole(node_b, pid)
    # She moves on from the camp: now the camp's node forgets her.
    hospital = next(s["id"] for s in central.sites.all() if s["name"] == "Hospital")
    central.movements.record(
        pid, StatusEventIn(kind="transferred", to_site_id=hospital),
        audit=hook(central, "movement.write"),
    )  # fmt: skip
    _pull(central, node_b)
    assert not _whole(node_b, pid)


def test_a_change_the_camp_had_not_sent_when_she_was_forgotten_reaches_the_central(
    three, clock: Clock
) -> None:
    """The camp's node corrects her name; before it sends it, the central moves her on
    (she left the camp) and the camp's node pulls the forget. Its correction still
    reaches the central and the exit whole, and once the central holds it the camp's
    node keeps nothing readable of her."""
    central, node_a, node_b, exit_point, camp = three
    hospital = next(s["id"] for s in central.sites.all() if s["name"] == "Hospital")
    pid = register(node_a, exit_point, "Samira")
    manifest = _dispatched(node_a, exit_point, camp, [pid])
    _push(node_a, central)
    _pull(central, node_b)
    clock.advance(hours=2)
    node_b.manifests.check_in(
        manifest, CheckInIn(person_id=pid), audit=hook(node_b, "manifest.write")
    )
    exchange(central, node_a, node_b)
    clock.advance(hours=2)
    node_b.registration.update_person(
        pid, PersonPatch(given_name="Sameera"), audit=hook(node_b, "person.write")
    )
    central.movements.record(
        pid, StatusEventIn(kind="transferred", to_site_id=hospital),
        audit=hook(central, "movement.write"),
    )  # fmt: skip
    _pull(central, node_b)  # the forget, the correction not yet sent
    [row] = _rows(node_b, persons, persons.c.id == pid)
    assert row["anonymised_at"] is not None
    exchange(central, node_a, node_b)  # before: the central's import failed here
    for s in (central, node_a):
        assert s.registration.get_person(pid)["names"]["given_name"] == "Sameera"
    _pull(central, node_b)
    for state in _payloads(node_b, pid, _node_id(node_b)):
        assert "Sameera" not in json.dumps(state, default=str)
        assert "Samira" not in json.dumps(state, default=str)
