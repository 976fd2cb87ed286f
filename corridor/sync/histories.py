"""A received movement that would make the person's history impossible (issue 16;
docs/sync.md, "Movements recorded apart that cannot both stand").

At an installation a correction or void is checked against the person's whole history
(``MovementService.correct``, ``_history_problems``). Movements recorded at two
installations apart were each checked there, never together: one desk voids an
admission while another records the discharge that ends it, and the central, applying
both, held a discharge ending no hospital stay. So ``SyncService._apply`` asks
``impossible`` before it lands a change's movement events (``facts.land_movements``):

- only where the two histories were changed apart: the change brings a correction (or
  void) not held here, or the history here holds a movement the change did not carry
  (what the sender did not know of: a correction, or a new movement, so two new moves of
  one person recorded at two nodes, a transfer at one and an admission at the other, that
  cannot both stand are held too). A change made on what is here lands as it always did;
- the history here with the change's events is folded and checked by the rules of the
  history check (``events.history_breaks``), and so are the history here and the
  sender's own: a rule broken by the two together and by neither alone is what the
  change would bring. So is a correction of a movement that a correction held here
  already replaced (two replacements of one movement cannot both stand).

Such a change's movement events are not landed (the rest of it is applied as any
change): it is stored in state ``conflict`` with the field ``movements`` and shown in
the conflict review queue (``ConflictReview``) with why. An officer decides it there:

- ``theirs`` (``land``): their movements land, checked again (409, the reason said,
  nothing written while they would still break the history: the officer first corrects
  the movement held here that stands in their way);
- ``ours`` (``keep_ours``): their movements land too, each then corrected back by the
  officer (a new movement voided; a correction or void of a movement held here
  followed by a correction restating that movement as it was held; a second correction
  of a movement voided), so the history that counts is the one held here and nothing
  anybody recorded is lost: the log and the person's history page show it all.

Either way the decision is journaled as a write of the person, so it travels with the
person's state like any correction and settles the copies of the conflict held at the
other installations (``decisions``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from corridor.domain.movements import Event
from corridor.errors import Conflict
from corridor.services.movements.events import (
    KEPT_OURS_NOTE,
    history_breaks,
    insert_events,
    iso_time,
)
from corridor.storage import locations, queries
from corridor.storage.sync_tables import sync_changes
from corridor.storage.tables import movements
from corridor.sync.state import decode_row
from corridor.text import N_, Text

MOVEMENTS = "movements"
# In a decided conflict's resolution: the events its decision left out.
NOT_LANDED = "not_landed"
DETENTION_KINDS = ("detained", "released")


def arriving(here: list[Event], state: dict[str, Any]) -> list[Event]:
    """The state's movement events not held here, numbered after those held here in the
    order the state gives them."""
    ids = {e.id for e in here}
    top = max((e.seq for e in here), default=0)
    fresh = [decode_row(movements, m) for m in state["movements"] if m["id"] not in ids]
    return [
        locations.event_of({**row, "seq": top + n}) for n, row in enumerate(fresh, start=1)
    ]


def _theirs(state: dict[str, Any]) -> list[Event]:
    """The sender's log, in its order (a state carries no local numbers)."""
    return [
        locations.event_of({**decode_row(movements, m), "seq": n})
        for n, m in enumerate(state["movements"], start=1)
    ]


def _standing(events: list[Event]) -> set[str]:
    """The ids of the events not corrected by another."""
    corrected = {e.corrects_id for e in events if e.corrects_id}
    return {e.id for e in events if e.id not in corrected}


def _twice(here: list[Event], incoming: list[Event]) -> Text | None:
    """An incoming correction of a movement that a correction held here corrects
    already: one movement takes one correction (``movements.corrects_id`` is unique), so
    the two cannot both be stored, let alone stand."""
    taken = {e.corrects_id for e in here if e.corrects_id}
    by_id = {e.id: e for e in here}
    for e in incoming:
        if e.corrects_id in taken:
            old = by_id.get(e.corrects_id or "")
            return N_(
                "the movement of {at} ({kind}) was corrected here already, apart; two "
                "corrections of one movement cannot both stand",
                at=iso_time(old.occurred_at if old else e.occurred_at),
                kind=old.kind if old else e.kind,
            )
    return None


