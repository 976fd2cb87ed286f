"""The one SQLAlchemy ``MetaData`` that every table of the schema is declared on, and the
id column type. It imports no table module: ``tables.py`` (persons, sites, movements...),
``security_tables.py``, ``import_tables.py`` and ``tracing_tables.py`` all import it, and
``tables.py`` imports the other three, so that importing ``corridor.storage.tables`` gives
the whole schema (one migration history covers it) without an import cycle."""

from __future__ import annotations

from sqlalchemy import MetaData, String

ID = String(36)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
