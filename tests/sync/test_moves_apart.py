"""Issue 16: movements received that cannot stand as they came (docs/sync.md, "Movements
recorded apart that cannot both stand").

- The clock window is policy from the settings (``sync_pull_window_hours``, through
  ``create_app(settings)`` and ``Services``): before, ``ahead.AHEAD`` was a constant of
  48 hours, whatever an installation was set to.
- A node whose clock runs behind records new movements stamped before movements it held
  already (the person's registration, a later movement received): before, they landed
  silently and reordered the person's log. Now held for review, why said in words.
- Two new moves of one person recorded apart at two desks (no correction involved) that
  together make an impossible route: before, both landed silently. Now the second to
  arrive is held for review; neither is lost, and the officer's decision reaches every
  installation.

The central on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from corridor.schemas import CorrectionIn, StatusEventIn
from corridor.services import Services
from corridor.storage import Database
from corridor.sync.service import SyncService
from tests.conftest import Clock, make_client
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
from tests.sync.test_bundles import _enrol, _node_services
from tests.sync.test_facts import _pull, _push
from tests.sync.test_faults import Skewed

# -- 1. the clock window is the installation's setting ---------------------------------


def test_create_app_gives_the_services_the_settings_clock_window(
    database: Database, clock: Clock
) -> None:
    client = make_client(database, clock, sync_pull_window_hours=6)
    services = client.app.state.services  # type: ignore[attr-defined]
    assert services.sync_window == timedelta(hours=6)
    assert SyncService.of(services).pull_window == timedelta(hours=6)


@pytest.mark.parametrize(
    ("window", "skew", "held"),
    [(6, 12, True), (96, 72, False), (48, 72, True), (48, 12, False)],
    ids=["6h-window-12h-ahead", "96h-window-72h-ahead", "48h-72h-ahead", "48h-12h-ahead"],
)
def test_movements_ahead_are_held_by_the_installations_window(
    pair: tuple[Services, Services, str, str],
    tmp_path: Path,
    sqlite_template: Path,
    clock: Clock,
    window: float,
    skew: float,
    held: bool,
) -> None:
    """A desk whose clock runs ``skew`` hours ahead records a transfer; the central set
    to a window of ``window`` hours holds it exactly when it is stamped further ahead
    than its window (before: 48 hours whatever the setting)."""
    base, desk, exit_point, camp = pair
    assert base.vault.master is not None
    central = Services(base.db, clock, base.vault.master, sync_window_hours=window)
    skewed = _node_services(tmp_path, sqlite_template, Skewed(clock, skew), "desk-ahead")
    _enrol(central, skewed, "Exit")
    pid = register(desk, exit_point, "Samira")
    exchange(central, desk, skewed)
    clock.advance(minutes=30)
    moved = skewed.movements.record(
        pid, StatusEventIn(kind="transferred", to_site_id=camp),
        audit=hook(skewed, "movement.write"),
    )  # fmt: skip
    _push(skewed, central)
    queued = held_moves(central)
    assert bool(queued) is held
    if held:
        assert "is in the future" in why_held(queued[0])
        assert moved["id"] not in logged(central, pid)
        assert effective_route(central, pid) == [("registered", exit_point)]
    else:
        assert effective_route(central, pid) == [("registered", exit_point), ("transferred", camp)]
    skewed.db.dispose()


# -- 2. a node whose clock runs behind ---------------------------------------------------


@pytest.fixture
def behind(
    pair: tuple[Services, Services, str, str], tmp_path: Path, sqlite_template: Path, clock: Clock
) -> Iterator[tuple[Services, Services, Services, str, str, str]]:
    """The central, the exit's desk (right clock), a second desk of the exit whose clock
    runs three hours behind; the exit's, the camp's and a hospital's ids."""
    yield from skewed_desk(pair, tmp_path, sqlite_template, clock, -3, "desk-behind")


