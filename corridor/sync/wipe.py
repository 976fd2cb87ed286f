"""A node's confirmation that it carried out a wipe (issue 16, docs/sync.md "Protection
across nodes").

The central records when its wipe order went out (``sync_nodes.wiped_at``); this module
makes it learn that the order was *carried out*. When a node destroys its copy of the
site's keys (the central's order, or the drill's keys destroyed at the central), it notes
a **report** on its own row (``sync_nodes.wipe_report``): when, whether by order, the key
ids destroyed, how many persons anonymised, how many of its changes never reached the
central. No personal data: ids and counts.

A wiped node refuses every export and import; the one message it may still send is its
**confirmation**: a bundle of no change and no range (the format every central reads, so
``POST /api/sync/push`` and ``corridor node import`` take it with their usual checks:
addressed here, from a node enrolled here, for its site, its Ed25519 signature over the
whole) whose signed header carries the report (``"wiped"``). Its signing key is not a
site key: it survives the wipe (sealed under the node's master key). The central, the
signature verified, records the report once (``wipe_confirmed_at``), audited
``sync.wiped`` under the node's id; the same confirmation again records nothing.

The node's SQLite file is then rewritten (``VACUUM``, the WAL truncated), so that the
values the anonymisation overwrote (names, phones, notes, and those an upgrade left in
the clear) are not left in free pages or in the WAL.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select, update

from corridor.storage.database import Database
from corridor.storage.sync_tables import sync_acks, sync_changes, sync_nodes
from corridor.sync.journal import dumps

if TYPE_CHECKING:
    from corridor.sync.service import SyncService

# Where the wiped node's confirmation is made: corridor/sync/confirm.py (it imports the
# service; the service imports this module).

# The signed header's key that carries the report.
REPORT = "wiped"
ACTION = "sync.wiped"
PURPOSE = "a node's signed confirmation that it carried out a wipe"
CHECKPOINT_TRIES = 50


def note(
    conn: Connection,
    me: dict[str, Any],
    central_id: str,
    ordered: bool,
    keys_destroyed: list[str],
    persons: int,
    now: datetime,
) -> dict[str, Any]:
    """At a node, in the wipe's transaction: its report, kept on its own row."""
    acked = (
        select(sync_acks.c.seq)
        .where(sync_acks.c.peer_node == central_id, sync_acks.c.origin_node == me["id"])
        .scalar_subquery()
    )
    unsent = conn.execute(
        select(func.count())
        .select_from(sync_changes)
        .where(
            sync_changes.c.origin_node == me["id"],
            sync_changes.c.seq > func.coalesce(acked, 0),
        )
    ).scalar_one()
    report = {
        "node_id": me["id"],
        "site_id": me["site_id"],
        "wiped_at": now.isoformat(),
        "ordered": ordered,
        "keys_destroyed": sorted(keys_destroyed),
        "persons_anonymised": persons,
        "unsent": int(unsent),
    }
    conn.execute(
        update(sync_nodes).where(sync_nodes.c.id == me["id"]).values(wipe_report=dumps(report))
    )
    return report


def record(sync: SyncService, header: dict[str, Any]) -> bool:
    """At the central, a bundle's signature verified: the report it carries recorded on
    the sending node's row, once (audited ``sync.wiped`` under the node). True when it
    was recorded now."""
    report = header.get(REPORT)
    if not isinstance(report, dict) or header.get("count") or header.get("ranges"):
        return False
    node_id = str(header["from_node"])
    if report.get("node_id") != node_id:
        return False
    with sync.db.transaction() as conn:
        done = conn.execute(
            update(sync_nodes)
            .where(
                sync_nodes.c.id == node_id,
                sync_nodes.c.is_self.is_(False),
                sync_nodes.c.wipe_confirmed_at.is_(None),
            )
            .values(wipe_report=dumps(report), wipe_confirmed_at=sync.clock())
        ).rowcount
        if done:
            sync.node_hook(node_id, ACTION)(conn, [])
    return bool(done)


def peer_fields(row: Any) -> dict[str, Any]:
    """What a status shows of a peer's name and wipe: ordered, delivered, carried out."""
    report = json.loads(row["wipe_report"]) if row["wipe_report"] else {}
    carried = report.get("wiped_at")
    return {
        "name": row["name"],
        "wipe_ordered_at": row["wipe_ordered_at"],
        "wipe_confirmed_at": row["wipe_confirmed_at"],
        "wipe_carried_out_at": datetime.fromisoformat(carried) if carried else None,
        "wipe_keys_destroyed": len(report["keys_destroyed"]) if report else None,
        "wipe_persons_anonymised": report.get("persons_anonymised") if report else None,
        "wipe_unsent": report.get("unsent") if report else None,
    }


def scrub_file(db: Database) -> None:
    """At a SQLite node after a wipe: rewrite the file so that nothing the wipe
    overwrote stays readable in free pages or in the WAL."""
    engine = db.engine
    if engine.dialect.name != "sqlite":
        return
    with db._sqlite_writer(), engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute("VACUUM")
        # Busy while another connection (a server's reader) holds a snapshot: tried
        # again for a while, then left to the next checkpoint (the WAL is reused).
        for _ in range(CHECKPOINT_TRIES):
            if raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0:
                break
            time.sleep(0.1)
