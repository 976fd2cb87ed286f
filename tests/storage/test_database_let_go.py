"""A ``Database`` let go is collected, and its engine with it (the engine's pool and its
cache of compiled statements, up to 500 of them): disposed of or not, after a write and a
read, on every backend.

An SQLite database's ``begin`` listener was a bound method of the Database, and the
finalizer that disposes of a forgotten Database's engine holds that engine: every SQLite
Database stayed alive to the end of the process. And a Database that wrote and was never
disposed of kept its checkpoint thread, which holds the engine and polled the file every
second, to the end of the process. A test worker, which makes a Database for nearly every
test, grew to some 3 GB over a run (docs/performance.md, "Session 30")."""

from __future__ import annotations

import gc
import shutil
import weakref
from pathlib import Path

import pytest
from sqlalchemy import func, select

from corridor.storage import Database
from corridor.storage.tables import sites
from tests.support.pgserver import PgServer


def _open(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if backend == "sqlite":
        path = tmp_path / "let-go.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return Database(f"sqlite:///{path}")
    server: PgServer = request.getfixturevalue("postgres_server")
    return Database(server.url)


@pytest.mark.parametrize("disposed", [True, False], ids=["disposed", "not-disposed"])
def test_a_database_let_go_is_collected_with_its_engine(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, disposed: bool
) -> None:
    db = _open(backend, request, tmp_path)
    with db.transaction() as conn:
        conn.execute(select(func.count()).select_from(sites)).scalar_one()
    with db.read() as conn:
        conn.execute(select(func.count()).select_from(sites)).scalar_one()
    if disposed:
        db.dispose()
    gone_db, gone_engine = weakref.ref(db), weakref.ref(db.engine)
    del db, conn
    for _ in range(3):  # the finalizer runs in one collection, frees the engine in the next
        gc.collect()
    assert gone_db() is None, gc.get_referrers(gone_db())
    assert gone_engine() is None
