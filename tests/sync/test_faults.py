"""Issue 16, "Must show", faults through the services (the node on SQLite, the central
on SQLite and PostgreSQL): the same bundle arriving twice at once (a sync killed and run
again while the central still applies the first push), bundles imported twice and in
the wrong order, and a node whose clock is six hours wrong. Nothing lost, nothing
doubled; movements ordered by when they happened, never by when they arrived.

The faults with real processes (`kill -9`) are in test_kill.py; tampered, truncated,
another site's and another node's bundles in test_bundles.py and test_http.py."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from corridor.errors import ValidationFailed
from corridor.schemas import CorrectionIn, PersonPatch, StatusEventIn
from corridor.services import Services
from corridor.settings import Settings
from corridor.storage.sync_tables import sync_acks, sync_changes
from corridor.storage.tables import movements, person_locations, persons
from corridor.sync.client import sync_round
from corridor.sync.conflicts import ConflictReview
from corridor.web import create_app
from tests.conftest import MASTER_KEY, Clock
from tests.sync.helpers import hook, make_site, register, sync
from tests.sync.test_bundles import _apply, _counts, _enrol, _node_services


def _origin_rows(s: Services) -> list[tuple[str, int]]:
    with s.db.read() as conn:
        return sorted(conn.execute(select(sync_changes.c.origin_node, sync_changes.c.seq)).all())


def test_the_same_push_twice_at_once_applies_once_and_neither_fails(pair) -> None:
    """A node's sync killed while the central applies its push, and run again at once:
    the central gets the same bundle twice at the same time. One applies it, the other
    waits for it and finds it already applied (before: PostgreSQL refused the second
    with a unique violation, a 500 to the node)."""
    central, node, exit_point, _ = pair
    for i in range(60):
        register(node, exit_point, f"Samira{i}", f"+9639331{i:05d}")
    bundle = sync(node).export()
    barrier = threading.Barrier(2)
    reports: list[Any] = [None, None]

    def push(i: int) -> None:
        barrier.wait()
        try:
            reports[i] = sync(central).receive_push(bundle)[0]
        except Exception as exc:  # noqa: BLE001 - the test reports it
            reports[i] = exc

    threads = [threading.Thread(target=push, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not [r for r in reports if isinstance(r, Exception)], reports
    assert sorted(r.applied for r in reports) == [0, 60]
    assert _counts(central)["persons"] == 60
    assert len(_origin_rows(central)) == 60


def test_bundles_twice_and_in_the_wrong_order_apply_once_in_order(pair) -> None:
    """Three bundles of one node (a registration, then corrections and a transfer made
    on it), carried by different trucks: the last arrives first, then the first twice,
    then the second. Each waits for what it depends on, then applies; the end is the
    same as in order, every change once."""
    central, node, exit_point, camp = pair
    origin = sync(node).identity()["id"]
    pid = register(node, exit_point, "Samira")
    first = sync(node).export()
    node.registration.update_person(
        pid, PersonPatch(given_name="Sameera"), audit=hook(node, "person.write")
    )
    second = sync(node).export(after={origin: 1})
    node.movements.record(
        pid, StatusEventIn(kind="transferred", to_site_id=camp), audit=hook(node, "movement.write")
    )
    node.registration.update_person(
        pid, PersonPatch(phone="+963933777777"), audit=hook(node, "person.write")
    )
    third = sync(node).export(after={origin: 2})

    reports = [sync(central).import_bundle(b, audit=_apply(central))
               for b in (third, first, first, second)]  # fmt: skip
    assert [(r.applied, r.waiting) for r in reports] == [(0, 2), (1, 2), (0, 2), (3, 0)]
    assert reports[2].already_applied
    assert _origin_rows(central) == _origin_rows(node) == [(origin, n) for n in (1, 2, 3, 4)]
    person = central.registration.get_person(pid)
    assert (person["names"]["given_name"], person["phone"]) == ("Sameera", "+963933777777")
    with central.db.read() as conn:
        at = conn.execute(
            select(person_locations.c.site_id).where(person_locations.c.person_id == pid)
        ).scalar_one()
        waiting = conn.execute(
            select(func.count()).select_from(sync_changes).where(sync_changes.c.state == "waiting")
        ).scalar_one()
    assert at == camp and waiting == 0

    # The central's own mark for the node moves only past a range that starts where it
    # stands: the third bundle overtook the others, so it stays at 2 (it holds 3 and 4
    # as well); the node's next bundle (from what the central acknowledged) carries them
    # again, they are already held, and the mark moves past them.
    def mark() -> int:
        with central.db.read() as conn:
            return int(
                conn.execute(
                    select(sync_acks.c.seq).where(
                        sync_acks.c.origin_node == origin,
                        sync_acks.c.peer_node == sync(central).identity()["id"],
                    )
                ).scalar_one()
            )

    assert mark() == 2
    again = sync(central).import_bundle(sync(node).export(), audit=_apply(central))
    assert again.already_applied and mark() == 4
    assert _origin_rows(central) == _origin_rows(node)


class Skewed:
    """A node's clock ``hours`` off the real one (here: the test's clock)."""

    def __init__(self, clock: Clock, hours: float) -> None:
        self.clock, self.offset = clock, timedelta(hours=hours)

    def __call__(self) -> datetime:
        return self.clock() + self.offset


def _events(s: Services, pid: str) -> list[tuple[str, Any]]:
    with s.db.read() as conn:
        rows = conn.execute(
            select(movements.c.kind, movements.c.occurred_at)
            .where(movements.c.person_id == pid)
            .order_by(movements.c.occurred_at, movements.c.id)
        ).all()
    return [(k, t.replace(tzinfo=None) if t.tzinfo else t) for k, t in rows]


def _where(s: Services, pid: str) -> tuple[str, str]:
    with s.db.read() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(
                select(person_locations.c.site_id, person_locations.c.state).where(
                    person_locations.c.person_id == pid
                )
            ).one()
        )


@pytest.mark.parametrize("hours", [-6, 6], ids=["six-hours-behind", "six-hours-ahead"])
def test_a_node_clock_six_hours_wrong(pair, tmp_path, sqlite_template, clock, hours) -> None:
    """A node whose clock is six hours wrong: its bundles and its pull over HTTP are
    accepted, nothing is lost or doubled, and both sides order
    the person's movements by when they happened as recorded (``occurred_at``), never by
    when they arrived: the same events, the same order and the same location at both.
    The two moves recorded apart cannot both stand (the hospitalisation leaves from the
    exit she had left): the node's transfer is held for the officer at the central
    (before, both landed, an impossible route); keeping ours voids it back everywhere,
    nothing of it lost. Six hours ahead, her registration at the node is stamped after
    the central's time: the central's officer is told so when recording her admission
    (before, the admission was taken and shown before her registration, and she was
    counted at the exit after it), corrects the registration to the time it happened,
    then records the admission; the node's transfer is then held as six hours behind."""
    central, _, exit_point, camp = pair
    hospital = make_site(central, "Hospital", "hospital")
    node = _node_services(tmp_path, sqlite_template, Skewed(clock, hours), "node-skewed")
    _enrol(central, node, "Exit")
    node_id = sync(node).identity()["id"]
    registered_at = clock()
    pid = register(node, exit_point, "Samira")
    sync(central).import_bundle(sync(node).export(), audit=_apply(central))
    sync(node).import_bundle(sync(central).export(node_id), audit=_apply(node))

    # Apart: an hour later the central records her hospitalised; half an hour after that
    # (real time) the node records her transfer to the camp, with its own wrong time.
    clock.advance(hours=1)
    admission = StatusEventIn(kind="hospitalised", to_site_id=hospital)
    if hours > 0:  # her registration is stamped after the central's time
        with pytest.raises(ValidationFailed) as refused:
            central.movements.record(pid, admission, audit=hook(central, "movement.write"))
        [problem] = refused.value.problems
        assert "clock running ahead" in str(problem.reason)
        [reg] = central.movements.history(pid)
        assert reg["kind"] == "registered" and reg["occurred_at"] > clock()
        central.movements.correct(
            reg["id"],
            CorrectionIn(kind="registered", to_site_id=exit_point, occurred_at=registered_at,
                         note="the node's clock ran six hours ahead"),
            audit=hook(central, "movement.write"),
        )  # fmt: skip
    central.movements.record(pid, admission, audit=hook(central, "movement.write"))
    clock.advance(minutes=30)
    node.movements.record(
        pid, StatusEventIn(kind="transferred", to_site_id=camp), audit=hook(node, "movement.write")
    )
    # Over HTTP (`corridor node sync`'s round: the node's pull request carries its wrong
    # time): the node's change arrives last at the central, the central's last at the node.
    settings = Settings(database_url=str(central.db.url), master_key=MASTER_KEY)
    app = create_app(settings, database=central.db, clock=clock)
    with TestClient(app, base_url="https://central.example") as http:
        for _ in range(2):
            sync_round(sync(node), audit=_apply(node), client=http)
        review = ConflictReview.of(central)
        held = [c for c in review.queue() if "movements" in c["fields"]]
        # Held either way (see above).
        assert [c["person_id"] for c in held] == [pid]
        for c in held:
            review.resolve(pid, c["id"], [], by="cli:test", audit=hook(central, "person.write"))
        for _ in range(2):
            sync_round(sync(node), audit=_apply(node), client=http)

    at_central, at_node = _events(central, pid), _events(node, pid)
    assert at_central == at_node
    assert [k for k, _ in at_central].count("transferred") == 1
    assert [k for k, _ in at_central].count("hospitalised") == 1
    # The transfer held and voided back (kept as recorded, not counted).
    assert [k for k, _ in at_central].count("voided") == 1
    times = [t for _, t in at_central]
    assert times == sorted(times)
    # Six hours behind, the node's transfer is stamped before the hospitalisation and
    # comes first; six hours ahead, after it. Whatever arrived last.
    kinds = [k for k, _ in at_central if k != "voided"]
    assert kinds.index("transferred") < kinds.index("hospitalised") if hours < 0 else (
        kinds.index("transferred") > kinds.index("hospitalised")
    )
    assert _where(central, pid) == _where(node, pid)
    assert _where(central, pid)[0] == hospital
    assert ConflictReview.of(node).queue() == []
    with central.db.read() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(persons).where(persons.c.id == pid)
            ).scalar_one()
            == 1
        )
    assert _origin_rows(central) == sorted(set(_origin_rows(central)))
    node.db.dispose()


def test_a_person_registered_apart_at_a_node_and_the_central_is_proposed_as_a_duplicate(
    pair,
) -> None:
    """Registered at the central's desk and at the node while apart: when the node's
    change is applied at the central, the engine proposes the pair for review (before:
    a sync applied persons without searching for them, and no pair was queued)."""
    central, node, exit_point, _ = pair
    here = register(central, exit_point, "Yusuf", "+963944555666")
    there = register(node, exit_point, "Yusuf", "+963944555666")
    assert central.merges.queue() == []
    sync(central).import_bundle(sync(node).export(), audit=_apply(central))
    queued = central.merges.queue()
    assert [sorted(p["id"] for p in pair["persons"]) for pair in queued] == [sorted([here, there])]
    # At a node nothing is searched: the central proposes, once.
    sync(node).import_bundle(sync(central).export(sync(node).identity()["id"]), audit=_apply(node))
    assert node.merges.queue() == []
