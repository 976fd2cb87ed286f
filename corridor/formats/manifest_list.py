"""The manifests list as a table (CSV, XLSX): one manifest a row, no person in it.

Columns: the manifest's id, vehicle, where from and to (name and id), status, and its
times (UTC, ISO 8601). Site names are as the exporter may see them (a detention site's
neutral label for the roles that may not see detention sites); a detention facility the
exporter may not see at an end of a manifest is withheld (both cells empty), as in the
list."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

COLUMNS = (
    "manifest_id",
    "vehicle",
    "from_site",
    "from_site_id",
    "to_site",
    "to_site_id",
    "status",
    "created_at",
    "planned_departure",
    "dispatched_at",
    "expected_arrival",
    "received_at",
)


def _time(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def rows(manifests: Iterable[Any], site_names: Mapping[str, str]) -> list[list[str]]:
    """One row a manifest (``ManifestHead`` read models), in the list's order."""
    return [
        [
            m.id,
            m.vehicle,
            site_names.get(m.from_site_id or "", ""),
            m.from_site_id or "",
            site_names.get(m.to_site_id or "", ""),
            m.to_site_id or "",
            m.status,
            _time(m.created_at),
            _time(m.planned_departure),
            _time(m.dispatched_at),
            _time(m.expected_arrival),
            _time(m.received_at),
        ]
        for m in manifests
    ]
