"""Movements received stamped before what their sender already held: a node whose
clock runs behind (docs/sync.md, "Movements recorded apart that cannot both stand").

An installation refuses a new event stamped before the person's last recorded movement
(``events.not_before_last``) unless that movement is stamped in its own future. A site
node whose clock runs behind sees every movement it received from a right clock as in
its future, so it records new events stamped before them, even before the person's
registration: received as they came, such an event was folded in before the movements
it followed, and the person counted where an older movement put them, silently.

So at the central, whose clock is the reference of the star (its pull window measures
every node's), a change that brings a new movement (not a correction: a correction may
move a time back, and is checked as a history, ``histories.impossible``) stamped before
a movement that its sender held already (one held here and carried in the change's
state, still standing, and not in this clock's future: one stamped ahead by a node is
what a right clock records before, ``not_before_last``) is held like a history made
impossible (``SyncService._apply``): nothing of it dropped, nothing of it ordering the
history until an officer decides. A node lands what the central sends it as the central
did (the central screened it, and decides it: every installation holds the same log).
The reason says which movement it went before, and that the sender's clock was behind.
``theirs`` lands it as recorded (its time then corrected as any movement's) where the
history allows; ``ours`` lands it voided back (the officer records it again at its
right time).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from corridor.domain.movements import effective_events
from corridor.services.movements.events import iso_time
from corridor.storage import locations
from corridor.sync.histories import arriving
from corridor.sync.journal import custody
from corridor.text import N_, Text


def behind(conn: Connection, target: str, state: dict[str, Any], now: datetime) -> Text | None:
    """At the central: why the change's movements are held, the earliest new movement of
    it not held here that is stamped before a standing movement its sender held already
    (the earliest such, stamped by ``now``); None when there is none, and at a node."""
    if custody(conn)[0] != "central":
        return None
    here = locations.events_of(conn, [target])[target]
    carried = {str(m["id"]) for m in state["movements"]}
    known = [e for e in effective_events(here) if e.id in carried and e.occurred_at <= now]
    if not known:
        return None
    for event in sorted(
        (e for e in arriving(here, state) if e.corrects_id is None and e.kind != "voided"),
        key=lambda e: e.occurred_at,
    ):
        later = [k for k in known if k.occurred_at > event.occurred_at]
        if not later:
            continue
        first = min(later, key=lambda k: (k.occurred_at, k.seq))
        if first.kind == "registered":
            return N_(
                "the {kind} stamped {at} is before the person's registration ({then}), "
                "which its sender held already: the sender's clock was behind",
                kind=event.kind,
                at=iso_time(event.occurred_at),
                then=iso_time(first.occurred_at),
            )
        return N_(
            "the {kind} stamped {at} is before the {other} at {then}, which its sender "
            "held already: the sender's clock was behind, or the time was set back",
            kind=event.kind,
            at=iso_time(event.occurred_at),
            other=first.kind,
            then=iso_time(first.occurred_at),
        )
    return None
