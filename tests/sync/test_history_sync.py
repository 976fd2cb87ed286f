"""Issue 16: a movement correction received by sync is checked against the whole
history held where it lands (docs/sync.md, "A received movement that would make the
history impossible").

Two desks of the exit point (the ``pair`` fixture's node as desk A, a second node as
desk B) and the central (SQLite and PostgreSQL) hold a woman taken to hospital. Apart,
desk A voids the admission (recorded in error) while desk B records her discharge.
Each write is valid where it is made, but together they leave a discharge with no
hospital stay before it. Before, whichever came second was applied as it came: the
central's history read "registered, discharged". Now the second is held, its movements
not landed, as a conflict on ``movements`` in the review queue; the officer's decision
lands them (refused while they would still break the history) or keeps ours (their
movements landed, then corrected back, so nothing anybody recorded is lost), and every
installation ends with the same possible history.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from corridor.errors import Conflict
from corridor.schemas import CorrectionIn, PersonPatch, StatusEventIn
from corridor.security.roles import Role
from corridor.services import Services
from corridor.storage import locations
from corridor.storage.sync_tables import sync_changes
from corridor.sync import histories
from corridor.sync.conflicts import ConflictReview
from tests.conftest import Clock
from tests.sync.helpers import (
    admitted_at_hospital,
    effective_route,
    hook,
    make_site,
    register,
    sync,
)
from tests.sync.test_conflicts import _client, _events
from tests.sync.test_facts import _pull, _push

ERROR = CorrectionIn(kind="voided", note="recorded in error")


def _apart(
    central: Services, desk_a: Services, desk_b: Services, exit_point: str, hospital: str,
    clock: Clock, first: str,
) -> tuple[str, str, str]:  # fmt: skip
    """Samira registered at desk A and taken to hospital, known at all three; then, apart,
    desk A voids the admission and desk B records her discharge; both pushed (``first``
    before the other). The person, the void's and the discharge's ids."""
    pid, admitted = admitted_at_hospital(desk_a, exit_point, hospital, clock)
    _push(desk_a, central)
    _pull(central, desk_a)
    _pull(central, desk_b)
    clock.advance(hours=1)
    void = desk_a.movements.correct(
        admitted["id"], ERROR, audit=hook(desk_a, "movement.write")
    )
    discharge = desk_b.movements.record(
        pid, StatusEventIn(kind="discharged", to_site_id=exit_point),
        audit=hook(desk_b, "movement.write"),
    )  # fmt: skip
    desks = {"A": desk_a, "B": desk_b}
    for name in (first, *({"A", "B"} - {first})):
        _push(desks[name], central)
    return pid, void["id"], discharge["id"]


def _round(central: Services, desk_a: Services, desk_b: Services) -> None:
    for desk in (desk_a, desk_b):
        _push(desk, central)
    for desk in (desk_a, desk_b):
        _pull(central, desk)


def _movement_conflicts(s: Services) -> list[dict[str, Any]]:
    return [c for c in ConflictReview.of(s).queue() if "movements" in c["fields"]]


@pytest.mark.parametrize("first", ["A", "B"])
def test_a_correction_and_a_movement_made_apart_are_held_not_applied_at_the_central(
    desks, clock: Clock, first: str
) -> None:
    central, desk_a, desk_b, exit_point, hospital = desks
    pid, void, discharge = _apart(central, desk_a, desk_b, exit_point, hospital, clock, first)
    # Before: the central held "registered, discharged": a discharge ending no stay.
    assert effective_route(central, pid) != [("registered", exit_point), ("discharged", exit_point)]
    # What came first stands; what came second is held, nothing of it lost.
    stands = {"A": [("registered", exit_point)], "B": [
        ("registered", exit_point), ("hospitalised", hospital), ("discharged", exit_point)
    ]}  # fmt: skip
    assert effective_route(central, pid) == stands[first]
    [held] = _movement_conflicts(central)
    assert held["person_id"] == pid
    [value] = [v for v in held["values"] if v["field"] == "movements"]
    assert "discharge" in value["theirs"]  # why: the discharge would end no hospital stay
    assert sync(central).status()["conflicts"] == 1
    # Each desk holds what the other sent the same way.
    _pull(central, desk_a)
    _pull(central, desk_b)
    assert effective_route(desk_a, pid) == [("registered", exit_point)]
    assert effective_route(desk_b, pid) == stands["B"]
    assert len(_movement_conflicts(desk_a)) == len(_movement_conflicts(desk_b)) == 1


@pytest.mark.parametrize("first", ["A", "B"])
def test_keeping_ours_lands_theirs_corrected_back_at_every_installation(
    desks, clock: Clock, first: str
) -> None:
    central, desk_a, desk_b, exit_point, hospital = desks
    pid, void, discharge = _apart(central, desk_a, desk_b, exit_point, hospital, clock, first)
    kept = effective_route(central, pid)
    [held] = _movement_conflicts(central)
    ConflictReview.of(central).resolve(
        pid, held["id"], [], by="cli:test", audit=hook(central, "person.write")
    )
    assert effective_route(central, pid) == kept
    with central.db.read() as conn:
        ids = {e.id for e in locations.events_of(conn, [pid])[pid]}
    assert {void, discharge} <= ids  # both recorded, the held one corrected back
    _round(central, desk_a, desk_b)
    _round(central, desk_a, desk_b)
    for s in (central, desk_a, desk_b):
        assert effective_route(s, pid) == kept, s
        assert _movement_conflicts(s) == [], s
        assert sync(s).status()["conflicts"] == 0


def test_taking_theirs_is_refused_while_it_breaks_the_history_then_lands(
    desks, clock: Clock
) -> None:
    """Desk B's discharge came first: desk A's void is held. Taking it is refused while
    the discharge stands (409, the reason said); the officer voids the discharge, then
    takes the void: her history is the registration alone, at all three."""
    central, desk_a, desk_b, exit_point, hospital = desks
    pid, void, discharge = _apart(central, desk_a, desk_b, exit_point, hospital, clock, "B")
    [held] = _movement_conflicts(central)
    review = ConflictReview.of(central)
    with pytest.raises(Conflict):
        review.resolve(
            pid, held["id"], ["movements"], by="cli:test", audit=hook(central, "person.write")
        )
    assert len(_movement_conflicts(central)) == 1  # nothing written
    central.movements.correct(
        discharge, ERROR, audit=hook(central, "movement.write")
    )
    review.resolve(
        pid, held["id"], ["movements"], by="cli:test", audit=hook(central, "person.write")
    )
    assert effective_route(central, pid) == [("registered", exit_point)]
    _round(central, desk_a, desk_b)
    _round(central, desk_a, desk_b)
    for s in (central, desk_a, desk_b):
        assert effective_route(s, pid) == [("registered", exit_point)], s
        assert _movement_conflicts(s) == [], s


def test_a_correction_made_on_the_history_held_applies_as_before(desks, clock: Clock) -> None:
    """Nothing done apart: a void made at desk A on what the central holds applies there
    and at desk B as it did, no conflict."""
    central, desk_a, desk_b, exit_point, hospital = desks
    pid, admitted = admitted_at_hospital(desk_a, exit_point, hospital, clock)
    _round(central, desk_a, desk_b)
    clock.advance(hours=1)
    desk_a.movements.correct(
        admitted["id"], ERROR, audit=hook(desk_a, "movement.write")
    )
    _round(central, desk_a, desk_b)
    for s in (central, desk_a, desk_b):
        assert effective_route(s, pid) == [("registered", exit_point)]
        assert ConflictReview.of(s).queue() == []


def test_the_held_movements_are_shown_and_decided_through_the_api_and_the_page(
    desks, clock: Clock
) -> None:
    """A registrar of the exit reads the conflict in the queue (the field ``movements``
    with why), on the page too; taking theirs is 409 while the discharge stands; keeping
    ours is a decision audited and journaled like any other."""
    central, desk_a, desk_b, exit_point, hospital = desks
    pid, void, discharge = _apart(central, desk_a, desk_b, exit_point, hospital, clock, "B")
    officer = _client(central, clock, "reg-exit", Role.REGISTRAR, exit_point)
    listed = officer.get("/api/sync/conflicts")
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "1"
    [c] = listed.json()
    [field] = c["fields"]
    assert field["field"] == "movements" and not field["withheld"]
    assert "no hospital stay" in field["theirs"] and field["ours"]
    page = officer.get("/sync/conflicts")
    assert 'data-field="movements"' in page.text and "no hospital stay" in page.text

    refused = officer.post(
        f"/api/persons/{pid}/resolve-conflict",
        json={"conflict_id": c["id"], "theirs": ["movements"]},
        headers={"Idempotency-Key": "take-theirs"},
    )
    assert refused.status_code == 409, refused.text
    assert "no hospital stay" in refused.text
    assert effective_route(central, pid)[-1] == ("discharged", exit_point)  # nothing written
    before = _events(central, pid)
    kept = officer.post(
        f"/api/persons/{pid}/resolve-conflict",
        json={"conflict_id": c["id"], "theirs": []},
        headers={"Idempotency-Key": "keep-ours"},
    )
    assert kept.status_code == 200, kept.text
    assert kept.json()["fields"] == {"movements": "ours"}
    assert ("person.write", "allowed") in _events(central, pid)[len(before) :]
    assert officer.get("/api/sync/conflicts").json() == []
    history = central.movements.history(pid)
    assert {void, discharge} <= {m["id"] for m in history}
    assert [m["kind"] for m in history if not m["corrected"]] == [
        "registered", "hospitalised", "discharged"
    ]  # fmt: skip


def _two_corrections_apart(
    central: Services, desk_a: Services, desk_b: Services, exit_point: str, hospital: str,
    clock: Clock, first: str,
) -> tuple[str, dict[str, Any], dict[str, Any]]:  # fmt: skip
    """Samira's admission, known at all three; then, apart, desk A puts it an hour
    earlier and desk B voids it; both pushed (``first`` before the other). The person,
    desk A's correction and desk B's void."""
    pid, admitted = admitted_at_hospital(desk_a, exit_point, hospital, clock, hours=2)
    _round(central, desk_a, desk_b)
    clock.advance(hours=1)
    earlier = CorrectionIn(
        kind="hospitalised",
        from_site_id=exit_point,
        to_site_id=hospital,
        occurred_at=admitted["occurred_at"] - timedelta(hours=1),
        note="admitted earlier",
    )
    moved = desk_a.movements.correct(admitted["id"], earlier, audit=hook(desk_a, "movement.write"))
    voided = desk_b.movements.correct(admitted["id"], ERROR, audit=hook(desk_b, "movement.write"))
    desks_by = {"A": desk_a, "B": desk_b}
    for name in (first, *({"A", "B"} - {first})):
        _push(desks_by[name], central)
    return pid, moved, voided


def _log(s: Services, pid: str) -> set[tuple[str, str, str | None]]:
    """The person's movement log here: (id, kind, the movement it corrects)."""
    with s.db.read() as conn:
        return {(e.id, e.kind, e.corrects_id) for e in locations.events_of(conn, [pid])[pid]}


