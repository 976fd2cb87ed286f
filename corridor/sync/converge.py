"""A decision that left a desk's own correction out, reaching that desk (issue 16;
docs/sync.md, "Movements recorded apart that cannot both stand").

Two corrections of one movement made apart (desk A moves an admission's time, desk B
voids it) cannot both be stored: one movement takes one correction
(``movements.corrects_id`` is unique). Where the second arrives it is held, and the
officer's decision keeps the first: the second is not landed there, kept in the change
that brought it and named in the decision's resolution (``histories.NOT_LANDED``). The
decision's change carries those ids beside the fields it decides (``decisions.mark``).

At the desk whose correction was left out, its own correction stands in the place of the
one kept, so the decision's history could never land there: before, that desk kept its
history and held the decision itself as a new open conflict, for ever. Now, where a
decision arrives while a copy of its conflict is open here, the events it names not
landed are taken out of the log here as they are out of the decider's (``withdraw``,
called by ``decisions.withdraw_left_out`` before anything settles the copy), so the
decision's movements land and every installation holds the same log. Nothing recorded
is lost: each withdrawn event stays in the change of this installation that carried it
(its payload, as at the decider), and the copy the decision settles names it in its
resolution.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select

from corridor.storage import queries
from corridor.storage.tables import movements


def withdraw(
    conn: Connection, person_id: str, left_out: list[str], state: dict[str, Any]
) -> list[str]:
    """The events held here that a decision left out (``left_out``; not in its own
    history, ``state``), taken out of the person's log here. Called only where a copy
    of the decision's conflict is open here. The ids withdrawn."""
    out = set(left_out) - {str(m["id"]) for m in state["movements"]}
    if not out:
        return []
    target = queries.survivors(conn, [person_id])[0]
    held = sorted(
        conn.execute(
            select(movements.c.id).where(
                movements.c.person_id.in_({person_id, target}), movements.c.id.in_(out)
            )
        ).scalars()
    )
    if held:
        conn.execute(delete(movements).where(movements.c.id.in_(held)))
    return held
