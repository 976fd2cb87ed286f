"""The central's forget reaching a node that recorded something the central does not
hold yet (docs/sync.md, "A person who left a node's site": a forget made on old news).

The central sends a node's site a ``person.forget`` once the person has no reason left
to be held there (``journal.left``). The node may meanwhile have recorded something of
her the central did not know of when it made the forget: the camp's node checks her in
off the truck while the exit's node corrects her departure into a death (or voids the
dispatch). Before, at the camp's node:

- where the forget's history and the node's own could not both stand (she died at the
  exit; she arrived at the camp), the forget was held as a conflict on ``movements``
  and she was anonymised all the same. The officer decides the camp's check-in at the
  central, where it is held too, but that decision is never sent to the camp's node (she
  is no longer of its site): its queue kept the conflict open for ever, its log the
  arrival and its manifest the check-in, neither of which the central holds;
- where they could (the dispatch voided, the arrival standing), she was anonymised
  though the node's own log, and the central's once its check-in arrived, has her at
  the camp.

Now:

- ``withdraw_own``: where the forget's history cannot land here, the events held here
  that it does not carry (this node's own, which the central holds as a conflict or
  will receive: a node gets nothing else but from the central) are taken out of the
  log here, and the check-ins and discrepancies of their arrivals with them (the
  manifest as the forget carries it). They stay in this node's own changes (the
  payload, which the forget's scrub keeps: facts and notes), at the central too, where
  the officer decides them. The forget's history then lands.
- ``stays``: a forget after whose history (and this node's own) she is at this node's
  site or on her way to it is not carried out: the central had not yet received what
  put her here, and once it does it has no reason to send the forget again.
- ``withdraw_conflicts``: a forget carried out withdraws every conflict of the person
  still open here: nothing can be decided of a person this node no longer holds, and
  the decision made at the central would never reach it. Each is marked resolved by the
  forget (``withdrawn_by``), the change itself kept as it is (the central holds the
  changes, or its own copy of the conflict, and decides there).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, select, update

from corridor.storage import locations
from corridor.storage.sync_tables import sync_changes
from corridor.storage.tables import (
    manifest_discrepancies,
    manifest_items,
    movements,
    person_locations,
)
from corridor.sync import facts
from corridor.sync.journal import open_payload, scrub
from corridor.sync.state import decode_row

if TYPE_CHECKING:
    from corridor.services.protection.field_vault import FieldVault

# In a conflict's resolution: the forget that withdrew it at this node.
WITHDRAWN_BY = "withdrawn_by"


def withdraw_own(
    conn: Connection, target: str, person_id: str, state: dict[str, Any]
) -> list[str]:
    """The events held here of the person (``target``, her survivor here) that the
    forget's state does not carry, taken out of the log here; the manifest items they
    ticked and the discrepancies their arrivals noted follow the forget's state. The
    ids taken out."""
    carried = {str(m["id"]) for m in state["movements"]}
    rows = list(
        conn.execute(
            select(movements.c.id, movements.c.person_id, movements.c.kind, movements.c.manifest_id)
            .where(movements.c.person_id.in_(sorted({target, person_id})))
        ).mappings()
    )
    out = [r for r in rows if str(r["id"]) not in carried]
    if not out:
        return []
    ids = sorted(str(r["id"]) for r in out)
    items = {
        (str(i["manifest_id"]), str(i["person_id"])): decode_row(manifest_items, i)
        for i in state.get("manifest_items", ())
    }
    for item in list(
        conn.execute(
            select(manifest_items).where(manifest_items.c.arrival_movement_id.in_(ids))
        ).mappings()
    ):
        theirs = items.get((str(item["manifest_id"]), str(item["person_id"])))
        values: dict[str, Any] = {
            "checked_in_at": None, "checked_in_by": None, "arrival_movement_id": None,
            "late_arrival": None,
        }  # fmt: skip
        if theirs is not None and theirs["arrival_movement_id"] not in ids:
            values = {k: theirs[k] for k in values}
        conn.execute(
            update(manifest_items).where(manifest_items.c.id == item["id"]).values(**values)
        )
    noted = {
        (str(d["manifest_id"]), str(d["person_id"]), str(d["kind"]))
        for d in state.get("manifest_discrepancies", ())
    }
    for r in out:
        if r["kind"] == "arrived" and r["manifest_id"]:
            key = (str(r["manifest_id"]), str(r["person_id"]), "not_on_manifest")
            if key not in noted:
                conn.execute(
                    delete(manifest_discrepancies).where(
                        manifest_discrepancies.c.manifest_id == key[0],
                        manifest_discrepancies.c.person_id == key[1],
                        manifest_discrepancies.c.kind == key[2],
                    )
                )
    conn.execute(delete(movements).where(movements.c.id.in_(ids)))
    return ids


def stays(conn: Connection, person_id: str, target: str, site_id: str | None) -> bool:
    """Whether the person, by the log held here, is at the site ``site_id`` (this
    node's) or on her way to it. A person merged away here (``target``, her survivor, is
    another) does not: the forget is of her record, the survivor held for its own
    reasons."""
    if site_id is None or target != person_id:
        return False
    locations.refresh(conn, [target])
    row = conn.execute(
        select(person_locations.c.site_id, person_locations.c.destination_site_id).where(
            person_locations.c.person_id == target
        )
    ).first()
    return row is not None and site_id in (row[0], row[1])


def withdraw_conflicts(conn: Connection, forgets: dict[str, Any]) -> int:
    """The conflicts still open here of the persons this node just forgot (``forgets``:
    each person's forget change), withdrawn: resolved by the forget, which names itself
    in their resolution. The changes stay as they are. How many."""
    done = 0
    for pid, change in sorted(forgets.items()):
        rows = conn.execute(
            select(sync_changes.c.id, sync_changes.c.resolution).where(
                sync_changes.c.person_id == pid,
                sync_changes.c.state == "conflict",
                sync_changes.c.resolved_at.is_(None),
            )
        ).all()
        for cid, resolution in rows:
            noted = {**json.loads(resolution or "{}"), WITHDRAWN_BY: change["id"]}
            done += conn.execute(
                update(sync_changes)
                .where(sync_changes.c.id == cid, sync_changes.c.resolved_at.is_(None))
                .values(
                    resolved_by=(change["user_id"] or change["origin_node"])[:64],
                    resolved_at=change["recorded_at"],
                    resolution=json.dumps(noted),
                )
            ).rowcount
    return done


def withdrawn_unsent(conn: Connection, vault: FieldVault, me: str, acked: int) -> int:
    """At a node: how many of its own changes its central has not acknowledged (``acked``:
    the last it said it holds) bring movements that are no longer in the log here, taken
    out by the central's forget (``withdraw_own``) before the central received them. The
    officer who recorded them sees them nowhere here (the person is forgotten): the
    node's sync status says so (``SyncService.status``, ``withdrawn``), until the central
    holds them and its officer decides them."""
    rows = list(
        conn.execute(
            select(sync_changes.c.person_id, sync_changes.c.site_id, sync_changes.c.payload)
            .where(sync_changes.c.origin_node == me, sync_changes.c.seq > acked)
            .order_by(sync_changes.c.seq)
        ).all()
    )
    if not rows:
        return 0
    away = facts.forgotten(conn, sorted({str(r[0]) for r in rows}))
    count = 0
    for person_id, site_id, payload in rows:
        if str(person_id) not in away:
            continue
        try:
            state = open_payload(vault, site_id, payload)
        except ValueError:  # a payload format newer than this installation
            continue
        if not state or not state.get("movements"):
            continue
        ids = sorted({str(m["id"]) for m in state["movements"]})
        held = set(conn.execute(select(movements.c.id).where(movements.c.id.in_(ids))).scalars())
        count += bool(set(ids) - held)
    return count


def scrub_sent(conn: Connection, vault: FieldVault, me: str, before: int, after: int) -> int:
    """At a node, its own changes after ``before`` up to ``after`` being held at its
    central (its acknowledgement): those of persons this node forgot, left readable by
    the forget's scrub while on their way (``journal.scrub``), sealed again as the
    forget seals every change of them, so that a change the central relays on one of
    them merges with what is held here (anonymised), and nothing readable of them stays.
    How many were sealed again."""
    if after <= before:
        return 0
    pids = sorted(
        {
            str(p)
            for p in conn.execute(
                select(sync_changes.c.person_id).where(
                    sync_changes.c.origin_node == me,
                    sync_changes.c.seq > before,
                    sync_changes.c.seq <= after,
                )
            ).scalars()
        }
    )
    away = sorted(facts.forgotten(conn, pids))
    return scrub(conn, vault, away, forget=True, sent=after, own=True) if away else 0
