"""Issue 16: the history check's "from" rule on movements received by sync (docs/sync.md,
"Movements recorded apart that cannot both stand").

A movement leaves from the site the one before it led to: the API sets where an event
leaves from to where the person is, and a correction that makes an event leave from
elsewhere is refused (``events._history_problems``, the rule ``from``). Two desks of the
exit and the central (SQLite and PostgreSQL; the ``desks`` fixture) hold Samira admitted
to the hospital. Apart, desk A corrects the admission to the second hospital (the wrong
hospital was recorded) while desk B, which still holds the first, records her discharge
from it. Each write is valid where it is made; together her discharge leaves from a
hospital she was never in. Before, whichever came second was stored as it came: the
rule was applied to the corrected event of a correction made here only. Now the second
is held as a conflict on ``movements`` like any other break of the history, nothing of
it dropped, and the officer's decision brings every installation to the same history.
"""

from __future__ import annotations

from typing import Any

import pytest

from corridor.domain.movements import effective_events
from corridor.errors import Conflict
from corridor.schemas import CorrectionIn, StatusEventIn
from corridor.services import Services
from corridor.storage import locations
from corridor.sync.conflicts import ConflictReview
from tests.conftest import Clock
from tests.sync.helpers import admitted_at_hospital, hook, make_site, sync
from tests.sync.test_facts import _pull, _push


def _round(central: Services, *desks: Services) -> None:
    for desk in desks:
        _push(desk, central)
    for desk in desks:
        _pull(central, desk)


def _effective(s: Services, pid: str) -> list[tuple[str, str | None, str | None]]:
    """The person's history as it counts here: (kind, from, to) in time order."""
    with s.db.read() as conn:
        logged = locations.events_of(conn, [pid])[pid]
    return [(e.kind, e.from_site_id, e.to_site_id) for e in effective_events(logged)]


def _held(s: Services) -> list[dict[str, Any]]:
    return [c for c in ConflictReview.of(s).queue() if "movements" in c["fields"]]


def _apart(desks: Any, clock: Clock, first: str) -> tuple[str, str, dict[str, Any]]:
    """Samira admitted to the first hospital, known at all three; apart, desk A corrects
    the admission to the second hospital, desk B records her discharge from the first;
    both pushed, ``first`` before the other. The person, the second hospital, the
    discharge."""
    central, desk_a, desk_b, exit_point, hospital = desks
    other = make_site(central, "Hospital 2", "hospital")
    pid, admitted = admitted_at_hospital(desk_a, exit_point, hospital, clock)
    _round(central, desk_a, desk_b)
    clock.advance(hours=1)
    desk_a.movements.correct(
        admitted["id"],
        CorrectionIn(kind="hospitalised", from_site_id=exit_point, to_site_id=other,
                     note="the wrong hospital was recorded"),
        audit=hook(desk_a, "movement.write"),
    )  # fmt: skip
    discharge = desk_b.movements.record(
        pid, StatusEventIn(kind="discharged", to_site_id=exit_point),
        audit=hook(desk_b, "movement.write"),
    )  # fmt: skip
    assert discharge["from_site_id"] == hospital
    by = {"A": desk_a, "B": desk_b}
    for name in (first, *({"A", "B"} - {first})):
        _push(by[name], central)
    return pid, other, discharge


@pytest.mark.parametrize("first", ["A", "B"])
def test_a_movement_leaving_from_where_the_person_was_not_is_held(
    desks: Any, clock: Clock, first: str
) -> None:
    central, desk_a, desk_b, exit_point, hospital = desks
    pid, other, discharge = _apart(desks, clock, first)
    # Before: "admitted to the second hospital, discharged from the first", stored.
    assert _effective(central, pid) != [
        ("registered", None, exit_point),
        ("hospitalised", exit_point, other),
        ("discharged", hospital, exit_point),
    ]
    [held] = _held(central)
    [value] = [v for v in held["values"] if v["field"] == "movements"]
    assert "is not where the person was" in value["theirs"]
    assert sync(central).status()["conflicts"] == 1
    stands = {"A": [("registered", None, exit_point), ("hospitalised", exit_point, other)],
              "B": [("registered", None, exit_point), ("hospitalised", exit_point, hospital),
                    ("discharged", hospital, exit_point)]}[first]  # fmt: skip
    assert _effective(central, pid) == stands
    # Nothing dropped: both desks keep what they recorded, the other's held there.
    _pull(central, desk_a)
    _pull(central, desk_b)
    assert len(_held(desk_a)) + len(_held(desk_b)) >= 1


@pytest.mark.parametrize("first", ["A", "B"])
def test_keeping_ours_brings_every_installation_to_one_history(
    desks: Any, clock: Clock, first: str
) -> None:
    central, desk_a, desk_b, exit_point, hospital = desks
    pid, other, discharge = _apart(desks, clock, first)
    kept = _effective(central, pid)
    [held] = _held(central)
    ConflictReview.of(central).resolve(
        pid, held["id"], [], by="cli:test", audit=hook(central, "person.write")
    )
    assert _effective(central, pid) == kept
    _round(central, desk_a, desk_b)
    _round(central, desk_a, desk_b)
    for s in (central, desk_a, desk_b):
        assert _effective(s, pid) == kept, s
        assert _held(s) == [], s


def test_taking_theirs_is_refused_until_the_discharge_leaves_from_the_right_hospital(
    desks: Any, clock: Clock
) -> None:
    """Desk B's discharge came first; desk A's correction is held. Taking it is refused
    while the discharge leaves from the first hospital; the officer voids the discharge,
    takes the correction, and records her discharge from the second hospital."""
    central, desk_a, desk_b, exit_point, hospital = desks
    pid, other, discharge = _apart(desks, clock, "B")
    [held] = _held(central)
    review = ConflictReview.of(central)
    with pytest.raises(Conflict):
        review.resolve(
            pid, held["id"], ["movements"], by="cli:test", audit=hook(central, "person.write")
        )
    central.movements.correct(
        discharge["id"], CorrectionIn(kind="voided", note="discharged from the second"),
        audit=hook(central, "movement.write"),
    )  # fmt: skip
    review.resolve(
        pid, held["id"], ["movements"], by="cli:test", audit=hook(central, "person.write")
    )
    clock.advance(minutes=5)
    central.movements.record(
        pid, StatusEventIn(kind="discharged", to_site_id=exit_point),
        audit=hook(central, "movement.write"),
    )  # fmt: skip
    want = [
        ("registered", None, exit_point),
        ("hospitalised", exit_point, other),
        ("discharged", other, exit_point),
    ]
    assert _effective(central, pid) == want
    _round(central, desk_a, desk_b)
    _round(central, desk_a, desk_b)
    for s in (central, desk_a, desk_b):
        assert _effective(s, pid) == want, s
        assert _held(s) == [], s

