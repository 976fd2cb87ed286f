"""Two writes on the same record at the same instant, for every pair of API writes of the
route table that act on the same rows: the outcome is one of the two serial orders.

Generated from the route table (tests/support/route_table.py) on the world of every kind
of record (tests/support/route_world.py), once per backend. On PostgreSQL the two writes
are real concurrent transactions; on SQLite (one writer at a time) they interleave
between a handler's reads and its write transaction.

1. Each API write of the table that names a record is sent alone, by an officer of site
   A holding every role, on the records of ``RACED`` (``BODIES`` get it done where the
   table's body asks for a refusal), each on a fresh copy of the world (SQLite: a file
   copy; PostgreSQL: the rows of every table put back from a schema they were saved
   in). What it wrote is its
   *footprint*: the records (persons, households, manifests, tracing cases) of every
   row it inserted, updated or deleted outside the bookkeeping's tables (``BOOKKEEPING``),
   found by comparing every table before and after.
2. The pairs raced (the rule): two distinct writes on the same record whose footprints
   share a record. A write refused alone writes nothing and is raced with nothing; two
   writes on disjoint records cannot interleave on a row.
3. Each pair is sent at the same instant from two apps on two connection pools (two
   server processes) on a fresh copy of the world, and one after the other in both
   orders on copies of the same world. Then:

   (a) no answer is a 5xx;
   (b) the records of the pair's footprints, as the gate shows them (``GET`` of each
       person and their movements, household, manifest, tracing case; ids the writes
       generated and timestamps normalised), equal those of one serial order in which
       each write was done or refused as it was in the race; or one write was refused
       (a 4xx, such as 409 "changed by someone else, try again") and they equal the
       other's alone;
   (c) so nothing is lost or doubled: no second movement, no lost correction, no
       erased person's details written back (they would differ from every serial
       order).

docs/architecture.md ("Transactions and locking") says what this guarantees.
"""

from __future__ import annotations

import itertools
import re
import shutil
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.metadata import metadata
from corridor.web import create_app
from tests.conftest import ALL_ROLES, MASTER_KEY, Clock, world_database
from tests.support.pgserver import PgServer
from tests.support.route_table import NO_KEY, RouteCase, fill, route_cases
from tests.support.route_world import build_world, token_client

APP = create_app(Settings(database_url="sqlite://", master_key=MASTER_KEY))
WORLD_TIME = datetime(2019, 3, 10, 8, 0, tzinfo=UTC)
# The records raced on: the head of a household (on a draft manifest with her child,
# with a family link, an enquiry and a case) and her mother (on a manifest dispatched
# to A, to be checked in and received). SQLite, whose one writer leaves a race only the
# reads a handler makes before its transaction, races her mother's (for time).
RACED = {"sqlite": ("hospitalised",), "postgresql": ("adult", "hospitalised")}
# Writes that name no person, household, manifest or case: sites, users, tokens,
# exports (tests/api/test_route_table_protection.py covers their scope).
NOT_RECORDS = ("sites.admin", "users.admin", "export.bulk", "export.approve")
# Tables that record that a request was made, not what it did to a record (and the
# change journal of the other nodes and the matching index, derived from the rest).
BOOKKEEPING = frozenset(
    {
        "audit_events",
        "rate_events",
        "alerts",
        "api_tokens",
        "sessions",
        "idempotency_keys",
        "sync_changes",
        "sync_heads",
    }
)
# Bodies that get the write done where the route table's asks for a refusal (a person
# merged with themselves, a hospital admission to the site they are at): ``{twin_id}``
# is a second registration of the record's person, at A.
BODIES: dict[str, Any] = {
    "POST /api/persons/{person_id}/merge": {"other_person_id": "{twin_id}"},
    "POST /api/persons/{person_id}/not-duplicate": {"other_person_id": "{twin_id}"},
    "POST /api/relationships": {
        "person_id": "{twin_id}",
        "other_person_id": "{person_id}",
        "kind": "cousin",
    },
    "POST /api/persons/{person_id}/events": {"kind": "hospitalised", "to_site_id": "{H}"},
    "PATCH /api/persons/{person_id}": {"note": "written again", "phone": "+963 944 000 111"},
    "POST /api/persons/{person_id}/erasure": {"ground": "consent_withdrawn", "confirm": True},
}
# Columns that name a record, by the kind of record: a row's records.
RECORD_COLUMNS = {
    "person_id": "person",
    "other_person_id": "person",
    "household_id": "household",
    "manifest_id": "manifest",
    "case_id": "case",
}
RECORD_TABLES = {
    "persons": "person",
    "households": "household",
    "manifests": "manifest",
    "tracing_cases": "case",
}
# How the gate shows a record: the API reads of it.
READS = {
    "person": ("/api/persons/{id}", "/api/persons/{id}/movements"),
    "household": ("/api/households/{id}",),
    "manifest": ("/api/manifests/{id}",),
    "case": ("/api/tracing/cases/{id}",),
}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NUMBER = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]\b")  # a registration number
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")


