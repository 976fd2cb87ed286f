"""An old id a node never held leads to the survivor it holds (issue 16).

One person registered at the exit's node (id A) and at the camp's node (id B), merged at
the central into A. The exit's node holds A and never held B's record (the camp's
person): ``merged_persons`` names two ``persons`` rows, so the merge cannot be made there.
The merge travels with A's change (``state.FACTS``), with B's registration number beside
it (``state.MERGED_NUMBER``); the node keeps a row for the old id alone (``merged_ids``:
the old id, its survivor, the central's merge, the number), read with ``merged_persons``
wherever an old id is led to its survivor (``queries.survivors``, ``queries.by_number``,
``services.base.live_ids``). So B leads to A at the exit's node as at the central: the
person's API and page, a search by registration number, a movement, a correction or a
manifest line written under B (docs/sync.md, "An old id a node never held").

A node that held B's record, merged it into A here and then forgets it (the central's
forget: B's record is the camp's) keeps such a row too (``keep_numbers``), since the
forget replaces B's number on its anonymised row.

The row goes when the merge is undone (an unmerge received), when B's own record arrives
here (the merge is then made with both rows, ``facts.apply_merges``), and when the
survivor is anonymised here (an erasure, a retention run, the central's forget:
``retention.anonymise``), so that nothing of B is left where the node no longer holds
the person.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from corridor.storage.merge_tables import merged_ids, merged_persons, person_merges
from corridor.storage.tables import persons


def survivor_only(conn: Connection, merge: dict[str, Any], number: str | None) -> None:
    """A merge whose survivor is held here and whose merged person is not: the old id's
    row written (a merge in force) or removed (undone)."""
    merged = str(merge["merged_id"])
    if merge["unmerged_at"] is not None:
        conn.execute(
            delete(merged_ids).where(
                merged_ids.c.person_id == merged, merged_ids.c.merge_id == merge["id"]
            )
        )
        return
    values = {
        "survivor_id": str(merge["survivor_id"]),
        "merge_id": str(merge["id"]),
        "registration_number": number,
        "merged_at": merge.get("merged_at"),
    }
    if conn.execute(select(merged_ids.c.person_id).where(merged_ids.c.person_id == merged)).first():
        conn.execute(update(merged_ids).where(merged_ids.c.person_id == merged).values(**values))
    else:
        conn.execute(insert(merged_ids).values(person_id=merged, **values))


def now_held(conn: Connection, person_id: str) -> None:
    """The merged person's own record is here now: the merge is made with both rows."""
    conn.execute(delete(merged_ids).where(merged_ids.c.person_id == person_id))


def keep_numbers(conn: Connection, person_ids: list[str]) -> None:
    """Before the node forgets ``person_ids`` (the central's forget: anonymised, their
    registration number replaced), those merged away here into a survivor it keeps leave
    their number on a row for the old id alone, so that it still leads to the survivor
    (B's record came on a truck, was merged into A here, and is forgotten here since)."""
    for pid, survivor, merge_id, number, at in conn.execute(
        select(
            merged_persons.c.person_id,
            merged_persons.c.survivor_id,
            merged_persons.c.merge_id,
            persons.c.registration_number,
            person_merges.c.merged_at,
        )
        .join(persons, persons.c.id == merged_persons.c.person_id)
        .join(person_merges, person_merges.c.id == merged_persons.c.merge_id)
        .where(
            merged_persons.c.person_id.in_(sorted(person_ids)),
            merged_persons.c.survivor_id.not_in(sorted(person_ids)),
            persons.c.anonymised_at.is_(None),
        )
    ).all():
        merge = {"merged_id": pid, "survivor_id": survivor, "id": merge_id,
                 "unmerged_at": None, "merged_at": at}  # fmt: skip
        survivor_only(conn, merge, str(number))