def skewed_desk(
    pair: tuple[Services, Services, str, str],
    tmp_path: Path,
    sqlite_template: Path,
    clock: Clock,
    hours: float,
    name: str,
) -> Iterator[tuple[Services, Services, Services, str, str, str]]:
    """``pair`` and a hospital, and a second desk of the exit ``name`` whose clock runs
    ``hours`` off (behind where negative), enrolled; disposed of after."""
    central, desk, exit_point, camp = pair
    hospital = make_site(central, "Hospital", "hospital")
    _pull(central, desk)
    skewed = _node_services(tmp_path, sqlite_template, Skewed(clock, hours), name)
    _enrol(central, skewed, "Exit")
    yield central, desk, skewed, exit_point, camp, hospital
    skewed.db.dispose()


@pytest.mark.parametrize("known", ["registration", "admission"])
def test_a_movement_stamped_before_what_its_sender_held_is_held_not_reordering(
    behind: Any, clock: Clock, known: str
) -> None:
    """Samira registered at the right desk (and, for ``admission``, admitted to hospital
    four hours later), known at the desk behind; half an hour later (real time) the desk
    behind records her transfer to the camp: stamped before what it held. Before, it
    landed silently before the registration or the admission, and the person counted
    where the older movement put her. Now it is held at the central, why said; nothing
    lost; keeping ours reaches every installation."""
    central, desk, late, exit_point, camp, hospital = behind
    pid = register(desk, exit_point, "Samira")
    want = [("registered", exit_point)]
    if known == "admission":  # four hours later: the desk behind stamps after the registration
        clock.advance(hours=4)
        desk.movements.record(
            pid, StatusEventIn(kind="hospitalised", to_site_id=hospital),
            audit=hook(desk, "movement.write"),
        )  # fmt: skip
        want.append(("hospitalised", hospital))
    exchange(central, desk, late)
    clock.advance(minutes=30)
    moved = late.movements.record(
        pid, StatusEventIn(kind="transferred", to_site_id=camp), audit=hook(late, "movement.write")
    )
    assert moved["occurred_at"] < clock() - timedelta(hours=2)
    _push(late, central)
    [held] = held_moves(central)
    assert held["person_id"] == pid
    why = why_held(held)
    assert "clock was behind" in why
    assert ("registration" if known == "registration" else "hospitalised") in why
    assert moved["id"] not in logged(central, pid)
    assert effective_route(central, pid) == want
    # Nothing lost: the desk behind keeps its transfer until the officer decides.
    assert moved["id"] in logged(late, pid)
    # The right desk, sent the change by the central, holds it too (before session 28 it
    # landed it, the impossible order there until the decision reached it).
    exchange(central, desk)
    assert [c["person_id"] for c in held_moves(desk)] == [pid]
    assert moved["id"] not in logged(desk, pid)
    assert effective_route(desk, pid) == want
    keep_ours(central, held)
    exchange(central, desk, late)
    exchange(central, desk, late)
    for s in (central, desk, late):
        assert effective_route(s, pid) == want, s
        assert held_moves(s) == [], s
        assert moved["id"] in logged(s, pid), s


def test_a_correction_back_in_time_is_not_held_as_a_clock_behind(
    behind: Any, clock: Clock
) -> None:
    """A correction may move a time back (it is checked as a history): only new
    movements stamped before what their sender held are held as a clock behind."""
    central, desk, late, exit_point, camp, hospital = behind
    pid = register(desk, exit_point, "Samira")
    clock.advance(hours=2)
    moved = desk.movements.record(
        pid, StatusEventIn(kind="transferred", to_site_id=camp), audit=hook(desk, "movement.write")
    )
    desk.movements.correct(
        moved["id"],
        CorrectionIn(kind="transferred", from_site_id=exit_point, to_site_id=camp,
                     occurred_at=moved["occurred_at"] - timedelta(hours=1),
                     note="an hour earlier"),
        audit=hook(desk, "movement.write"),
    )  # fmt: skip
    exchange(central, desk, late)
    assert held_moves(central) == []
    assert effective_route(central, pid) == [("registered", exit_point), ("transferred", camp)]


