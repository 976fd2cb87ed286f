"""Registering persons and households, adding details later, linking relatives."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, insert, select, update

from corridor.domain.ids import (
    InvalidRegistrationNumber,
    format_registration_number,
    new_registration_number,
    normalise_registration_number,
    uuid7,
)
from corridor.domain.movements import Event, current_location
from corridor.errors import Conflict, Problem, ValidationFailed, require
from corridor.schemas import (
    ConsentIn,
    HouseholdIn,
    LinkIn,
    PersonDetails,
    PersonIn,
    PersonPatch,
    PersonSearchIn,
)
from corridor.services import match_index
from corridor.services.base import Service
from corridor.services.person_rows import (
    detail_fields,
    document_key,
    document_rows,
    normalise_phone,
)
from corridor.services.sites import unknown_site_problems
from corridor.storage import queries
from corridor.storage.queries import NAME_COLUMNS as NAME_FIELDS
from corridor.storage.tables import (
    households,
    movements,
    person_documents,
    person_locations,
    persons,
    relationships,
)

INVERSE_LINK = {
    "spouse": "spouse",
    "child": "parent",
    "parent": "child",
    "sibling": "sibling",
    "twin": "twin",
    "grandchild": "grandparent",
    "grandparent": "grandchild",
    "cousin": "cousin",
    "uncle_aunt": "nephew_niece",
    "nephew_niece": "uncle_aunt",
    "other_relative": "other_relative",
}


# Called inside a write's own transaction with the ids of the persons written, so that a
# write and its audit entry commit together or not at all.
AuditHook = Callable[[Connection, list[str]], None]


class _Draft:
    """One person about to be written: row, documents, problems found."""

    def __init__(self, person: dict[str, Any], docs: list[dict[str, Any]]) -> None:
        self.person = person
        self.docs = docs


class RegistrationService(Service):
    # -- writes -------------------------------------------------------------------------

    def register_person(
        self, data: PersonIn, recorded_by: str | None = None, audit: AuditHook | None = None
    ) -> dict[str, Any]:
        """Register one person at a site; returns the stored person."""
        [person_id] = self.register_many([data], recorded_by, audit)
        return self.get_person(person_id)

    def register_many(
        self,
        items: Sequence[PersonIn],
        recorded_by: str | None = None,
        audit: AuditHook | None = None,
    ) -> list[str]:
        """Register several unrelated persons in one transaction (imports, the demo)."""
        now = self.clock()
        problems: list[Problem] = []
        drafts = []
        checks: set[tuple[str, str]] = set()
        multi = len(items) > 1
        for i, data in enumerate(items):
            prefix = f"[{i}]." if multi else ""
            checks.add((data.site_id, f"{prefix}site_id"))
            drafts.append(
                self._draft(
                    data,
                    data.site_id,
                    data.consent,
                    data.purpose,
                    data.legal_basis,
                    data.registered_at or now,
                    recorded_by,
                    prefix,
                    problems,
                )
            )
        with self.db.transaction() as conn:
            problems.extend(unknown_site_problems(conn, checks))
            require(problems)
            self._write(conn, drafts, recorded_by)
            if audit:
                audit(conn, [d.person["id"] for d in drafts])
        self.notify([d.person["id"] for d in drafts])
        return [d.person["id"] for d in drafts]

    def register_household(
        self, data: HouseholdIn, recorded_by: str | None = None, audit: AuditHook | None = None
    ) -> dict[str, Any]:
        """Register a head and members in one go, linked to the head by relationship.

        Returns the household with each member's id and wristband number (the full
        records are at ``get_household``): at an exit point, speed matters."""
        [household] = self.register_households([data], recorded_by, audit)
        return household

    def register_households(
        self,
        items: Sequence[HouseholdIn],
        recorded_by: str | None = None,
        audit: AuditHook | None = None,
    ) -> list[dict[str, Any]]:
        """Register many households in one transaction; returns each household with its
        members (head first), in order."""
        now = self.clock()
        problems: list[Problem] = []
        multi = len(items) > 1
        all_drafts: list[_Draft] = []
        hh_rows: list[dict[str, Any]] = []
        link_rows: list[dict[str, Any]] = []
        site_checks: set[tuple[str, str]] = set()
        for h_index, data in enumerate(items):
            base = f"[{h_index}]." if multi else ""
            at = data.registered_at or now
            household_id = uuid7()
            head = self._draft(
                data.head,
                data.site_id,
                data.consent,
                data.purpose,
                data.legal_basis,
                at,
                recorded_by,
                f"{base}head.",
                problems,
            )
            head.person["household_id"] = household_id
            head.person["relationship_to_head"] = "head"
            drafts = [head]
            for m_index, member in enumerate(data.members):
                d = self._draft(
                    member,
                    data.site_id,
                    member.consent or data.consent,
                    data.purpose,
                    data.legal_basis,
                    at,
                    recorded_by,
                    f"{base}members[{m_index}].",
                    problems,
                )
                d.person["household_id"] = household_id
                d.person["relationship_to_head"] = member.relationship
                drafts.append(d)
                link_rows.append(
                    _link_row(head.person["id"], d.person["id"], member.relationship, at)
                )
                link_rows.append(
                    _link_row(
                        d.person["id"], head.person["id"], INVERSE_LINK[member.relationship], at
                    )
                )
            hh_rows.append(
                {
                    "id": household_id,
                    "site_id": data.site_id,
                    "head_person_id": head.person["id"],
                    "created_at": at,
                }
            )
            site_checks.add((data.site_id, f"{base}site_id"))
            all_drafts.extend(drafts)
        with self.db.transaction() as conn:
            problems.extend(unknown_site_problems(conn, site_checks))
            require(problems)
            conn.execute(insert(households), hh_rows)
            self._write(conn, all_drafts, recorded_by)
            if audit:
                audit(conn, [d.person["id"] for d in all_drafts])
            if link_rows:
                conn.execute(insert(relationships), link_rows)
        self.notify([d.person["id"] for d in all_drafts])
        members: dict[str, list[dict[str, Any]]] = {h["id"]: [] for h in hh_rows}
        for d in all_drafts:
            p = d.person
            members[p["household_id"]].append(
                {
                    "id": p["id"],
                    "registration_number": format_registration_number(p["registration_number"]),
                    "name": queries.display_name(p),
                    "relationship_to_head": p["relationship_to_head"],
                }
            )
        return [
            {
                "id": h["id"],
                "site_id": h["site_id"],
                "head_person_id": h["head_person_id"],
                "members": members[h["id"]],
            }
            for h in hh_rows
        ]

    def update_person(
        self, person_id: str, patch: PersonPatch, audit: AuditHook | None = None
    ) -> dict[str, Any]:
        """Add or correct details; only the fields given change. Location is not a detail."""
        given = patch.model_dump(exclude_unset=True)
        with self.db.transaction() as conn:
            current = queries.get_person(conn, person_id, self.clock().date())
            merged = PersonDetails.model_validate(_details_of(current) | _patch_details(given))
            problems: list[Problem] = []
            registered_on = current["registered_at"].date()
            row = detail_fields(merged, registered_on, "", problems)
            docs = document_rows(merged.documents, person_id, "", problems)
            require(problems)
            if "consent" in given and patch.consent is not None:
                row["consent_tracing"] = patch.consent.tracing
                row["consent_share_with"] = patch.consent.share_with
            row["updated_at"] = self.clock()
            conn.execute(update(persons).where(persons.c.id == person_id).values(**row))
            if "documents" in given:
                conn.execute(
                    person_documents.delete().where(person_documents.c.person_id == person_id)
                )
                if docs:
                    conn.execute(insert(person_documents), docs)
            match_index.reindex_persons(conn, [person_id])
            if audit:
                audit(conn, [person_id])
            person = queries.get_person(conn, person_id, self.clock().date())
        self.notify([person_id])  # details or consent given later may make a match
        return person

    def link(self, data: LinkIn) -> dict[str, Any]:
        """Record that other_person is person's <kind> (and the inverse)."""
        if data.person_id == data.other_person_id:
            raise ValidationFailed(
                [Problem("other_person_id", "a person cannot be their own relative")]
            )
        now = self.clock()
        with self.db.transaction() as conn:
            found = set(
                conn.execute(
                    select(persons.c.id).where(
                        persons.c.id.in_([data.person_id, data.other_person_id])
                    )
                ).scalars()
            )
            problems = [
                Problem(f, "person not found")
                for f, pid in (
                    ("person_id", data.person_id),
                    ("other_person_id", data.other_person_id),
                )
                if pid not in found
            ]
            require(problems)
            exists = conn.execute(
                select(relationships.c.id).where(
                    relationships.c.person_id == data.person_id,
                    relationships.c.other_person_id == data.other_person_id,
                    relationships.c.kind == data.kind,
                )
            ).first()
            if exists:
                raise Conflict("this link is recorded already", field="kind")
            row = _link_row(data.person_id, data.other_person_id, data.kind, now, data.note)
            inverse = _link_row(
                data.other_person_id, data.person_id, INVERSE_LINK[data.kind], now, data.note
            )
            conn.execute(insert(relationships), [row, inverse])
        return {
            "id": row["id"],
            "person_id": data.person_id,
            "other_person_id": data.other_person_id,
            "kind": data.kind,
            "note": data.note,
        }

    # -- reads --------------------------------------------------------------------------

    def get_person(self, person_id: str) -> dict[str, Any]:
        with self.db.read() as conn:
            return queries.get_person(conn, person_id, self.clock().date())

    def relatives(self, person_id: str) -> list[dict[str, Any]]:
        """The persons linked to ``person_id``: each summary with ``kind`` (what the
        relative is to this person: ``parent``, ``child``...), nearest kinds first."""
        today = self.clock().date()
        with self.db.read() as conn:
            queries.person_row(conn, person_id)  # NotFound for an unknown person
            rows = (
                conn.execute(
                    select(persons, relationships.c.kind.label("link_kind"))
                    .join(relationships, relationships.c.other_person_id == persons.c.id)
                    .where(relationships.c.person_id == person_id)
                    .order_by(relationships.c.created_at, persons.c.id)
                )
                .mappings()
                .all()
            )
        order = list(INVERSE_LINK)
        out = [{**queries.person_summary(r, today), "kind": r["link_kind"]} for r in rows]
        out.sort(key=lambda r: order.index(r["kind"]) if r["kind"] in order else len(order))
        return out

    def get_household(self, household_id: str) -> dict[str, Any]:
        with self.db.read() as conn:
            return queries.household_out(conn, household_id, self.clock().date())

    def search(self, data: PersonSearchIn) -> list[dict[str, Any]]:
        """Exact-key search: registration number, phone or document number."""
        if not (data.registration_number or data.phone or data.document_number):
            raise ValidationFailed(
                [
                    Problem(
                        "registration_number",
                        "give a registration number, phone or document number",
                    )
                ]
            )
        query = select(persons.c.id)
        if data.registration_number:
            try:
                number = normalise_registration_number(data.registration_number)
            except InvalidRegistrationNumber as exc:
                raise ValidationFailed([Problem("registration_number", str(exc))]) from exc
            query = query.where(persons.c.registration_number == number)
        if data.phone:
            query = query.where(persons.c.phone == normalise_phone(data.phone))
        if data.document_number:
            sub = select(person_documents.c.person_id).where(
                person_documents.c.number_key == document_key(data.document_number)
            )
            query = query.where(persons.c.id.in_(sub))
        with self.db.read() as conn:
            rows = (
                conn.execute(
                    select(persons).where(persons.c.id.in_(query.limit(50))).order_by(persons.c.id)
                )
                .mappings()
                .all()
            )
            return queries.persons_out(conn, rows, self.clock().date())

    # -- internals ----------------------------------------------------------------------

    def _draft(
        self,
        details: PersonDetails,
        site_id: str,
        consent: ConsentIn,
        purpose: str,
        legal_basis: str,
        registered_at: Any,
        recorded_by: str | None,
        prefix: str,
        problems: list[Problem],
    ) -> _Draft:
        if registered_at > self.clock():
            problems.append(Problem(f"{prefix}registered_at", "is in the future"))
        person_id = uuid7()
        row = detail_fields(details, registered_at.date(), prefix, problems)
        docs = document_rows(details.documents, person_id, prefix, problems)
        now = self.clock()
        row.update(
            id=person_id,
            site_id=site_id,
            household_id=None,
            relationship_to_head=None,
            consent_tracing=consent.tracing,
            consent_share_with=list(consent.share_with),
            purpose=purpose,
            legal_basis=legal_basis,
            registered_at=registered_at,
            created_at=now,
            updated_at=now,
            recorded_by=recorded_by,
        )
        return _Draft(row, docs)

    def _write(self, conn: Connection, drafts: list[_Draft], recorded_by: str | None) -> None:
        rows = [d.person for d in drafts]
        _assign_registration_numbers(conn, rows)
        conn.execute(insert(persons), rows)
        docs = [doc for d in drafts for doc in d.docs]
        if docs:
            conn.execute(insert(person_documents), docs)
        match_index.index_rows(
            conn, rows, {d.person["id"]: [doc["number"] for doc in d.docs] for d in drafts}
        )
        events = []
        locations = []
        for row in rows:
            event_id = uuid7()
            events.append(
                {
                    "id": event_id,
                    "person_id": row["id"],
                    "kind": "registered",
                    "from_site_id": None,
                    "to_site_id": row["site_id"],
                    "occurred_at": row["registered_at"],
                    "manifest_id": None,
                    "corrects_id": None,
                    "note": None,
                    "recorded_by": recorded_by,
                    "recorded_at": row["created_at"],
                }
            )
            loc = current_location(
                [Event(event_id, 0, "registered", None, row["site_id"], row["registered_at"])]
            )
            locations.append(
                {
                    "person_id": row["id"],
                    "site_id": loc.site_id,
                    "state": loc.state,
                    "since": loc.since,
                    "event_id": loc.event_id,
                    "manifest_id": None,
                    "destination_site_id": None,
                }
            )
        conn.execute(insert(movements), events)
        conn.execute(insert(person_locations), locations)


