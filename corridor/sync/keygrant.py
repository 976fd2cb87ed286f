"""A site's keys created at the central after a node's enrolment reach the node (issue 16).

The grant a node joins with carries the site's keys of that moment. A key created later
at the central (a rotation, a fresh key after an evacuation drill destroyed one) used to
stay there: what the central sealed under it could not be opened at the node. Now every
bundle the central writes for a node carries, in its signed header (``site_keys``), the
site's live keys, each sealed to the node's X25519 key as in the grant; the node adopts
those it does not hold (and takes the state of those it does: a key retired at the
central is retired here) before it opens the bundle's body, which may be sealed under
the new key. Destroyed keys travel as before (``destroy_keys``); a key destroyed here is
never brought back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from corridor.security.crypto import FieldCipher
from corridor.security.tables import site_keys
from corridor.sync import keys


def sealed_for(
    conn: Connection, cipher: FieldCipher, site_id: str, node_id: str, box_public: str
) -> list[dict[str, Any]]:
    """The site's live keys, each sealed to the node (as ``approve`` seals the grant's)."""
    out = []
    for k in conn.execute(
        select(site_keys)
        .where(site_keys.c.site_id == site_id, site_keys.c.wrapped_key.is_not(None))
        .order_by(site_keys.c.version)
    ).mappings():
        _, raw = cipher.data_key(conn, site_id, k["id"])
        out.append(
            {
                "id": k["id"],
                "version": k["version"],
                "state": k["state"],
                "created_at": k["created_at"].isoformat(),
                "key": keys.box_seal(box_public, raw, f"site-key|{node_id}"),
            }
        )
    return out


def adopt(
    conn: Connection,
    cipher: FieldCipher,
    site_id: str,
    private: dict[str, str],
    node_id: str,
    granted: list[dict[str, Any]],
) -> int:
    """At the node: the keys of a bundle's header it does not hold, installed (wrapped
    under its own master key, same ids); the state of those it holds, taken (never a
    destroyed one). How many keys were new or changed here."""
    held = {
        str(r["id"]): r
        for r in conn.execute(select(site_keys).where(site_keys.c.site_id == site_id)).mappings()
    }
    changed = 0
    # Retire first, so that one key at most is active at any moment.
    for k in sorted(granted, key=lambda k: (k["state"] == "active", k["version"])):
        mine = held.get(str(k["id"]))
        if mine is None:
            if k["state"] == "active":
                conn.execute(
                    update(site_keys)
                    .where(site_keys.c.site_id == site_id, site_keys.c.state == "active")
                    .values(state="retired")
                )
            raw = keys.box_open(private, k["key"], f"site-key|{node_id}")
            cipher.adopt_site_key(conn, site_id, k, raw)
            changed += 1
        elif mine["wrapped_key"] is not None and mine["state"] != k["state"]:
            conn.execute(
                update(site_keys).where(site_keys.c.id == k["id"]).values(state=k["state"])
            )
            changed += 1
    return changed
