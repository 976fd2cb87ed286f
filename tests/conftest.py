"""Fixtures: a fresh database per test on SQLite, and the same tests on PostgreSQL.

The ``backend`` fixture runs every storage, service and API test twice: once on a fresh
SQLite file and once on a throwaway PostgreSQL server that the tests start themselves.
Outside CI a machine without PostgreSQL skips the second run with the reason; in CI
(``CI=true``) that is a failure.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher, Type
from fastapi.testclient import TestClient

from corridor.security import backup_file, export_file, passwords
from corridor.security.crypto import MasterKey
from corridor.security.roles import Role, default_matrix
from corridor.services import Services
from corridor.services.tracing.worker import TracingWorker
from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.migrate import upgrade
from corridor.storage.tables import metadata
from corridor.web import create_app
from tests.support import durations, portals
from tests.support.pgserver import PgServer, postgres_unavailable_reason, start_postgres


def pytest_configure(config: pytest.Config) -> None:
    # The way before, for benchmarks/bench_test_portals.py: a loop per request.
    if os.environ.get("CORRIDOR_TEST_PORTALS") != "per-request":
        portals.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    portals.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    durations.longest_first(items)  # the longest files first (tests/support/durations.py)


IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _stop_tracing_workers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A test that registers through an app it never started (no lifespan) wakes the
    tracing worker, whose thread then outlives the test: it polls the test's database
    every minute, after a PostgreSQL test has stopped its server too, and keeps that
    database's connections alive. Every worker woken during a test is stopped when the
    test ends, as the app's shutdown stops it in production (a later wake starts it
    again)."""
    woken: list[TracingWorker] = []
    original = TracingWorker.wake

    def wake(self: TracingWorker) -> None:
        woken.append(self)
        original(self)

    monkeypatch.setattr(TracingWorker, "wake", wake)
    yield
    for worker in dict.fromkeys(woken):
        worker.stop()


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2id at the production cost (64 MiB, 3 passes: about 0.1 s a hash here) is a
    fifth of an API test's time, as nearly every test makes users and signs them in. The
    suite hashes with argon2id at its lowest cost instead; what a password is checked
    against is unchanged (a hash carries its own parameters), and the tests of the
    production parameters (tests/security/test_passwords.py) put that hasher back. Server
    processes that tests start hash at the production cost."""
    passwords._HASHER = PasswordHasher(
        time_cost=1, memory_cost=1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
    )
    passwords._dummy_hash.cache_clear()
    yield
    passwords._HASHER = passwords.PRODUCTION_HASHER
    passwords._dummy_hash.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def _cheap_file_kdf() -> Iterator[None]:
    """Export and backup files are sealed under scrypt(passphrase) at n = 2^15 (32 MiB,
    about 0.1 s of CPU here), and opened at the cost their file names: the formats'
    round trips, the export and backup tests spend seconds on it. The suite seals with
    scrypt at n = 2^10; opening still reads the cost from the file, and the test of the
    production parameters (tests/security/test_file_kdf.py) puts them back. Processes
    that tests start seal at the production cost."""
    cheap = {"name": "scrypt", "n": 2**10, "r": 8, "p": 1}
    export_file.KDF, backup_file.KDF = cheap, cheap
    yield
    export_file.KDF = export_file.PRODUCTION_KDF
    backup_file.KDF = backup_file.PRODUCTION_KDF


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


def empty_database(db: Database) -> None:
    """Empty every table of a PostgreSQL database and restart its sequences, as freshly
    migrated.

    Rows are deleted with triggers off (``session_replication_role = replica``: the audit
    log and the case log refuse a DELETE, and the foreign keys need no checking when every
    row goes); the test server's user is its superuser. On the few rows a test writes this
    is several times faster than a TRUNCATE of every table, which PostgreSQL carries out
    by replacing each table's files (docs/performance.md, "The test suite's time").
    """
    deletes = "".join(f"DELETE FROM {t.name};" for t in reversed(metadata.sorted_tables))
    with db.transaction() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica;" + deletes)
        conn.exec_driver_sql(
            "SELECT setval((quote_ident(schemaname) || '.' || quote_ident(sequencename))::regclass,"
            " start_value, false) FROM pg_sequences WHERE last_value IS NOT NULL"
        )


def world_database(
    request: pytest.FixtureRequest, backend: str, name: str, own: bool = False
) -> Database:
    """A database for a world that a module builds once and keeps (the route table's, the
    drill's): on SQLite a copy of the migrated template in a folder ``name``; on
    PostgreSQL the worker's server emptied, or (``own``) a database of its own there,
    migrated, so that what the module writes meets no other module's world."""
    if backend == "sqlite":
        path = request.getfixturevalue("tmp_path_factory").mktemp(name) / f"{name}.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return Database(f"sqlite:///{path}")
    server: PgServer = request.getfixturevalue("postgres_server")
    if own:
        db = Database(server.create_database(f"{name.replace('-', '_')}_{secrets.token_hex(4)}"))
        upgrade(db)
        return db
    db = Database(server.url)
    empty_database(db)
    return db


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
        empty_database(db)
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
    return Services(database, clock, MasterKey.from_text(MASTER_KEY))


MASTER_KEY = MasterKey.generate().encoded()
# Every operational role: the API tests play whole stories (register, dispatch, count)
# as one officer. Tests of the role gate itself log in with one role at a time.
ALL_ROLES = (
    Role.ADMINISTRATOR,
    Role.REGISTRAR,
    Role.MOVEMENT_OFFICER,
    Role.HEALTH,
    Role.PROTECTION_OFFICER,
    Role.TRACING_OFFICER,
    Role.SITE_MANAGER,
)


def make_client(
    database: Database,
    clock: Clock,
    roles: tuple[Role, ...] = ALL_ROLES,
    login: bool = True,
    **settings: Any,
) -> TestClient:
    """A client of the real app over https (the session cookie is Secure) acting as a
    user holding ``roles``, with an API token scoped to every action those roles allow.

    Stories move the clock by hours, past the 15-minute idle timeout of a browser
    session, so the tests act as a machine client. The token is issued by the accounts
    service itself, as ``POST /api/auth/tokens`` issues it to a session signed in with
    password and TOTP: signing in over HTTP first cost three requests of every client
    (docs/performance.md, "The test suite"); the sign-in is tested where it is the
    subject (tests/api/test_auth.py, the route table's clients). ``settings``: more
    settings of the app (``one_time_password_hours=24``)."""
    # Tracing checks inline: a test sees a proposed match as soon as the request answers.
    settings = Settings(
        database_url=str(database.url),
        master_key=MASTER_KEY,
        tracing_checks="inline",
        **settings,
    )
    app = create_app(settings, database=database, clock=clock)
    client = TestClient(app, base_url="https://testserver")
    if login:
        name = "officer-" + "-".join(sorted(r.value[:4] for r in roles))
        services = app.state.services
        user_id, _ = services.accounts.create(
            name,
            "Test officer",
            "a long test password",
            roles,
            [],
            audit=services.audit.operator_hook("test", "users.admin"),
        )
        matrix = default_matrix()
        scopes = [
            a for a in matrix.actions if any(matrix.allowed(r, a, same_site=True) for r in roles)
        ]
        with database.transaction() as conn:
            issued = services.accounts.tokens.issue(conn, user_id, "tests", scopes)
        client.headers["Authorization"] = f"Bearer {issued.secret}"
    return client


@pytest.fixture
def client(database: Database, clock: Clock) -> Iterator[TestClient]:
    with make_client(database, clock) as c:
        yield c