# -- 3. two new moves recorded apart --------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [("camp", "hospital"), ("hospital", "camp"), ("camp", "other camp")],
    ids=["transfer-then-admission", "admission-then-transfer", "transfer-twice"],
)
def test_two_new_moves_recorded_apart_that_cannot_both_stand_are_held(
    desks: tuple[Services, Services, Services, str, str], clock: Clock, first: str, second: str
) -> None:
    """Samira, known at both desks of the exit; apart, desk A records one move of her and
    desk B half an hour later another, each from the exit (where each desk has her).
    Together: an impossible route (the second leaves from a site she had left). Before,
    both landed silently; now the one arriving second is held at the central, why said,
    neither lost, and the officer's decision (keep ours) reaches every installation."""
    central, desk_a, desk_b, exit_point, hospital = desks
    camp, other = make_site(central, "Camp B", "camp"), make_site(central, "Camp C", "camp")
    _pull(central, desk_a)
    _pull(central, desk_b)
    kinds = {
        "camp": ("transferred", camp),
        "other camp": ("transferred", other),
        "hospital": ("hospitalised", hospital),
    }
    pid = register(desk_a, exit_point, "Samira")
    exchange(central, desk_a, desk_b)
    clock.advance(hours=1)
    kind_a, to_a = kinds[first]
    a = desk_a.movements.record(
        pid, StatusEventIn(kind=kind_a, to_site_id=to_a), audit=hook(desk_a, "movement.write")
    )
    clock.advance(minutes=30)
    kind_b, to_b = kinds[second]
    b = desk_b.movements.record(
        pid, StatusEventIn(kind=kind_b, to_site_id=to_b), audit=hook(desk_b, "movement.write")
    )
    _push(desk_a, central)
    _push(desk_b, central)
    [held] = held_moves(central)
    assert held["person_id"] == pid
    assert "not where the person was" in why_held(held)
    assert a["id"] in logged(central, pid) and b["id"] not in logged(central, pid)
    assert b["id"] in logged(desk_b, pid)
    keep_ours(central, held)
    for _ in range(3):
        exchange(central, desk_a, desk_b)
    want = [("registered", exit_point), (kind_a, to_a)]
    for s in (central, desk_a, desk_b):
        assert effective_route(s, pid) == want, s
        assert held_moves(s) == [], s
        assert {a["id"], b["id"]} <= logged(s, pid), s
    counts = {s: len(logged(s, pid)) for s in (central, desk_a, desk_b)}
    assert len(set(counts.values())) == 1, counts


def test_moves_recorded_one_after_the_other_still_land(
    desks: tuple[Services, Services, Services, str, str], clock: Clock
) -> None:
    """Desk B records its move knowing desk A's: nothing apart, nothing held."""
    central, desk_a, desk_b, exit_point, hospital = desks
    pid = register(desk_a, exit_point, "Samira")
    exchange(central, desk_a, desk_b)
    clock.advance(hours=1)
    desk_a.movements.record(
        pid, StatusEventIn(kind="hospitalised", to_site_id=hospital),
        audit=hook(desk_a, "movement.write"),
    )  # fmt: skip
    exchange(central, desk_a, desk_b)
    clock.advance(hours=1)
    desk_b.movements.record(
        pid, StatusEventIn(kind="discharged", to_site_id=exit_point),
        audit=hook(desk_b, "movement.write"),
    )  # fmt: skip
    exchange(central, desk_a, desk_b)
    exchange(central, desk_a, desk_b)
    want = [("registered", exit_point), ("hospitalised", hospital), ("discharged", exit_point)]
    for s in (central, desk_a, desk_b):
        assert effective_route(s, pid) == want, s
        assert held_moves(s) == [], s

