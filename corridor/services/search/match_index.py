"""Keeping the matching index (blocking keys and their counts) in step with persons.

Called inside the transaction that writes a person, so the index never lags behind: a
person registered is findable by the next search.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, RowMapping, bindparam, delete, select

from corridor.domain.birth import age_on
from corridor.matching import PersonRecord, blocking_keys
from corridor.storage.bulk import insert_rows
from corridor.storage.tables import (
    POPULATION_KEY,
    match_key_counts,
    person_documents,
    person_match_keys,
    persons,
    relationships,
)

if TYPE_CHECKING:
    from corridor.services.protection.field_vault import FieldVault

# How a blocking key is stored: identifier keys (``ph:``, ``id:``) go through the lookup
# hash of services/protection/field_vault.py, so the index never holds a phone or document number.
KeyMap = Callable[[str], str]


def _same(key: str) -> str:
    return key


ORIGINAL_PARTS = (
    "given_name_original",
    "father_name_original",
    "grandfather_name_original",
    "family_name_original",
)
# How far to trust a birth year, by the precision it was recorded with.
YEAR_TOLERANCE = {"day": 0, "month": 0, "year": 1, None: 0}


def birth_year_and_tolerance(row: Mapping[str, Any]) -> tuple[int | None, int]:
    birth = row.get("birth_date")
    if birth is None:
        return None, 0
    precision = row.get("birth_precision")
    if precision == "estimated":
        # Estimates drift with age: about 1 year for a child, up to 5 for the old.
        age = age_on(birth, "day", row["registered_at"].date()) or 0
        return birth.year, 1 if age < 10 else 3 if age < 40 else 5
    return birth.year, YEAR_TOLERANCE.get(precision, 1)


def person_record(row: Any, documents: Sequence[str] = ()) -> PersonRecord:
    """A stored person as the matching engine sees them."""
    year, tolerance = birth_year_and_tolerance(row)
    original = " ".join(row[f] for f in ORIGINAL_PARTS if row[f]) or None
    alternates = tuple(row["alternate_names"] or ()) + ((row["kunya"],) if row["kunya"] else ())
    return PersonRecord(
        record_id=row["id"],
        given_name=row["given_name"],
        father_name=row["father_name"],
        grandfather_name=row["grandfather_name"],
        family_name=row["family_name"],
        name_original_script=original,
        alternate_names=alternates,
        sex=row["sex"],
        birth_year=year,
        birth_year_tolerance=tolerance,
        nationality=row["nationality"],
        place_of_origin=row["origin_locality"],
        mother_name=row["mother_name"],
        registration_number=row["registration_number"],
        phone=row["phone"],
        document_numbers=tuple(documents),
    )


def bump_counts(conn: Connection, deltas: Counter[str]) -> None:
    """Add ``deltas`` to the per-key counts (sorted, so concurrent writers lock in order)."""
    rows = [{"key": k, "n": n} for k, n in sorted(deltas.items()) if n]
    insert_rows(conn, match_key_counts, rows, add_on_conflict="n")
    # A key nobody holds any more goes: its text is a name's (``t:hamid``, ``p:..``) or a
    # registration number's, and an erased or anonymised person leaves none behind.
    gone = [k for k, n in sorted(deltas.items()) if n < 0 and k != POPULATION_KEY]
    for start in range(0, len(gone), 500):
        conn.execute(
            delete(match_key_counts).where(
                match_key_counts.c.key.in_(gone[start : start + 500]), match_key_counts.c.n <= 0
            )
        )


class Postings:
    """New persons' index entries, computed before the write transaction opens."""

    def __init__(self, key_map: KeyMap = _same) -> None:
        self.by_person: dict[str, list[dict[str, Any]]] = {}
        self.key_map = key_map

    def add(self, rec: PersonRecord, traceable: bool) -> None:
        self.by_person[rec.record_id] = [
            {"key": k, "person_id": rec.record_id, "traceable": traceable}
            for k in sorted({self.key_map(k) for k in blocking_keys(rec)})
        ]

    def write(self, conn: Connection) -> None:
        rows = [row for rows in self.by_person.values() for row in rows]
        deltas: Counter[str] = Counter(row["key"] for row in rows)
        deltas[POPULATION_KEY] += len(self.by_person)
        insert_rows(conn, person_match_keys, rows)
        bump_counts(conn, deltas)


