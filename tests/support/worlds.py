"""A test module's world built once per backend, then laid into each test's database.

Tests of lists, pages and exports need a registry of some size: households, trucks,
days of movements. Built through the API for every test, that world was most of those
tests' time (docs/performance.md, "A world built once"). ``Worlds`` builds it through the
API in the first test of a module that asks for it, keeps a copy of the database and of
what the builder returned, and gives each later test the same rows in its own fresh
database: on SQLite a copy of the file (SQLite's backup API), on PostgreSQL the rows of
every table and the sequences' positions, inserted into the emptied database with
triggers off (the audit and case logs refuse nothing on an INSERT, but their DELETE
triggers would refuse the emptying). Each test then acts with a fresh app and client,
signed in with the builder's token, at the builder's last instant, as if it had built
the world itself.

Use in a module (its ``client`` then acts in the world, its ``world`` is what the
builder returned)::

    WORLDS = Worlds(build_world)  # build_world(client, clock) -> a dict of ids
    opened, client, world = WORLDS.fixtures()
"""

from __future__ import annotations

import copy
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest
from fastapi.testclient import TestClient

from corridor.storage import Database
from corridor.storage.tables import metadata

W = TypeVar("W")


@dataclass(frozen=True)
class Snapshot:
    """A database's content: a file (SQLite) or every table's rows and the sequences'
    positions (PostgreSQL)."""

    file: Path | None
    rows: dict[str, list[dict[str, Any]]]
    sequences: dict[str, int]


def take(db: Database, into: Path) -> Snapshot:
    """What ``db`` holds now; an SQLite file is copied to ``into``."""
    if db.is_sqlite:
        _sqlite_copy(Path(str(db.url.database)), into)
        return Snapshot(into, {}, {})
    rows: dict[str, list[dict[str, Any]]] = {}
    with db.engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows[table.name] = [dict(r) for r in conn.execute(table.select()).mappings()]
        sequences = {
            str(name): int(value)
            for name, value in conn.exec_driver_sql(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value"
                " FROM pg_sequences WHERE last_value IS NOT NULL"
            )
        }
    return Snapshot(None, rows, sequences)


def restore(db: Database, snapshot: Snapshot) -> None:
    """Lay ``snapshot`` into ``db``, a database as freshly migrated (the ``database``
    fixture's: a copy of the template file, or the emptied PostgreSQL database)."""
    if snapshot.file is not None:
        db.engine.dispose()
        _sqlite_copy(snapshot.file, Path(str(db.url.database)))
        return
    with db.transaction() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for table in metadata.sorted_tables:
            if snapshot.rows[table.name]:
                conn.execute(table.insert(), snapshot.rows[table.name])
        for name, value in snapshot.sequences.items():
            conn.exec_driver_sql("SELECT setval(%s::regclass, %s, true)", (name, value))


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of an SQLite database, its write-ahead log folded in."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


@dataclass(frozen=True)
class _Kept(Generic[W]):
    snapshot: Snapshot
    world: W
    now: datetime
    authorization: str


class Worlds(Generic[W]):
    """``build(client, clock)`` run once per backend; its database laid into each test's."""

    def __init__(self, build: Callable[[TestClient, Any], W]) -> None:
        self.build = build
        self._kept: dict[str, _Kept[W]] = {}

    @contextmanager
    def open(
        self, backend: str, database: Database, clock: Any, tmp: pytest.TempPathFactory
    ) -> Iterator[tuple[TestClient, W]]:
        """A client acting as the world's builder, and what ``build`` returned (a copy:
        a test may change it), over ``database`` holding the world (an SQLite world's
        copy is kept in a folder of ``tmp``)."""
        from tests.conftest import make_client

        kept = self._kept.get(backend)
        if kept is None:
            with make_client(database, clock) as client:
                world = self.build(client, clock)
                self._kept[backend] = _Kept(
                    take(database, tmp.mktemp("world") / f"{backend}.db"),
                    copy.deepcopy(world),
                    clock.now,
                    client.headers["Authorization"],
                )
                yield client, world
            return
        restore(database, kept.snapshot)
        clock.now = kept.now
        with make_client(database, clock, login=False) as client:
            client.headers["Authorization"] = kept.authorization
            yield client, copy.deepcopy(kept.world)

    def fixtures(self) -> tuple[Any, Any, Any]:
        """A module's fixtures ``opened`` (both), ``client`` and ``world``."""

        @pytest.fixture(name="opened")
        def opened(
            database: Database, clock: Any, backend: str, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[tuple[TestClient, W]]:
            with self.open(backend, database, clock, tmp_path_factory) as pair:
                yield pair

        @pytest.fixture(name="client")
        def client(opened: tuple[TestClient, W]) -> TestClient:
            return opened[0]

        @pytest.fixture(name="world")
        def world(opened: tuple[TestClient, W]) -> W:
            return opened[1]

        return opened, client, world
