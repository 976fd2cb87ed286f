"""storage.bulk.insert_rows stores exactly what SQLAlchemy's own insert stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
)

from corridor.storage import Database
from corridor.storage.bulk import insert_rows
from corridor.storage.types import UTCDateTime

scratch = MetaData()
kinds = Table(
    "bulk_scratch",
    scratch,
    Column("key", String(40), primary_key=True),
    Column("n", Integer, nullable=False),
    Column("flag", Boolean, nullable=True),
    Column("tags", JSON, nullable=True),
    Column("at", UTCDateTime, nullable=True),
    Column("day", Date, nullable=True),
)


@pytest.fixture
def scratch_db(database: Database) -> Iterator[Database]:
    with database.transaction() as conn:
        scratch.drop_all(conn)
        scratch.create_all(conn)
    yield database
    with database.transaction() as conn:
        scratch.drop_all(conn)


def _rows(prefix: str) -> list[dict[str, object]]:
    plus3 = timezone(timedelta(hours=3))
    return [
        {
            "key": f"{prefix}1",
            "n": 1,
            "flag": True,
            "tags": ["ICRC", "قريب"],
            "at": datetime(2019, 3, 10, 11, 0, tzinfo=plus3),
            "day": date(2019, 3, 1),
        },
        {"key": f"{prefix}2", "n": 2, "flag": False, "tags": None, "at": None, "day": None},
        {
            "key": f"{prefix}3",
            "n": 3,
            "flag": None,
            "tags": {"a": [1, 2]},
            "at": datetime(2019, 3, 10, 8, 0, tzinfo=UTC),
            "day": date(2000, 2, 29),
        },
    ]


def _stored(db: Database, prefix: str) -> list[dict[str, object]]:
    with db.read() as conn:
        rows = conn.execute(select(kinds).where(kinds.c.key.like(f"{prefix}%")).order_by("key"))
        return [dict(r._mapping, key=r.key[len(prefix) :]) for r in rows]


def test_same_rows_as_sqlalchemys_insert(scratch_db):
    with scratch_db.transaction() as conn:
        conn.execute(insert(kinds), _rows("sa-"))
        insert_rows(conn, kinds, _rows("bulk-"))
    by_bulk = _stored(scratch_db, "bulk-")
    assert by_bulk == _stored(scratch_db, "sa-")
    assert by_bulk[0]["at"] == datetime(2019, 3, 10, 8, 0, tzinfo=UTC)  # read back in UTC
    assert by_bulk[0]["tags"] == ["ICRC", "قريب"]


def test_counter_upsert_adds_to_existing_rows(scratch_db):
    with scratch_db.transaction() as conn:
        insert_rows(conn, kinds, [{"key": "a", "n": 2}, {"key": "b", "n": 1}])
        insert_rows(conn, kinds, [{"key": "a", "n": 5}, {"key": "c", "n": 1}], add_on_conflict="n")
    with scratch_db.read() as conn:
        counts = {k: n for k, n in conn.execute(select(kinds.c.key, kinds.c.n))}
    assert counts == {"a": 7, "b": 1, "c": 1}


def test_a_column_only_some_rows_have_is_kept_and_null_in_the_others(scratch_db):
    """An executemany keyed on the first row's columns would silently drop ``day`` here
    (SQLAlchemy's does: a registration once lost a child's age this way)."""
    with scratch_db.transaction() as conn:
        rows = [{"key": "a", "n": 1}, {"key": "b", "n": 2, "day": date(2019, 3, 1)}]
        insert_rows(conn, kinds, rows)
    with scratch_db.read() as conn:
        days = {k: d for k, d in conn.execute(select(kinds.c.key, kinds.c.day))}
    assert days == {"a": None, "b": date(2019, 3, 1)}


def test_an_unknown_column_is_an_error_and_nothing_is_half_written(scratch_db):
    with (
        pytest.raises(ValueError, match="has no column colour"),
        scratch_db.transaction() as conn,
    ):
        insert_rows(conn, kinds, [{"key": "a", "n": 1}])
        insert_rows(conn, kinds, [{"key": "b", "n": 1, "colour": "red"}])
    with scratch_db.read() as conn:
        assert conn.execute(select(kinds)).all() == []


def test_no_rows_is_no_statement(scratch_db):
    with scratch_db.transaction() as conn:
        insert_rows(conn, kinds, [])
    with scratch_db.read() as conn:
        assert conn.execute(select(kinds)).all() == []
