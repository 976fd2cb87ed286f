"""Detention sites: where a facility is, sealed under the facility's own data key.

Detention is recorded as a location so that a family can learn where a relative is held;
the movements and figures need the facility as a site (an id and a kind). What says
where it is (its name, P-code, locality and coordinates) is sealed in ``sites.sealed``
under that site's key, like a person's phone under their site's key. The plain ``name``
column holds a neutral label, ``Detention facility`` and eight characters of a keyed
hash of the real name (so two facilities cannot share a name, and the label reveals
nothing without the master key).

Who sees the real details: the roles allowed the ``detention`` field group
(authorisation.json), a tracing enquirer once the found person agreed, and the key
holders' command line. ``corridor keys destroy --site <facility>`` makes them unreadable
for good: the label, the movements and the figures remain.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

from sqlalchemy import Connection, select, update

from corridor.services.protection.field_vault import FieldVault
from corridor.storage.tables import sites

KIND = "detention"
SITE_FIELD = "site_details"
DETAILS = ("name", "pcode", "locality", "latitude", "longitude")
LABEL = "Detention facility"
T = TypeVar("T")


def label(vault: FieldVault, name: str) -> str:
    """The neutral name stored in the clear for a facility called ``name``."""
    return f"{LABEL} {vault.lookup_hash('site', ' '.join(name.casefold().split()))[:8]}"


def pack(details: Mapping[str, Any]) -> str:
    return json.dumps({k: details.get(k) for k in DETAILS}, ensure_ascii=False)


def stored(vault: FieldVault, row: Mapping[str, Any]) -> dict[str, Any]:
    """A detention site's row as first stored: a label, no details (they are sealed by
    ``seal`` once the row exists: the site's key refers to it)."""
    return {**row, **dict.fromkeys(DETAILS), "name": label(vault, row["name"])}


def seal(vault: FieldVault, conn: Connection, site_id: str, details: Mapping[str, Any]) -> None:
    """Seal a stored detention site's details, inside the caller's write transaction
    (the site's first key is created in it if needed)."""
    token = vault.seal_in(conn, site_id, SITE_FIELD, pack(details))
    conn.execute(update(sites).where(sites.c.id == site_id).values(sealed=token))


def open_all(
    vault: FieldVault, conn: Connection, site_ids: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """The readable details of the detention sites (all, or those of ``site_ids``), by
    site id; a site whose key was destroyed is left out."""
    query = select(sites.c.id, sites.c.sealed).where(
        sites.c.kind == KIND, sites.c.sealed.is_not(None)
    )
    if site_ids is not None:
        query = query.where(sites.c.id.in_(list(site_ids)))
    out = {}
    for site_id, token in conn.execute(query).all():
        text = vault.open(site_id, SITE_FIELD, token)
        if text is not None:
            out[site_id] = json.loads(text)
    return out


def reveal(site: dict[str, Any], details: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """A site as shown, with its sealed details filled in where they could be opened."""
    site.pop("sealed", None)
    if site.get("kind") == KIND and site.get("id") in details:
        opened = details[site["id"]]
        for key in DETAILS:
            if key in site:
                site[key] = opened.get(key)
    return site


def site_holders(view: Any) -> Iterator[dict[str, Any]]:
    """Every dict of a nested view (tracing views) that holds a ``site`` dict."""
    if isinstance(view, dict):
        if isinstance(view.get("site"), dict):
            yield view
        for value in view.values():
            yield from site_holders(value)
    elif isinstance(view, list):
        for value in view:
            yield from site_holders(value)


def reveal_in(view: T, vault: FieldVault, conn: Connection) -> T:
    """Every detention site of a nested view with its details filled in (opening only
    the sites the view names; none: no query)."""
    held = [h["site"] for h in site_holders(view)]
    wanted = {s["id"] for s in held if s.get("kind") == KIND and s.get("id")}
    details = open_all(vault, conn, wanted) if wanted else {}
    for site in held:
        reveal(site, details)
    return view