def _assign_registration_numbers(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Draw random numbers; redraw the rare ones already taken (40 random bits each)."""
    pending = rows
    while pending:
        for row in pending:
            row["registration_number"] = new_registration_number()
        numbers = [r["registration_number"] for r in pending]
        taken = set(
            conn.execute(
                select(persons.c.registration_number).where(
                    persons.c.registration_number.in_(numbers)
                )
            ).scalars()
        )
        seen: set[str] = set()
        clash = []
        for row in pending:
            n = row["registration_number"]
            if n in taken or n in seen:
                clash.append(row)
            seen.add(n)
        pending = clash


def _link_row(a: str, b: str, kind: str, at: Any, note: str | None = None) -> dict[str, Any]:
    return {
        "id": uuid7(),
        "person_id": a,
        "other_person_id": b,
        "kind": kind,
        "note": note,
        "created_at": at,
    }


def _details_of(person: dict[str, Any]) -> dict[str, Any]:
    """The stored person as PersonDetails input (for merging a patch)."""
    names = person["names"]
    out: dict[str, Any] = {f: names.get(f) for f in NAME_FIELDS}
    out.update(
        alternate_names=names.get("alternate_names", []),
        kunya=names.get("kunya"),
        mother_name=names.get("mother_name"),
        sex=person.get("sex"),
        birth_date=None
        if person.get("birth_precision") == "estimated"
        else person.get("birth_date"),
        estimated_age=person.get("estimated_age_at_registration")
        if person.get("birth_precision") == "estimated"
        else None,
        nationality=person.get("nationality"),
        origin_pcode=person["origin"].get("pcode"),
        origin_locality=person["origin"].get("locality"),
        languages=person.get("languages", []),
        documents=[
            {"type": d["type"], "number": d["number"], "issuing_country": d["issuing_country"]}
            for d in person.get("documents", [])
        ],
        phone=person.get("phone"),
        vulnerabilities={
            k: v
            for k, v in person["vulnerabilities"].items()
            if k not in ("muac_status", "disabled")
        },
        note=person.get("note"),
    )
    return out


def _patch_details(given: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in given.items() if k != "consent"}
    if "birth_date" in out and out["birth_date"] is not None:
        out.setdefault("estimated_age", None)
    if "estimated_age" in out and out["estimated_age"] is not None:
        out.setdefault("birth_date", None)
    return out
