"""Run the Alembic migrations shipped in the package.

A migration imports no application code, so it changes the schema only; where data must
be recomputed by application code (the matching index needs the matching engine), the
migration leaves a marker and ``corridor.upgrade`` runs that data step once the schema is
at head. ``upgrade`` here is the schema part; ``pending_data_steps`` and
``data_step_done`` read and clear the markers.
"""

from __future__ import annotations

import functools

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, delete, inspect, select

from corridor.storage.database import Database
from corridor.storage.tables import match_key_counts, metadata

# Data steps a migration can leave for the application. Each marker is a row of
# ``match_key_counts`` whose key no blocking key can take (they all start with a letter
# or "#"); migrations keep frozen copies of these values.
REBUILD_MATCH_INDEX = "!rebuild-match-index"
# Migration 0039: movement notes and separation reasons stored in the clear, to seal.
SEAL_NOTES = "!seal-notes"
DATA_STEPS = (REBUILD_MATCH_INDEX, SEAL_NOTES)


SCRIPTS = "corridor.storage:migrations"  # the migrations shipped in the package


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPTS)
    cfg.set_main_option("sqlalchemy.url", db.url.render_as_string(hide_password=False))
    cfg.attributes["target_metadata"] = metadata
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision`` inside one transaction (the schema only: see
    ``corridor.upgrade.upgrade`` for the data steps that follow)."""
    cfg = alembic_config(db)
    with db.transaction() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(db: Database) -> str | None:
    with db.read() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@functools.cache
def head_revision() -> str | None:
    """The head of the migrations shipped in the package, whatever the database. Read
    once a process: Alembic loads every migration file to find it (0.1 s for 34 of
    them), and every app's health service asks for it. The files are the package's own
    and do not change while it runs."""
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPTS)
    return ScriptDirectory.from_config(cfg).get_current_head()


def pending_data_steps(conn: Connection) -> list[str]:
    """The data steps that migrations left and the application has not yet run."""
    if not inspect(conn).has_table(match_key_counts.name):
        return []
    query = select(match_key_counts.c.key).where(match_key_counts.c.key.in_(DATA_STEPS))
    return sorted(conn.execute(query).scalars())


def data_step_done(conn: Connection, step: str) -> None:
    conn.execute(delete(match_key_counts).where(match_key_counts.c.key == step))