@pytest.mark.parametrize("first", ["A", "B"])
def test_two_corrections_of_one_movement_made_apart_converge_after_the_decision(
    desks, clock: Clock, first: str
) -> None:
    """Desk A puts the admission an hour earlier, desk B voids it, apart. One movement
    takes one correction (``movements.corrects_id`` is unique): before, the second to
    arrive failed the central's import with the database's constraint, every sync of
    that desk after it too. Now it is held (a movement corrected already); keeping ours
    leaves the first's history at the central. Then every installation holds that
    history, the same log, and no open conflict: before, the desk whose correction lost
    kept its own correction and held the decision's history as an open conflict, for
    ever. Its correction is kept in the change that brought it, named in the decision
    (``not_landed``) at the central and at that desk."""
    central, desk_a, desk_b, exit_point, hospital = desks
    pid, moved, voided = _two_corrections_apart(
        central, desk_a, desk_b, exit_point, hospital, clock, first
    )
    [held] = _movement_conflicts(central)
    [value] = [v for v in held["values"] if v["field"] == "movements"]
    assert "corrected here already" in value["theirs"]
    kept = {"A": [("registered", exit_point), ("hospitalised", hospital)],
            "B": [("registered", exit_point)]}[first]  # fmt: skip
    assert effective_route(central, pid) == kept
    ConflictReview.of(central).resolve(
        pid, held["id"], [], by="cli:test", audit=hook(central, "person.write")
    )
    _round(central, desk_a, desk_b)
    _round(central, desk_a, desk_b)
    log = _log(central, pid)
    for s in (central, desk_a, desk_b):
        assert effective_route(s, pid) == kept, s
        assert _movement_conflicts(s) == [], s
        assert sync(s).status()["conflicts"] == 0, s
        assert _log(s, pid) == log, s
    with central.db.read() as conn:
        row = conn.execute(select(sync_changes).where(sync_changes.c.id == held["id"])).one()
    assert row.resolved_at is not None
    second = voided if first == "A" else moved
    assert json.loads(row.resolution)["not_landed"] == [second["id"]]
    assert second["id"] not in {e[0] for e in log}
    # The desk whose correction lost says so in its own decided copy, and the later
    # changes of both desks land with nothing held again.
    loser = desk_b if first == "A" else desk_a
    with loser.db.read() as conn:
        named = histories.not_landed(conn, pid)
    assert second["id"] in named
    for desk in (desk_a, desk_b):
        clock.advance(minutes=10)
        desk.registration.update_person(
            pid, PersonPatch(phone="+963933100777"), audit=hook(desk, "person.write")
        )
        _round(central, desk_a, desk_b)
    _round(central, desk_a, desk_b)
    for s in (central, desk_a, desk_b):
        assert effective_route(s, pid) == kept, s
        assert _movement_conflicts(s) == [], s
        assert _log(s, pid) == log, s


