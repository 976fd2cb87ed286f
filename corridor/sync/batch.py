"""Received changes of new persons applied together (issue 16, catch-up in batches).

A node catching up from nothing receives thousands of changes, nearly all of them a
person it does not hold yet, with nothing to compare and nothing to wait for. Applied
one by one (``SyncService._apply``: a dozen statements a change) they cost about 2 ms
each; here the persons, documents, households, movement events, locations, heads and
change states of all of them are read and written with one statement per table (in
chunks), in the import's transaction. The result is the one ``_apply`` gives: the same
rows, written by the same functions (``kept_here``, ``_hashed``, document keys).

A change is taken here only when it is independent of every other change waiting
(otherwise ``_apply`` takes it, in the order recorded, as before):

- its person is held here under no id (no ``persons`` row, not named by a merge here)
  and this is the first change of that person waiting (so nothing recorded before it
  about them is overtaken);
- it is made on nothing (``depends_on`` None): no base to wait for, nothing to merge
  field by field, no conflict possible, no draft to be taken off;
- it carries no manifest, item, discrepancy or merge, no conflict's decision and no
  hold's refusal of an erasure, is no erasure and no forget, and no other waiting change
  names its person in a merge; its person is no old id held here (``merged_ids``);
- its registration number is held by nobody here and given by no other change of the
  batch (a number given twice goes to ``_apply``, which refuses the bundle saying so);
- what it names is here (its sites, the manifests its movements name), as
  ``SyncService._missing`` asks, for all of them in one query per table.

Its family links, the relay at the central, the match index and the audit are done by
``_drain`` for all changes applied, as before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from corridor.storage import locations
from corridor.storage.merge_tables import merged_ids, merged_persons
from corridor.storage.sync_tables import sync_changes
from corridor.storage.tables import (
    households,
    manifests,
    movements,
    person_documents,
    persons,
    sites,
)
from corridor.sync import facts
from corridor.sync.journal import FORGET, set_heads
from corridor.sync.state import decode_row

CHUNK = 500
# What a state may carry that only ``_apply`` handles: facts, a conflict's decision
# (``decisions.DECIDES``), a hold that refused an erasure (``holds.REFUSED``).
_FACTS = (
    "manifests",
    "manifest_items",
    "manifest_discrepancies",
    "merges",
    "decides",
    "erasure_refused",
)

_MARK_APPLIED = (
    update(sync_changes)
    .where(sync_changes.c.id == bindparam("change_id"))
    .values(state="applied", conflict_fields=None)
)


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _present(conn: Connection, column: Any, ids: Iterable[str]) -> set[str]:
    wanted = sorted(set(ids))
    found: set[str] = set()
    for chunk in _chunks(wanted):
        rows = conn.execute(select(column).where(column.in_(chunk))).scalars()
        found.update(str(x) for x in rows)
    return found


def candidates(pending: list[tuple[Any, dict[str, Any]]]) -> list[tuple[Any, dict[str, Any]]]:
    """The changes of ``pending`` (in the order recorded) that may be applied together,
    judged on the changes alone (the database is asked in ``apply_new``)."""
    first: dict[str, Any] = {}
    named_by_merge: set[str] = set()
    for change, state in pending:
        first.setdefault(str(change["person_id"]), change["id"])
        for m in state.get("merges", ()):
            named_by_merge.update((str(m["survivor_id"]), str(m["merged_id"])))
    out = []
    for change, state in pending:
        pid = str(change["person_id"])
        if (
            first[pid] == change["id"]
            and pid not in named_by_merge
            and change["depends_on"] is None
            and change["kind"] != facts.ERASE_KIND
            and not state.get(FORGET)
            and not any(state.get(name) for name in _FACTS)
            and str(state["person"]["id"]) == pid
        ):
            out.append((change, state))
    return out


Row = dict[str, Any]


def _wanted(state: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The sites and manifests a change made on nothing needs here (as ``_missing``)."""
    wanted_sites, wanted_manifests = facts.needs(state)
    wanted_sites.add(state["person"]["site_id"])
    for m in state["movements"]:
        wanted_sites.update(s for s in (m["from_site_id"], m["to_site_id"]) if s)
    return wanted_sites, wanted_manifests


