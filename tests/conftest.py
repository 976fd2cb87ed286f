"""Fixtures: a fresh database per test on SQLite, and the same tests on PostgreSQL.

The ``backend`` fixture runs every storage, service and API test twice: once on a fresh
SQLite file and once on a throwaway PostgreSQL server that the tests start themselves.
Outside CI a machine without PostgreSQL skips the second run with the reason; in CI
(``CI=true``) that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from corridor.services import Services
from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.migrate import upgrade
from corridor.storage.tables import metadata
from corridor.web import create_app
from tests.support.pgserver import PgServer, postgres_unavailable_reason, start_postgres

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrations run once)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()  # closing the last connection folds the WAL into the file
    assert not Path(f"{path}-wal").exists()
    return path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    reason = postgres_unavailable_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI: {reason}")
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    server = start_postgres()
    db = Database(server.url)
    upgrade(db)
    db.dispose()
    yield server
    server.stop()


def _truncate_all(db: Database) -> None:
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with db.transaction() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if backend == "sqlite":
        path = tmp_path / "corridor.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        db = Database(f"sqlite:///{path}")
    else:
        server: PgServer = request.getfixturevalue("postgres_server")
        db = Database(server.url)
        _truncate_all(db)
    yield db
    db.dispose()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        from datetime import timedelta

        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2019, 3, 10, 8, 0, tzinfo=UTC))


@pytest.fixture
def services(database: Database, clock: Clock) -> Services:
    return Services(database, clock)


@pytest.fixture
def client(database: Database, clock: Clock) -> Iterator[TestClient]:
    settings = Settings(database_url=str(database.url))
    app = create_app(settings, database=database, clock=clock)
    with TestClient(app) as c:
        yield c