def test_a_history_holding_a_detention_is_shown_only_to_roles_that_see_detention(
    desks, clock: Clock
) -> None:
    """She was detained and released before her hospital stay: the conflict on her
    movements is withheld from a registrar (and not theirs to decide, 403), shown to a
    protection officer (PROTECTION.md line 4)."""
    central, desk_a, desk_b, exit_point, hospital = desks
    jail = make_site(central, "Holding centre", "detention")
    _pull(central, desk_a)
    _pull(central, desk_b)
    pid = register(desk_a, exit_point, "Samira")
    for kind, to in (("detained", jail), ("released", exit_point)):
        clock.advance(minutes=20)
        desk_a.movements.record(
            pid, StatusEventIn(kind=kind, to_site_id=to), audit=hook(desk_a, "movement.write")
        )
    clock.advance(minutes=20)
    admitted = desk_a.movements.record(
        pid, StatusEventIn(kind="hospitalised", to_site_id=hospital),
        audit=hook(desk_a, "movement.write"),
    )  # fmt: skip
    _round(central, desk_a, desk_b)
    clock.advance(hours=1)
    desk_a.movements.correct(admitted["id"], ERROR, audit=hook(desk_a, "movement.write"))
    desk_b.movements.record(
        pid, StatusEventIn(kind="discharged", to_site_id=exit_point),
        audit=hook(desk_b, "movement.write"),
    )  # fmt: skip
    _push(desk_b, central)
    _push(desk_a, central)
    registrar = _client(central, clock, "reg-exit", Role.REGISTRAR, exit_point)
    [c] = registrar.get("/api/sync/conflicts").json()
    [field] = c["fields"]
    assert field == {"field": "movements", "ours": None, "theirs": None, "withheld": True}
    refused = registrar.post(
        f"/api/persons/{pid}/resolve-conflict",
        json={"conflict_id": c["id"], "theirs": []},
        headers={"Idempotency-Key": "registrar-decides"},
    )
    assert refused.status_code == 403, refused.text
    assert len(_movement_conflicts(central)) == 1
    officer = _client(central, clock, "prot-exit", Role.PROTECTION_OFFICER, exit_point)
    [shown] = officer.get("/api/sync/conflicts").json()
    assert not shown["fields"][0]["withheld"] and "no hospital stay" in shown["fields"][0]["theirs"]


