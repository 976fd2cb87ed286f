"""Shared by the sync tests: a site and persons registered through the services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from corridor.domain.movements import effective_events
from corridor.schemas import PersonIn, SiteIn, StatusEventIn
from corridor.services import Services
from corridor.storage import locations
from corridor.storage.tables import manifest_items
from corridor.sync.conflicts import ConflictReview
from corridor.sync.service import SyncService


def hook(services: Services, action: str) -> Any:
    return services.audit.operator_hook("test", action)


def make_site(services: Services, name: str, kind: str = "exit_point") -> str:
    return str(
        services.sites.create(SiteIn(name=name, kind=kind), audit=hook(services, "sites.admin"))[
            "id"
        ]
    )


def person_body(site_id: str, name: str, phone: str = "+963933100001") -> PersonIn:
    return PersonIn.model_validate(
        {
            "site_id": site_id,
            "consent": {"tracing": True},
            "purpose": "registration",
            "legal_basis": "vital_interest",
            "given_name": name,
            "family_name": "Khalil",
            "sex": "f",
            "birth_date": "1990-04-12",
            "nationality": "SYR",
            "phone": phone,
            "documents": [{"type": "national_id", "number": f"ID-{phone[-6:]}"}],
        }
    )


def register(services: Services, site_id: str, name: str, phone: str = "+963933100001") -> str:
    return str(
        services.registration.register_person(
            person_body(site_id, name, phone), audit=hook(services, "person.write")
        )["id"]
    )


def sync(services: Services) -> SyncService:
    return SyncService.of(services)


def checked_in(s: Services, manifest: str, pid: str) -> tuple[Any, Any, Any]:
    """The person's line of the manifest: when and by whom checked in, and the arrival."""
    with s.db.read() as conn:
        [item] = conn.execute(
            select(manifest_items).where(
                manifest_items.c.manifest_id == manifest, manifest_items.c.person_id == pid
            )
        ).mappings()
    return item["checked_in_at"], item["checked_in_by"], item["arrival_movement_id"]


def event_log(s: Services, pid: str) -> set[tuple[str, str, str | None]]:
    """The person's movement log: (id, kind, what it corrects) of each event."""
    with s.db.read() as conn:
        return {(e.id, e.kind, e.corrects_id) for e in locations.events_of(conn, [pid])[pid]}


def admitted_at_hospital(
    desk: Services, exit_point: str, hospital: str, clock: Any, hours: float = 1
) -> tuple[str, dict[str, Any]]:
    """Samira registered at ``desk``'s exit point and, ``hours`` later, taken to the
    hospital there: her id and the admission."""
    pid = register(desk, exit_point, "Samira")
    clock.advance(hours=hours)
    event = desk.movements.record(
        pid, StatusEventIn(kind="hospitalised", to_site_id=hospital),
        audit=hook(desk, "movement.write"),
    )  # fmt: skip
    return pid, event


def exchange(central: Services, *nodes: Services) -> None:
    """One round of sync: every node pushes to the central, then every node pulls."""
    from tests.sync.test_facts import _pull, _push  # test_facts imports this module

    for node in nodes:
        _push(node, central)
    for node in nodes:
        _pull(central, node)


def effective_route(s: Services, pid: str) -> list[tuple[str, str | None]]:
    """The person's history as it counts at ``s``: (kind, destination) in time order."""
    with s.db.read() as conn:
        logged = locations.events_of(conn, [pid])[pid]
    return [(e.kind, e.to_site_id) for e in effective_events(logged)]


def logged(s: Services, pid: str) -> set[str]:
    """The ids of a person's movements at ``s``."""
    with s.db.read() as conn:
        return {e.id for e in locations.events_of(conn, [pid])[pid]}


def held_moves(s: Services) -> list[dict[str, Any]]:
    """The conflicts held at ``s`` over a person's movements."""
    return [c for c in ConflictReview.of(s).queue() if "movements" in c["fields"]]


def why_held(held: dict[str, Any]) -> str:
    """What a held movement conflict says (its "theirs")."""
    [value] = [v for v in held["values"] if v["field"] == "movements"]
    return str(value["theirs"])


def keep_ours(s: Services, held: dict[str, Any]) -> None:
    """An officer at ``s`` decides a held conflict: ours kept on every field."""
    ConflictReview.of(s).resolve(
        held["person_id"], held["id"], [], by="cli:test", audit=hook(s, "person.write")
    )
