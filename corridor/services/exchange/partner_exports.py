"""Persons out to partners (CSV, XLSX, PFIF). Every export is audited, one event per person.

Over HTTP these files come only through the two-key bulk export (services/exchange/exports.py);
the CLI (an operator on the server) writes them directly, audited as ``cli:<login>``.

No filter but the site: there is deliberately no export by nationality, ethnicity or
detention (PROTECTION.md). Medical, detention and vulnerability fields are never in these
formats. PFIF goes to public missing-person registries, so only persons who consented to
tracing are in it. A field these formats do carry but a field group restricts (a child's
place of origin, ``place_of_birth`` and PFIF's ``home_city``) is left empty where the
gate's ``withhold`` says the exporter may not see it on that record.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, select

from corridor.domain.birth import age_on, format_birth_date
from corridor.domain.ids import format_registration_number
from corridor.formats import pfif
from corridor.formats.person_table import export_row
from corridor.services.base import AuditHook, Service
from corridor.services.protection.field_vault import SEALED_PERSON_FIELDS, FieldVault
from corridor.storage import queries
from corridor.storage.database import Database
from corridor.storage.import_tables import imported_records, pfif_notes
from corridor.storage.tables import persons

# The stored fields of a person an exporter may not see (the gate decides, per record).
Withhold = Callable[[dict[str, Any]], Collection[str]]


# An anonymised person (erased at their request, or by retention) is in no file: a row
# under their old id would tie the file to the name an earlier file gave that id, and
# tell a partner or a public registry where the erased person is now.
_NOT_ERASED = persons.c.anonymised_at.is_(None)


class PartnerExportService(Service):
    def __init__(self, db: Database, clock: Callable[[], datetime], vault: FieldVault) -> None:
        super().__init__(db, clock)
        self.vault = vault

    def table(
        self,
        site_ids: Iterable[str] | None,
        *,
        audit: AuditHook,
        conn: Connection | None = None,
        only: Collection[str] | None = None,
        withhold: Withhold | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of the person table (``formats.person_table``) of these sites (None: all),
        read and audited (one event per person) in one transaction (``conn``: the
        caller's); ``only``: just these persons of them; ``withhold``: the stored fields
        of a person to leave empty (the gate's: what the exporter may not see)."""
        with self._within(conn) as conn:
            rows = self._persons(conn, site_ids, traceable_only=False, only=only, withhold=withhold)
            audit(conn, [r["id"] for r in rows])
        return [export_row(r) for r in rows]

    def provenance(self, who: str) -> str:
        """The line an exported file carries: who exported it and when."""
        return f"Exported from Corridor by {who} at {self.clock().isoformat(timespec='seconds')}"

    def pfif(
        self,
        site_ids: Iterable[str] | None,
        domain: str,
        exported_by: str | None = None,
        *,
        audit: AuditHook,
        conn: Connection | None = None,
    ) -> bytes:
        """PFIF 1.4 of the persons of these sites who consented to tracing, with notes;
        read and audited (one event per person in the file) in one transaction."""
        shaped = self.pfif_persons(site_ids, domain, audit=audit, conn=conn)
        return pfif.render(shaped, self.provenance(exported_by) if exported_by else None)

    def pfif_persons(
        self,
        site_ids: Iterable[str] | None,
        domain: str,
        *,
        audit: AuditHook,
        conn: Connection | None = None,
        only: Collection[str] | None = None,
        withhold: Withhold | None = None,
    ) -> list[dict[str, Any]]:
        """The persons of these sites who consented to tracing, shaped as PFIF fields with
        their notes; read and audited (one event per person) in one transaction;
        ``only``: just these persons of them; ``withhold`` as for ``table``."""
        today = self.clock().date()
        with self._within(conn) as conn:
            rows = self._persons(conn, site_ids, traceable_only=True, only=only, withhold=withhold)
            ids = [r["id"] for r in rows]
            origin: dict[str, str] = {}
            notes: dict[str, list[dict[str, Any]]] = {pid: [] for pid in ids}
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                origin.update(
                    (pid, key)
                    for key, pid in conn.execute(
                        select(imported_records.c.external_id, imported_records.c.person_id).where(
                            imported_records.c.source == "pfif",
                            imported_records.c.person_id.in_(chunk),
                        )
                    )
                )
                for n in conn.execute(
                    select(pfif_notes)
                    .where(pfif_notes.c.person_id.in_(chunk))
                    .order_by(pfif_notes.c.note_record_id)
                ).mappings():
                    notes[n["person_id"]].append(dict(n))
            audit(conn, ids)
        shaped = []
        for r in rows:
            record_id = origin.get(r["id"]) or pfif.person_record_id(r["id"], domain)
            shaped.append(
                {**_pfif_person(r, record_id, notes[r["id"]], today), "corridor_id": r["id"]}
            )
        return shaped

    def records(
        self,
        site_ids: Iterable[str] | None,
        *,
        audit: AuditHook,
        conn: Connection | None = None,
        only: Collection[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The persons of these sites as stored records (sealed fields opened), for the
        gate to show as the exporter's roles may see them; audited in one transaction;
        ``only``: just these persons of them."""
        with self._within(conn) as conn:
            query = select(persons).where(_NOT_ERASED).order_by(persons.c.id)
            query = query.where(queries.person_scope(None if site_ids is None else list(site_ids)))
            rows = _only(conn, query, only)
            people = queries.persons_out(conn, rows, self.clock().date()) if rows else []
            people = self.vault.reveal_all(people, conn)
            audit(conn, [p["id"] for p in people])
        return people

    def _persons(
        self,
        conn: Connection,
        site_ids: Iterable[str] | None,
        traceable_only: bool,
        only: Collection[str] | None = None,
        withhold: Withhold | None = None,
    ) -> list[dict[str, Any]]:
        # A person merged into another is not exported: their id leads to the survivor,
        # who is (the JSON lines file, through ``records``, leaves them out the same way).
        query = (
            select(persons)
            .where(queries.person_scope(None), _NOT_ERASED)
            .order_by(persons.c.id)
        )
        if site_ids is not None and only is None:  # the persons registered at the sites
            query = query.where(persons.c.site_id.in_(list(site_ids)))
        elif site_ids is not None:
            # A list's persons (``only``): those the list may show, registered at the
            # sites or now at, or on the road to or from, one of them (as the list's own
            # query and the JSON lines file have it).
            query = query.where(queries.person_scope(list(site_ids)))
        if traceable_only:
            query = query.where(persons.c.consent_tracing.is_(True))
        out = []
        for row in _only(conn, query, only):
            person = dict(row)
            person["registration_number"] = format_registration_number(row["registration_number"])
            for field in SEALED_PERSON_FIELDS:  # sealed at rest; opened for the file
                if field in person:
                    person[field] = self.vault.open(row["site_id"], field, person[field])
            for field in withhold(person) if withhold else ():
                if field in person:
                    person[field] = None
            out.append(person)
        return out

    def _within(self, conn: Connection | None) -> AbstractContextManager[Connection]:
        """The caller's transaction, or one of our own (the read and its audit commit
        together)."""
        return nullcontext(conn) if conn is not None else self.db.transaction()


def _only(conn: Connection, query: Select[Any], only: Collection[str] | None) -> list[RowMapping]:
    """The rows of ``query`` (ordered by person id), or of those of them in ``only``
    (asked 500 ids at a time: a list's selection may be long)."""
    if only is None:
        return list(conn.execute(query).mappings())
    wanted = sorted(set(only))
    rows: list[RowMapping] = []
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows += conn.execute(query.where(persons.c.id.in_(chunk))).mappings().all()
    return sorted(rows, key=lambda r: str(r["id"]))


def _pfif_person(
    row: dict[str, Any], record_id: str, notes: list[dict[str, Any]], today: Any
) -> dict[str, Any]:
    latin = [row[p] for p in ("given_name", "father_name", "grandfather_name", "family_name")]
    original = [
        row[f"{p}_original"]
        for p in ("given_name", "father_name", "grandfather_name", "family_name")
    ]
    full = [" ".join(n for n in latin if n), " ".join(n for n in original if n)]
    estimated = row["birth_precision"] == "estimated"
    age = age_on(row["birth_date"], row["birth_precision"], today)
    return {
        "person_record_id": record_id,
        "entry_date": row["updated_at"],
        "source_name": "Corridor",
        "source_date": row["updated_at"],
        "full_name": [n for n in full if n],
        "given_name": row["given_name"] or row["given_name_original"],
        "family_name": row["family_name"] or row["family_name_original"],
        "alternate_names": list(row["alternate_names"] or [])
        + ([row["kunya"]] if row["kunya"] else []),
        "sex": {"m": "male", "f": "female"}.get(row["sex"] or ""),
        "date_of_birth": None
        if estimated
        else format_birth_date(row["birth_date"], row["birth_precision"]),
        "age": str(age) if estimated and age is not None else None,
        "home_city": row["origin_locality"],
        "notes": [{**n, "person_record_id": record_id} for n in notes],
    }
