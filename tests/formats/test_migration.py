"""Migration 0006 (import tables) goes down and up again on both databases."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from corridor.storage.migrate import alembic_config, current_revision, head_revision, upgrade


def test_0006_downgrades_and_upgrades(database):
    cfg = alembic_config(database)
    with database.transaction() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
    database.engine.dispose()
    tables = set(inspect(database.engine).get_table_names())
    assert not {"imported_records", "pfif_notes"} & tables
    upgrade(database)
    assert current_revision(database) == head_revision()
    tables = set(inspect(database.engine).get_table_names())
    assert {"imported_records", "pfif_notes"} <= tables