def _writes() -> list[RouteCase]:
    """The API writes of the table that name a record."""
    return [
        c
        for c in route_cases(APP)
        if c.kind == "api"
        and not c.reads
        and not c.missing
        and c.key not in NO_KEY
        and c.per_record
        and c.action not in NOT_RECORDS
        and "{fmt}" not in c.path
    ]


WRITES = _writes()

Records = frozenset[tuple[str, str]]  # (kind, id)


@dataclass
class Answer:
    status: int
    text: str


@dataclass
class Alone:
    case: RouteCase
    record: str
    answer: Answer
    footprint: Records
    state: str  # the saved world after it


@dataclass
class Raced:
    a: Alone
    b: Alone
    together: tuple[Answer, Answer]
    outcome: dict[str, Any]
    orders: dict[str, tuple[bool, bool, dict[str, Any]]]  # name -> (a done, b done, outcome)
    statuses: dict[str, tuple[int, int]] = field(default_factory=dict)


class Lab:
    """Two apps (two pools) on one working database, whose contents are swapped for a
    saved world between runs: creating apps is most of a run's cost."""

    def __init__(self, backend: str, request: pytest.FixtureRequest) -> None:
        self.backend = backend
        self.clock = Clock(WORLD_TIME)
        self.n = itertools.count(1)
        self.loads = 0
        if backend == "sqlite":
            self.dir = Path(request.getfixturevalue("tmp_path_factory").mktemp("races"))
            work = self.dir / "work.db"
            shutil.copy(request.getfixturevalue("sqlite_template"), work)
            self.url = f"sqlite:///{work}"
            self.server: PgServer | None = None
        else:
            self.server = request.getfixturevalue("postgres_server")
            assert self.server is not None
            # A migrated database of its own, whose contents are swapped between runs.
            first = world_database(request, backend, "races", own=True)
            first.dispose()
            self.work = str(first.url.database)
            self.url = self.server.url_for(self.work)
        self.dbs = [Database(self.url), Database(self.url)]
        self.tables: list[str] = []  # PostgreSQL's tables, saved and restored by rows
        if self.server is not None:
            with self.dbs[0].read() as conn:
                self.tables = list(
                    conn.exec_driver_sql(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                        " AND tablename <> 'alembic_version' ORDER BY tablename"
                    ).scalars()
                )
        self.world = build_world(self.dbs[0], self.clock)
        self.officer, _ = token_client(
            self.dbs[0],
            self.clock,
            "race-officer",
            ALL_ROLES,
            [self.world.sites[k] for k in ("A", "H", "D")],
        )
        self.twins = self._twins()
        self.apps = [self._client(db) for db in self.dbs]
        self.world_ids = self._ids()
        self.state0 = self.save()

    def _client(self, db: Database) -> TestClient:
        settings = Settings(database_url=self.url, master_key=MASTER_KEY, tracing_checks="inline")
        app = create_app(settings, database=db, clock=self.clock)
        client = TestClient(app, base_url="https://testserver", follow_redirects=False)
        client.headers["Authorization"] = self.officer.headers["Authorization"]
        return client

    def _twins(self) -> dict[str, str]:
        """A second registration of each raced record's person, at A (a merge's other)."""
        twins = {}
        for kind in RACED[self.backend]:
            rec = self.world.record(kind)
            body = {
                "site_id": self.world.sites["A"],
                "consent": {"tracing": True, "share_with": []},
                "purpose": "registration",
                "legal_basis": "vital_interest",
                "given_name": rec.names[0],
                "family_name": rec.names[1],
            }
            r = self.officer.post("/api/persons", json=body)
            assert r.status_code == 201, r.text
            twins[kind] = str(r.json()["id"])
        return twins

    def _ids(self) -> set[str]:
        """Every id of the world (ids not among them were generated by the writes)."""
        found: set[str] = set()
        with self.dbs[0].read() as conn:
            for table in metadata.sorted_tables:
                for row in conn.execute(select(table)):
                    line = " ".join(str(v) for v in row)
                    found.update(UUID.findall(line), NUMBER.findall(line))
        return found

    # -- the saved worlds --------------------------------------------------------------

    def _release(self) -> None:
        for db in self.dbs:
            checkpointer = getattr(db, "_checkpointer", None)
            if checkpointer is not None:
                checkpointer.stop()
                db._checkpointer = None
            db.engine.dispose()

    def save(self) -> str:
        """The working database saved as a new world; its name."""
        name = f"race_state_{next(self.n)}"
        if self.server is None:
            self._release()
            shutil.copy(self.url.removeprefix("sqlite:///"), self.dir / name)
        else:
            copies = "".join(
                f'CREATE TABLE "{name}"."{t}" AS TABLE public."{t}";' for t in self.tables
            )
            with self.dbs[0].transaction() as conn:
                conn.exec_driver_sql(
                    f'CREATE SCHEMA "{name}";{copies}'
                    f'CREATE TABLE "{name}".sequences AS SELECT schemaname, sequencename,'
                    " start_value, last_value FROM pg_sequences WHERE schemaname = 'public'"
                )
        return name

    def load(self, name: str) -> None:
        """The working database made a copy of the saved world ``name``."""
        self.loads += 1
        if self.server is None:
            self._release()
            work = Path(self.url.removeprefix("sqlite:///"))
            for suffix in ("-wal", "-shm"):
                Path(f"{work}{suffix}").unlink(missing_ok=True)
            shutil.copy(self.dir / name, work)
            return
        # Every row deleted and the saved rows put back, with triggers off (the audit log
        # refuses a DELETE; the rows were consistent when saved), and every sequence set
        # where it stood: one statement batch, a few milliseconds where copying a
        # database (CREATE DATABASE ... TEMPLATE) took a checkpoint and a second.
        restore = "".join(
            f'DELETE FROM public."{t}";INSERT INTO public."{t}" SELECT * FROM "{name}"."{t}";'
            for t in self.tables
        )
        with self.dbs[0].transaction() as conn:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica;" + restore)
            conn.exec_driver_sql(
                "SELECT setval((quote_ident(schemaname) || '.' || quote_ident(sequencename))"
                "::regclass, coalesce(last_value, start_value), last_value IS NOT NULL)"
                f' FROM "{name}".sequences'
            )

    def close(self) -> None:
        for client in (self.officer, *self.apps):
            client.close()
        for db in self.dbs:
            db.dispose()

    # -- one write ---------------------------------------------------------------------

    def request(self, case: RouteCase, record: str) -> tuple[str, Any]:
        rec = self.world.record(record)
        ids = {
            **rec.ids_for(case.key),
            "twin_id": self.twins[record],
            "H": self.world.sites["H"],
        }
        return fill(case.path, ids), fill(BODIES.get(case.key, case.body), ids)

    def send(self, app: int, case: RouteCase, record: str) -> Answer:
        url, body = self.request(case, record)
        try:
            r = self.apps[app].request(case.method, url, json=body)
            return Answer(r.status_code, r.text)
        except Exception:  # the app raised: a 500 for the caller
            return Answer(500, traceback.format_exc())

    def dump(self) -> dict[str, set[tuple[Any, ...]]]:
        """Every row of every table but the bookkeeping's."""
        out = {}
        with self.dbs[0].read() as conn:
            for table in metadata.sorted_tables:
                if table.name not in BOOKKEEPING:
                    out[table.name] = {tuple(map(str, r)) for r in conn.execute(select(table))}
        return out

    def footprint(self, before: dict[str, set[Any]], after: dict[str, set[Any]]) -> Records:
        """The records of the rows written between the two dumps."""
        found: set[tuple[str, str]] = set()
        for name, rows in after.items():
            changed = rows ^ before[name]
            if not changed:
                continue
            columns = [c.name for c in metadata.tables[name].columns]
            for row in changed:
                for col, value in zip(columns, row, strict=True):
                    kind = RECORD_COLUMNS.get(col)
                    if col == "id":
                        kind = RECORD_TABLES.get(name)
                    if kind and value in self.world_ids:
                        found.add((kind, value))
        return frozenset(found)

    def alone(self, case: RouteCase, record: str) -> Alone:
        self.load(self.state0)
        before = self.dump()
        answer = self.send(0, case, record)
        footprint = self.footprint(before, self.dump()) if answer.status < 400 else frozenset()
        return Alone(case, record, answer, footprint, self.save())

    def outcome(self, records: Records) -> dict[str, Any]:
        """The records as the gate shows them, generated ids and times normalised."""
        out: dict[str, Any] = {}
        fresh: dict[str, str] = {}

        def norm(value: str) -> str:
            value = TIMESTAMP.sub("<time>", value)
            value = NUMBER.sub(
                lambda m: m[0] if m[0] in self.world_ids else "<new number>", value
            )
            return UUID.sub(
                lambda m: m[0]
                if m[0] in self.world_ids
                else fresh.setdefault(m[0], f"<new {len(fresh)}>"),
                value,
            )

        for kind, rid in sorted(records):
            for path in READS[kind]:
                url = path.format(id=rid)
                r = self.apps[0].get(url)
                out[url] = (r.status_code, norm(r.text))
        return out

    def race(self, a: Alone, b: Alone) -> Raced:
        records = a.footprint | b.footprint
        self.load(self.state0)
        barrier = threading.Barrier(2)
        answers: list[Answer | None] = [None, None]

        def run(i: int, alone: Alone) -> None:
            barrier.wait(timeout=30)
            answers[i] = self.send(i, alone.case, alone.record)

        threads = [threading.Thread(target=run, args=(i, x)) for i, x in enumerate((a, b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        ra, rb = (x or Answer(500, "no answer") for x in answers)
        together = self.outcome(records)
        raced = Raced(a, b, (ra, rb), together, {})
        done = (ra.status < 400, rb.status < 400)
        # The serial orders, each on a copy of the world, until one matches (all of them
        # where none does, for the report). An order that cannot match (a write done in
        # the race but refused in it, or the other way round) is skipped, as are both
        # writes alone where both were done in the race.
        for name, first, then in (("a then b", a, b), ("b then a", b, a)):
            self.load(first.state)
            second = self.send(0, then.case, then.record)
            ok = (first.answer.status < 400, second.status < 400)
            raced.statuses[name] = (first.answer.status, second.status)
            if first is b:
                ok = (ok[1], ok[0])
            raced.orders[name] = (*ok, self.outcome(records))
            if ok == done and raced.orders[name][2] == together:
                return raced
        if all(done):
            return raced
        for name, alone in (("a alone", a), ("b alone", b)):
            alone_done = alone.answer.status < 400
            ok = (alone is a and alone_done, alone is b and alone_done)
            if ok == done:
                self.load(alone.state)
                raced.orders[name] = (*ok, self.outcome(records))
        return raced


def pairs(alone: list[Alone]) -> Iterator[tuple[Alone, Alone]]:
    """Two distinct writes on the same record whose footprints share a record, each pair
    of routes once (on the first record of ``RACED`` where they do)."""
    seen: set[tuple[str, str]] = set()
    for a, b in itertools.combinations(alone, 2):
        routes = (a.case.key, b.case.key)
        if a.record == b.record and a.footprint & b.footprint and routes not in seen:
            seen.add(routes)
            yield a, b


@dataclass
class Audit:
    backend: str
    alone: list[Alone]
    raced: list[Raced]
    seconds: float


AUDITS: dict[str, Audit] = {}


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)], scope="module"
)
def audit(request: pytest.FixtureRequest) -> Iterator[Audit]:
    backend = request.param
    if backend not in AUDITS:
        start = time.monotonic()
        lab = Lab(backend, request)
        try:
            alone = [lab.alone(c, r) for r in RACED[backend] for c in WRITES]
            mid = time.monotonic()
            raced = [lab.race(a, b) for a, b in pairs(alone)]
            print(f"alone in {mid - start:.0f} s, {lab.loads} loads")
        finally:
            lab.close()
        AUDITS[backend] = Audit(backend, alone, raced, time.monotonic() - start)
        took = time.monotonic() - start
        print(f"{backend}: {len(alone)} alone, {len(raced)} pairs in {took:.0f} s")
    yield AUDITS[backend]


