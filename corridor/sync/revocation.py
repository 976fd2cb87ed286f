"""A revoked node's unsent changes are not lost (issue 16, docs/sync.md "Revocation").

At the central, ``corridor node revoke`` makes the node's bundles refused (403
``node_revoked``). A revocation can be a mistake, or a tablet thought stolen is found, or
a node is retired before its last sync: the changes it made and never sent would then
never reach the registry. So:

- **At the central**, ``reinstate`` (``corridor node reinstate NODE_ID --reason TEXT``,
  the administrator, audited ``sites.admin`` with the reason) undoes the revocation: the
  node's next push, pull or bundle file is taken again, and its unsent changes come in
  once (a bundle's change ids and per-origin numbers: nothing twice). Refused (409) for
  a node that is not revoked, and for a node whose wipe it carried out and confirmed:
  its data is gone. A wipe ordered before the revocation still stands.
- **At the node**, a round refused because of the revocation is noted on its own row
  (``sync_nodes.revoked_at``: when the central last refused it so) and said, with how
  many of its changes have not reached the central and that they are kept here: by
  ``corridor node sync``, ``corridor node status``, ``/sync`` and ``GET
  /api/sync/status``. The refusal is the central's unsigned answer: it makes the node
  say so and nothing else (nothing is dropped, nothing stops). The note goes when the
  central answers the node again (a pull answered, or a bundle of the central's made
  after it).
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select, update

from corridor.errors import Conflict, Problem, ValidationFailed
from corridor.services.base import AdminAudit
from corridor.storage.sync_tables import sync_acks, sync_changes, sync_nodes
from corridor.sync import names
from corridor.text import N_

if TYPE_CHECKING:
    from corridor.sync.service import SyncService

# The reason goes into the audit event's purpose (200 characters) beside the node's id.
REASON_MAX = 140


def valid_reason(reason: str | None) -> str:
    """The reason with its surrounding spaces gone; refused (nothing written) when it is
    empty, longer than ``REASON_MAX`` characters, or holds a control character."""
    text = (reason or "").strip()
    if not text:
        why = N_("say why the node is reinstated (e.g. 'tablet found in our custody')")
    elif len(text) > REASON_MAX:
        why = N_(
            "a reason is at most {most} characters ({length} given)",
            most=REASON_MAX,
            length=len(text),
        )
    elif any(unicodedata.category(ch).startswith("C") for ch in text):
        why = N_("a reason may not hold control characters (line breaks, tabs)")
    else:
        return text
    raise ValidationFailed([Problem("reason", why)], f"the reason: {why}")


def reinstate(
    sync: SyncService,
    node_id: str,
    reason: str,
    *,
    audit: AdminAudit,
    name: str | None = None,
) -> dict[str, Any]:
    """At the central: undo ``node_id``'s revocation, in one transaction audited with the
    reason. The node goes back to what it was before (enrolled; or its wipe ordered, or
    delivered: the order stands). ``name``: a new name for it, where another node of its
    site took its name while it was revoked (a revoked node's name is free again)."""
    why = valid_reason(reason)
    new_name = None if name is None else names.valid(name)
    with sync.db.transaction() as conn:
        node = sync._enrolled_node(conn, node_id)
        if node["status"] != "revoked":
            raise Conflict(
                N_(
                    "node {node} is not revoked ({status}): there is nothing to reinstate",
                    node=node_id,
                    status=node["status"],
                )
            )
        if node["wipe_confirmed_at"] is not None or node["wipe_report"]:
            raise Conflict(
                N_(
                    "node {node} carried out its wipe (confirmed {when}): the data it held "
                    "is gone, nothing of it can come in; it is not reinstated",
                    node=node_id,
                    when=_when(node["wipe_confirmed_at"]),
                )
            )
        names.unique(conn, node["site_id"], node_id, new_name or node["name"], reinstating=True)
        audit(conn, f"node {node_id} reinstated: {why}", node["site_id"])
        status = "wiped" if node["wiped_at"] else "wipe" if node["wipe_ordered_at"] else "approved"
        values: dict[str, Any] = {"status": status, "revoked_at": None}
        if new_name is not None:
            values["name"] = new_name
        conn.execute(update(sync_nodes).where(sync_nodes.c.id == node_id).values(**values))
    return {
        "node_id": node_id,
        "site_id": node["site_id"],
        "status": status,
        "name": new_name or node["name"],
        "revoked_at": node["revoked_at"],
    }


def refuse_enrolment(node_id: str, prior: Any, readmit: str | None) -> str | None:
    """At the central's approval of ``node_id``'s enrolment request (``prior``: its row
    here, None for a node never enrolled): None where it may simply be enrolled, else
    the operator's reason to re-admit a revoked node (``readmit``, checked as a
    reinstatement's). Refused (409, nothing written): a node revoked here without a
    reason (an old request of a tablet thought stolen would lift the revocation
    silently); a node whose wipe was ordered here, with or without one (its
    installation does not enrol again: a fresh one does, under a new id); a reason
    for a node that is not revoked (nothing to re-admit)."""
    status = prior["status"] if prior is not None else None
    if prior is not None and (status in ("wipe", "wiped") or prior["wipe_ordered_at"]):
        raise Conflict(
            N_(
                "node {node}'s wipe was ordered at this central ({when}): it is not "
                "enrolled again; enrol a fresh installation (a new database) instead",
                node=node_id,
                when=_when(prior["wipe_ordered_at"]),
            ),
            "request",
        )
    if status != "revoked":
        if readmit is not None:
            raise Conflict(
                N_(
                    "node {node} is not revoked here: there is nothing to re-admit "
                    "(approve it without a reason)",
                    node=node_id,
                ),
                "readmit",
            )
        return None
    if readmit is None:
        raise Conflict(
            N_(
                "node {node} was revoked at this central ({when}): approving its enrolment "
                "request would lift the revocation. If the node is trusted again, "
                "re-admit it with a reason (`corridor node approve --readmit REASON`, "
                "audited) or reinstate it (`corridor node reinstate {node} --reason TEXT`)",
                node=node_id,
                when=_when(prior["revoked_at"]),
            ),
            "readmit",
        )
    return valid_reason(readmit)


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="minutes") if value is not None else "-"