def impossible(conn: Connection, target: str, state: dict[str, Any]) -> Text | None:
    """Why landing the change's movement events on ``target`` (the person, or their
    survivor here) would make the history impossible; None when it would not, or when
    the change was not made apart from a correction."""
    here = locations.events_of(conn, [target])[target]
    incoming = arriving(here, state)
    if not incoming or not here:
        return None
    twice = _twice(here, incoming)
    if twice is not None:
        return twice
    carried = {m["id"] for m in state["movements"]}
    # Apart: the change brings a correction, or the history here holds a movement the
    # sender did not know of (a correction, or a new movement recorded here or received
    # from a third installation meanwhile: two new moves of one person recorded at two
    # nodes, each allowed where it was recorded, can make an impossible route together).
    # A merged record's history interleaves with its survivor's (two registrations, two
    # routes until the merge): there only corrections are taken as apart.
    whole = str(state["person"]["id"]) == target and not queries.merged_into(conn, target)
    apart = any(e.corrects_id for e in incoming) or any(
        e.id not in carried and (whole or e.corrects_id) for e in here
    )
    if not apart:
        return None
    return _brought(conn, target, here, incoming, _theirs(state))


def _brought(
    conn: Connection, target: str, here: list[Event], incoming: list[Event], theirs: list[Event]
) -> Text | None:
    before, alone, after = history_breaks(conn, target, [here, theirs, [*here, *incoming]])
    for key, why in after.items():
        if key not in before and key not in alone:
            return why if isinstance(why, Text) else Text(str(why))
    return None


def involves_detention(conn: Connection, target: str, state: dict[str, Any]) -> bool:
    """Whether either side's history holds a detention (the conflict is then shown only
    to roles that see detention sites)."""
    here = locations.events_of(conn, [target])[target]
    return any(e.kind in DETENTION_KINDS for e in [*here, *_theirs(state)])


def land(conn: Connection, target: str, state: dict[str, Any]) -> list[str]:
    """The decision ``theirs``: the change's movements not held here land on ``target``,
    unless the history would still break a rule it does not break now (Conflict, the
    reason said). The ids landed."""
    here = locations.events_of(conn, [target])[target]
    incoming = arriving(here, state)
    if _twice(here, incoming) is not None:
        raise Conflict(
            N_(
                "their correction replaces a movement that a correction held here replaced "
                "already, and one movement takes one correction: correct the correction "
                "held here to what theirs says, then keep ours"
            ),
            field=MOVEMENTS,
        )
    why = _brought(conn, target, here, incoming, [])
    if why is not None:
        raise Conflict(
            N_(
                "their movements would still make the history impossible: {why}. Correct "
                "the movement held here first",
                why=why,
            ),
            field=MOVEMENTS,
        )
    _insert(conn, target, state, here)
    return [e.id for e in incoming]


