"""``GET /api/health`` (issue 12, item 6): no account needed, no personal data; 200 when
the database answers at the schema this code expects, 503 when it does not."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from corridor.security.tables import audit_events
from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.migrate import upgrade
from corridor.web import create_app
from tests.conftest import MASTER_KEY
from tests.support.pgserver import PgServer

KEYS = {"status", "database_reachable", "schema_current", "read_only"}


def ask(url: str, database: Database | None = None) -> tuple[int, dict[str, object]]:
    app = create_app(Settings(database_url=url, master_key=MASTER_KEY), database=database)
    with TestClient(app, base_url="https://testserver") as client:
        r = client.get("/api/health")
        assert "set-cookie" not in r.headers  # nothing to remember the asker by
        assert r.headers["cache-control"] == "no-store"
        return r.status_code, r.json()


def test_a_working_server_answers_200_to_anyone(database: Database) -> None:
    with database.read() as conn:
        before = conn.execute(select(func.count()).select_from(audit_events)).scalar()
    status, body = ask(str(database.url), database)
    assert status == 200
    assert body == {
        "status": "ok",
        "database_reachable": True,
        "schema_current": True,
        "read_only": False,
    }
    with database.read() as conn:  # no personal data read: nothing audited
        assert conn.execute(select(func.count()).select_from(audit_events)).scalar() == before


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("where", ["postgresql", "sqlite"])
def test_an_unreachable_database_is_a_503(where: str, tmp_path: Path) -> None:
    if where == "postgresql":  # nobody listens on that port
        url = f"postgresql+psycopg://corridor@127.0.0.1:{_closed_port()}/corridor"
    else:  # a directory where the database file should be
        (tmp_path / "not-a-file.db").mkdir()
        url = f"sqlite:///{tmp_path / 'not-a-file.db'}"
    status, body = ask(url)
    assert status == 503
    assert set(body) == KEYS
    assert body["status"] == "database_unreachable" and body["database_reachable"] is False


def test_a_database_behind_the_code_is_a_503(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db, "0012")
    try:
        status, body = ask(str(db.url), db)
    finally:
        db.dispose()
    assert status == 503
    assert body["status"] == "schema_not_current" and body["database_reachable"] is True
    assert body["schema_current"] is False


@pytest.mark.postgresql
def test_a_database_that_refuses_writes_says_read_only(postgres_server: PgServer) -> None:
    url = postgres_server.create_database("health_standby")
    db = Database(url)
    upgrade(db)
    db.dispose()
    postgres_server.psql("ALTER DATABASE health_standby SET default_transaction_read_only = on")
    status, body = ask(url)
    assert status == 200
    assert body["status"] == "ok" and body["read_only"] is True