# -- at the node -------------------------------------------------------------------------


def refused_here(sync: SyncService) -> dict[str, Any]:
    """At a node whose central refused it as revoked: noted on its own row; its id and
    how many of its changes have not reached the central (kept here)."""
    with sync.db.transaction() as conn:
        me = sync._self(conn)
        conn.execute(
            update(sync_nodes).where(sync_nodes.c.id == me["id"]).values(revoked_at=sync.clock())
        )
        return {"node_id": me["id"], "unsent": unsent(conn, me)}


def answered_again(conn: Connection, me: dict[str, Any], made: datetime | None = None) -> None:
    """At a node, in the transaction that took its central's answer: the note of a
    refusal goes (``made``: when the central made a bundle carried by hand; one made
    before the refusal says nothing of it)."""
    if me["role"] != "node" or me["revoked_at"] is None:
        return
    if made is not None and made < me["revoked_at"]:
        return
    conn.execute(update(sync_nodes).where(sync_nodes.c.id == me["id"]).values(revoked_at=None))


def unsent(conn: Connection, me: dict[str, Any]) -> int:
    """The changes made here that the central has not acknowledged."""
    acked = (
        select(func.coalesce(func.max(sync_acks.c.seq), 0))
        .select_from(sync_acks.join(sync_nodes, sync_nodes.c.id == sync_acks.c.peer_node))
        .where(
            sync_nodes.c.role == "central",
            sync_nodes.c.is_self.is_(False),
            sync_acks.c.origin_node == me["id"],
        )
        .scalar_subquery()
    )
    return int(
        conn.execute(
            select(func.count())
            .select_from(sync_changes)
            .where(sync_changes.c.origin_node == me["id"], sync_changes.c.seq > acked)
        ).scalar_one()
    )


def message(node_id: str, unsent_count: int, said: str) -> str:
    """What the node's operator reads when the central refused it as revoked (``said``:
    the central's own words)."""
    return (
        f"the central refused this node as revoked: {unsent_count} changes made here have "
        "not reached the central; they are kept here, not lost. The central's "
        "administrator can reinstate this node (at the central: `corridor node reinstate "
        f"{node_id} --reason TEXT`), then run `corridor node sync` again. {said}"
    )


def answered(sync: SyncService) -> None:
    """At a node: its central answered a pull (so it takes this node again). A write
    only where a refusal was noted."""
    with sync.db.read() as conn:
        if sync._self(conn)["revoked_at"] is None:
            return
    with sync.db.transaction() as conn:
        answered_again(conn, sync._self(conn))
