"""Shared steps of the migration tests."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from corridor.storage import Database
from corridor.storage.migrate import alembic_config


def downgrade_to(database: Database, revision: str, *statements: str, now: str = "") -> None:
    """Take ``database`` down to ``revision`` and run ``statements`` there (``:now`` bound
    to ``now``), in one transaction; the engine is disposed after, as a migration leaves it."""
    cfg = alembic_config(database)
    with database.transaction() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
        for sql in statements:
            conn.execute(text(sql), {"now": now})
    database.engine.dispose()
