"""Keeping the person_locations projection in step with the movement log."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from corridor.domain.movements import Event, Location, current_location
from corridor.storage.tables import movements, person_locations, persons


def events_of(conn: Connection, person_ids: Iterable[str]) -> dict[str, list[Event]]:
    ids = list(person_ids)
    out: dict[str, list[Event]] = {pid: [] for pid in ids}
    rows = conn.execute(
        select(movements).where(movements.c.person_id.in_(ids)).order_by(movements.c.seq)
    ).mappings()
    for r in rows:
        out[r["person_id"]].append(event_of(r))
    return out


def event_of(r: Any) -> Event:
    return Event(
        id=r["id"],
        seq=r["seq"],
        kind=r["kind"],
        from_site_id=r["from_site_id"],
        to_site_id=r["to_site_id"],
        occurred_at=r["occurred_at"],
        manifest_id=r["manifest_id"],
        corrects_id=r["corrects_id"],
    )


def location_row(person_id: str, loc: Location) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "site_id": loc.site_id,
        "state": loc.state,
        "since": loc.since,
        "event_id": loc.event_id,
        "manifest_id": loc.manifest_id,
        "destination_site_id": loc.destination_site_id,
    }


def lock_persons(conn: Connection, person_ids: Iterable[str]) -> list[str]:
    """Take the row locks of these persons (``FOR UPDATE`` on PostgreSQL, in id order so
    that two writers never wait on each other crosswise; SQLite's one writer holds them
    already) before a change that depends on their current state. Returns the ids, sorted."""
    ids = sorted(set(person_ids))
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        conn.execute(
            select(persons.c.id)
            .where(persons.c.id.in_(chunk))
            .order_by(persons.c.id)
            .with_for_update()
        ).all()
    return ids


def refresh(conn: Connection, person_ids: Iterable[str]) -> dict[str, Location]:
    """Recompute the current location of these persons from their events.

    The persons' rows are locked first (in id order, so two writers never wait on each
    other crosswise): on PostgreSQL two transactions refreshing one person would
    otherwise both delete and insert, and the second fail on the projection's key. After
    the lock each sees every event committed before it."""
    ids = lock_persons(conn, person_ids)
    by_person = events_of(conn, ids)
    locations = {pid: current_location(evts) for pid, evts in by_person.items()}
    if locations:
        conn.execute(
            delete(person_locations).where(person_locations.c.person_id.in_(list(locations)))
        )
        conn.execute(
            insert(person_locations), [location_row(p, loc) for p, loc in locations.items()]
        )
    return locations
