"""The one message a wiped node may still send: its signed confirmation of the wipe
(issue 16; the report and how the central records it: corridor/sync/wipe.py)."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from corridor.storage.sync_tables import sync_nodes
from corridor.sync import keys
from corridor.sync.journal import dumps
from corridor.sync.service import MAGIC, SyncService
from corridor.sync.wipe import REPORT


def confirmation(sync: SyncService) -> tuple[bytes, str] | None:
    """At a wiped node: the signed bundle that confirms the wipe to its central, and the
    message saying the node no longer syncs; None when this node was not wiped."""
    with sync.db.read() as conn:
        me = dict(conn.execute(select(sync_nodes).where(sync_nodes.c.is_self)).mappings().one())
        central = conn.execute(
            select(sync_nodes.c.id).where(
                sync_nodes.c.role == "central", sync_nodes.c.is_self.is_(False)
            )
        ).scalar()
    if me["status"] != "wiped" or not me["wipe_report"] or central is None:
        return None
    private = sync._private(me)
    body = b""
    header = {
        "from_node": me["id"],
        "to_node": central,
        "site_id": me["site_id"],
        "created_at": sync.clock().isoformat(),
        "ranges": {},
        "have": {},
        "count": 0,
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "body_bytes": 0,
        REPORT: json.loads(me["wipe_report"]),
    }
    line = dumps(header).encode()
    signature = keys.sign(private, MAGIC + b"\n" + line + b"\n" + body)
    bundle = b"\n".join([MAGIC, line, body, signature.encode(), b""])
    return bundle, sync._wiped_message(me)
