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

The node's storage is then rewritten, so that the values the anonymisation overwrote
(names, phones, notes, and those an upgrade left in the clear) are not left behind: on
SQLite the file (``VACUUM``, the WAL truncated: nothing in free pages or in the WAL); on
PostgreSQL every table (``VACUUM FULL``: new files without the old tuples), the planner's
statistics made again, ``pg_statistic`` rewritten, then a ``CHECKPOINT``. PostgreSQL's WAL
keeps what was written until the server recycles its segments (docs/sync.md).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.exc import DBAPIError

from corridor.storage.database import Database
from corridor.storage.sync_tables import sync_acks, sync_changes, sync_nodes
from corridor.storage.tables import metadata
from corridor.sync.journal import dumps
from corridor.text import N_

if TYPE_CHECKING:
    from corridor.sync.service import SyncService

# Where the wiped node's confirmation is made: corridor/sync/confirm.py (it imports the
# service; the service imports this module).

# The signed header's key that carries the report.
REPORT = "wiped"
ACTION = "sync.wiped"
PURPOSE = N_("a node's signed confirmation that it carried out a wipe")
CHECKPOINT_TRIES = 50
# PostgreSQL's SQLSTATE for a right the role lacks (CHECKPOINT: superuser or pg_checkpoint).
_PG_NO_RIGHT = "42501"

log = logging.getLogger(__name__)


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
    now = sync.clock()
    with sync.db.transaction() as conn:
        done = conn.execute(
            update(sync_nodes)
            .where(
                sync_nodes.c.id == node_id,
                sync_nodes.c.is_self.is_(False),
                sync_nodes.c.wipe_confirmed_at.is_(None),
            )
            .values(wipe_report=dumps(report), wipe_confirmed_at=now)
        ).rowcount
        if done:
            # A node that wiped itself with no order (the drill left its site no key)
            # will never sync again: marked wiped as an ordered wipe delivered is.
            conn.execute(
                update(sync_nodes)
                .where(sync_nodes.c.id == node_id, sync_nodes.c.status == "approved")
                .values(status="wiped", wiped_at=func.coalesce(sync_nodes.c.wiped_at, now))
            )
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


def scrub_storage(db: Database) -> None:
    """At a node after a wipe has committed: its storage rewritten so that nothing the
    wipe overwrote stays readable (SQLite: the file and its WAL; PostgreSQL: the tables'
    files and the statistics)."""
    if db.is_sqlite:
        _scrub_sqlite(db)
    else:
        _scrub_postgresql(db)


def _scrub_sqlite(db: Database) -> None:
    engine = db.engine
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


def _scrub_postgresql(db: Database) -> None:
    """An update or delete leaves the old tuple in the table's file until a vacuum, and
    a plain vacuum only marks its space free. ``VACUUM FULL`` writes every table (its
    indexes and TOAST too) into new files; the old ones are emptied when it commits and
    removed at the next checkpoint. Every table of the schema, not a list that could
    drift from what the anonymisation touches: a node's database is one site's.

    The planner's statistics (``pg_statistic``) hold values sampled by the last
    ``ANALYZE`` (most common values, histogram bounds: names). ``ANALYZE`` replaces them,
    except for a table left empty (the documents, the family links), whose old
    statistics only a superuser may delete; ``pg_statistic`` is then rewritten too where
    the role may (the database's owner may on PostgreSQL 15; otherwise the server warns,
    skips it, and the warning is logged)."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        quote = conn.dialect.identifier_preparer.format_table
        names = [quote(t) for t in metadata.sorted_tables]
        raw = conn.connection.driver_connection
        assert raw is not None

        def warned(diag: Any) -> None:  # what the server skipped: no personal data
            if diag.severity_nonlocalized == "WARNING":
                log.warning("rewriting the wiped node's storage: %s", diag.message_primary)

        raw.add_notice_handler(warned)
        try:
            conn.exec_driver_sql(f"VACUUM FULL {', '.join(names)}")
            _forget_statistics(conn, names)
            conn.exec_driver_sql(f"ANALYZE {', '.join(names)}")
            conn.exec_driver_sql("VACUUM FULL pg_catalog.pg_statistic")
            _checkpoint(conn)
        finally:
            raw.remove_notice_handler(warned)


def _forget_statistics(conn: Connection, names: list[str]) -> None:
    if conn.exec_driver_sql("SHOW is_superuser").scalar_one() != "on":
        log.warning(
            "the node's database role is not a superuser: the statistics of the tables "
            "the wipe emptied keep what ANALYZE last sampled of them; drop the node's "
            "database once its confirmation reached the central (docs/sync.md)"
        )
        return
    conn.execute(
        text(
            "DELETE FROM pg_catalog.pg_statistic WHERE starelid IN "
            "(SELECT to_regclass(n) FROM unnest(CAST(:names AS text[])) AS n)"
        ),
        {"names": names},
    )


def _checkpoint(conn: Connection) -> None:
    try:
        conn.exec_driver_sql("CHECKPOINT")
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != _PG_NO_RIGHT:
            raise
        log.warning(
            "the node's database role may not run CHECKPOINT (it needs the role "
            "pg_checkpoint): the emptied files of the wiped node's tables are removed "
            "at the server's next checkpoint (checkpoint_timeout)"
        )
