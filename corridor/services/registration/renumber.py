"""Giving a person a new registration number (issue 16, docs/sync.md "Registration
numbers").

Two installations apart may give one random number to two persons; the import that
brings the second is refused (``corridor.sync.numbers``). The administrator gives the
person held at the central a new number: a write of the person (audited, journaled as a
``person.write`` so that it reaches the nodes holding them), recorded in ``renumbered``
(the number before, shown on the person's page; it is no search key any more: it now
belongs to someone else).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from corridor.domain.ids import (
    InvalidRegistrationNumber,
    format_registration_number,
    new_registration_number,
    normalise_registration_number,
    uuid7,
)
from corridor.errors import Problem, require
from corridor.services.base import AuditHook, live_id
from corridor.services.search import match_index
from corridor.storage import changes, locations, queries
from corridor.storage.merge_tables import merged_ids
from corridor.storage.number_tables import renumbered
from corridor.storage.queries import Sites
from corridor.storage.tables import persons
from corridor.text import N_

# A reason is the audit event's purpose (its column holds 200 characters).
REASON_MAX = 200
NO_REASON = N_("say why the person is given a new number (e.g. the number was given twice)")


def free_number(conn: Connection) -> str:
    """A random number held by no person here, and by no merged-away id either."""
    while True:
        number = new_registration_number()
        held = (
            conn.execute(
                select(persons.c.id).where(persons.c.registration_number == number)
            ).first()
            or conn.execute(
                select(merged_ids.c.person_id).where(merged_ids.c.registration_number == number)
            ).first()
        )
        if held is None:
            return number


def renumber(
    conn: Connection,
    vault: Any,
    person_id: str,
    reason: str,
    at: datetime,
    *,
    audit: AuditHook,
    scope: Sites = None,
) -> dict[str, Any]:
    """Give the person (an id or their registration number; a merged-away id: its
    survivor) a new number, in ``conn``'s
    transaction. 404 for a person outside ``scope``; 422 without a reason."""
    reason = (reason or "").strip()
    require([Problem("reason", NO_REASON)] if not reason or len(reason) > REASON_MAX else [])
    person_id = live_id(conn, person_id)
    if conn.execute(select(persons.c.id).where(persons.c.id == person_id)).first() is None:
        person_id = live_id(conn, by_reference(conn, person_id))
    locations.lock_persons(conn, [person_id])
    queries.person_row(conn, person_id, scope)  # NotFound outside the caller's sites
    old = conn.execute(
        select(persons.c.registration_number).where(persons.c.id == person_id)
    ).scalar_one()
    new = free_number(conn)
    conn.execute(
        update(persons)
        .where(persons.c.id == person_id)
        .values(registration_number=new, updated_at=at)
    )
    record(conn, person_id, old, new, at)
    match_index.reindex_persons(conn, [person_id], vault)  # found by the new number
    changes.journal_as(conn, "person.write")  # travels as a change of the person
    audit(conn, [person_id])
    return {
        "person_id": person_id,
        "registration_number": format_registration_number(new),
        "previous_number": format_registration_number(old),
        "renumbered_at": at,
    }


def by_reference(conn: Connection, ref: str) -> str:
    """A person id, or the id a registration number names here (``ref`` unchanged when
    it names none: the caller's 404)."""
    try:
        number = normalise_registration_number(ref)
    except InvalidRegistrationNumber:
        return ref
    return queries.by_number(conn, number) or ref


def record(conn: Connection, person_id: str, old: str, new: str, at: datetime) -> None:
    conn.execute(
        insert(renumbered).values(
            id=uuid7(),
            person_id=person_id,
            previous_number=old,
            registration_number=new,
            renumbered_at=at,
        )
    )


def history(conn: Connection, person_id: str) -> list[dict[str, Any]]:
    """The numbers the person was given anew, oldest first (formatted)."""
    rows = conn.execute(
        select(renumbered)
        .where(renumbered.c.person_id == person_id)
        .order_by(renumbered.c.renumbered_at, renumbered.c.id)
    ).mappings()
    return [
        {
            "previous_number": format_registration_number(r["previous_number"]),
            "registration_number": format_registration_number(r["registration_number"]),
            "renumbered_at": r["renumbered_at"],
        }
        for r in rows
    ]
