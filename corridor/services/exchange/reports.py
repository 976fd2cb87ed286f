"""Daily figures per site for publication (HXL): aggregates only, never a person.

For each day and site: arrivals and departures by sex and age bracket (and duplicates
resolved: a person counted there until merged with a later registration elsewhere, not a
departure), persons present at
the end of the day (folded from the movement log, so a later correction changes the past
days too, whatever day the correction itself is timed), transfers by the kind of their
destination, and unaccompanied and separated children present. Small counts are
suppressed by the renderer (``formats.hxl``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from corridor.domain.birth import age_bracket, age_on
from corridor.domain.movements import (
    AT_SITE_STATES,
    DEPARTURE_KINDS,
    UNKNOWN,
    Event,
    apply,
    effective_events,
    moves,
)
from corridor.errors import Problem, ValidationFailed
from corridor.services.base import Service
from corridor.services.figures import MAX_DAYS
from corridor.storage.tables import movements, persons, sites
from corridor.text import N_

Key = tuple[date, str, str, str]  # day, site id, figure, destination kind


class ReportService(Service):
    def daily(self, start: date, end: date) -> list[dict[str, Any]]:
        """One row per day, site and figure, with counts by (sex, bracket)."""
        if start > end:
            raise ValidationFailed([Problem("from", N_("must not be after 'to'"))])
        if (end - start).days >= MAX_DAYS:
            raise ValidationFailed(
                [Problem("from", N_("ask for at most {days} days at a time", days=MAX_DAYS))]
            )

        hi = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
        with self.db.read() as conn:
            site_rows = {r["id"]: dict(r) for r in conn.execute(select(sites)).mappings()}
            people = {
                r["id"]: r
                for r in conn.execute(
                    select(
                        persons.c.id,
                        persons.c.sex,
                        persons.c.birth_date,
                        persons.c.birth_precision,
                        persons.c.uasc,
                    )
                ).mappings()
            }
            # The events up to the window's end, less every event corrected or voided by
            # any correction, whenever that correction is timed: one that moved an event
            # past the window (a movement time corrected to a later day, a void given a
            # time) still takes the old event out, as on the site's figures.
            corrected = select(movements.c.corrects_id).where(
                movements.c.corrects_id.is_not(None)
            )
            events: dict[str, list[Event]] = defaultdict(list)
            for m in conn.execute(
                select(movements)
                .where(movements.c.occurred_at < hi, movements.c.id.not_in(corrected))
                .order_by(movements.c.seq)
            ).mappings():
                events[m["person_id"]].append(
                    Event(
                        m["id"],
                        m["seq"],
                        m["kind"],
                        m["from_site_id"],
                        m["to_site_id"],
                        m["occurred_at"],
                        m["manifest_id"],
                        m["corrects_id"],
                    )
                )
        days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
        counts: dict[Key, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
        for pid, person_events in events.items():
            person = people.get(pid)
            if person is not None:
                _count_person(person, effective_events(person_events), days, site_rows, counts)
        out = []
        for (day, site_id, figure, dest), cells in sorted(counts.items()):
            site = site_rows.get(site_id, {})
            out.append(
                {
                    "date": day.isoformat(),
                    "site_id": site_id,
                    "site_name": site.get("name", ""),
                    "pcode": site.get("pcode") or "",
                    "figure": figure,
                    "destination_kind": dest,
                    "counts": dict(cells),
                }
            )
        return out


def _count_person(
    person: Any,
    events: list[Event],
    days: list[date],
    site_rows: dict[str, dict[str, Any]],
    counts: dict[Key, dict[tuple[str, str], int]],
) -> None:
    # Arrivals and departures as the dashboard counts them (``moves``): whatever moved
    # the person, so that present(d) = present(d-1) + arrivals(d) - departures(d).
    shown = set(days)
    for move in moves(events):
        day = move.at.date()
        if day not in shown:
            continue
        age = age_on(person["birth_date"], person["birth_precision"], day)
        cell = (person["sex"] or "unknown", age_bracket(age))
        if move.reached:
            counts[(day, move.reached, "arrivals", "")][cell] += 1
        if move.left and move.kind == "registered":
            # A registration of someone counted already (two registrations of one person
            # merged): a duplicate resolved where the first counted them, not a departure.
            counts[(day, move.left, "duplicates", "")][cell] += 1
        elif move.left:
            counts[(day, move.left, "departures", "")][cell] += 1
            # Transfers by destination kind stay what they were: the departure kinds
            # only (no new count of who was detained from a site; PROTECTION.md).
            if move.towards and move.towards != move.left and move.kind in DEPARTURE_KINDS:
                kind = site_rows.get(move.towards, {}).get("kind", "other")
                counts[(day, move.left, "transfers", kind)][cell] += 1
    loc = UNKNOWN
    i = 0
    for day in days:
        day_end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
        age = age_on(person["birth_date"], person["birth_precision"], day)
        cell = (person["sex"] or "unknown", age_bracket(age))
        while i < len(events) and events[i].occurred_at < day_end:
            e = events[i]
            i += 1
            loc = apply(loc, e)
        if loc.state in AT_SITE_STATES and loc.site_id:
            counts[(day, loc.site_id, "present", "")][cell] += 1
            if person["uasc"] in ("unaccompanied", "separated"):
                counts[(day, loc.site_id, person["uasc"], "")][cell] += 1
