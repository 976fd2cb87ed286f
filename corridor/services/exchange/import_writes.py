"""Writing a checked import: persons, households, updates, expiries, the ids taken in
(``imported_records``) and PFIF notes, all inside the import's one transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, delete, insert, select, update

from corridor.domain.ids import uuid7
from corridor.formats.records import Record
from corridor.schemas import HouseholdIn, PersonIn, PersonPatch
from corridor.security.errors import KeyUnavailable
from corridor.services.base import AuditHook
from corridor.services.registration.persons import RegistrationService
from corridor.services.search import match_index
from corridor.storage.import_tables import imported_records, pfif_notes
from corridor.storage.queries import NAME_COLUMNS
from corridor.storage.tables import households, persons

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
    # Another registry's household (the file's ``household_id``) the new person is
    # kept in with the file's other rows of it: a household of this registry, new or
    # (``joins``) the one earlier rows of it were put in (``_households_together``).
    together: str | None = None
    joins: str | None = None


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
    kept_together = _households_together(conn, singles, now)
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
    household_of.update(kept_together)
    for plan in plans:
        if plan.action == "update" and plan.person_id and isinstance(plan.data, PersonPatch):
            registration.update_person(
                plan.person_id, plan.data, audit=audit, conn=conn, by=by
            )
            ids.append(plan.person_id)
        elif plan.action == "expire" and plan.person_id:
            _empty_person(conn, registration, space, plan, now)
            audit(conn, [plan.person_id])
            ids.append(plan.person_id)
    _remember(conn, registration, space, plans, household_of, now, by)
    _store_notes(conn, plans, loose_notes, now)
    return list(dict.fromkeys(ids))


def _households_together(conn: Connection, singles: list[Plan], now: datetime) -> dict[int, str]:
    """Put the new persons of each of another registry's households (``Plan.together``)
    in one household here: the one earlier rows of it were put in (``Plan.joins``), or
    a new one whose head is its first row (Corridor's export lists a household's head
    first). The file has no column saying how the others are related to the head:
    their relationship is left unknown (none is guessed, no link is made). By plan,
    the household each was put in."""
    groups: dict[str, list[Plan]] = {}
    for plan in singles:
        if plan.together and plan.person_id:
            groups.setdefault(plan.together, []).append(plan)
    out: dict[int, str] = {}
    for group in groups.values():
        household = group[0].joins
        members = [p.person_id for p in group if p.person_id]
        if household is None:
            household = uuid7()
            site = getattr(group[0].data, "site_id", None)
            conn.execute(
                insert(households),
                [{"id": household, "site_id": site, "head_person_id": members[0],
                  "created_at": now}],
            )  # fmt: skip
            conn.execute(
                update(persons)
                .where(persons.c.id == members[0])
                .values(household_id=household, relationship_to_head="head")
            )
            members = members[1:]
        if members:
            conn.execute(
                update(persons)
                .where(persons.c.id.in_(members))
                .values(household_id=household, relationship_to_head=None)
            )
        out.update({id(p): household for p in group})
    return out


def _remember(
    conn: Connection,
    registration: RegistrationService,
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
        if space in EXPIRES and plan.person_id and plan.action != "expire":
            values["fields"] = _fingerprinted(conn, registration, space, plan)
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


# The id spaces whose records can expire in the system they come from, emptying what
# they gave (PFIF's ``expiry_date``): what each record wrote is fingerprinted.
EXPIRES = frozenset({"pfif"})
# What such a record can give a person, by the name its fingerprint uses: the columns
# each stands for, and their value once cleared. A record's ``birth_date`` or
# ``estimated_age`` is ``birth``. Nothing else is ever cleared by an expiry: a phone,
# documents, a kunya, a mother's name, medical details, movements, links (what staff
# add here; PFIF carries none of them), nor the sex (as before).
CLEARED: dict[str, dict[str, Any]] = {
    **{name: {name: None} for name in NAME_COLUMNS},
    "alternate_names": {"alternate_names": []},
    "birth": {"birth_date": None, "birth_precision": None},
    "origin_locality": {"origin_locality": None},
    "note": {"note": None, "note_roles": None},
}


def _given(record: Record) -> set[str]:
    """The fingerprint names of what ``record`` gives (``CLEARED``)."""
    names = {"birth" if k in ("birth_date", "estimated_age") else k for k in record.person}
    return names & CLEARED.keys()


def _values(person: dict[str, Any]) -> dict[str, Any]:
    """A stored person (opened) by the fingerprint's names."""
    names = person["names"]
    out: dict[str, Any] = {name: names.get(name) for name in NAME_COLUMNS}
    out["alternate_names"] = list(names.get("alternate_names") or [])
    out["birth"] = [person.get("birth_date"), person.get("birth_precision")]
    out["origin_locality"] = person["origin"].get("locality")
    out["note"] = person.get("note")
    return out


