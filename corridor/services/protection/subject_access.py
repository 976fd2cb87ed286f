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
from corridor.storage.tables import relationships

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
        """The person's record, movements and links, relatives redacted."""
        with self.db.read() as conn:
            person = self.vault.reveal(
                queries.get_person(conn, person_id, self.clock().date(), scope), conn
            )
            links = conn.execute(
                select(relationships.c.kind, relationships.c.created_at)
                .where(relationships.c.person_id == person_id)
                .order_by(relationships.c.created_at, relationships.c.id)
            ).all()
        movements = MovementService(self.db, self.clock).history(person_id, scope)
        return {
            "notice": NOTICE,
            "generated_at": self.clock(),
            "person": {k: v for k, v in person.items() if k != "household_id"},
            "movements": movements,
            "relatives": [
                {"relationship": kind, "recorded_at": at, "details": "redacted"}
                for kind, at in links
            ],
        }