def postings_for(
    rows: Sequence[Any], docs: Mapping[str, Sequence[str]], key_map: KeyMap = _same
) -> Postings:
    """The index entries of person rows holding *plain* values (with their document
    numbers); no I/O."""
    postings = Postings(key_map)
    for r in rows:
        postings.add(person_record(r, docs.get(r["id"], ())), bool(r["consent_tracing"]))
    return postings


def stored_records(
    rows: Sequence[Any], docs: Mapping[str, Sequence[str | None]], vault: FieldVault | None
) -> list[PersonRecord]:
    """Stored person rows as the engine sees them, sealed phones and numbers opened
    (an unreadable one counts as absent). Without a vault the rows hold plain values."""
    out = []
    for r in rows:
        numbers = docs.get(r["id"], ())
        if vault is None:
            out.append(person_record(r, [n for n in numbers if n]))
            continue
        site = r["site_id"]
        plain = dict(r)
        plain["phone"] = vault.open(site, "phone", r["phone"])
        opened = [vault.open(site, "document_number", n) for n in numbers]
        out.append(person_record(plain, [n for n in opened if n]))
    return out


def unindex(conn: Connection, person_ids: Sequence[str]) -> None:
    """Remove persons' keys (before re-indexing them after an edit)."""
    old = conn.execute(
        select(person_match_keys.c.key).where(person_match_keys.c.person_id.in_(person_ids))
    ).scalars()
    deltas: Counter[str] = Counter()
    for key in old:
        deltas[key] -= 1
    deltas[POPULATION_KEY] -= len(person_ids)
    conn.execute(delete(person_match_keys).where(person_match_keys.c.person_id.in_(person_ids)))
    bump_counts(conn, deltas)


_DOCUMENTS = select(person_documents.c.person_id, person_documents.c.number).where(
    person_documents.c.person_id.in_(bindparam("ids", expanding=True))
)


def documents_of(conn: Connection, person_ids: Sequence[str]) -> dict[str, list[str | None]]:
    """The stored (sealed) document numbers of persons."""
    out: dict[str, list[str | None]] = {pid: [] for pid in person_ids}
    rows = conn.execute(_DOCUMENTS, {"ids": list(person_ids)})
    for pid, number in rows:
        out[pid].append(number)
    return out


def reindex_persons(conn: Connection, person_ids: Sequence[str], vault: FieldVault | None) -> None:
    """Recompute the keys of these persons from their stored rows."""
    unindex(conn, person_ids)
    rows = conn.execute(select(persons).where(persons.c.id.in_(person_ids))).mappings().all()
    docs = documents_of(conn, person_ids)
    index_rows(conn, rows, docs, vault)


def index_rows(
    conn: Connection,
    rows: Sequence[Any],
    docs: Mapping[str, Sequence[str | None]],
    vault: FieldVault | None,
) -> None:
    """Index stored person rows (with their stored document numbers)."""
    key_map = vault.index_key if vault is not None else _same
    postings = Postings(key_map)
    for rec, r in zip(stored_records(rows, docs, vault), rows, strict=True):
        if r.get("anonymised_at") is None:
            postings.add(rec, bool(r["consent_tracing"]))
    postings.write(conn)


def rebuild(conn: Connection, vault: FieldVault | None = None, batch: int = 2000) -> int:
    """Rebuild the whole index from the persons table (``vault`` None: the rows hold
    plain values, as before revision 0004)."""
    conn.execute(delete(person_match_keys))
    conn.execute(delete(match_key_counts))
    ids = list(conn.execute(select(persons.c.id).order_by(persons.c.id)).scalars())
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        rows = conn.execute(select(persons).where(persons.c.id.in_(chunk))).mappings().all()
        index_rows(conn, rows, documents_of(conn, chunk), vault)
    return len(ids)


def plain_name(row: RowMapping | Mapping[str, Any]) -> str:
    """A registered person's name chain in one script (Latin if any)."""
    latin = [row[f] for f in ("given_name", "father_name", "grandfather_name", "family_name")]
    if any(latin):
        return " ".join(p for p in latin if p)
    return " ".join(row[f"{f}_original"] or "" for f in ("given_name", "father_name")).strip()


