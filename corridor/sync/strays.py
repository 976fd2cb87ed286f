"""Changes a node made before it joined, of persons of a site of its own (issue 16,
docs/sync.md "Enrolment").

A node's bundles send its own site's changes, and claim every number it made (its
range): the central's acknowledgement then moves past them all. A change made before
the node joined, of a person registered at a site the installation made itself (it was
used alone first), can never be sent (the central knows neither that site nor its key),
yet would be claimed, acknowledged and counted sent at the node: lost from the registry,
with nothing said. So joining is refused while such changes are held.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from corridor.errors import Conflict
from corridor.storage.sync_tables import sync_changes
from corridor.storage.tables import sites


def refuse(conn: Connection, me: dict[str, Any], site: dict[str, Any]) -> None:
    """At a node joining its central for ``site``: refused, before anything is written,
    while it holds changes it made of persons of another site (registered before it
    joined, at a site of its own: the central knows neither that site nor its key). A
    node sends its own site's changes only, yet its bundles claim every number it made:
    the central would have acknowledged those changes without ever receiving them, and
    the node would have counted them sent (nothing to send, nothing said)."""
    strays = conn.execute(
        select(sync_changes.c.site_id, sites.c.name, func.count())
        .select_from(sync_changes.outerjoin(sites, sites.c.id == sync_changes.c.site_id))
        .where(sync_changes.c.origin_node == me["id"], sync_changes.c.site_id != site["id"])
        .group_by(sync_changes.c.site_id, sites.c.name)
        .order_by(sync_changes.c.site_id)
    ).all()
    if not strays:
        return
    held = "; ".join(f"{n} of site {name or '-'} {sid}" for sid, name, n in strays)
    raise Conflict(
        f"this installation holds changes it made of persons of other sites than "
        f"{site['name']} ({held}), recorded before it joined: they could never be sent "
        "(a node sends its own site's changes) and the central would count them as "
        "received. Nothing was joined. Bring those persons to the registry another way "
        "(here `corridor export csv --site ID`, at the central `corridor import csv "
        "--site ID`: docs/formats.md) and enrol a fresh installation as this site's node"
    )