def _said(r: Raced) -> str:
    a, b = r.together
    return (
        f"{r.a.case.key} ({a.status}) | {r.b.case.key} ({b.status}) on {r.a.record}:"
        f" {a.text[-300:] if a.status >= 500 else a.text[:150]!r}"
        f" / {b.text[-300:] if b.status >= 500 else b.text[:150]!r}"
    )


def test_pairs_are_raced(audit: Audit) -> None:
    """The audit races writes of every kind of record: most writes are done alone, and
    the pairs cover persons, households, manifests and cases."""
    done = {x.case.key for x in audit.alone if x.answer.status < 400}
    assert len(done) >= 0.6 * len(WRITES), sorted({x.case.key for x in audit.alone} - done)
    kinds = {k for r in audit.raced for k, _ in r.a.footprint | r.b.footprint}
    assert kinds >= {"person", "household", "manifest", "case"}, kinds
    assert len(audit.raced) >= 20, len(audit.raced)
    print(f"{audit.backend}: {len(audit.raced)} pairs in {audit.seconds:.0f} s")


def test_no_5xx(audit: Audit) -> None:
    bad = [f"alone: {x.case.key} {x.answer.status} {x.answer.text[-300:]!r}"
           for x in audit.alone if x.answer.status >= 500]  # fmt: skip
    bad += [_said(r) for r in audit.raced if max(a.status for a in r.together) >= 500]
    bad += [
        f"{r.a.case.key} | {r.b.case.key} {name}: {s}"
        for r in audit.raced
        for name, s in r.statuses.items()
        if max(s) >= 500
    ]
    assert not bad, "\n".join(bad)


