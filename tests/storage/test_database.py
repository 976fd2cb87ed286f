from __future__ import annotations

import threading
from datetime import UTC

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, insert, select, text

from corridor.storage import Database
from corridor.storage.migrate import current_revision, head_revision, upgrade
from corridor.storage.tables import metadata, sites


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