def _hash(registration: RegistrationService, name: str, value: Any) -> str | None:
    """The keyed hash of a field's value (None without a master key: nothing kept)."""
    text = json.dumps([name, value], default=str, ensure_ascii=False, sort_keys=True)
    try:
        return registration.vault.lookup_hash("import.field", text)
    except KeyUnavailable:
        return None


def _fingerprinted(
    conn: Connection, registration: RegistrationService, space: str, plan: Plan
) -> str | None:
    """What the record wrote on its person (each field it gave, by the keyed hash of the
    value the person holds now, just written), over what earlier records of the same id
    wrote of the fields it does not give; JSON, or None when nothing can be hashed."""
    assert plan.person_id is not None and plan.record.key is not None
    earlier = conn.execute(
        select(imported_records.c.fields).where(
            imported_records.c.source == space,
            imported_records.c.external_id == plan.record.key,
        )
    ).scalar()
    out: dict[str, str] = json.loads(earlier) if earlier else {}
    values = _values(registration._person(conn, plan.person_id))
    for name in sorted(_given(plan.record)):
        if values[name] in (None, "", []):
            out.pop(name, None)
        elif (hashed := _hash(registration, name, values[name])) is not None:
            out[name] = hashed
        else:
            return None
    return json.dumps(out, sort_keys=True)


def _empty_person(
    conn: Connection, registration: RegistrationService, space: str, plan: Plan, now: datetime
) -> None:
    """An expired record (PFIF): clear what it gave the person and nothing else. Each
    field still holding the value the record wrote (its fingerprint) is cleared; a field
    typed or corrected here since is kept, as is everything a PFIF record cannot carry.
    A record taken in before its fingerprint was kept (migration 0043) clears every
    field PFIF carries. The PFIF notes of this record are removed, others' kept.

    Before, the person was emptied whole: a phone, documents, a kunya and a mother's
    name added here by a registrar went too, and a note typed by staff."""
    person_id, key = plan.person_id, plan.record.key
    assert person_id is not None
    stored = conn.execute(
        select(imported_records.c.fields).where(
            imported_records.c.source == space, imported_records.c.external_id == key
        )
    ).scalar()
    values = _values(registration._person(conn, person_id))
    if stored is None:
        cleared = set(CLEARED)
    else:
        wrote = json.loads(stored)
        cleared = {
            name
            for name, hashed in wrote.items()
            if name in CLEARED and _hash(registration, name, values[name]) == hashed
        }
    blank: dict[str, Any] = {"updated_at": now}
    for name in sorted(cleared):
        blank.update(CLEARED[name])
    conn.execute(update(persons).where(persons.c.id == person_id).values(**blank))
    conn.execute(
        delete(pfif_notes).where(
            pfif_notes.c.person_id == person_id, pfif_notes.c.person_record_id == key
        )
    )
    match_index.reindex_persons(conn, [person_id], registration.vault)