# The persons a search's candidates are related to, and only the columns read of them
# (``plain_name``, sex, place in the household): built once, as a search runs
# ``with_relatives`` each time (building ``persons.alias`` with every column cost more
# than the queries themselves).
_OTHER = persons.alias("other")
_ME = persons.alias("me")
_RELATIVE_COLUMNS = (
    _OTHER.c.given_name,
    _OTHER.c.father_name,
    _OTHER.c.grandfather_name,
    _OTHER.c.family_name,
    _OTHER.c.given_name_original,
    _OTHER.c.father_name_original,
    _OTHER.c.sex,
    _OTHER.c.relationship_to_head,
)
_RELATIVE_OF_LINK = relationships.c.person_id.label("relative_of")
_RELATIVE_OF_HOUSEHOLD = _ME.c.id.label("relative_of")
_MY_RELATIONSHIP = _ME.c.relationship_to_head.label("my_relationship")


def with_relatives(
    conn: Connection, records: Sequence[PersonRecord], *, tracing: bool = False
) -> list[PersonRecord]:
    """``records`` (registered persons) with what their links and household say about
    their family, for the engine's "mother's name" and "relatives" comparisons: the
    mother's name where none was recorded (a linked parent who is a woman, or, for a
    child of the household's head, the head or the head's wife), and the names of the
    persons linked to them and of the other members of their household (brothers and
    sisters registered as the head's children are linked to the head only).
    Names are plain (not sealed) columns; no scope applies to them: they are never
    shown, only compared (a mother's name read here is marked ``mother_from_family``,
    which the engine's sentences do not quote).

    ``tracing`` (a search for a tracing enquiry): the relatives who refused tracing are
    left out, compared no more than they are offered (PROTECTION.md 2). An explanation
    saying "a relative's name agrees" or a mother's name agreeing would tell the tracing
    officer that a person the enquiry names is registered beside the one sought. An
    erased relative is left out of every search (their names are gone)."""
    ids = [r.record_id for r in records]
    if not ids:
        return []
    relatives: dict[str, list[str]] = {pid: [] for pid in ids}
    mothers: dict[str, str] = {}
    shown = [_OTHER.c.anonymised_at.is_(None)]
    if tracing:
        shown.append(_OTHER.c.consent_tracing.is_(True))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for rel in conn.execute(
            select(_RELATIVE_OF_LINK, relationships.c.kind, *_RELATIVE_COLUMNS)
            .join(_OTHER, _OTHER.c.id == relationships.c.other_person_id)
            .where(
                relationships.c.person_id.in_(chunk),
                relationships.c.removed_at.is_(None),
                *shown,
            )
            .order_by(relationships.c.person_id, _OTHER.c.id)
        ).mappings():
            pid, name = rel["relative_of"], plain_name(rel)
            if rel["kind"] == "parent" and rel["sex"] == "f" and pid not in mothers:
                mothers[pid] = name
            else:
                relatives[pid].append(name)
        for rel in conn.execute(
            select(_RELATIVE_OF_HOUSEHOLD, _MY_RELATIONSHIP, *_RELATIVE_COLUMNS)
            .join(_OTHER, _OTHER.c.household_id == _ME.c.household_id)
            .where(_ME.c.id.in_(chunk), _OTHER.c.id != _ME.c.id, *shown)
            .order_by(_ME.c.id, _OTHER.c.id)
        ).mappings():
            pid, name = rel["relative_of"], plain_name(rel)
            child = rel["my_relationship"] == "child"
            theirs = rel["relationship_to_head"]
            if child and rel["sex"] == "f" and theirs in ("head", "spouse") and pid not in mothers:
                mothers[pid] = name  # the head, or the head's wife
            elif name not in relatives[pid] and name != mothers.get(pid):
                relatives[pid].append(name)
    out = []
    for r in records:
        pid = r.record_id
        mother = r.mother_name or mothers.get(pid)
        extra = [mothers[pid]] if r.mother_name and pid in mothers else []
        names = tuple(dict.fromkeys([*r.relatives_names, *relatives[pid], *extra]))
        out.append(
            replace(
                r,
                mother_name=mother,
                mother_from_family=not r.mother_name and mother is not None,
                relatives_names=names,
            )
        )
    return out
