"""Shared by the sync tests: a site and persons registered through the services."""

from __future__ import annotations

from typing import Any

from corridor.schemas import PersonIn, SiteIn
from corridor.services import Services
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
