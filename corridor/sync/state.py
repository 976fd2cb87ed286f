"""A person's state as a change carries it, and back (issue 16).

A change carries the rows a person is made of at one installation after a write: the
person row (sensitive fields still sealed under the site's key, as stored), documents,
family links, movement events and the household. Lookup hashes (``phone_hash``,
``number_key``) are keyed by each installation's own master key: they do not travel
(payload version 2; version 1 carried them) and are computed again where the change is
applied. Row values are turned into JSON by column type and read back the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Date, Table, bindparam, select

from corridor.storage.merge_tables import person_merges
from corridor.storage.tables import (
    households,
    manifest_discrepancies,
    manifest_items,
    manifests,
    movements,
    person_documents,
    persons,
    relationships,
)
from corridor.storage.types import UTCDateTime

# Row columns that are local to an installation and never travel: numbering, and the
# lookup hashes (keyed by each installation's own master key; computed again where a
# change is applied, ``SyncService._hashed`` and ``_replace_documents``).
LOCAL = {
    "movements": {"seq"},
    "person_documents": {"id", "number_key"},
    "persons": {"phone_hash"},
    # Manifest rows and merges travel as facts (docs/sync.md, "Manifests and merges
    # across nodes"); item and discrepancy numbers are local, and what a merge moved is
    # named by local row ids, so each installation keeps its own.
    "manifest_items": {"id"},
    "manifest_discrepancies": {"id"},
    "person_merges": {"moved"},
}
# The parts of a state that travel as facts beside the person (payload keys added after
# format 2 first shipped, and left out when empty: a payload without them has none).
FACTS = ("manifests", "manifest_items", "manifest_discrepancies", "merges")
# A merge's key beside its row: the merged-away person's registration number (a node
# holding the survivor but not that person's record keeps it, ``facts.apply_merges``).
MERGED_NUMBER = "merged_number"


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


class _Shape:
    """How one table's rows travel: the columns read (in order, the local ones left out),
    which of them hold dates, and the query for the rows of a list of persons (built
    once: a write's journal runs the same few statements every time)."""

    def __init__(self, table: Table, key: str, order: tuple[Any, ...]) -> None:
        skip = LOCAL.get(table.name, set())
        self.columns = [c for c in table.columns if c.name not in skip]
        self.names = [c.name for c in self.columns]
        self.temporal = [
            i for i, c in enumerate(self.columns) if isinstance(c.type, UTCDateTime | Date)
        ]
        self.key = self.names.index(key)
        self.query = (
            select(*self.columns)
            .where(table.c[key].in_(bindparam("ids", expanding=True)))
            .order_by(*order)
        )

    def rows(
        self, conn: Connection, ids: list[str] | set[str]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(key, the row as JSON values) for each row whose key is in ``ids``."""
        names, temporal, key = self.names, self.temporal, self.key
        for row in conn.execute(self.query, {"ids": list(ids)}):
            values = list(row)
            for i in temporal:
                if values[i] is not None:
                    values[i] = values[i].isoformat()
            yield values[key], dict(zip(names, values, strict=True))


_PERSONS = _Shape(persons, "id", (persons.c.id,))
_DOCUMENTS = _Shape(person_documents, "person_id", (person_documents.c.id,))
_LINKS = _Shape(relationships, "person_id", (relationships.c.created_at, relationships.c.id))
_MOVEMENTS = _Shape(movements, "person_id", (movements.c.seq,))
_HOUSEHOLDS = _Shape(households, "id", (households.c.id,))
_ITEMS = _Shape(manifest_items, "person_id", (manifest_items.c.id,))
_DISCREPANCIES = _Shape(manifest_discrepancies, "person_id", (manifest_discrepancies.c.id,))
_MANIFESTS = _Shape(manifests, "id", (manifests.c.id,))
_MERGED_AWAY = _Shape(person_merges, "merged_id", (person_merges.c.merged_at, person_merges.c.id))
_MERGED_IN = _Shape(person_merges, "survivor_id", (person_merges.c.merged_at, person_merges.c.id))


def snapshots(conn: Connection, person_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each person's rows as they stand in this transaction (``person`` None: no row),
    five queries per 500 persons (one per table, for all of them)."""
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(person_ids), CHUNK):
        out.update(_chunk(conn, person_ids[start : start + CHUNK]))
    return out


def snapshot(conn: Connection, person_id: str) -> dict[str, Any]:
    return snapshots(conn, [person_id])[person_id]


def _chunk(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = dict(_PERSONS.rows(conn, ids))
    out: dict[str, dict[str, Any]] = {}
    for pid in ids:
        if pid not in rows:
            out[pid] = {"person": None}
        else:
            out[pid] = {
                "person": rows[pid],
                "documents": [],
                "relationships": [],
                "movements": [],
                "household": None,
            }
    if not rows:
        return out
    held = list(rows)
    for pid, d in _DOCUMENTS.rows(conn, held):
        out[pid]["documents"].append(d)
    for pid, r in _LINKS.rows(conn, held):
        out[pid]["relationships"].append(r)
    for pid, m in _MOVEMENTS.rows(conn, held):
        out[pid]["movements"].append(m)
    _facts(conn, held, out)
    hh_ids = {r["household_id"] for r in rows.values() if r["household_id"] is not None}
    if hh_ids:
        hhs = dict(_HOUSEHOLDS.rows(conn, hh_ids))
        for pid, r in rows.items():
            if r["household_id"] is not None:
                out[pid]["household"] = hhs.get(r["household_id"])
    return out


def _facts(conn: Connection, held: list[str], out: dict[str, dict[str, Any]]) -> None:
    """The manifests the persons are on (their rows, the persons' items and
    discrepancies) and the merges naming them (either end), into their states: each
    key only where there is something (most persons are on no manifest and in no
    merge, and every byte of a payload travels)."""
    wanted: dict[str, set[str]] = {}
    for pid, item in _ITEMS.rows(conn, held):
        out[pid].setdefault("manifest_items", []).append(item)
        wanted.setdefault(item["manifest_id"], set()).add(pid)
    for pid, d in _DISCREPANCIES.rows(conn, held):
        out[pid].setdefault("manifest_discrepancies", []).append(d)
        wanted.setdefault(d["manifest_id"], set()).add(pid)
    # And the manifests their movement events name: an event recorded under an id merged
    # into this person since (the item stays with the old id) would otherwise wait, at
    # an installation that does not hold the manifest, for one no change carries.
    for pid in held:
        for event in out[pid]["movements"]:
            if event["manifest_id"]:
                wanted.setdefault(event["manifest_id"], set()).add(pid)
    if wanted:
        for mid, m in _MANIFESTS.rows(conn, set(wanted)):
            for pid in sorted(wanted[mid]):
                out[pid].setdefault("manifests", []).append(m)
    seen: dict[str, set[str]] = {}
    merges: list[dict[str, Any]] = []
    for shape in (_MERGED_AWAY, _MERGED_IN):
        for pid, merge in shape.rows(conn, held):
            if merge["id"] not in seen.setdefault(pid, set()):
                seen[pid].add(merge["id"])
                out[pid].setdefault("merges", []).append(merge)
                merges.append(merge)
    if merges:  # the old id's number, for a node that never held its record
        away = sorted({m["merged_id"] for m in merges})
        numbers = dict(
            conn.execute(
                select(persons.c.id, persons.c.registration_number).where(persons.c.id.in_(away))
            ).all()
        )
        for m in merges:
            m[MERGED_NUMBER] = numbers.get(m["merged_id"])
