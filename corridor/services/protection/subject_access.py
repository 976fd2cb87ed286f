"""Data-subject access (PROTECTION.md line 11): everything Corridor holds on one person,
for that person, with their relatives' details left out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from corridor.services.base import Service
from corridor.services.movements.events import MovementService
from corridor.services.movements.manifests import SEPARATION_FIELD, due, passenger_status
from corridor.services.protection.field_vault import FieldVault
from corridor.storage import queries
from corridor.storage.database import Database
from corridor.storage.queries import Sites
from corridor.storage.tables import (
    manifest_discrepancies,
    manifest_items,
    manifests,
    person_locations,
    persons,
    relationships,
)

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
            places = self._manifest_places(conn, [person_id, *merged_ids])
        movements = MovementService(self.db, self.clock, self.vault).history(person_id, scope)
        for m in movements:
            # Their own notes, whoever wrote them; not who wrote them: a staff member's
            # user id, like the roles they held, is a third party's data (the record's
            # writer is no field of ``OwnRecord`` likewise).
            m.pop("recorded_roles", None)
            m["recorded_by"] = None
        for record in (person, *merged):  # their own note, whoever wrote it; not whose
            record.pop("note_roles", None)
        return {
            "notice": NOTICE,
            "generated_at": self.clock(),
            "person": _own(person),
            "merged_records": [_own(m) for m in merged],
            "movements": movements,
            "manifests": places,
            "relatives": [
                # A link removed as wrong (0035) is still held: shown, said removed.
                {"relationship": kind, "recorded_at": at, "details": "redacted", "removed_at": gone}
                for kind, at, gone in links
            ],
        }

    def _manifest_places(self, conn: Connection, person_ids: list[str]) -> list[dict[str, Any]]:
        """The person's own places on manifests (and those of the records merged into
        theirs, which stayed with the merged id): listed on one, or arriving by one off
        its list (a discrepancy). The manifest's head and their own item only: no other
        passenger, no user id (who made the manifest, who checked them in or recorded a
        discrepancy: staff are third parties, as ``recorded_by`` in the movement log).
        Both ends are shown as they are, a detention facility too, as in the movement
        log: where the person was taken is theirs to learn. Their own separation reason
        opened with the key it names; one whose key is gone reads as ``None`` with
        ``separation_reason_unavailable``."""
        now = self.clock()
        items = (
            conn.execute(
                select(
                    manifest_items.c.manifest_id,
                    manifest_items.c.person_id,
                    manifest_items.c.added_at,
                    manifest_items.c.separation_reason,
                    manifest_items.c.checked_in_at,
                    manifest_items.c.late_arrival,
                    person_locations.c.state,
                    person_locations.c.manifest_id.label("on_manifest"),
                )
                .join(
                    person_locations,
                    person_locations.c.person_id == manifest_items.c.person_id,
                    isouter=True,
                )
                .where(manifest_items.c.person_id.in_(person_ids))
            )
            .mappings()
            .all()
        )
        found = (
            conn.execute(
                select(
                    manifest_discrepancies.c.manifest_id,
                    manifest_discrepancies.c.person_id,
                    manifest_discrepancies.c.kind,
                    manifest_discrepancies.c.note,
                    manifest_discrepancies.c.recorded_at,
                )
                .where(manifest_discrepancies.c.person_id.in_(person_ids))
                .order_by(manifest_discrepancies.c.id)
            )
            .mappings()
            .all()
        )
        keys = {(r["manifest_id"], r["person_id"]) for r in [*items, *found]}
        if not keys:
            return []
        heads = {
            m["id"]: m
            for m in conn.execute(
                select(manifests).where(manifests.c.id.in_(sorted({k[0] for k in keys})))
            ).mappings()
        }
        held = [r for r in items if r["separation_reason"] is not None]
        opened = self.vault.open_notes(
            conn, SEPARATION_FIELD, [r["separation_reason"] for r in held]
        )
        reasons = {
            (r["manifest_id"], r["person_id"]): o for r, o in zip(held, opened, strict=True)
        }
        item_of = {(r["manifest_id"], r["person_id"]): r for r in items}
        out = []
        for key in sorted(keys, key=lambda k: (heads[k[0]]["created_at"], k[0], k[1])):
            m, item = heads[key[0]], item_of.get(key)
            reason = reasons.get(key)
            out.append(
                {
                    "manifest_id": m["id"],
                    "person_id": key[1],
                    "vehicle": m["vehicle"],
                    "from_site_id": m["from_site_id"],
                    "to_site_id": m["to_site_id"],
                    "planned_departure": m["planned_departure"],
                    "status": m["status"],
                    "dispatched_at": m["dispatched_at"],
                    "expected_arrival": m["expected_arrival"],
                    "received_at": m["received_at"],
                    "listed": item is not None,
                    "added_at": item["added_at"] if item else None,
                    "checked_in_at": item["checked_in_at"] if item else None,
                    "late_arrival": bool(item["late_arrival"]) if item else False,
                    "passenger_status": (
                        passenger_status(m, item, due(m["expected_arrival"], now))
                        if item
                        else None
                    ),
                    "separation_reason": reason,
                    "separation_reason_unavailable": bool(
                        item and item["separation_reason"] is not None and reason is None
                    ),
                    "discrepancies": [
                        {"kind": d["kind"], "note": d["note"], "recorded_at": d["recorded_at"]}
                        for d in found
                        if (d["manifest_id"], d["person_id"]) == key
                    ],
                }
            )
        return out


def _own(person: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in person.items() if k != "household_id"}
