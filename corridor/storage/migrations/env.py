"""Alembic environment: runs against the connection or URL that corridor hands it.

Like every migration, it imports no corridor code (application code is written for the
newest schema, not for the one a migration finds). ``corridor.storage.migrate`` passes the
schema's metadata in ``config.attributes["target_metadata"]`` for autogenerate.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

config = context.config
target_metadata = config.attributes.get("target_metadata")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
