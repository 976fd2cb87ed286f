"""The throwaway PostgreSQL helper starts, serves SQL and cleans up after itself."""

from __future__ import annotations

import os

import pytest

from corridor.storage import Database
from corridor.storage.tables import metadata
from tests.api.helpers import register, site
from tests.conftest import Clock, empty_database, make_client
from tests.support.pgserver import PgServer, postgres_unavailable_reason, start_postgres

_REASON = postgres_unavailable_reason()

needs_postgres = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


@needs_postgres
def test_start_query_stop() -> None:
    psycopg = pytest.importorskip("psycopg")
    pg = start_postgres()
    tmpdir = pg.tmpdir
    try:
        assert pg.url.startswith("postgresql+psycopg://")
        assert pg.url.endswith(f"@127.0.0.1:{pg.port}/corridor_test")
        with psycopg.connect(pg.dsn, connect_timeout=10) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
            assert conn.execute("select current_database()").fetchone() == ("corridor_test",)
            assert conn.execute("show fsync").fetchone() == ("off",)
            version = conn.execute("show server_version_num").fetchone()
            assert version is not None and int(version[0]) >= 150000
            # Extensions the project relies on are available (postgresql-contrib).
            conn.execute("create extension if not exists pg_trgm")
            conn.execute("create extension if not exists unaccent")
            conn.execute("create extension if not exists fuzzystrmatch")
            assert conn.execute("select similarity('abc', 'abd') > 0").fetchone() == (True,)
    finally:
        pg.stop()
    assert not tmpdir.exists()
    pg.stop()  # idempotent
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg.dsn, connect_timeout=3)


@needs_postgres
def test_context_manager_and_extra_database() -> None:
    psycopg = pytest.importorskip("psycopg")
    with start_postgres() as pg:
        url = pg.create_database("another_db")
        assert url.endswith("/another_db")
        with psycopg.connect(pg.url_for("another_db", driver="postgresql")) as conn:
            assert conn.execute("select 2").fetchone() == (2,)
        assert pg.psql("select 40 + 2").strip() == "42"
        datadir = pg.datadir
    assert not datadir.exists()


def test_reason_reports_missing_binaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORRIDOR_PG_BINDIR", os.devnull)
    reason = postgres_unavailable_reason()
    assert reason is not None and "CORRIDOR_PG_BINDIR" in reason


@needs_postgres
@pytest.mark.postgresql
def test_empty_database_leaves_it_as_freshly_migrated(
    postgres_server: PgServer, clock: Clock
) -> None:
    """What a test wrote is gone before the next: every table empty, the append-only
    audit and case logs included, and every sequence back at its start (as TRUNCATE ...
    RESTART IDENTITY left them)."""
    db = Database(postgres_server.url)
    try:
        empty_database(db)
        with make_client(db, clock) as client:
            at = site(client, "Camp")
            hospital = site(client, "Hospital", kind="hospital")
            amina = register(client, at, given_name="Amina")["id"]
            r = client.post(f"/api/persons/{amina}/events",
                            json={"kind": "hospitalised", "to_site_id": hospital})
            assert r.status_code == 201, r.text
        with db.engine.connect() as conn:
            filled = [t.name for t in metadata.sorted_tables
                      if conn.execute(t.select().limit(1)).first() is not None]
            used = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_sequences WHERE last_value IS NOT NULL").scalar()
        assert {"audit_events", "persons", "users"} <= set(filled)
        assert used
        empty_database(db)
        with db.engine.connect() as conn:
            assert [t.name for t in metadata.sorted_tables
                    if conn.execute(t.select().limit(1)).first() is not None] == []
            assert conn.exec_driver_sql(
                "SELECT count(*) FROM pg_sequences WHERE last_value IS NOT NULL").scalar() == 0
    finally:
        db.dispose()
