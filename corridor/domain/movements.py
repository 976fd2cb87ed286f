"""Movements are append-only events; where a person is now is folded from them.

Nothing is overwritten: a correction is a new event that names the one it corrects, and
the corrected event then no longer counts.

>>> from datetime import datetime, timezone
>>> t = datetime(2019, 3, 1, tzinfo=timezone.utc)
>>> e1 = Event("e1", 1, "registered", None, "exit", t)
>>> e2 = Event("e2", 2, "dispatched", "exit", "camp-a", t, manifest_id="m1")
>>> current_location([e1, e2]).state
'in_transit'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

# kind -> (needs from_site, needs to_site, resulting state)
EVENT_KINDS: dict[str, tuple[bool, bool, str]] = {
    "registered": (False, True, "present"),
    "dispatched": (True, True, "in_transit"),
    "arrived": (False, True, "present"),
    "transferred": (True, True, "present"),
    "hospitalised": (False, True, "hospitalised"),
    "discharged": (True, True, "present"),
    "detained": (False, True, "detained"),
    "released": (True, False, "present"),
    "departed": (True, False, "departed"),
    "deceased": (False, False, "deceased"),
    "voided": (False, False, ""),
}
# A person in one of these states is counted as at their site.
AT_SITE_STATES = ("present", "hospitalised", "detained")
# After an event of one of these kinds a person is counted at its ``to_site_id`` (after
# any other kind, at no site): what ``moves`` folds, as a rule the database can apply
# (services/figures.py folds it in SQL with a window over each person's events).
COUNTED_KINDS = tuple(k for k, (_, _, state) in EVENT_KINDS.items() if state in AT_SITE_STATES)
# The kinds that usually bring a person to a site or take them away. Figures do not count
# by kind (``moves`` does): a check-in off the manifest ("arrived" from another site), a
# hospitalisation or a detention also takes a person away from where they were.
ARRIVAL_KINDS = ("registered", "arrived", "transferred", "hospitalised", "discharged", "detained")
DEPARTURE_KINDS = ("dispatched", "transferred", "discharged", "released", "departed")


@dataclass(frozen=True)
class Event:
    id: str
    seq: int
    kind: str
    from_site_id: str | None
    to_site_id: str | None
    occurred_at: datetime
    manifest_id: str | None = None
    corrects_id: str | None = None


@dataclass(frozen=True)
class Location:
    """Where a person is: a site (or none) and a state; ``since`` is the event's time."""

    site_id: str | None
    state: str
    since: datetime | None
    event_id: str | None
    manifest_id: str | None = None
    destination_site_id: str | None = None


UNKNOWN = Location(None, "unknown", None, None)


def effective_events(events: Iterable[Event]) -> list[Event]:
    """Drop corrected events and pure voids; order by time, then by recording order."""
    events = list(events)
    corrected = {e.corrects_id for e in events if e.corrects_id}
    kept = [e for e in events if e.id not in corrected and e.kind != "voided"]
    return sorted(kept, key=lambda e: (e.occurred_at, e.seq))


def apply(loc: Location, event: Event) -> Location:
    """The location after ``event``."""
    _, _, state = EVENT_KINDS[event.kind]
    if event.kind == "dispatched":
        return Location(
            None, state, event.occurred_at, event.id, event.manifest_id, event.to_site_id
        )
    if event.kind == "deceased":
        return Location(loc.site_id, state, event.occurred_at, event.id)
    if event.kind == "released" and event.to_site_id is None:
        return Location(None, "left", event.occurred_at, event.id)
    return Location(event.to_site_id, state, event.occurred_at, event.id, event.manifest_id)


def counted_at(loc: Location) -> str | None:
    """The site a person is counted at: None on the road, gone, dead or unknown."""
    return loc.site_id if loc.state in AT_SITE_STATES else None


@dataclass(frozen=True)
class Move:
    """A change of the site a person is counted at: a departure from ``left`` and an
    arrival at ``reached`` (either may be None: registered, dispatched, deceased...)."""

    at: datetime
    left: str | None
    reached: str | None
    towards: str | None = None  # the event's destination (a truck's, while on the road)
    kind: str = ""  # the event's


def moves(events: Iterable[Event]) -> list[Move]:
    """Every change of the site a person is counted at, folded from the effective events,
    whatever the event's kind. Counting arrivals and departures from these makes
    ``present(d) = present(d-1) + arrivals(d) - departures(d)`` hold for every site.

    >>> from datetime import datetime, timezone
    >>> t = datetime(2019, 3, 1, tzinfo=timezone.utc)
    >>> ms = moves([Event("e1", 1, "registered", None, "exit", t),
    ...             Event("e2", 2, "hospitalised", "exit", "hospital", t)])
    >>> [(m.left, m.reached) for m in ms]
    [(None, 'exit'), ('exit', 'hospital')]
    """
    loc = UNKNOWN
    out = []
    for event in effective_events(events):
        after = apply(loc, event)
        left, reached = counted_at(loc), counted_at(after)
        if left != reached:
            out.append(Move(event.occurred_at, left, reached, event.to_site_id, event.kind))
        loc = after
    return out


def current_location(events: Iterable[Event]) -> Location:
    """Fold the effective events into the current location."""
    loc = UNKNOWN
    for event in effective_events(events):
        loc = apply(loc, event)
    return loc