def keep_ours(
    conn: Connection,
    target: str,
    state: dict[str, Any],
    *,
    by: str,
    now: datetime,
) -> tuple[list[str], list[str]]:
    """The decision ``ours``: the change's movements not held here land on ``target``,
    each then corrected back by ``by`` so that the history that counts is the one held
    here. A second correction of a movement corrected here already cannot be stored
    (one correction a movement): it is not landed, and stays in the change that brought
    it. The ids of the corrections made, and of the events not landed."""
    here = locations.events_of(conn, [target])[target]
    incoming = arriving(here, state)
    if not incoming:
        return [], []
    held = {e.id: e for e in here}
    standing = _standing(here)
    mine = {e.id: e for e in incoming}
    corrected = {e.corrects_id for e in incoming if e.corrects_id}
    back: list[dict[str, Any]] = []
    for tip in incoming:
        if tip.id in corrected:
            continue  # corrected by another incoming event: its tip is undone
        root = tip
        while root.corrects_id in mine:
            root = mine[root.corrects_id]
        old = held.get(root.corrects_id or "")
        restate = old is not None and old.id in standing
        undo: dict[str, Any] = {
            "person_id": target,
            "corrects_id": tip.id,
            "manifest_id": tip.manifest_id,
            "recorded_at": now,
            "recorded_by": by,
            "note": KEPT_OURS_NOTE,
        }
        if restate and old is not None:  # the movement held here, restated as it was
            undo |= {
                "kind": old.kind,
                "from_site_id": old.from_site_id,
                "to_site_id": old.to_site_id,
                "occurred_at": old.occurred_at,
            }
        else:  # a new movement, or a correction of one that counts no more here: voided
            undo |= {"kind": "voided", "occurred_at": tip.occurred_at}
        back.append(undo)
    blocked = _blocked(here, incoming)
    back = [b for b in back if b["corrects_id"] not in blocked]
    _insert(conn, target, state, here, skip=blocked)
    return insert_events(conn, back), sorted(blocked)


def _blocked(here: list[Event], incoming: list[Event]) -> set[str]:
    """The incoming events that cannot be stored here: a correction of a movement that
    one held here corrects already (one correction a movement, ``movements.corrects_id``
    is unique), and every incoming event that corrects one of those."""
    taken = {e.corrects_id for e in here if e.corrects_id}
    out = {e.id for e in incoming if e.corrects_id in taken}
    grew = True
    while grew:
        more = {e.id for e in incoming if e.corrects_id in out} - out
        grew = bool(more)
        out |= more
    return out


def _insert(
    conn: Connection,
    target: str,
    state: dict[str, Any],
    here: list[Event],
    skip: set[str] | None = None,
) -> None:
    ids = {e.id for e in here} | (skip or set())
    rows = [
        {**decode_row(movements, m), "person_id": target}
        for m in state["movements"]
        if m["id"] not in ids
    ]
    if rows:
        conn.execute(movements.insert(), rows)


def all_held(conn: Connection, target: str, state: dict[str, Any]) -> bool:
    """Whether every movement event of the state is held here now."""
    return not absent(conn, state)


def absent(conn: Connection, state: dict[str, Any]) -> set[str]:
    """The movement events of the state not held here (held as a conflict, say)."""
    ids = {str(m["id"]) for m in state["movements"]}
    have: set[str] = set()
    listed = sorted(ids)
    for start in range(0, len(listed), 500):
        part = listed[start : start + 500]
        have.update(conn.execute(select(movements.c.id).where(movements.c.id.in_(part))).scalars())
    return ids - have


def without_left_out(conn: Connection, person_id: str, state: dict[str, Any]) -> dict[str, Any]:
    """The state without the movement events a decision here left out (``not_landed``):
    a change held before that decision is read, shown and decided on the rest."""
    out = not_landed(conn, person_id)
    if not out:
        return state
    return {**state, "movements": [m for m in state["movements"] if m["id"] not in out]}


def not_landed(conn: Connection, person_id: str) -> set[str]:
    """The movement events that an officer's decision here left out (a second correction
    of one movement, ``keep_ours``): a later change carrying them again does not bring
    them back into question. They stay in the change that brought them."""
    out: set[str] = set()
    for resolution in conn.execute(
        select(sync_changes.c.resolution).where(
            sync_changes.c.person_id == person_id,
            sync_changes.c.state == "conflict",
            sync_changes.c.resolved_at.is_not(None),
            sync_changes.c.conflict_fields.contains(MOVEMENTS),
        )
    ).scalars():
        try:
            out.update(json.loads(resolution or "{}").get(NOT_LANDED, []))
        except (ValueError, AttributeError):
            continue
    return out