def _serialisable(r: Raced) -> bool:
    done = tuple(a.status < 400 for a in r.together)
    return any(
        (da, db) == done and outcome == r.outcome for da, db, outcome in r.orders.values()
    )


def _first_difference(r: Raced) -> str:
    lines = []
    for name, (_, _, outcome) in r.orders.items():
        for url, shown in r.outcome.items():
            other = str(outcome.get(url))
            if other != str(shown):
                at = next(
                    (i for i, (x, y) in enumerate(zip(str(shown), other, strict=False)) if x != y),
                    min(len(str(shown)), len(other)),
                )
                near = slice(max(0, at - 150), at + 150)
                lines.append(f"    vs {name}: {url}\n      raced: {str(shown)[near]!r}")
                lines.append(f"      order: {other[near]!r}")
                break
    return "\n".join(lines)


def test_the_outcome_is_one_serial_order(audit: Audit) -> None:
    """What two writes at the same instant leave, as the gate shows it, is what one of
    the two serial orders leaves, each write done or refused as in that order (or one
    refused with a 4xx and the other's alone): nothing lost, doubled or written back."""
    bad = [f"{_said(r)}\n{_first_difference(r)}" for r in audit.raced if not _serialisable(r)]
    assert not bad, f"{len(bad)} of {len(audit.raced)} pairs:\n" + "\n".join(bad)
