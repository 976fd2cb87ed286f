"""Fixtures for the security tests: the security tables on SQLite and PostgreSQL.

No migration creates these tables yet, so each test creates them, and on PostgreSQL
(one server for the whole run) drops them afterwards so that the schema test still sees
exactly the migrated schema. Once a migration creates them, the fixture leaves them be.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, inspect

from corridor.security.passwords import hash_password
from corridor.security.tables import SECURITY_TABLES, security_metadata, users
from corridor.storage import Database
from corridor.storage.tables import sites


@pytest.fixture
def secdb(database: Database) -> Iterator[Database]:
    with database.read() as conn:
        migrated = inspect(conn).has_table(users.name)
    if migrated:  # once a migration creates them, the database fixture cleans them
        yield database
        return
    with database.transaction() as conn:
        security_metadata.create_all(conn, tables=list(SECURITY_TABLES))
    yield database
    with database.transaction() as conn:
        security_metadata.drop_all(conn, tables=list(SECURITY_TABLES))


NOW = datetime(2019, 3, 10, 8, 0, tzinfo=UTC)


def add_site(conn: Connection, site_id: str, name: str | None = None) -> str:
    conn.execute(
        sites.insert().values(id=site_id, name=name or site_id, kind="camp", created_at=NOW)
    )
    return site_id


_HASH: list[str] = []


def add_user(conn: Connection, user_id: str, username: str | None = None) -> str:
    if not _HASH:  # one argon2 hash for every test user: hashing is slow on purpose
        _HASH.append(hash_password("a long test password"))
    conn.execute(
        users.insert().values(
            id=user_id,
            username=username or user_id,
            display_name=user_id,
            password_hash=_HASH[0],
            password_changed_at=NOW,
            disabled=False,
            failed_logins=0,
            created_at=NOW,
            updated_at=NOW,
        )
    )
    return user_id
