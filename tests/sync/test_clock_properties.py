"""Clocks off and times stated in the past, for two nodes and the central: a property test
(hypothesis) of docs/sync.md, "Clocks that run wrong and times stated in the past".

Two desks of the exit point, each with its own clock (behind, right or ahead of the
central's by an offset drawn from around the tolerances the installation is set to: the
pull window ``sync_window`` and a truck's ``travel_hours``, within them and beyond), and
the central (the reference clock). Random steps: register a person; record a move
(transfer, admission, discharge) stated now or in the past (two hours, three days); a
push or a pull of one desk; real time passing. Then every desk syncs, twice. Afterwards:

- nothing lost or doubled: every person acknowledged is at the central once; every
  movement acknowledged (a write that returned) is in the central's log or in a change
  held there for review, and still in its own desk's log;
- every person's history at the central, and at each desk within the window, either
  stands (the rules of the history check, ``events.history_breaks``: nothing before the
  registration, no two places at once, a movement leaves from where the one before it
  led, ...) or is held for review there, the reason said (at a desk: or broken by its
  own movement, held at the central);
- after the officer keeps ours on everything held and every desk syncs again, every
  history stands, and every installation holds the same history of every person (a
  desk beyond the window behind: or holds the central's movements for its officer).
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, example, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import select

from corridor.errors import CorridorError
from corridor.schemas import StatusEventIn
from corridor.security.crypto import MasterKey
from corridor.services import Services
from corridor.services.movements.events import history_breaks
from corridor.storage import Database, locations
from corridor.storage.sync_tables import sync_changes
from corridor.storage.tables import movements, persons
from corridor.sync.conflicts import ConflictReview
from tests.conftest import MASTER_KEY, Clock
from tests.sync.helpers import effective_route, hook, make_site, register, sync
from tests.sync.test_bundles import _apply, _enrol
from tests.sync.test_faults import Skewed

WINDOW = 48.0  # hours: Services' sync_window (the setting sync_pull_window_hours)
TRAVEL = 12.0  # hours: Services' travel_hours
# A desk's clock, hours off the central's: right; a little; about a truck's journey;
# within the pull window; beyond it. Behind and ahead.
OFFSETS = (0.0, 1.0, TRAVEL / 2, TRAVEL, WINDOW - 6, WINDOW + 12)
MOVES = {  # kind -> the site it leads to
    "transferred": "Camp",
    "hospitalised": "Hospital",
    "discharged": "Camp",
}
PAST = (0.0, 2.0, 72.0)  # hours before the desk's own time the move is stated

offset = st.sampled_from(OFFSETS).flatmap(lambda h: st.sampled_from((h, -h)))
step = st.one_of(
    st.tuples(st.just("register"), st.integers(0, 2)),
    st.tuples(
        st.just("move"), st.integers(0, 2), st.integers(0, 9), st.sampled_from(sorted(MOVES)),
        st.sampled_from(PAST),
    ),  # fmt: skip
    st.tuples(st.just("push"), st.integers(0, 1)),
    st.tuples(st.just("pull"), st.integers(0, 1)),
    st.tuples(st.just("wait"), st.sampled_from((0.5, 3.0, TRAVEL))),
)


class World:
    """The central and two desks of the exit, each desk's clock ``offsets`` hours off."""

    def __init__(self, root: Path, template: Path, offsets: tuple[float, float]) -> None:
        self.clock = Clock(datetime(2019, 3, 10, 8, 0, tzinfo=UTC))
        clocks = [Skewed(self.clock, h) for h in offsets]
        self.installs: list[Services] = []
        for name, clk in (("desk-a", clocks[0]), ("desk-b", clocks[1]), ("central", self.clock)):
            shutil.copy(template, root / f"{name}.db")
            key = MASTER_KEY if name == "central" else MasterKey.generate().encoded()
            db = Database(f"sqlite:///{root / f'{name}.db'}")
            self.installs.append(
                Services(db, clk, MasterKey.from_text(key), sync_window_hours=WINDOW,
                         travel_hours=TRAVEL)
            )  # fmt: skip
        self.central = self.installs[-1]
        self.desks = self.installs[:-1]
        self.sites = {
            "Exit": make_site(self.central, "Exit"),
            "Camp": make_site(self.central, "Camp", "camp"),
            "Hospital": make_site(self.central, "Hospital", "hospital"),
        }
        for desk in self.desks:
            _enrol(self.central, desk, "Exit")
        self.node_ids = [sync(d).identity()["id"] for d in self.desks]
        self.offsets = offsets
        self.persons: list[str] = []  # acknowledged
        self.events: dict[str, int] = {}  # movement id -> the installation that recorded it

    def push(self, i: int) -> None:
        sync(self.central).import_bundle(sync(self.desks[i]).export(), audit=_apply(self.central))

    def pull(self, i: int) -> None:
        desk = self.desks[i]
        sync(desk).import_bundle(sync(self.central).export(self.node_ids[i]), audit=_apply(desk))

    def rounds(self, n: int = 2) -> None:
        for _ in range(n):
            for i in range(len(self.desks)):
                self.push(i)
                self.pull(i)

    def held_ids(self, s: Services) -> list[str]:
        with s.db.read() as conn:
            return list(conn.execute(select(persons.c.id).order_by(persons.c.id)).scalars())

    def do(self, op: tuple[Any, ...]) -> None:
        self.clock.advance(minutes=5)
        kind = op[0]
        if kind == "register":
            s = self.installs[op[1]]
            n = len(self.persons) + 1
            self.persons.append(register(s, self.sites["Exit"], "Samira", f"+9639330{n:05d}"))
        elif kind == "move":
            s = self.installs[op[1]]
            mine = self.held_ids(s)
            if not mine:
                return
            pid = mine[op[2] % len(mine)]
            past = op[4]
            at = s.clock() - timedelta(hours=past) if past else None
            data = StatusEventIn(kind=op[3], to_site_id=self.sites[MOVES[op[3]]], occurred_at=at)
            try:
                moved = s.movements.record(pid, data, audit=hook(s, "movement.write"))
            except CorridorError:
                return  # refused, the reason said: not acknowledged
            self.events[str(moved["id"])] = op[1]
        elif kind == "push":
            self.push(op[1])
        elif kind == "pull":
            self.pull(op[1])
        elif kind == "wait":
            self.clock.advance(hours=op[1])

    def log(self, s: Services, pid: str) -> list[locations.Event]:
        with s.db.read() as conn:
            return locations.events_of(conn, [pid])[pid]

    def held_for_review(self, s: Services | None = None) -> dict[str, list[str]]:
        """At the central (or ``s``): person -> the reasons their movements are held for."""
        out: dict[str, list[str]] = {}
        for c in ConflictReview.of(s or self.central).queue():
            if "movements" in c["fields"]:
                [v] = [v for v in c["values"] if v["field"] == "movements"]
                out.setdefault(c["person_id"], []).append(str(v["theirs"]))
        return out

    def held_payloads(self) -> set[str]:
        """The movement ids carried by changes held at the central (not landed)."""
        ids: set[str] = set()
        with self.central.db.read() as conn:
            rows = conn.execute(
                select(sync_changes).where(sync_changes.c.state == "conflict")
            ).mappings().all()  # fmt: skip
            for row in rows:
                state = sync(self.central)._open_change(row)
                ids |= {str(m["id"]) for m in state["movements"]}
        return ids

    def breaks(self, s: Services, pid: str) -> dict[Any, Any]:
        with s.db.read() as conn:
            [broken] = history_breaks(conn, pid, [self.log(s, pid)])
        return broken

    def check_nothing_lost(self) -> None:
        central = self.central
        assert self.held_ids(central) == sorted(self.persons)  # each once
        with central.db.read() as conn:
            logged = list(conn.execute(select(movements.c.id)).scalars())
        assert len(logged) == len(set(logged))
        held = self.held_payloads()
        for event, where in self.events.items():
            assert event in set(logged) | held, event
            with self.installs[where].db.read() as conn:
                assert conn.execute(
                    select(movements.c.id).where(movements.c.id == event)
                ).first(), event  # fmt: skip

    def check_stands_or_held(self) -> None:
        """At the central, and at each desk within the window (a desk further behind
        holds the central's recent movements, above): every history stands or is held
        there, or, at the desk that recorded what broke it (a node cannot tell whose
        clock is wrong, so it takes it), at the central."""
        for i, (s, off) in enumerate(zip(self.installs, [*self.offsets, 0.0], strict=True)):
            if off < -WINDOW:
                continue
            held = self.held_for_review(s)
            for pid in self.persons:
                broken = self.breaks(s, pid) if pid in self.held_ids(s) else {}
                if broken and pid not in held:
                    central = {e.id for e in self.log(self.central, pid)}
                    mine = {e.id for e in self.log(s, pid) if self.events.get(e.id) == i}
                    assert s is not self.central and mine - central, (
                        off, pid, broken, effective_route(s, pid),
                    )  # its own, held at the central  # fmt: skip
                for why in held.get(pid, []):
                    assert why.strip(), pid  # the reason said

    def heal(self) -> None:
        review = ConflictReview.of(self.central)
        for _ in range(4):
            queued = [c for c in review.queue() if "movements" in c["fields"]]
            if not queued:
                break
            for c in queued:
                review.resolve(
                    c["person_id"], c["id"], [], by="cli:test",
                    audit=hook(self.central, "person.write"),
                )  # fmt: skip
            self.rounds()

    def check_agreement(self) -> None:
        for pid in self.persons:
            assert not self.breaks(self.central, pid), (pid, effective_route(self.central, pid))
            route = effective_route(self.central, pid)
            for desk, off in zip(self.desks, self.offsets, strict=True):
                if off < -WINDOW:  # docs/sync.md: a desk days behind holds the central's
                    # recent movements received by bundle as in its future, for its officer
                    if effective_route(desk, pid) != route:
                        assert pid in self.held_for_review(desk), pid
                    continue
                assert effective_route(desk, pid) == route, pid

    def close(self) -> None:
        for s in self.installs:
            s.db.dispose()