def test_the_losing_desks_correction_of_its_own_left_out_correction_converges_too(
    desks, clock: Clock
) -> None:
    """Desk B's void lost (desk A's correction came first and was kept). Before the
    decision reaches it, desk B corrects its own void (she was admitted after all, half
    an hour later): that correction is held at the central too (it corrects a movement
    the central never stored), and the officer keeps ours again (it lands there, voided
    back). Then the three hold the same log, nothing open: before, desk B kept its
    correction standing, counting a second admission, and held the decisions as open
    conflicts."""
    central, desk_a, desk_b, exit_point, hospital = desks
    pid, moved, voided = _two_corrections_apart(
        central, desk_a, desk_b, exit_point, hospital, clock, "A"
    )
    review = ConflictReview.of(central)
    [held] = _movement_conflicts(central)
    review.resolve(pid, held["id"], [], by="cli:test", audit=hook(central, "person.write"))
    clock.advance(minutes=5)
    again = desk_b.movements.correct(
        voided["id"],
        CorrectionIn(kind="hospitalised", from_site_id=exit_point, to_site_id=hospital,
                     occurred_at=moved["occurred_at"] + timedelta(minutes=30),
                     note="admitted after all"),
        audit=hook(desk_b, "movement.write"),
    )  # fmt: skip
    _round(central, desk_a, desk_b)
    [held] = _movement_conflicts(central)
    review.resolve(pid, held["id"], [], by="cli:test", audit=hook(central, "person.write"))
    _round(central, desk_a, desk_b)
    _round(central, desk_a, desk_b)
    log = _log(central, pid)
    # Their correction of a correction never stored: landed, corrected back (voided).
    assert (again["id"], "hospitalised", voided["id"]) in log
    for s in (central, desk_a, desk_b):
        want = [("registered", exit_point), ("hospitalised", hospital)]
        assert effective_route(s, pid) == want, s
        assert _log(s, pid) == log, s
        assert _movement_conflicts(s) == [], s


