"""Many rows into one table in one ``executemany``, compiled once per statement shape.

``conn.execute(insert(table), rows)`` compiles a cache key and builds every row's
parameters through SQLAlchemy's generic machinery; on a registration that writes some
seventy rows across eight tables that machinery cost more than SQLite itself. Here the
statement is compiled once per (dialect, table, columns), each column's bind processor
(the same one SQLAlchemy would apply: UTC datetimes, JSON, booleans) is looked up once,
and the rows go to the driver's ``executemany`` as plain tuples or dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert
from sqlalchemy.dialects import postgresql, sqlite

Processor = Callable[[Any], Any] | None


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
