"""A registration number given by two installations to two different persons (issue
16; docs/sync.md, "Registration numbers").

Numbers are random (``domain/ids.py``) and a collision between two installations is
unlikely, but the ``persons`` table holds each number once: a change bringing a person
whose number another person holds here would fail the import on the database's
constraint, an error that names nothing. ``collision`` finds it first and says what
happened, so that ``SyncService`` refuses the bundle with that message (the import is
one transaction: nothing is written).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, func, select, update

from corridor.domain.ids import format_registration_number
from corridor.services.registration import renumber as renumbering
from corridor.storage.sync_tables import sync_changes
from corridor.storage.tables import persons, sites
from corridor.sync.journal import custody

# What the refusal asks for: the person held here given a new number (the person of
# the bundle may still be unsent elsewhere, under their number, in other changes).
COMMAND = 'corridor person renumber {person} --reason "number given twice"'


def collision(
    conn: Connection,
    change: Any,
    incoming: dict[str, Any],
    current: Any,
    open_change: Callable[[Any], dict[str, Any]] | None = None,
) -> str | None:
    """The refusal's reason when the change gives its person a registration number that
    another person holds here; None otherwise.

    Where a later change of the person waiting here (the same import) gives them a new
    number that is free here (given anew at the central after the collision), that
    number is written instead (``incoming`` changed): the number given twice never
    lands here (``open_change``: how to read a change's state)."""
    number = incoming.get("registration_number")
    if not number or (current is not None and current["registration_number"] == number):
        return None
    other = conn.execute(
        select(persons.c.id, persons.c.site_id).where(
            persons.c.registration_number == number, persons.c.id != incoming["id"]
        )
    ).first()
    if other is None:
        return None
    if open_change is not None:
        anew = later_number(conn, change["person_id"], open_change, change)
        if anew and anew != number and _free(conn, anew, incoming["id"]):
            incoming["registration_number"] = anew
            return None
        # The other person's new number arrives in this import too: taken first.
        theirs = later_number(conn, other.id, open_change)
        if theirs and theirs != number and _free(conn, theirs, other.id):
            conn.execute(
                update(persons).where(persons.c.id == other.id).values(registration_number=theirs)
            )
            _record(conn, other.id, str(number), theirs, change["recorded_at"])
            return None
    names = dict(conn.execute(select(sites.c.id, sites.c.name)).all())
    reached = func.coalesce(sync_changes.c.received_at, sync_changes.c.recorded_at)
    first = conn.execute(
        select(sync_changes.c.origin_node)
        .where(sync_changes.c.person_id == other.id)
        .order_by(reached, sync_changes.c.id)
        .limit(1)
    ).scalar()
    held_from = f"node {first}" if first else "this installation"
    here_central = custody(conn)[0] != "node"
    # At a node, the incoming person is the one the central holds (it sent them).
    central_person = incoming["id"]
    return (
        f"registration number {format_registration_number(str(number))} was given twice: "
        f"to person {incoming['id']} of site {names.get(incoming.get('site_id'), '?')} "
        f"by node {change['origin_node']}, and to person {other.id} of site "
        f"{names.get(other.site_id, '?')} held here (registered by {held_from}). Nothing "
        "was imported. They are two different persons: "
        + (
            f"give the one held here a new number ({COMMAND.format(person=other.id)}, "
            "the administrator), then import again; or give the other one a new number "
            f"at node {change['origin_node']} before it sends again "
            f"({COMMAND.format(person=incoming['id'])} there)"
            if here_central
            else "ask the central's administrator to give the one held at the central a "
            f"new number ({COMMAND.format(person=central_person)} at the central), then "
            "sync again"
        )
    )


def received(conn: Connection, current: Any, at: Any) -> None:
    """After a change was applied to a person held here: a new registration number it
    brought (given anew at the central; an erasure's new number is no renumbering) is
    recorded, so that the person's page here shows it too."""
    if current is None or current["anonymised_at"] is not None:
        return
    now = conn.execute(
        select(persons.c.registration_number, persons.c.anonymised_at).where(
            persons.c.id == current["id"]
        )
    ).first()
    if now is None or now.anonymised_at is not None:
        return
    if now.registration_number != current["registration_number"]:
        _record(conn, current["id"], current["registration_number"], now.registration_number, at)


def _record(conn: Connection, person_id: str, old: str, new: str, at: Any) -> None:
    renumbering.record(conn, person_id, old, new, at)


def later_number(
    conn: Connection,
    person_id: str,
    open_change: Callable[[Any], dict[str, Any]],
    after: Any = None,
) -> str | None:
    """The registration number the person's latest change waiting here gives them (one
    recorded after the change ``after``, if given)."""
    where = [sync_changes.c.person_id == person_id, sync_changes.c.state == "waiting"]
    if after is not None:
        where += [
            sync_changes.c.id != after["id"],
            sync_changes.c.recorded_at >= after["recorded_at"],
        ]
    latest = (
        conn.execute(
            select(sync_changes)
            .where(*where)
            .order_by(sync_changes.c.recorded_at.desc(), sync_changes.c.seq.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    if latest is None:
        return None
    number = open_change(latest)["person"].get("registration_number")
    return str(number) if number else None


def _free(conn: Connection, number: str, person_id: str) -> bool:
    return (
        conn.execute(
            select(persons.c.id).where(
                persons.c.registration_number == number, persons.c.id != person_id
            )
        ).first()
        is None
    )
