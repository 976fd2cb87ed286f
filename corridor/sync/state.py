"""A person's state as a change carries it, and back (issue 16).

A change carries the rows a person is made of at one installation after a write: the
person row (sensitive fields still sealed under the site's key, as stored), documents,
family links, movement events and the household. Lookup hashes (``phone_hash``,
``number_key``) are keyed by each installation's own master key, so they travel but are
computed again where the change is applied. Row values are turned into JSON by column
type and read back the same way.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Date, Table, select

from corridor.storage.tables import households, movements, person_documents, persons, relationships
from corridor.storage.types import UTCDateTime

# Row columns that are local to an installation and never travel.
LOCAL = {"movements": {"seq"}, "person_documents": {"id"}}


def _out(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def encode_row(table: Table, row: Any) -> dict[str, Any]:
    skip = LOCAL.get(table.name, set())
    return {c.name: _out(row[c.name]) for c in table.columns if c.name not in skip}


def decode_row(table: Table, data: dict[str, Any]) -> dict[str, Any]:
    """Values back to the column's Python types; unknown keys are refused by omission."""
    out: dict[str, Any] = {}
    for c in table.columns:
        if c.name not in data:
            continue
        value = data[c.name]
        if value is not None and isinstance(c.type, UTCDateTime):
            value = datetime.fromisoformat(value)
        elif value is not None and isinstance(c.type, Date):
            value = date.fromisoformat(value)
        out[c.name] = value
    return out


CHUNK = 500


def snapshots(conn: Connection, person_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each person's rows as they stand in this transaction (``person`` None: no row), a
    few queries per 500 persons."""
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(person_ids), CHUNK):
        out.update(_chunk(conn, person_ids[start : start + CHUNK]))
    return out


def snapshot(conn: Connection, person_id: str) -> dict[str, Any]:
    return snapshots(conn, [person_id])[person_id]


def _chunk(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = {
        r["id"]: r for r in conn.execute(select(persons).where(persons.c.id.in_(ids))).mappings()
    }
    out: dict[str, dict[str, Any]] = {}
    for pid in ids:
        if pid not in rows:
            out[pid] = {"person": None}
        else:
            out[pid] = {
                "person": encode_row(persons, rows[pid]),
                "documents": [],
                "relationships": [],
                "movements": [],
                "household": None,
            }
    for d in conn.execute(
        select(person_documents)
        .where(person_documents.c.person_id.in_(ids))
        .order_by(person_documents.c.id)
    ).mappings():
        out[d["person_id"]]["documents"].append(encode_row(person_documents, d))
    for r in conn.execute(
        select(relationships)
        .where(relationships.c.person_id.in_(ids))
        .order_by(relationships.c.created_at, relationships.c.id)
    ).mappings():
        out[r["person_id"]]["relationships"].append(encode_row(relationships, r))
    for m in conn.execute(
        select(movements).where(movements.c.person_id.in_(ids)).order_by(movements.c.seq)
    ).mappings():
        out[m["person_id"]]["movements"].append(encode_row(movements, m))
    hh_ids = {r["household_id"] for r in rows.values() if r["household_id"] is not None}
    if hh_ids:
        hhs = {
            h["id"]: encode_row(households, h)
            for h in conn.execute(select(households).where(households.c.id.in_(hh_ids))).mappings()
        }
        for pid, r in rows.items():
            if r["household_id"] is not None:
                out[pid]["household"] = hhs.get(r["household_id"])
    return out
