"""A site node whose clock runs hours ahead (within the pull window), and moves stated in
the past at a right clock (docs/sync.md, "Clocks that run wrong and times stated in the
past"; the property test over both is test_clock_properties.py).

- The central, the reference clock, records a movement of a person whose last movement a
  node running ahead stamped after the central's time: before, it was taken, and the log
  (ordered by stated times) put it before that movement though it happened after it (her
  admission before her registration, and her counted at the exit point after it). Now
  refused, the reason said: the officer corrects that movement to when it happened first.
- A node with a right clock records, knowing the registration a node running ahead
  stamped, her admission: stamped before it. Before, the central landed it silently (the
  clock-behind check, behind.py, passed over movements in the central's future). Now
  held at the central like a clock behind, the reason naming the clock ahead.
- A move stated three days ago at a right clock, apart from a later move at the central:
  held as two places at once, nothing lost (this held before too).

The central on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from corridor.errors import ValidationFailed
from corridor.schemas import (
    CorrectionIn,
    DispatchIn,
    ManifestIn,
    ManifestPersonsIn,
    StatusEventIn,
)
from corridor.services import Services
from tests.conftest import Clock
from tests.sync.helpers import (
    effective_route,
    exchange,
    held_moves,
    hook,
    keep_ours,
    logged,
    make_site,
    register,
    why_held,
)
from tests.sync.test_facts import _push
from tests.sync.test_moves_apart import skewed_desk

AHEAD = 6  # hours: within the pull window (48 by default), taken as it comes


@pytest.fixture
def ahead(
    pair: tuple[Services, Services, str, str], tmp_path: Path, sqlite_template: Path, clock: Clock
) -> Iterator[tuple[Services, Services, Services, str, str, str]]:
    """The central, the exit's desk (right clock), a second desk of the exit whose clock
    runs six hours ahead; the exit's, the camp's and a hospital's ids."""
    yield from skewed_desk(pair, tmp_path, sqlite_template, clock, AHEAD, "desk-ahead")


def _ours_kept_everywhere(
    ahead: Any, held: dict[str, Any], want: list[tuple[str, str | None]], moved: str
) -> None:
    """The central's officer keeps ours on ``held``: after two rounds of sync every
    installation shows ``want``, holds nothing, and still logs the move ``moved``."""
    central, desk, early, *_ = ahead
    keep_ours(central, held)
    for _ in range(2):
        exchange(central, desk, early)
    for s in (central, desk, early):
        assert effective_route(s, held["person_id"]) == want, s
        assert held_moves(s) == [], s
        assert moved in logged(s, held["person_id"]), s


def _registered_ahead(
    early: Services, exit_point: str, camp: str, clock: Clock, known: str
) -> tuple[str, list[dict[str, Any]]]:
    """Samira registered at the desk ahead (and, for ``transfer``, moved to the camp
    there twenty minutes later): her id, and those movements as recorded there."""
    pid = register(early, exit_point, "Samira")
    if known == "transfer":
        clock.advance(minutes=20)
        early.movements.record(
            pid, StatusEventIn(kind="transferred", to_site_id=camp),
            audit=hook(early, "movement.write"),
        )  # fmt: skip
    return pid, early.movements.history(pid)


def _next_move(central: Services, how: str, pid: str, to: str) -> Callable[[], Any]:
    """The central's officer's next move of the person, to be recorded: a hospital
    admission, or a truck (made ready now, the person on it) dispatched."""
    if how == "admission":
        return lambda: central.movements.record(
            pid, StatusEventIn(kind="hospitalised", to_site_id=to),
            audit=hook(central, "movement.write"),
        )  # fmt: skip
    write = hook(central, "manifest.write")
    where = central.movements.history(pid)[-1]["to_site_id"]
    m = central.manifests.create(
        ManifestIn(vehicle="Truck", from_site_id=where, to_site_id=to), audit=write
    )
    central.manifests.add_persons(m["id"], ManifestPersonsIn(person_ids=[pid]), audit=write)
    return lambda: central.manifests.dispatch(m["id"], DispatchIn(), audit=write)


