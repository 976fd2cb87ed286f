"""Sites created or renamed at the central after a node's enrolment reach the node
(issue 16).

The grant a node joins with carries every site's row of that moment. A site created at
the central later used to stay there: a change naming it (a person moved to it, a
manifest addressed to it) waited at the node for ever (``SyncService._missing``). Now
every bundle the central writes for a node carries, in its sealed body beside the
changes (``SITES``), every site's row as the grant does (reference data: no person, no
key; a detention site's whereabouts stay sealed under its own key, which no node holds).
The node installs them in the import's transaction before it applies anything
(``install``): a site it does not know is added, one it knows takes the central's name,
place, capacity and closure. A change that waited for the site applies in the same
import. Keys never travel this way: a node holds its own site's keys only
(``keygrant``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from corridor.errors import CorridorError
from corridor.storage.tables import sites
from corridor.sync.state import decode_row, encode_row


class SiteNameTaken(CorridorError):
    """A site of the central's carries the name of a site made at this node alone."""

    code = "bundle_refused"


# The key of a bundle's body that carries the sites (the central's bundles for a node).
SITES = "sites"
# Where ``read_bundle`` hands them to the import (never taken from the wire's header).
RECEIVED = "_sites"


def rows(conn: Connection) -> list[dict[str, Any]]:
    """Every site's row, as the grant carries them."""
    found = conn.execute(select(sites).order_by(sites.c.id)).mappings()
    return [encode_row(sites, r) for r in found]


def install(conn: Connection, received: list[dict[str, Any]]) -> int:
    """At a node: the central's sites written here (added, or taken as they are there).
    How many were added or changed."""
    if not received:
        return 0
    held = {str(r["id"]): dict(r) for r in conn.execute(select(sites)).mappings()}
    wanted = [decode_row(sites, r) for r in received]
    ours = {str(r["id"]) for r in wanted}
    local = {h["name"] for i, h in held.items() if i not in ours}  # made here alone
    for r in wanted:
        if r["name"] in local:
            raise SiteNameTaken(
                f"the central's site {r['id']} is named {r['name']!r}, the name of a site "
                "made at this node alone: rename that site here, then import again; "
                "nothing was imported"
            )
    new = [r for r in wanted if str(r["id"]) not in held]
    changed = [
        r for r in wanted
        if str(r["id"]) in held and any(held[str(r["id"])][k] != v for k, v in r.items())
    ]  # fmt: skip
    # Names are unique: a renamed site first takes its id as its name, so that two sites
    # that swapped names (or a new site taking an old name) never collide on the way.
    renamed = [r for r in changed if r["name"] != held[str(r["id"])]["name"]]
    for r in renamed:
        conn.execute(update(sites).where(sites.c.id == r["id"]).values(name=str(r["id"])))
    for r in changed:
        conn.execute(update(sites).where(sites.c.id == r["id"]).values(**r))
    if new:
        conn.execute(insert(sites), new)
    return len(new) + len(changed)
