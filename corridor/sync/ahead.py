"""Movements received from a node whose clock runs days ahead (issue 16; docs/sync.md,
"Movements recorded apart that cannot both stand").

An installation refuses an event in its own future (``MovementService.record``,
``correct``). A site node whose clock runs ahead stamps every event ahead, and the log
orders a person's events by when they happened, so a received event stamped days ahead
stood last for days: the person counted where it put them whatever was recorded
meanwhile. A node's clock may be hours off (a pull request is taken up to the pull
window, ``sync_pull_window_hours``, 48 hours by default, from the central's clock; six
hours is taken as it comes, ``test_faults.py``); beyond that window (the setting, passed
in by the caller from ``Services.sync_window``: no module-level policy), a change made
ahead of this installation's clock (``recorded_at``, the sender's clock) that brings
movements stamped ahead of it is held as a conflict on ``movements``
(``SyncService._apply``), like a history made impossible: nothing of it is dropped,
nothing of it orders the history until an officer decides. ``theirs`` lands the events
as recorded (their times are then corrected as any movement's); ``ours`` lands them
voided back. A decision made at a right clock is made on a change that is not ahead, so
it lands wherever it goes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from corridor.services.movements.events import iso_time
from corridor.storage import locations
from corridor.sync.histories import arriving
from corridor.text import N_, Text


def made_ahead(recorded_at: datetime | None, now: datetime, window: timedelta) -> bool:
    """Whether a change was made by a clock running further ahead of ``now`` than
    ``window`` (the setting ``sync_pull_window_hours``)."""
    return recorded_at is not None and recorded_at > now + window


def ahead(
    conn: Connection, target: str, state: dict[str, Any], recorded_at: datetime | None,
    now: datetime, window: timedelta,
) -> Text | None:  # fmt: skip
    """Why the change's movements are held: the earliest of those not held here that is
    stamped further ahead of ``now`` than a node's clock may run (``window``), in a
    change made as far ahead; None when there is none."""
    if not made_ahead(recorded_at, now, window):
        return None
    here = locations.events_of(conn, [target])[target]
    beyond = [e for e in arriving(here, state) if e.occurred_at > now + window]
    if not beyond:
        return None
    first = min(e.occurred_at for e in beyond)
    return N_("is in the future ({date} after {today})", date=iso_time(first), today=iso_time(now))