@pytest.mark.parametrize("known", ["registration", "transfer"])
@pytest.mark.parametrize("how", ["admission", "dispatch"])
def test_the_central_refuses_a_move_before_one_a_clock_ahead_stamped_after_its_time(
    ahead: Any, clock: Clock, known: str, how: str
) -> None:
    """Samira registered (and moved) at the desk six hours ahead, known at the central; an
    hour later the central's officer records her next move. Before, it was taken and
    put before the movements stamped ahead, though it happened after them: the history
    read "hospitalised, registered (, transferred)" and she was counted at the exit (or
    the camp). Now refused, why said, nothing written; once the officer corrects the
    movements stamped ahead to when they happened, the move is recorded and the history
    stands, in the order it happened, at every installation."""
    central, desk, early, exit_point, camp, hospital = ahead
    started = clock()
    pid, stamped = _registered_ahead(early, exit_point, camp, clock, known)
    exchange(central, desk, early)
    clock.advance(hours=1)
    to = hospital if how == "admission" else camp if known == "registration" else exit_point
    before = effective_route(central, pid)
    move = _next_move(central, how, pid, to)
    with pytest.raises(ValidationFailed) as refused:
        move()
    [problem] = refused.value.problems
    assert "clock running ahead" in str(problem.reason)
    assert effective_route(central, pid) == before
    # The officer corrects each movement stamped ahead to when it happened, then records.
    for n, event in enumerate(stamped):
        assert event["occurred_at"] > clock()
        central.movements.correct(
            event["id"],
            CorrectionIn(kind=event["kind"], from_site_id=event["from_site_id"],
                         to_site_id=event["to_site_id"],
                         occurred_at=started + timedelta(minutes=20 * n),
                         note="the desk's clock ran six hours ahead"),
            audit=hook(central, "movement.write"),
        )  # fmt: skip
    move()
    exchange(central, desk, early)
    exchange(central, desk, early)
    kind = "hospitalised" if how == "admission" else "dispatched"
    want = [("registered", exit_point), *([("transferred", camp)] * (known == "transfer"))]
    for s in (central, desk, early):
        assert effective_route(s, pid) == [*want, (kind, to)], s
        assert held_moves(s) == [], s


@pytest.mark.parametrize("known", ["registration", "transfer"])
def test_a_move_recorded_before_one_a_clock_ahead_stamped_is_held_at_the_central(
    ahead: Any, clock: Clock, known: str
) -> None:
    """Samira registered (and moved to the camp) at the desk six hours ahead, known at
    the right desk; an hour later the right desk records her admission: stamped before
    the movements stamped ahead, which it held (a node cannot tell whose clock is wrong,
    so it takes it). Before, the central landed it silently: "hospitalised, registered"
    and her counted at the exit (the check of a clock behind passed over movements in
    the central's future). Now held at the central, why said (the clock ahead); nothing
    lost; keeping ours reaches every installation."""
    central, desk, early, exit_point, camp, hospital = ahead
    pid, _ = _registered_ahead(early, exit_point, camp, clock, known)
    want = effective_route(early, pid)
    exchange(central, desk, early)
    clock.advance(hours=1)
    moved = desk.movements.record(
        pid, StatusEventIn(kind="hospitalised", to_site_id=hospital),
        audit=hook(desk, "movement.write"),
    )  # fmt: skip
    _push(desk, central)
    [held] = held_moves(central)
    assert held["person_id"] == pid
    why = why_held(held)
    assert "clock running ahead" in why
    assert "registration" in why  # the earliest it went before
    assert moved["id"] not in logged(central, pid)
    assert effective_route(central, pid) == want
    assert moved["id"] in logged(desk, pid)  # kept there until the officer decides
    # The desk ahead, sent the right desk's change by the central, holds it too (before,
    # it landed it: "hospitalised, registered" there until the decision reached it).
    exchange(central, early)
    assert [c["person_id"] for c in held_moves(early)] == [pid]
    assert moved["id"] not in logged(early, pid)
    assert effective_route(early, pid) == want
    _ours_kept_everywhere(ahead, held, want, moved["id"])


@pytest.mark.parametrize("kind", ["hospitalised", "transferred"])
def test_a_move_stated_days_ago_apart_from_a_later_move_is_held_nothing_lost(
    ahead: Any, clock: Clock, kind: str
) -> None:
    """Samira registered at the central, known at the right desk. Three days later the
    central moves her to the camp; an hour after that the right desk, not yet told,
    records today what happened three days ago (stated two hours after her
    registration): her admission to hospital (or a transfer to the camp). Both cannot
    stand (the central's move leaves from the exit she had left): the desk's is held at
    the central, why said, not merged; nothing lost; keeping ours reaches every
    installation."""
    central, desk, early, exit_point, camp, hospital = ahead
    pid = register(central, exit_point, "Samira")
    registered_at = clock()
    exchange(central, desk, early)
    clock.advance(days=3)
    other = make_site(central, "Camp B", "camp")
    exchange(central, desk, early)
    central.movements.record(
        pid, StatusEventIn(kind="transferred", to_site_id=other),
        audit=hook(central, "movement.write"),
    )  # fmt: skip
    clock.advance(hours=1)
    to = hospital if kind == "hospitalised" else camp
    stated = registered_at + timedelta(hours=2)
    moved = desk.movements.record(
        pid, StatusEventIn(kind=kind, to_site_id=to, occurred_at=stated),
        audit=hook(desk, "movement.write"),
    )  # fmt: skip
    assert moved["occurred_at"] == stated
    _push(desk, central)
    [held] = held_moves(central)
    assert "not where the person was" in why_held(held)
    want = [("registered", exit_point), ("transferred", other)]
    assert effective_route(central, pid) == want
    _ours_kept_everywhere(ahead, held, want, moved["id"])
