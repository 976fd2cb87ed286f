"""Many rows into one table in one ``executemany``, compiled once per statement shape.

``conn.execute(insert(table), rows)`` compiles a cache key and builds every row's
parameters through SQLAlchemy's generic machinery; on a registration that writes some
seventy rows across eight tables that machinery cost more than SQLite itself. Here the
statement is compiled once per (dialect, table, columns), each column's bind processor
(the same one SQLAlchemy would apply: UTC datetimes, JSON, booleans) is looked up once,
and the rows go to the driver's ``executemany`` as plain tuples or dicts.

On PostgreSQL a large batch (``COPY_ROWS`` rows or more, an engine execution option
``Database(copy_rows=...)`` sets) goes through ``COPY ... FROM STDIN`` instead: the same
rows, after the same bind processors, in the same transaction, an order of magnitude
faster than an ``executemany`` of INSERTs (docs/performance.md, "A million persons").
Counter upserts (``add_on_conflict``) stay INSERTs: COPY has no ON CONFLICT.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert
from sqlalchemy.dialects import postgresql, sqlite

Processor = Callable[[Any], Any] | None

# The execution option (set on the engine by ``Database``) holding the smallest batch
# written by COPY on PostgreSQL; None or absent: never.
COPY_OPTION = "corridor_copy_rows"
COPY_ROWS = 1000


@dataclass(frozen=True)
class _Plan:
    sql: str
    order: tuple[str, ...] | None  # bind names in order (positional drivers), else None
    processors: tuple[tuple[str, Processor], ...]


_plans: dict[tuple[str, str, tuple[str, ...], str | None], _Plan] = {}


def _statement(dialect: str, table: Table, columns: tuple[str, ...], add: str | None) -> Any:
    values: dict[str, Any] = {c: bindparam(c) for c in columns}
    if add is None:
        return insert(table).values(values)
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).values(values)
    return stmt.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={add: table.c[add] + stmt.excluded[add]},
    )


def _plan(conn: Connection, table: Table, columns: tuple[str, ...], add: str | None) -> _Plan:
    dialect = conn.dialect
    key = (dialect.name, table.name, columns, add)
    plan = _plans.get(key)
    if plan is None:
        compiled = _statement(dialect.name, table, columns, add).compile(dialect=dialect)
        processors = tuple(
            (c, table.c[c].type.dialect_impl(dialect).bind_processor(dialect)) for c in columns
        )
        order = tuple(compiled.positiontup) if compiled.positiontup else None
        plan = _plans[key] = _Plan(compiled.string, order, processors)
    return plan


def insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    add_on_conflict: str | None = None,
) -> None:
    """Insert ``rows`` into ``table``; a column one row has and another lacks is NULL in
    the latter (never dropped from the former, as an ``executemany`` keyed on the first
    row's columns would do).

    With ``add_on_conflict="n"``, a row whose primary key exists adds its ``n`` to the
    stored one instead (a counter upsert)."""
    if not rows:
        return
    columns = tuple(rows[0])
    if any(len(row) != len(columns) or row.keys() != rows[0].keys() for row in rows):
        columns = tuple(dict.fromkeys(name for row in rows for name in row))
    unknown = [c for c in columns if c not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(unknown)}")
    plan = _plan(conn, table, columns, add_on_conflict)
    if add_on_conflict is None and _copies(conn, len(rows)):
        _copy(conn, table, columns, plan, rows)
        return
    converted: list[dict[str, Any]] = []
    for row in rows:
        out = {}
        for name, process in plan.processors:
            value = row.get(name)
            out[name] = value if process is None else process(value)
        converted.append(out)
    if plan.order is not None:
        conn.exec_driver_sql(plan.sql, [tuple(r[n] for n in plan.order) for r in converted])
    else:
        conn.exec_driver_sql(plan.sql, converted)


def _copies(conn: Connection, count: int) -> bool:
    """Whether ``count`` rows go through COPY on this connection."""
    if conn.dialect.name != "postgresql":
        return False
    at = conn.get_execution_options().get(COPY_OPTION)
    return at is not None and count >= int(at)


def _copy(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    plan: _Plan,
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """``rows`` into ``table`` by ``COPY ... FROM STDIN`` on the connection's own psycopg
    connection (so inside its transaction), each value through the column's bind
    processor as an INSERT would pass it."""
    quote = conn.dialect.identifier_preparer
    names = ", ".join(quote.quote(c) for c in columns)
    sql = f"COPY {quote.format_table(table)} ({names}) FROM STDIN"
    processors = [process for _, process in plan.processors]
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(sql) as copy:
        for row in rows:
            copy.write_row(
                [
                    row.get(name) if process is None else process(row.get(name))
                    for name, process in zip(columns, processors, strict=True)
                ]
            )
