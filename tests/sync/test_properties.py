"""Issue 16, "Must show": a property-based test (hypothesis) of random operations at
random installations with random partitions and heals.

A central and three nodes (two desks of the exit point, one of the camp), in one
process on SQLite files (the services and bundles are the code `corridor node sync`
and `corridor node import` run). Random steps: register a person, correct a name, move
a person (transfer, hospitalisation), at a node or at the central; merge two persons at
the central; a full round
between a node and the central; a push or a pull alone; a bundle written and carried
later, in any order, maybe twice, maybe never. A node that does not sync is cut off.
It starts from a person registered at each, known everywhere; it ends with a full heal
(every node syncs, twice; the central's officer decides the movements recorded apart
that cannot both stand, keeping ours; again). Afterwards every node and the central agree
on the location of every person the node holds, every node holds every person of its
site, and nothing acknowledged (a write that returned) is missing or doubled anywhere.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from corridor.errors import CorridorError
from corridor.schemas import (
    CheckInIn,
    DispatchIn,
    ManifestIn,
    ManifestPersonsIn,
    PersonPatch,
    StatusEventIn,
)
from corridor.security.crypto import MasterKey
from corridor.services import Services
from corridor.storage import Database
from corridor.storage.sync_tables import sync_changes
from corridor.storage.tables import (
    manifest_discrepancies,
    manifest_items,
    manifests,
    movements,
    person_locations,
    persons,
)
from corridor.sync import facts
from corridor.sync.conflicts import ConflictReview
from tests.conftest import MASTER_KEY, Clock
from tests.sync.helpers import hook, make_site, register, sync
from tests.sync.test_bundles import _apply, _enrol

NODES = ("exit-a", "exit-b", "camp")  # then the central, index 3
ACTORS = len(NODES) + 1
NAMES = ("Samira", "Nour", "Reem", "Lina", "Huda")

step = st.one_of(
    st.tuples(st.just("register"), st.integers(0, ACTORS - 1)),
    st.tuples(st.just("register"), st.integers(0, ACTORS - 1)),
    st.tuples(
        st.just("correct"), st.integers(0, ACTORS - 1), st.integers(0, 20), st.sampled_from(NAMES)
    ),  # fmt: skip
    st.tuples(
        st.just("move"),
        st.integers(0, ACTORS - 1),
        st.integers(0, 20),
        st.sampled_from(("transferred", "hospitalised")),
    ),  # fmt: skip
    st.tuples(st.just("round"), st.integers(0, len(NODES) - 1)),
    st.tuples(st.just("push"), st.integers(0, len(NODES) - 1)),
    st.tuples(st.just("pull"), st.integers(0, len(NODES) - 1)),
    st.tuples(st.just("truck"), st.integers(0, len(NODES) - 1), st.booleans()),
    st.tuples(st.just("deliver"), st.integers(0, 20)),
    st.tuples(st.just("merge"), st.just(ACTORS - 1), st.integers(0, 20), st.integers(0, 20)),
    st.tuples(st.just("dispatch"), st.integers(0, ACTORS - 1), st.integers(0, 20)),
    st.tuples(st.just("checkin"), st.integers(0, ACTORS - 1), st.integers(0, 20), st.booleans()),
)


class World:
    def __init__(self, root: Path, template: Path) -> None:
        self.clock = Clock(datetime(2019, 3, 10, 8, 0, tzinfo=UTC))
        self.installs: list[Services] = []
        for name in (*NODES, "central"):
            shutil.copy(template, root / f"{name}.db")
            key = MASTER_KEY if name == "central" else MasterKey.generate().encoded()
            db = Database(f"sqlite:///{root / f'{name}.db'}")
            self.installs.append(Services(db, self.clock, MasterKey.from_text(key)))
        self.central = self.installs[-1]
        self.sites = {
            "Exit": make_site(self.central, "Exit"),
            "Camp": make_site(self.central, "Camp", "camp"),
            "Hospital": make_site(self.central, "Hospital", "hospital"),
        }
        self.site_of = [self.sites["Exit"], self.sites["Exit"], self.sites["Camp"]]
        for node, site in zip(self.installs[:-1], ("Exit", "Exit", "Camp"), strict=True):
            _enrol(self.central, node, site)
        self.node_ids = [sync(n).identity()["id"] for n in self.installs[:-1]]
        self.persons: list[tuple[str, str]] = []  # (person, site) acknowledged
        self.events: set[str] = set()  # movement ids acknowledged
        self.trucks: list[tuple[int, bool, bytes]] = []  # (node, to the central?, bundle)
        self.n = 0
        self.merged: set[str] = set()  # merged away at the central
        self.manifests: list[str] = []  # dispatched (acknowledged)

    def held(self, s: Services, site: str | None = None) -> list[str]:
        with s.db.read() as conn:
            q = select(persons.c.id).order_by(persons.c.id)
            if site is not None:
                q = q.where(persons.c.site_id == site)
            return list(conn.execute(q).scalars())

    def push(self, i: int) -> None:
        sync(self.central).import_bundle(
            sync(self.installs[i]).export(), audit=_apply(self.central)
        )

    def pull(self, i: int) -> None:
        node = self.installs[i]
        sync(node).import_bundle(sync(self.central).export(self.node_ids[i]), audit=_apply(node))

    def do(self, op: tuple[Any, ...]) -> None:
        self.clock.advance(minutes=1)
        kind, who = op[0], op[1]
        s = self.installs[who] if kind not in ("deliver",) else None
        if kind == "register":
            self.n += 1
            site = self.sites["Camp"] if who == 2 else self.sites["Exit"]
            assert s is not None
            pid = register(s, site, NAMES[self.n % len(NAMES)], f"+9639330{self.n:05d}")
            self.persons.append((pid, site))
        elif kind in ("correct", "move"):
            assert s is not None
            mine = self.held(s)
            if not mine:
                return
            pid = mine[op[2] % len(mine)]
            try:
                if kind == "correct":
                    s.registration.update_person(
                        pid, PersonPatch(given_name=op[3]), audit=hook(s, "person.write")
                    )
                else:
                    to = self.sites["Hospital" if op[3] == "hospitalised" else "Camp"]
                    moved = s.movements.record(
                        pid, StatusEventIn(kind=op[3], to_site_id=to),
                        audit=hook(s, "movement.write"),
                    )  # fmt: skip
                    self.events.add(moved["id"])
            except CorridorError:
                pass  # refused (a move from where she is not): not acknowledged
        elif kind == "merge":  # at the central: two of its persons found to be one
            assert s is not None
            mine = [p for p in self.held(s) if s.merges.resolve(p) == p]
            a, b = mine[op[2] % len(mine)] if mine else "", mine[op[3] % len(mine)] if mine else ""
            if a and b and a != b:
                try:
                    s.merges.merge(a, b, "one person", "test", audit=hook(s, "person.merge"))
                    self.merged.add(b)
                except CorridorError:
                    pass
        elif kind == "dispatch":  # a truck of up to two persons present at the actor's site
            assert s is not None
            here = self.sites["Camp"] if who == 2 else self.sites["Exit"]
            there = self.sites["Exit"] if who == 2 else self.sites["Camp"]
            present = [
                p for p, (site, state) in sorted(self.where(s).items())
                if site == here and state == "present"
            ]  # fmt: skip
            if not present:
                return
            aboard = list(dict.fromkeys(present[(op[2] + k) % len(present)] for k in (0, 1)))
            write = hook(s, "manifest.write")
            try:
                m = s.manifests.create(
                    ManifestIn(vehicle="Truck", from_site_id=here, to_site_id=there), audit=write
                )
                s.manifests.add_persons(m["id"], ManifestPersonsIn(person_ids=aboard), audit=write)
                s.manifests.dispatch(m["id"], DispatchIn(), audit=write)
                self.manifests.append(str(m["id"]))
            except CorridorError:
                pass  # on another open manifest, merged away meanwhile: not acknowledged
        elif kind == "checkin":  # the truck arrives where the actor is (maybe one extra)
            assert s is not None
            with s.db.read() as conn:
                trucks = conn.execute(
                    select(manifests.c.id, manifests.c.to_site_id)
                    .where(manifests.c.status == "dispatched")
                    .order_by(manifests.c.id)
                ).all()  # fmt: skip
            if who < len(NODES):  # a node receives the trucks to its own site
                trucks = [t for t in trucks if t[1] == self.site_of[who]]
            if not trucks:
                return
            manifest_id, to_site = trucks[op[2] % len(trucks)]
            with s.db.read() as conn:
                aboard = list(
                    conn.execute(
                        select(manifest_items.c.person_id).where(
                            manifest_items.c.manifest_id == manifest_id,
                            manifest_items.c.checked_in_at.is_(None),
                        )
                    ).scalars()
                )
            if op[3]:  # someone standing there who is not on it: a discrepancy
                extra = [
                    p for p in self.held(s, to_site) if p not in aboard and p not in self.merged
                ]
                aboard += extra[:1]
            write = hook(s, "manifest.write")
            for pid in aboard:
                with contextlib.suppress(CorridorError):
                    s.manifests.check_in(manifest_id, CheckInIn(person_id=pid), audit=write)
        elif kind == "round":
            self.push(who)
            self.pull(who)
        elif kind == "push":
            self.push(who)
        elif kind == "pull":
            self.pull(who)
        elif kind == "truck":
            to_central = op[2]
            bundle = (
                sync(self.installs[who]).export()
                if to_central
                else sync(self.central).export(self.node_ids[who])
            )
            self.trucks.append((who, to_central, bundle))
        elif kind == "deliver" and self.trucks:
            who, to_central, bundle = self.trucks[op[1] % len(self.trucks)]
            target = self.central if to_central else self.installs[who]
            sync(target).import_bundle(bundle, audit=_apply(target))

    def heal(self) -> None:
        """Every node syncs, twice; then the central's officer decides every movement
        conflict left (moves recorded apart that cannot both stand, docs/sync.md),
        keeping ours, and every node syncs twice again, until none is left."""
        for _ in range(4):
            for _ in range(2):
                for i in range(len(NODES)):
                    self.push(i)
                    self.pull(i)
            review = ConflictReview.of(self.central)
            held = [c for c in review.queue() if "movements" in c["fields"]]
            if not held:
                return
            for c in held:
                review.resolve(
                    c["person_id"], c["id"], [], by="cli:test",
                    audit=hook(self.central, "person.write"),
                )  # fmt: skip

    def where(self, s: Services) -> dict[str, tuple[str, str]]:
        with s.db.read() as conn:
            rows = conn.execute(
                select(
                    person_locations.c.person_id,
                    person_locations.c.site_id,
                    person_locations.c.state,
                )
            ).all()
        return {r[0]: (r[1], r[2]) for r in rows}

    def check(self) -> None:
        central = self.central
        acknowledged = sorted(p for p, _ in self.persons)
        assert self.held(central) == acknowledged  # every one, once (ids are keys)
        at_central = self.where(central)
        with central.db.read() as conn:
            central_events = list(conn.execute(select(movements.c.id)).scalars())
            central_changes = list(conn.execute(select(sync_changes.c.id)).scalars())
            waiting = conn.execute(
                select(func.count()).select_from(sync_changes).where(
                    sync_changes.c.state == "waiting"
                )
            ).scalar_one()  # fmt: skip
        assert waiting == 0
        assert self.events <= set(central_events)
        for i, node in enumerate(self.installs[:-1]):
            mine = self.held(node)
            site_persons = sorted(p for p, site in self.persons if site == self.site_of[i])
            assert set(site_persons) <= set(mine), NODES[i]  # everything of its site
            assert set(mine) <= set(acknowledged)
            here = self.where(node)
            with node.db.read() as conn:
                # Forgotten here (the central's forget: they left this node's site): the
                # node keeps their events as they were, and is sent nothing of them
                # after (docs/sync.md, "A person who left a node's site").
                gone = facts.forgotten(conn, mine)
                node_events = list(conn.execute(select(movements.c.id)).scalars())
                kept = set(
                    conn.execute(
                        select(movements.c.id).where(movements.c.person_id.in_(gone))
                    ).scalars()
                )
                node_changes = list(conn.execute(select(sync_changes.c.id)).scalars())
            for pid in mine:
                if pid in self.merged or node.merges.resolve(pid) != pid or pid in gone:
                    continue  # merged away: its survivor's location is compared
                assert here[pid] == at_central[pid], (NODES[i], pid)
            on_theirs = {
                e for e in self.events if e in set(central_events)
            } & set(node_events)  # fmt: skip
            assert len(node_events) == len(set(node_events))
            assert set(node_changes) <= set(central_changes)  # all it made reached it
            held = [p for p in mine if p not in gone]
            with central.db.read() as conn:
                theirs = set(
                    conn.execute(
                        select(movements.c.id).where(movements.c.person_id.in_(held))
                    ).scalars()
                )
            assert kept <= set(central_events), NODES[i]  # nothing of theirs lost
            assert theirs == set(node_events) - kept and on_theirs <= theirs | kept, NODES[i]

    def manifest_state(self, s: Services) -> dict[str, Any]:
        """The manifests held at ``s``: their status, who is on them (checked in or not)
        and their discrepancies."""
        with s.db.read() as conn:
            status = dict(conn.execute(select(manifests.c.id, manifests.c.status)).all())
            items = {
                (r[0], r[1]): r[2] is not None
                for r in conn.execute(
                    select(
                        manifest_items.c.manifest_id,
                        manifest_items.c.person_id,
                        manifest_items.c.checked_in_at,
                    )
                )
            }
            gaps = set(
                conn.execute(
                    select(
                        manifest_discrepancies.c.manifest_id,
                        manifest_discrepancies.c.person_id,
                        manifest_discrepancies.c.kind,
                    )
                ).all()
            )
        return {"status": status, "items": items, "gaps": gaps}

    def check_manifests(self) -> None:
        """Every node and the central agree on the manifests' state: every dispatched
        manifest is at the central, and at the node of the site it goes to (its persons
        travel to it); where a node holds a manifest, its status, who is on it and who is
        checked in are the central's; its discrepancies are at the central too."""
        at_central = self.manifest_state(self.central)
        assert set(self.manifests) <= set(at_central["status"])
        for i, node in enumerate(self.installs[:-1]):
            here = self.manifest_state(node)
            for m, status in here["status"].items():
                assert at_central["status"][m] == status, (NODES[i], m)
            for key, checked in here["items"].items():
                assert at_central["items"].get(key) == checked, (NODES[i], key)
            assert here["gaps"] <= at_central["gaps"], NODES[i]
            with self.central.db.read() as conn:
                coming = conn.execute(
                    select(manifests.c.id).where(
                        manifests.c.to_site_id == self.site_of[i], manifests.c.status != "draft"
                    )
                ).scalars()  # fmt: skip
                for m in coming:
                    assert m in here["status"], (NODES[i], m)

    def close(self) -> None:
        for s in self.installs:
            s.db.dispose()


@settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(steps=st.lists(step, min_size=3, max_size=14))
# Found by this test: the camp's node dispatches its person, merged at the central into
# an exit person meanwhile; the event lands on the survivor, whose changes did not carry
# the manifest (its item stays with the old id), so it waited at the exit's nodes.
@example(steps=[("merge", 3, 9, 10), ("dispatch", 2, 10)])
# Found by this test (session 17): the central moves the exit's person to the camp, the
# camp's node pulls her and sends her back to the exit by truck (the central then tells
# it to forget her), while an exit desk, not yet told she left, records her taken to
# hospital. The central relays that late event to the exit, not to the camp, which keeps
# her anonymised with the events it had: the check asked the camp for every event.
@example(
    steps=[
        ("move", 3, 19, "transferred"), ("pull", 2), ("move", 1, 20, "hospitalised"),
        ("dispatch", 2, 14), ("round", 2),
    ]
)  # fmt: skip
# Found by this test: a merge of a merge at the central (A into B, then B into C) with the
# camp's node holding A and B but not C: C was sent only where B was registered, so the
# camp's node kept B's events while the central had moved them to C (journal.relay now
# follows merges of merges).
@example(
    steps=[
        ("register", 3), ("move", 3, 10, "hospitalised"), ("deliver", 0), ("merge", 3, 11, 6),
        ("truck", 2, False), ("push", 1), ("round", 2), ("push", 0), ("pull", 0),
        ("merge", 3, 16, 17), ("merge", 3, 7, 17), ("deliver", 11), ("register", 0),
        ("pull", 0),
    ]
)  # fmt: skip
def test_random_partitions_and_heals_end_in_agreement(sqlite_template: Path, steps) -> None:
    with tempfile.TemporaryDirectory() as root:
        world = World(Path(root), sqlite_template)
        try:
            for i in range(ACTORS):  # a person at each to begin with, known everywhere
                world.do(("register", i))
            world.heal()
            for op in steps:
                world.do(op)
            world.heal()
            world.check()
            world.check_manifests()
        finally:
            world.close()
