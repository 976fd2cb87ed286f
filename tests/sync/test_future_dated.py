"""Issue 16: movements received from a node whose clock runs days ahead (docs/sync.md,
"Movements recorded apart that cannot both stand").

An installation refuses an event in its own future. A site node whose clock runs days
ahead records every event days ahead, and before, the central took them as they came:
the log orders a person's events by when they happened, so such an event stood last
for days, the person counted where it put them whatever was recorded meanwhile (her
admission to hospital at the central an hour later came "before" the node's transfer).
Now a change made further ahead of the receiving clock than a node's clock may be off
(``sync_pull_window_hours``, 48 hours by default; six hours ahead is taken as before,
test_faults.py) that brings movements stamped as far ahead is held as a conflict on
``movements``, why said ("is in the future (... after ...)"): nothing of it dropped,
nothing of it ordering the history. The officer takes theirs (landed as recorded, then
their time corrected as any movement's) or keeps ours (landed and voided back), and
every installation holds the same history. The central on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from corridor.domain.movements import effective_events
from corridor.schemas import CorrectionIn, StatusEventIn
from corridor.services import Services
from corridor.storage import locations
from corridor.sync.conflicts import ConflictReview
from tests.conftest import Clock
from tests.sync.helpers import effective_route, exchange, hook, make_site, register, sync
from tests.sync.test_bundles import _enrol, _node_services
from tests.sync.test_facts import _pull, _push
from tests.sync.test_faults import Skewed

DAYS = 3


@pytest.fixture
def ahead(
    pair: tuple[Services, Services, str, str], tmp_path: Path, sqlite_template: Path, clock: Clock
) -> Iterator[tuple[Services, Services, Services, str, str, str]]:
    """The central, the exit's desk (right clock), a second desk of the exit whose clock
    runs three days ahead; the exit's, the camp's and a hospital's ids."""
    central, desk, exit_point, camp = pair
    hospital = make_site(central, "Hospital", "hospital")
    _pull(central, desk)
    skewed = _node_services(
        tmp_path, sqlite_template, Skewed(clock, DAYS * 24), "desk-ahead"
    )
    _enrol(central, skewed, "Exit")
    yield central, desk, skewed, exit_point, camp, hospital
    skewed.db.dispose()


def _located(s: Services, pid: str) -> str | None:
    from corridor.storage.tables import person_locations

    with s.db.read() as conn:
        return conn.execute(
            person_locations.select().where(person_locations.c.person_id == pid)
        ).mappings().one()["site_id"]


def _held(s: Services) -> list[dict[str, Any]]:
    return [c for c in ConflictReview.of(s).queue() if "movements" in c["fields"]]


def _moved_ahead(ahead: Any, clock: Clock) -> tuple[str, dict[str, Any]]:
    """Samira registered at the exit's desk, known at all three; the desk whose clock
    runs ahead records her transfer to the camp (stamped three days ahead) and pushes
    it. The person and the transfer."""
    central, desk, skewed, exit_point, camp, hospital = ahead
    pid = register(desk, exit_point, "Samira")
    exchange(central, desk, skewed)
    clock.advance(minutes=30)
    moved = skewed.movements.record(
        pid, StatusEventIn(kind="transferred", to_site_id=camp),
        audit=hook(skewed, "movement.write"),
    )  # fmt: skip
    assert moved["occurred_at"] > clock() + timedelta(days=DAYS - 1)
    _push(skewed, central)
    return pid, moved


def test_a_movement_stamped_days_ahead_is_held_not_ordering_the_history(
    ahead: Any, clock: Clock
) -> None:
    central, desk, skewed, exit_point, camp, hospital = ahead
    pid, moved = _moved_ahead(ahead, clock)
    [held] = _held(central)
    assert held["person_id"] == pid
    [value] = [v for v in held["values"] if v["field"] == "movements"]
    assert "is in the future" in value["theirs"]
    assert sync(central).status()["conflicts"] == 1
    # An hour later (real time) she is admitted to hospital at the central: she is
    # there. Before, the transfer stamped days ahead stood last: she was "at the camp".
    clock.advance(hours=1)
    central.movements.record(
        pid, StatusEventIn(kind="hospitalised", to_site_id=hospital),
        audit=hook(central, "movement.write"),
    )  # fmt: skip
    assert _located(central, pid) == hospital
    assert effective_route(central, pid) == [("registered", exit_point), ("hospitalised", hospital)]
    # Nothing dropped: the desk ahead keeps its transfer, the central the change.
    assert moved["id"] in {m["id"] for m in skewed.movements.history(pid)}


def test_taking_theirs_then_correcting_the_time_reaches_every_installation(
    ahead: Any, clock: Clock
) -> None:
    central, desk, skewed, exit_point, camp, hospital = ahead
    pid, moved = _moved_ahead(ahead, clock)
    [held] = _held(central)
    review = ConflictReview.of(central)
    review.resolve(
        pid, held["id"], ["movements"], by="cli:test", audit=hook(central, "person.write")
    )
    central.movements.correct(
        moved["id"],
        CorrectionIn(kind="transferred", from_site_id=exit_point, to_site_id=camp,
                     occurred_at=moved["occurred_at"] - timedelta(days=DAYS),
                     note="the desk's clock ran three days ahead"),
        audit=hook(central, "movement.write"),
    )  # fmt: skip
    exchange(central, desk, skewed)
    exchange(central, desk, skewed)
    want = [("registered", exit_point), ("transferred", camp)]
    for s in (central, desk, skewed):
        assert effective_route(s, pid) == want, s
        assert _held(s) == [], s
    with central.db.read() as conn:
        [t] = [e for e in effective_events(locations.events_of(conn, [pid])[pid])
               if e.kind == "transferred"]  # fmt: skip
    assert t.occurred_at <= clock()


def test_keeping_ours_voids_it_back_at_every_installation(ahead: Any, clock: Clock) -> None:
    central, desk, skewed, exit_point, camp, hospital = ahead
    pid, moved = _moved_ahead(ahead, clock)
    [held] = _held(central)
    ConflictReview.of(central).resolve(
        pid, held["id"], [], by="cli:test", audit=hook(central, "person.write")
    )
    exchange(central, desk, skewed)
    exchange(central, desk, skewed)
    for s in (central, desk, skewed):
        assert effective_route(s, pid) == [("registered", exit_point)], s
        assert _held(s) == [], s
        assert moved["id"] in {m["id"] for m in s.movements.history(pid)}, s


def test_a_person_registered_at_a_desk_days_ahead_is_held_then_landed(
    ahead: Any, clock: Clock
) -> None:
    """A person the central never held, registered at the desk ahead: the person's
    record is taken, the registration stamped days ahead held with why; taking theirs
    lands it."""
    central, desk, skewed, exit_point, camp, hospital = ahead
    pid = register(skewed, exit_point, "Nour", "+963933100002")
    _push(skewed, central)
    assert central.registration.get_person(pid)["id"] == pid
    assert effective_route(central, pid) == []
    [held] = _held(central)
    assert held["person_id"] == pid
    ConflictReview.of(central).resolve(
        pid, held["id"], ["movements"], by="cli:test", audit=hook(central, "person.write")
    )
    assert effective_route(central, pid) == [("registered", exit_point)]
    exchange(central, desk, skewed)
    assert effective_route(desk, pid) == [("registered", exit_point)]
    assert _held(skewed) == [] and _held(desk) == []
