"""The rows changes carry, held to their tables' column lengths before any is written.

A node's SQLite database keeps a VARCHAR at any length, so a value stored there before
its limit (an old database, an older version) can reach a change; PostgreSQL refuses
it (``value too long``: the whole bundle was a 500, again each time it was sent; a
SQLite central kept it, and then no correction of that person could pass its checks).

A person's changes are applied in turn, so what decides is the person's LAST change
waiting here: where its value fits, an earlier change's longer value of that field is
taken as the last one's (it is never stored here: the correction made at the node
stands for it); where the last change still holds a value too long, the bundle is
refused whole, naming the person, the field and the limit, so that the value is
corrected at the node (its other fields correct there as before:
``schemas.validate_kept``) and sent again. The limits are the tables'."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, Table

from corridor.storage.tables import households, person_documents, persons


def over(table: Table, row: dict[str, Any]) -> list[tuple[str, int]]:
    """The columns of ``row`` whose text is longer than ``table`` holds, each with its
    limit (text columns travel as they are stored: ``state.encode_row``)."""
    found = []
    for column in table.columns:
        length = column.type.length if isinstance(column.type, String) else None
        value = row.get(column.name)
        if length and isinstance(value, str) and len(value) > length:
            found.append((column.name, length))
    return found


def _rows(state: dict[str, Any]) -> list[tuple[Table, dict[str, Any]]]:
    rows: list[tuple[Table, dict[str, Any]]] = []
    if state.get("person") is not None:
        rows.append((persons, state["person"]))
    if state.get("household") is not None:
        rows.append((households, state["household"]))
    rows += [(person_documents, d) for d in state.get("documents") or []]
    return rows


def refusal(pending: list[tuple[Any, dict[str, Any]]]) -> str | None:
    """Settle the over-long values of ``pending`` (changes in the order they apply,
    with their opened states) as above; why the bundle is refused, or None."""
    last: dict[str, dict[str, Any]] = {}
    for change, state in pending:
        last[str(change["person_id"])] = state
    for change, state in pending:
        final = last[str(change["person_id"])]
        for table, row in _rows(state):
            for name, length in over(table, row):
                value = (final.get("person") or {}).get(name) if table is persons else None
                if state is not final and isinstance(value, str) and len(value) <= length:
                    row[name] = value  # corrected by the person's last change
                    continue
                return (
                    f"person {change['person_id']}, changed at node {change['origin_node']}: "
                    f"{name} is longer than {length} characters, as no database here can "
                    "hold. Nothing was imported. Correct it at that node (the person's other "
                    "fields can be corrected as before), then sync again"
                )
    return None
