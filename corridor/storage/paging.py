"""A ``Paging`` as SQL: a count query over the filtered list, then only the rows of the
page, in an order that is total (a unique key last, so that rows never move between
pages)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.sql.elements import ColumnElement

from corridor.domain.paging import Paging


def ordered(
    query: Select[Any],
    paging: Paging,
    orders: Mapping[str, Sequence[ColumnElement[Any]]],
    default: str,
    tie: ColumnElement[Any],
    default_descending: bool = False,
) -> Select[Any]:
    """``query`` in the paging's order (or ``default``), ``tie`` last."""
    key = paging.sort or default
    descending = paging.descending if paging.sort else default_descending
    columns = [c.desc() if descending else c.asc() for c in orders[key]]
    return query.order_by(*columns, tie.desc() if descending else tie.asc())


def count(conn: Connection, query: Select[Any]) -> int:
    """How many rows ``query`` (unordered, unpaged) gives."""
    inner = query.order_by(None).limit(None).offset(None).subquery()
    return int(conn.execute(select(func.count()).select_from(inner)).scalar_one())


def page_rows(conn: Connection, query: Select[Any], paging: Paging) -> list[RowMapping]:
    """The rows of the page (``query`` already ordered)."""
    if paging.limit is not None:
        query = query.limit(paging.limit)
    if paging.offset:
        query = query.offset(paging.offset)
    return list(conn.execute(query).mappings())
