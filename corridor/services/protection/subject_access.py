"""Data-subject access (PROTECTION.md line 11): everything Corridor holds on one person,
for that person, with their relatives' details left out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from corridor.services.base import Service
from corridor.services.movements.events import MovementService
from corridor.services.protection.field_vault import FieldVault
from corridor.storage import queries
from corridor.storage.database import Database
from corridor.storage.queries import Sites
from corridor.storage.tables import persons, relationships

NOTICE = (
    "Your record as Corridor holds it. Your relatives appear only as the kind of link "
    "recorded: their own details are theirs to ask for. To correct anything, or to ask for "
    "erasure, tell the registration or protection team."
)


class SubjectAccessService(Service):
    def __init__(self, db: Database, clock: Callable[[], datetime], vault: FieldVault) -> None:
        super().__init__(db, clock)
        self.vault = vault

    def export(self, person_id: str, scope: Sites = None) -> dict[str, Any]:
        """The person's record, movements and links, relatives redacted; and the records
        merged into theirs (issue 15): each kept its own details (names, phone, number),
        which are this person's data too, as an erasure of theirs erases them."""
        today = self.clock().date()
        with self.db.read() as conn:
            person = self.vault.reveal(queries.get_person(conn, person_id, today, scope), conn)
            merged_ids = queries.merged_into(conn, person_id)
            rows = (
                conn.execute(
                    select(persons).where(persons.c.id.in_(merged_ids)).order_by(persons.c.id)
                )
                .mappings()
                .all()
                if merged_ids
                else []
            )
            merged = self.vault.reveal_all(queries.persons_out(conn, rows, today), conn)
            links = conn.execute(
                select(relationships.c.kind, relationships.c.created_at, relationships.c.removed_at)
                .where(relationships.c.person_id == person_id)
                .order_by(relationships.c.created_at, relationships.c.id)
            ).all()
        movements = MovementService(self.db, self.clock, self.vault).history(person_id, scope)
        for m in movements:
            # Their own notes, whoever wrote them; not who wrote them: a staff member's
            # user id, like the roles they held, is a third party's data (the record's
            # writer is no field of ``OwnRecord`` likewise).
            m.pop("recorded_roles", None)
            m["recorded_by"] = None
        return {
            "notice": NOTICE,
            "generated_at": self.clock(),
            "person": _own(person),
            "merged_records": [_own(m) for m in merged],
            "movements": movements,
            "relatives": [
                # A link removed as wrong (0035) is still held: shown, said removed.
                {"relationship": kind, "recorded_at": at, "details": "redacted", "removed_at": gone}
                for kind, at, gone in links
            ],
        }


def _own(person: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in person.items() if k != "household_id"}
