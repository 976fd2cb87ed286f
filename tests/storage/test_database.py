from __future__ import annotations

import gc
import threading
import warnings
from collections.abc import Callable
from datetime import UTC

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, text

from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.migrate import current_revision, head_revision, upgrade
from corridor.storage.tables import metadata, sites
from corridor.web import create_app
from tests.conftest import MASTER_KEY


def test_migrations_build_exactly_the_declared_schema(database):
    assert current_revision(database) == head_revision()
    with database.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_upgrade_is_idempotent(database):
    upgrade(database)
    assert current_revision(database) == head_revision()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.read() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.dispose()


def test_a_failed_transaction_leaves_nothing(database):
    from datetime import datetime

    row = {"id": "s1", "name": "Camp", "kind": "camp", "created_at": datetime.now(UTC)}
    try:
        with database.transaction() as conn:
            conn.execute(insert(sites), [row])
            raise RuntimeError("crash half way")
    except RuntimeError:
        pass
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(sites)).scalar_one() == 0


def test_sqlite_writers_are_serialised(tmp_path):
    """Many threads writing at once: no 'database is locked', every row lands."""
    from datetime import datetime

    path = tmp_path / "w.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(20):
                with db.transaction() as conn:
                    conn.execute(
                        insert(sites),
                        [
                            {
                                "id": f"{n}-{i}",
                                "name": f"site {n}-{i}",
                                "kind": "camp",
                                "created_at": datetime.now(UTC),
                            }
                        ],
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(sites)).scalar_one() == 120
    db.dispose()


def _dropped_connections(make: Callable[[], object]) -> list[str]:
    """The warnings of connections dropped unclosed when what ``make`` built is collected."""
    # What the process held before is set aside (``gc.freeze``): a collection then walks
    # only what ``make`` built, not the whole suite's heap of a worker (20 s).
    gc.freeze()
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            made = make()
            del made
            gc.collect()
    finally:
        gc.unfreeze()
    return [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)]


def test_a_database_let_go_closes_its_connections(database):
    """A Database collected without ``dispose()`` (caught in a reference cycle, as with
    its services; or an app whose shutdown never ran) closes its pooled connections:
    before, PostgreSQL's were dropped by the garbage collector unclosed (psycopg's
    ResourceWarning, which failed whichever test was running when it came)."""
    url = database.engine.url.render_as_string(hide_password=False)

    def cycle() -> object:
        db = Database(url)
        db.journal = lambda conn, notes: print(db)  # a reference back: a cycle
        with db.read() as conn:
            conn.execute(text("SELECT 1"))
        return db

    def app_never_started() -> object:
        app = create_app(Settings(database_url=url, master_key=MASTER_KEY))
        assert TestClient(app).get("/api/health").status_code == 200
        return app

    assert _dropped_connections(cycle) == []
    assert _dropped_connections(app_never_started) == []
