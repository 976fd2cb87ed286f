"""Movements received stamped before what their sender already held: a node whose
clock runs behind, or a movement it held that a clock running ahead stamped (docs/sync.md,
"Movements recorded apart that cannot both stand", "Clocks that run wrong").

An installation refuses a new event stamped before the person's last recorded movement
(``events.not_before_last``) unless that movement is stamped in its own future (at a
site node, which cannot tell whose clock is wrong; the central, whose clock is the
reference, refuses that too). A site node whose clock runs behind sees every movement
it received from a right clock as in its future, so it records new events stamped
before them, even before the person's registration; a node whose clock is right sees a
movement stamped by a node running ahead the same way. Received as they came, such an
event was folded in before the movement it followed, and the person counted where that
movement put them, silently (her admission shown before her registration, and the
person at the exit point after it).

So at the central, whose clock is the reference of the star (its pull window measures
every node's), a change that brings a new movement (not a correction: a correction may
move a time back, and is checked as a history, ``histories.impossible``) stamped before
a movement that its sender held already (one held here and carried in the change's
state, still standing) is held like a history made impossible (``SyncService._apply``):
nothing of it dropped, nothing of it ordering the history until an officer decides. A
node checks the same of a change of another node that the central relays to it, and
holds its copy as the central holds it (before session 28 it landed it, the impossible
order there until the decision reached it); the central's own changes, its decisions
among them, and the node's own it takes as they come: the central's decision settles the
copies, and every installation holds the same log. A node reads its own clock for the
reason's words, so its copy may name the other clock than the central's. The reason
says which movement it went before, and whose clock was wrong: the sender's, behind,
where that movement is not in the central's future; else the one that stamped that
movement, ahead (before
session 28 such a change was landed: a movement stamped ahead was taken as what a right
clock records before). ``theirs`` lands it as recorded (its time then corrected as any
movement's) where the history allows; ``ours`` lands it voided back (the officer records
it again at its right time).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from corridor.domain.movements import Event, effective_events
from corridor.services.movements.events import iso_time
from corridor.storage import locations
from corridor.storage.sync_tables import sync_nodes
from corridor.sync.histories import arriving
from corridor.sync.journal import custody
from corridor.text import N_, Text


def behind(
    conn: Connection, target: str, state: dict[str, Any], now: datetime, origin: str = ""
) -> Text | None:
    """Why the change's movements are held, the earliest new movement of it not held here
    that is stamped before a standing movement its sender held already (the earliest
    such); None when there is none, on a standalone installation, and at a node for a
    change made at the central or here (``origin``). A movement held that is stamped
    after ``now`` was stamped by a clock running ahead."""
    role = custody(conn)[0]
    if role is None or (role == "node" and _central_or_self(conn, origin)):
        return None
    here = locations.events_of(conn, [target])[target]
    carried = {str(m["id"]) for m in state["movements"]}
    known = [e for e in effective_events(here) if e.id in carried]
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
        if first.occurred_at > now:  # stamped after the reference clock's time
            return _ahead(event, first)
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


def _central_or_self(conn: Connection, origin: str) -> bool:
    """At a node: whether a change was made at the central (screened there already) or
    here; one of another node, relayed by the central, is checked as the central did."""
    row = conn.execute(
        select(sync_nodes.c.role, sync_nodes.c.is_self).where(sync_nodes.c.id == origin)
    ).first()
    return row is not None and (bool(row.is_self) or row.role == "central")


def _ahead(event: Event, first: Event) -> Text:
    """Why ``event`` is held: it goes before ``first``, which its sender held already and
    which a clock running ahead stamped after the central's time."""
    if first.kind == "registered":
        return N_(
            "the {kind} stamped {at} is before the person's registration ({then}), which "
            "its sender held already and which a clock running ahead stamped after this "
            "installation's time: correct the registration to the time it happened",
            kind=event.kind,
            at=iso_time(event.occurred_at),
            then=iso_time(first.occurred_at),
        )
    return N_(
        "the {kind} stamped {at} is before the {other} at {then}, which its sender held "
        "already and which a clock running ahead stamped after this installation's time: "
        "correct the {other} to the time it happened",
        kind=event.kind,
        at=iso_time(event.occurred_at),
        other=first.kind,
        then=iso_time(first.occurred_at),
    )
