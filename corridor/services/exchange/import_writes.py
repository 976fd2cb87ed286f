"""Writing a checked import: persons, households, updates, expiries, the ids taken in
(``imported_records``) and PFIF notes, all inside the import's one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, delete, insert, select, update

from corridor.domain.ids import uuid7
from corridor.formats.records import Record
from corridor.schemas import HouseholdIn, PersonIn, PersonPatch
from corridor.services.base import AuditHook
from corridor.services.registration.persons import RegistrationService
from corridor.services.search import match_index
from corridor.storage.import_tables import imported_records, pfif_notes
from corridor.storage.queries import NAME_COLUMNS
from corridor.storage.tables import person_documents, persons

# New persons written per step of a large import: each step is one ``register_many``
# (on PostgreSQL its rows go by COPY, storage/bulk.py) inside the import's one
# transaction, and the progress is told after each.
WRITE_STEP = 10_000


@dataclass
class Plan:
    """What the import will do with one record."""

    record: Record
    action: Literal["create", "update", "unchanged", "expire", "skip"]
    data: PersonIn | HouseholdIn | PersonPatch | None = None
    person_id: str | None = None
    # The persons a "create" wrote, in the record's order: a single person, or a
    # household's head then its members (set by ``write``).
    written: list[str] = field(default_factory=list)


def write(
    conn: Connection,
    registration: RegistrationService,
    space: str,
    plans: list[Plan],
    loose_notes: list[dict[str, Any]],
    by: str | None,
    now: datetime,
    audit: AuditHook,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Write the planned records inside the import's transaction; the person ids written.
    Each person written, updated or emptied is audited in that transaction. New single
    persons are written ``WRITE_STEP`` at a time, ``progress(done, total)`` after each."""
    ids: list[str] = []
    singles = [p for p in plans if p.action == "create" and isinstance(p.data, PersonIn)]
    items = [p.data for p in singles if isinstance(p.data, PersonIn)]
    new = []
    for start in range(0, len(items), WRITE_STEP):
        new += registration.register_many(
            items[start : start + WRITE_STEP], by, audit=audit, conn=conn
        )
        if progress:
            progress(len(new), len(items))
    if singles:
        for plan, pid in zip(singles, new, strict=True):
            plan.person_id = pid
            plan.written = [pid]
        ids += new
    families = [p for p in plans if p.action == "create" and isinstance(p.data, HouseholdIn)]
    households: list[str | None] = []
    if families:
        written = registration.register_households(
            [p.data for p in families if isinstance(p.data, HouseholdIn)],
            by,
            audit=audit,
            conn=conn,
        )
        for plan, household in zip(families, written, strict=True):
            plan.person_id = household["head_person_id"]
            plan.written = [m["id"] for m in household["members"]]  # head first
            households.append(household["id"])
            ids += [m["id"] for m in household["members"]]
    household_of = {id(p): h for p, h in zip(families, households, strict=True)}
    for plan in plans:
        if plan.action == "update" and plan.person_id and isinstance(plan.data, PersonPatch):
            registration.update_person(
                plan.person_id, plan.data, audit=audit, conn=conn, by=by
            )
            ids.append(plan.person_id)
        elif plan.action == "expire" and plan.person_id:
            _empty_person(conn, plan.person_id, now)
            audit(conn, [plan.person_id])
            ids.append(plan.person_id)
    _remember(conn, space, plans, household_of, now, by)
    _store_notes(conn, plans, loose_notes, now)
    return list(dict.fromkeys(ids))


def _remember(
    conn: Connection,
    space: str,
    plans: list[Plan],
    household_of: dict[int, str | None],
    now: datetime,
    by: str | None,
) -> None:
    for plan in plans:
        key = plan.record.key
        if not key or plan.action not in ("create", "update", "expire"):
            continue
        values = {
            "person_id": plan.person_id,
            "household_id": household_of.get(id(plan)),
            "content_hash": plan.record.content_hash(),
            "source_date": plan.record.source_date,
            "imported_at": now,
            "imported_by": by,
        }
        # A new record is inserted, never updated: if another import took the same key
        # in the meantime, the unique key refuses it and this import rolls back.
        done = None
        if plan.action != "create":
            done = conn.execute(
                update(imported_records)
                .where(imported_records.c.source == space, imported_records.c.external_id == key)
                .values(**{k: v for k, v in values.items() if k != "household_id"})
            )
        if done is None or not done.rowcount:
            conn.execute(
                insert(imported_records), [{"source": space, "external_id": key, **values}]
            )


def _store_notes(
    conn: Connection, plans: list[Plan], loose: list[dict[str, Any]], now: datetime
) -> None:
    """PFIF notes, linked to their person where Corridor holds them."""
    person_of = {p.record.key: p.person_id for p in plans if p.record.key and p.person_id}
    notes = [n for p in plans if p.action not in ("skip", "expire") for n in p.record.notes]
    notes += loose
    if not notes and not person_of:
        return
    wanted = [n["note_record_id"] for n in notes]
    stored: set[str] = set()
    for chunk in chunks(wanted):
        stored |= set(
            conn.execute(
                select(pfif_notes.c.note_record_id).where(pfif_notes.c.note_record_id.in_(chunk))
            ).scalars()
        )
    missing = {n["person_record_id"] for n in notes} - set(person_of)
    for chunk in chunks(sorted(missing)):
        found = conn.execute(
            select(imported_records.c.external_id, imported_records.c.person_id).where(
                imported_records.c.source == "pfif", imported_records.c.external_id.in_(chunk)
            )
        )
        person_of.update({k: v for k, v in found})
    rows = []
    for note in notes:
        if note["note_record_id"] in stored:
            continue
        stored.add(note["note_record_id"])
        rows.append(
            {
                **{k: v for k, v in note.items() if k != "line"},
                "id": uuid7(),
                "person_id": person_of.get(note["person_record_id"]),
                "case_id": None,
                "imported_at": now,
            }
        )
    if rows:
        conn.execute(insert(pfif_notes), rows)
    # Notes that came before their person now find it.
    for key, pid in person_of.items():
        if pid:
            conn.execute(
                update(pfif_notes)
                .where(pfif_notes.c.person_record_id == key, pfif_notes.c.person_id.is_(None))
                .values(person_id=pid)
            )


def chunks(items: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _empty_person(conn: Connection, person_id: str, now: datetime) -> None:
    """An expired PFIF record: keep the person's id and dates, nothing that names them."""
    blank: dict[str, Any] = dict.fromkeys(NAME_COLUMNS)
    blank.update(
        alternate_names=[],
        kunya=None,
        mother_name=None,
        phone=None,
        note=None,
        note_roles=None,
        birth_date=None,
        birth_precision=None,
        origin_locality=None,
        updated_at=now,
    )
    conn.execute(update(persons).where(persons.c.id == person_id).values(**blank))
    conn.execute(delete(person_documents).where(person_documents.c.person_id == person_id))
    conn.execute(delete(pfif_notes).where(pfif_notes.c.person_id == person_id))
    match_index.reindex_persons(conn, [person_id], None)  # emptied: no sealed field left