def _not_waiting(
    conn: Connection, chosen: list[tuple[Any, dict[str, Any]]]
) -> list[tuple[Any, dict[str, Any]]]:
    """The changes of ``chosen`` whose sites and manifests are all here (the others wait,
    as ``SyncService._missing`` says of them): one query for all."""
    wanted = [_wanted(s) for _, s in chosen]
    have_sites = _present(conn, sites.c.id, set().union(*(w[0] for w in wanted)))
    have_manifests = _present(conn, manifests.c.id, set().union(*(w[1] for w in wanted)))
    return [
        pair
        for pair, (s, m) in zip(chosen, wanted, strict=True)
        if s <= have_sites and m <= have_manifests
    ]


def _numbers_free(
    conn: Connection, chosen: list[tuple[Any, dict[str, Any]]]
) -> list[tuple[Any, dict[str, Any]]]:
    """The changes of ``chosen`` whose registration number no person here holds and no
    other change of the batch gives: a number given twice is left to ``_apply``, which
    refuses the bundle saying so (``numbers.collision``)."""
    numbers = [s["person"].get("registration_number") for _, s in chosen]
    given = [n for n in numbers if n]
    taken = _present(conn, persons.c.registration_number, given)
    twice = {n for n, count in Counter(given).items() if count > 1}
    return [
        pair
        for pair, n in zip(chosen, numbers, strict=True)
        if not n or (n not in taken and n not in twice)
    ]


def apply_new(
    conn: Connection,
    pending: list[tuple[Any, dict[str, Any]]],
    *,
    hashed: Callable[[str, Row], Row],
    documents: Callable[[str, list[Row]], list[Row]],
) -> set[str]:
    """Apply together the changes of new persons among ``pending`` (``candidates``
    whose person is not here and whose sites and manifests are); the ids of the changes
    applied. The ``SyncService``'s own steps: ``hashed`` (a person row with the lookup
    hashes of this installation), ``documents`` (document rows with theirs)."""
    chosen = candidates(pending)
    if not chosen:
        return set()
    pids = [str(c["person_id"]) for c, _ in chosen]
    held = (
        _present(conn, persons.c.id, pids)
        | _present(conn, merged_persons.c.person_id, pids)
        | _present(conn, merged_ids.c.person_id, pids)
    )
    chosen = [(c, s) for c, s in chosen if str(c["person_id"]) not in held]
    chosen = _not_waiting(conn, chosen)
    chosen = _numbers_free(conn, chosen)
    if not chosen:
        return set()

    person_rows: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    document_rows: list[dict[str, Any]] = []
    household_rows: dict[str, dict[str, Any]] = {}
    movement_rows: dict[str, dict[str, Any]] = {}
    for _change, state in chosen:
        incoming = facts.kept_here(state, decode_row(persons, state["person"]))
        site_id = incoming["site_id"]
        row = hashed(site_id, incoming)
        person_rows.setdefault(tuple(sorted(row)), []).append(row)
        document_rows += documents(
            site_id, [decode_row(person_documents, d) for d in state["documents"]]
        )
        if state["household"] is not None:
            hh = decode_row(households, state["household"])
            household_rows.setdefault(str(hh["id"]), hh)
        for m in state["movements"]:
            movement_rows.setdefault(
                str(m["id"]), {**decode_row(movements, m), "person_id": incoming["id"]}
            )
        state["_moved"] = set()

    have_households = _present(conn, households.c.id, household_rows)
    new_households = [h for k, h in household_rows.items() if k not in have_households]
    if new_households:
        conn.execute(insert(households), new_households)
    for rows in person_rows.values():
        for chunk in _chunks(rows):
            conn.execute(insert(persons), chunk)
    if document_rows:
        conn.execute(insert(person_documents), document_rows)
    have_movements = _present(conn, movements.c.id, movement_rows)
    new_movements = [m for k, m in movement_rows.items() if k not in have_movements]
    if new_movements:
        conn.execute(insert(movements), new_movements)
    applied = {str(c["person_id"]): str(c["id"]) for c, _ in chosen}
    for chunk in _chunks(sorted(applied)):
        locations.refresh(conn, chunk)
    set_heads(conn, applied)
    conn.execute(_MARK_APPLIED, [{"change_id": cid} for cid in applied.values()])
    return set(applied.values())
