"""One conflict, several copies (issue 16; docs/sync.md, "The conflict review queue").

With a third origin in between (two desks of a site through the central), one conflict
is held at each installation that received both changes: at the central and desk A as
desk B's change against desk A's, at desk B as desk A's against its own. A copy is
recognised by the two changes it holds: the conflicting change (its row) and ours, the
head it was applied against (``opened``: noted in the row's ``resolution`` when the
conflict is stored, since the head may move on afterwards).

A decision (``ConflictReview.resolve``) carries in its change ``decides``: those two
changes and the fields decided. Wherever it is applied, every open copy holding one of
the two changes takes the decided fields as the decision wrote them (``taken``) and is
settled (``settle_copies``), whether the decision follows on there or is merged.

While a conflict of a person is open here, a received change merged into the person
(not following on) does not become their head (``holds_head``): the person's state here
keeps our value of the conflicting field, which that change does not carry, so a change
made here later must not name it as its base (at the other side it would follow on and
write our value without a decision). ``journal.series_heads`` applies the same rule at
the central.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from corridor.errors import Conflict
from corridor.storage.sync_tables import sync_changes
from corridor.sync import converge
from corridor.sync.histories import NOT_LANDED
from corridor.sync.journal import heads_of
from corridor.text import N_

DECIDES = "decides"


def mark_decided(
    conn: Connection, conflict_id: str, by: str, at: datetime, resolution: dict[str, Any]
) -> None:
    """The open conflict ``conflict_id`` marked decided (by whom, when, how), in the
    decision's transaction; 409 when it was decided meanwhile."""
    marked = conn.execute(
        update(sync_changes)
        .where(
            sync_changes.c.id == conflict_id,
            sync_changes.c.state == "conflict",
            sync_changes.c.resolved_at.is_(None),
        )
        .values(resolved_by=by[:64], resolved_at=at, resolution=json.dumps(resolution))
    )
    if marked.rowcount != 1:
        raise Conflict(N_("this conflict was decided meanwhile"))


def opened(conn: Connection, person_id: str, conflicts: list[str]) -> str | None:
    """A conflict's ``resolution`` while open: ours, the head it was applied against
    (None for a change applied without conflict)."""
    if not conflicts:
        return None
    return json.dumps({"ours": heads_of(conn, [person_id]).get(person_id)})


def ours_of(resolution: str | None) -> str | None:
    """The change ours came from, as noted when the conflict was stored (None: noted by
    an older version)."""
    if not resolution:
        return None
    found = json.loads(resolution).get("ours")
    return str(found) if found else None


def mark(
    conflict_id: str, ours: str | None, fields: dict[str, str], not_landed: list[str]
) -> dict[str, Any]:
    """What a decision's change carries beside the person's state: the two changes, the
    fields decided, and the movement events it left out (``converge``)."""
    decided: dict[str, Any] = {"changes": [c for c in (ours, conflict_id) if c], "fields": fields}
    if not_landed:
        decided[NOT_LANDED] = not_landed
    return {DECIDES: decided}


def _open_copies(conn: Connection, person_id: str, state: dict[str, Any]) -> list[str]:
    """The open conflicts of the person here that are copies of the one decided: the
    row is one of its two changes, or (a copy of another site's node, whose row is the
    central's change sealed again for it, under another id) ours is one of them and the
    fields in conflict are among those decided."""
    decides = state.get(DECIDES) or {}
    pair = {str(c) for c in decides.get("changes", [])}
    if not pair:
        return []
    fields = set(decides.get("fields", {}))
    copies = []
    for cid, conflicting, resolution in conn.execute(
        select(sync_changes.c.id, sync_changes.c.conflict_fields, sync_changes.c.resolution).where(
            sync_changes.c.person_id == person_id,
            sync_changes.c.state == "conflict",
            sync_changes.c.resolved_at.is_(None),
        )
    ):
        named = set((conflicting or "").split(",")) - {""}
        if str(cid) in pair or (ours_of(resolution) in pair and named <= fields):
            copies.append(str(cid))
    return copies


def taken(conn: Connection, person_id: str, state: dict[str, Any]) -> set[str]:
    """The fields a decision carried here decides: taken as it wrote them, where a copy
    of the conflict it decides is open here (else none: a plain merge)."""
    if not _open_copies(conn, person_id, state):
        return set()
    return set((state.get(DECIDES) or {}).get("fields", {}))


def settle_copies(conn: Connection, person_id: str, change: Any, state: dict[str, Any]) -> None:
    """The open copies here of the conflict this change decides: settled by it, the
    movement events the decision left out named in their resolution
    (``withdraw_left_out`` took them out of the log here)."""
    copies = _open_copies(conn, person_id, state)
    if not copies:
        return
    settled: dict[str, Any] = {"settled_by": change["id"]}
    left_out = (state.get(DECIDES) or {}).get(NOT_LANDED)
    if left_out:
        settled[NOT_LANDED] = sorted(str(i) for i in left_out)
    conn.execute(
        update(sync_changes)
        .where(sync_changes.c.id.in_(copies), sync_changes.c.resolved_at.is_(None))
        .values(
            resolved_by=(change["user_id"] or change["origin_node"])[:64],
            resolved_at=change["recorded_at"],
            resolution=json.dumps(settled),
        )
    )


def withdraw_left_out(conn: Connection, person_id: str, state: dict[str, Any]) -> None:
    """Where this change is a decision of a conflict a copy of which is open here, the
    movement events it left out are taken out of the log here (``converge``), before
    anything settles that copy (a decision following on from our head settles it by
    its origin, ``conflicts.settle``)."""
    left_out = (state.get(DECIDES) or {}).get(NOT_LANDED)
    if left_out and _open_copies(conn, person_id, state):
        converge.withdraw(conn, person_id, sorted(str(i) for i in left_out), state)


def holds_head(conn: Connection, person_id: str) -> bool:
    """True while a conflict of this person is open here (a merged change does not
    become their head)."""
    return (
        conn.execute(
            select(sync_changes.c.id)
            .where(
                sync_changes.c.person_id == person_id,
                sync_changes.c.state == "conflict",
                sync_changes.c.resolved_at.is_(None),
            )
            .limit(1)
        ).first()
        is not None
    )