@settings(
    max_examples=15,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples every run: CI stays stable
    phases=(Phase.explicit, Phase.generate),  # shrinking one takes minutes: shown whole
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(offsets=st.tuples(offset, offset), steps=st.lists(step, min_size=4, max_size=10))
# Found by this test (session 28): desk B (an hour behind) held a person registered by
# desk A (six hours ahead) and took a transfer of her stated three days ago, before the
# registration stamped ahead; the central landed it ("transferred, registered").
@example(
    offsets=(6.0, -1.0),
    steps=[
        ("pull", 1), ("move", 1, 6, "transferred", 72.0), ("pull", 1), ("pull", 0),
        ("register", 0), ("pull", 1), ("wait", 0.5), ("register", 0),
        ("move", 1, 4, "discharged", 72.0), ("register", 0),
    ],
)  # fmt: skip
def test_clocks_off_and_past_times_lose_nothing_and_hold_what_cannot_stand(
    sqlite_template: Path, offsets: tuple[float, float], steps: list[tuple[Any, ...]]
) -> None:
    note(f"offsets={offsets!r} steps={steps!r}")
    with tempfile.TemporaryDirectory() as root:
        world = World(Path(root), sqlite_template, offsets)
        try:
            for i in range(3):  # a person registered at each, known everywhere
                world.do(("register", i))
            world.rounds()
            for op in steps:
                world.do(op)
            world.rounds()
            world.check_nothing_lost()
            world.check_stands_or_held()
            world.heal()
            world.check_nothing_lost()
            world.check_agreement()
        finally:
            world.close()
