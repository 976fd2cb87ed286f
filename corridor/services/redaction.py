"""Field-level rules applied to what the API shows (PROTECTION.md line 4).

The rules are data: ``field_groups`` in corridor/security/data/authorisation.json say
which roles see medical details, detention sites and minors' details. This module maps
those field names onto a person as the API shows it, and removes what none of the
caller's roles may see. A person under 18 is a ``minor`` record (more groups apply).
Detention is a place: for a caller who may not see detention sites, any reference to a
site of kind ``detention`` (the current location, a movement's origin or destination)
is replaced by ``null`` and marked ``"withheld"``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from corridor.domain.birth import ADULT_AGE
from corridor.errors import Forbidden, Problem
from corridor.security.roles import default_matrix
from corridor.services.base import Service
from corridor.storage.tables import sites
from corridor.text import N_

# Where each field named in the matrix's field groups sits in a person as shown.
PATHS: dict[str, tuple[str, ...]] = {
    "muac_mm": ("vulnerabilities", "muac_mm"),
    "oedema": ("vulnerabilities", "oedema"),
    "muac_status": ("vulnerabilities", "muac_status"),
    "disabled": ("vulnerabilities", "disabled"),
    "pregnant_lactating": ("vulnerabilities", "pregnant_lactating"),
    "serious_medical_condition": ("vulnerabilities", "serious_medical_condition"),
    "injury": ("vulnerabilities", "injury"),
    "medical_note": ("vulnerabilities", "medical_note"),
    "uasc": ("vulnerabilities", "uasc"),
    "phone": ("phone",),
    "documents": ("documents",),
    "note": ("note",),
    "origin_locality": ("origin", "locality"),
    **{
        f"wg_{d}": ("vulnerabilities", "washington_group", d)
        for d in ("seeing", "hearing", "walking", "remembering", "self_care", "communicating")
    },
}
DETENTION_FIELDS = {"detention_site_id", "detention_site"}
# A PATCH body's top-level fields that the matrix restricts (same names there).
PATCH_FIELDS = {"phone", "documents", "note", "origin_locality"}
VULNERABILITY_FIELDS = {
    "muac_mm", "oedema", "pregnant_lactating", "serious_medical_condition", "injury", "uasc",
    "medical_note",
}  # fmt: skip


def record_kind(age: int | None) -> str:
    return "minor" if age is not None and age < ADULT_AGE else "person"


def hidden_fields(roles: Iterable[str], kind: str) -> set[str]:
    """The restricted fields none of ``roles`` may see on a ``kind`` record."""
    matrix = default_matrix()
    restricted = set(PATHS) | DETENTION_FIELDS
    visible: set[str] = set()
    for role in roles:
        visible |= matrix.visible_fields(role, kind)
    return restricted - visible


def _drop(record: dict[str, Any], path: tuple[str, ...]) -> None:
    node: Any = record
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(path[-1], None)


def patch_refusal(roles: Iterable[str], given: dict[str, Any], age: int | None) -> None:
    """Forbidden when a PATCH sets a field the caller's roles may not see."""
    names = PATCH_FIELDS & set(given)
    vulnerabilities = given.get("vulnerabilities") or {}
    names |= {f for f in vulnerabilities if f in VULNERABILITY_FIELDS}
    if "washington_group" in vulnerabilities:
        names |= {k for k in PATHS if k.startswith("wg_")}
    refused = sorted(names & hidden_fields(roles, record_kind(age)))
    if refused:
        raise Forbidden(
            N_("Your roles may not change these fields"),
            problems=[Problem(f, N_("restricted to other roles")) for f in refused],
        )


class RedactionService(Service):
    def detention_sites(self) -> set[str]:
        with self.db.read() as conn:
            query = select(sites.c.id).where(sites.c.kind == "detention")
            return set(conn.execute(query).scalars())

    def person(self, roles: Iterable[str], person: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``person`` without what none of ``roles`` may see."""
        return self.persons(roles, [person])[0]

    def persons(self, roles: Iterable[str], people: list[dict[str, Any]]) -> list[dict[str, Any]]:
        roles = list(roles)
        detention: set[str] | None = None
        out = []
        for person in people:
            hidden = hidden_fields(roles, record_kind(person.get("age")))
            if not hidden:
                out.append(person)
                continue
            shown = copy.deepcopy(person)
            for name in hidden & set(PATHS):
                _drop(shown, PATHS[name])
            if hidden & DETENTION_FIELDS:
                if detention is None:
                    detention = self.detention_sites()
                _withhold_sites(shown.get("location") or {}, detention)
            out.append(shown)
        return out

    def movements(self, roles: Iterable[str], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Movement events with detention sites withheld where the roles may not see them."""
        if not hidden_fields(roles, "person") & DETENTION_FIELDS:
            return events
        detention = self.detention_sites()
        shown = copy.deepcopy(events)
        for event in shown:
            _withhold_sites(event, detention)
        return shown


def _withhold_sites(record: dict[str, Any], detention: set[str]) -> None:
    for key in ("site_id", "from_site_id", "to_site_id", "destination_site_id"):
        if record.get(key) in detention:
            record[key] = None
            record[f"{key.removesuffix('_id')}_withheld"] = True
