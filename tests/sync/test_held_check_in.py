"""Issue 16: a check-in that arrives inside a change held as a conflict (docs/sync.md,
"Movements recorded apart that cannot both stand").

Two desks of the exit and the central (SQLite and PostgreSQL; the ``desks`` fixture of
test_history_sync.py). Samira, taken to hospital, is put on a truck back to the exit,
known at all three. Apart, desk A corrects the departure into her death at the hospital
(recorded in error, as it turns out) while desk B checks her in off the truck. Desk A's
correction reaches the central first; desk B's check-in would then follow her death, so
desk B's change is held, its arrival not landed. Before, the check-in inside it was
applied all the same: the central's manifest showed her checked in by an arrival its
log did not hold, with her dead in that log. Now the check-in is held with the arrival
(the manifest follows the log held), nothing of it lost: the officer's decision lands it
with the arrival (theirs) or leaves it un-ticked with the arrival corrected back (ours),
and every installation ends with the same manifest and history.
"""

from __future__ import annotations

from typing import Any

import pytest

from corridor.errors import Conflict
from corridor.schemas import CheckInIn, CorrectionIn, StatusEventIn
from corridor.services import Services
from corridor.storage.tables import movements
from corridor.sync.conflicts import ConflictReview
from tests.conftest import Clock
from tests.sync.helpers import checked_in, event_log, exchange, hook, register
from tests.sync.test_facts import _dispatched, _pull, _push, _rows

_item, _log = checked_in, event_log


def _apart(desks: Any, clock: Clock) -> tuple[str, str, str, str, dict[str, Any]]:
    """Samira taken to hospital, then on a truck from the hospital back to the exit,
    known at all desks; apart, desk A corrects the departure into her death at the
    hospital, desk B checks her in at the exit; desk A pushes first, then desk B. The
    person, the manifest, the departure's id, the death's, and desk B's check-in."""
    central, desk_a, desk_b, exit_point, hospital = desks
    pid = register(desk_a, exit_point, "Samira")
    clock.advance(hours=1)
    desk_a.movements.record(
        pid, StatusEventIn(kind="hospitalised", to_site_id=hospital),
        audit=hook(desk_a, "movement.write"),
    )  # fmt: skip
    clock.advance(hours=1)
    manifest = _dispatched(desk_a, hospital, exit_point, [pid])
    exchange(central, desk_a, desk_b)
    clock.advance(hours=3)
    [left] = _rows(
        desk_a, movements, movements.c.person_id == pid, movements.c.kind == "dispatched"
    )
    died = desk_a.movements.correct(
        left["id"], CorrectionIn(kind="deceased", note="died before the truck left"),
        audit=hook(desk_a, "movement.write"),
    )  # fmt: skip
    checked = desk_b.manifests.check_in(
        manifest, CheckInIn(person_id=pid), audit=hook(desk_b, "manifest.write")
    )
    _push(desk_a, central)
    _push(desk_b, central)
    return pid, manifest, left["id"], died["id"], checked


def _held(central: Services) -> dict[str, Any]:
    [held] = [c for c in ConflictReview.of(central).queue() if "movements" in c["fields"]]
    return held


def _converged(desks: Any, pid: str, manifest: str) -> tuple[Any, ...]:
    """Two rounds; then the same manifest item and log at all desks, no conflict open.
    The item as held."""
    central, desk_a, desk_b, _, _ = desks
    exchange(central, desk_a, desk_b)
    exchange(central, desk_a, desk_b)
    item, log = _item(central, manifest, pid), _log(central, pid)
    for s in (central, desk_a, desk_b):
        assert _item(s, manifest, pid) == item, (s is desk_a, s is desk_b)
        assert _log(s, pid) == log, s
        assert ConflictReview.of(s).queue() == [], s
    return item


def test_a_check_in_inside_a_held_change_is_held_with_its_arrival(desks, clock: Clock) -> None:
    central, desk_a, desk_b, exit_point, hospital = desks
    pid, manifest, left, died, checked = _apart(desks, clock)
    held = _held(central)
    assert held["person_id"] == pid
    # Before: ticked at the central by an arrival its log does not hold.
    assert checked["movement_id"] not in {e[0] for e in _log(central, pid)}
    assert _item(central, manifest, pid) == (None, None, None)
    # Nothing lost: desk B holds its check-in, and the held change carries it.
    ticked = _item(desk_b, manifest, pid)
    assert ticked[2] == checked["movement_id"]
    _pull(central, desk_a)
    assert _item(desk_a, manifest, pid) == (None, None, None)


def test_taking_theirs_lands_the_check_in_with_the_arrival_everywhere(
    desks, clock: Clock
) -> None:
    """Taking desk B's movements is refused while the death stands; the officer voids
    the death (recorded in error), then takes them: the check-in lands with its arrival,
    once, at all three."""
    central, desk_a, desk_b, exit_point, hospital = desks
    pid, manifest, left, died, checked = _apart(desks, clock)
    ticked = _item(desk_b, manifest, pid)
    held = _held(central)
    review = ConflictReview.of(central)
    with pytest.raises(Conflict):
        review.resolve(
            pid, held["id"], ["movements"], by="cli:test", audit=hook(central, "person.write")
        )
    assert _item(central, manifest, pid) == (None, None, None)
    central.movements.correct(
        died, CorrectionIn(kind="voided", note="she did not die"),
        audit=hook(central, "movement.write"),
    )  # fmt: skip
    review.resolve(
        pid, held["id"], ["movements"], by="cli:test", audit=hook(central, "person.write")
    )
    assert _item(central, manifest, pid) == ticked
    assert _converged(desks, pid, manifest) == ticked
    arrivals = [e for e in _log(central, pid) if e[1] == "arrived"]
    assert [a[0] for a in arrivals] == [checked["movement_id"]]  # once, not doubled


def test_keeping_ours_leaves_the_check_in_corrected_back_everywhere(
    desks, clock: Clock
) -> None:
    """The officer keeps the death: desk B's arrival lands, corrected back, and the
    manifest follows it (not checked in) at all three, desk B's own included."""
    central, desk_a, desk_b, exit_point, hospital = desks
    pid, manifest, left, died, checked = _apart(desks, clock)
    held = _held(central)
    ConflictReview.of(central).resolve(
        pid, held["id"], [], by="cli:test", audit=hook(central, "person.write")
    )
    assert _item(central, manifest, pid) == (None, None, None)
    assert checked["movement_id"] in {e[0] for e in _log(central, pid)}
    assert _converged(desks, pid, manifest) == (None, None, None)