def test_a_later_change_of_the_losing_desk_is_settled_once_its_correction_is_left_out(
    desks, clock: Clock
) -> None:
    """Desk B voids the admission (losing to desk A's correction), then corrects her
    phone; both changes reach the central before any decision, the second held too
    (it carries the void). Keeping ours on the first leaves the void out, and the
    second, whose movements are then all held but that void, is settled by the same
    decision (its phone taken as any merge). Before, the second stayed open for ever:
    taking it was refused (its void "corrected here already") and its movements never
    counted as held. Then one history at all three, nothing open."""
    central, desk_a, desk_b, exit_point, hospital = desks
    pid, moved, voided = _two_corrections_apart(
        central, desk_a, desk_b, exit_point, hospital, clock, "A"
    )
    clock.advance(minutes=10)
    desk_b.registration.update_person(
        pid, PersonPatch(phone="+963933100777"), audit=hook(desk_b, "person.write")
    )
    _push(desk_b, central)
    review = ConflictReview.of(central)
    first, second = sorted(_movement_conflicts(central), key=lambda c: c["id"])
    review.resolve(pid, first["id"], [], by="cli:test", audit=hook(central, "person.write"))
    assert _movement_conflicts(central) == []
    assert central.registration.get_person(pid)["phone"] == "+963933100777"
    want = [("registered", exit_point), ("hospitalised", hospital)]
    _round(central, desk_a, desk_b)
    _round(central, desk_a, desk_b)
    log = _log(central, pid)
    for s in (central, desk_a, desk_b):
        assert effective_route(s, pid) == want, s
        assert _log(s, pid) == log, s
        assert _movement_conflicts(s) == [], s
        assert s.registration.get_person(pid)["phone"] == "+963933100777", s
