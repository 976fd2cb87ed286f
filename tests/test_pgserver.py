"""The throwaway PostgreSQL helper starts, serves SQL and cleans up after itself."""

from __future__ import annotations

import os

import pytest

from tests.support.pgserver import postgres_unavailable_reason, start_postgres

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
