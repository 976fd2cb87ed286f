"""Daily figures per site, and families split across places."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, select

from corridor.domain.birth import ADULT_AGE, BRACKETS, UNKNOWN_BRACKET, age_bracket, age_on
from corridor.domain.movements import (
    AT_SITE_STATES,
    Event,
    counted_at,
    current_location,
    moves,
)
from corridor.errors import NotFound, Problem, ValidationFailed
from corridor.services.base import Service
from corridor.storage import queries
from corridor.storage.locations import event_of
from corridor.storage.queries import Sites
from corridor.storage.tables import movements, person_locations, persons, relationships
from corridor.text import N_

ALL_BRACKETS = (*BRACKETS, UNKNOWN_BRACKET)
SEXES = ("f", "m", "unknown")
MAX_DAYS = 366


def empty_table() -> dict[str, Any]:
    """Counts by sex, by bracket and by both; ``count`` fills it."""
    table: dict[str, Any] = {
        "total": 0,
        "by_sex": dict.fromkeys(SEXES, 0),
        "by_bracket": dict.fromkeys(ALL_BRACKETS, 0),
        "by_sex_bracket": {s: dict.fromkeys(ALL_BRACKETS, 0) for s in SEXES},
    }
    return table


def count(table: dict[str, Any], sex: str | None, bracket: str) -> None:
    s = sex or "unknown"
    table["total"] += 1
    table["by_sex"][s] += 1
    table["by_bracket"][bracket] += 1
    table["by_sex_bracket"][s][bracket] += 1


VULNERABILITY_KEYS = (
    "unaccompanied",
    "separated",
    "sam",
    "mam",
    "disabled",
    "pregnant_lactating",
    "serious_medical_condition",
    "injury",
    "elderly_alone",
)


PERSON_COLUMNS = (
    "id",
    "sex",
    "birth_date",
    "birth_precision",
    "uasc",
    "muac_status",
    "disabled",
    "pregnant_lactating",
    "serious_medical_condition",
    "injury",
    "elderly_alone",
)


class FigureService(Service):
    def site_figures(
        self,
        site_id: str,
        start: date | None = None,
        end: date | None = None,
        scope: Sites = None,
    ) -> dict[str, Any]:
        """Present now; arrivals and departures per day by sex and age bracket, with the
        number present at the start and the end of each day; vulnerabilities; children
        apart from every adult relative.

        Everything is folded from the movement log (``domain.movements.moves``): whatever
        moved a person (a manifest, a transfer, a hospitalisation, a detention, a check-in
        off the manifest, a death), it is a departure from where they were counted and an
        arrival where they are counted now, so ``present_at_end`` of a day is always
        ``present_at_start + arrivals - departures`` and the next day starts from it."""
        now = self.clock()
        end = end or now.date()
        start = start or end - timedelta(days=13)
        if start > end:
            raise ValidationFailed([Problem("from", N_("must not be after 'to'"))])
        if (end - start).days >= MAX_DAYS:
            raise ValidationFailed(
                [Problem("from", N_("ask for at most {days} days at a time", days=MAX_DAYS))]
            )

        if scope is not None and site_id not in scope:
            raise NotFound("site")
        with self.db.read() as conn:
            site = queries.get_site(conn, site_id)
            # Whoever was ever counted here came by an event leading here.
            came = select(movements.c.person_id).where(movements.c.to_site_id == site_id)
            events: dict[str, list[Event]] = defaultdict(list)
            for r in conn.execute(
                select(movements).where(movements.c.person_id.in_(came))
            ).mappings():
                events[r["person_id"]].append(event_of(r))
            people = {
                r["id"]: r
                for r in conn.execute(
                    select(*[persons.c[c] for c in PERSON_COLUMNS]).where(persons.c.id.in_(came))
                ).mappings()
            }
            alone = children_alone(conn, now.date())
        present = empty_table()
        vuln = dict.fromkeys(VULNERABILITY_KEYS, 0)
        by_state: dict[str, int] = defaultdict(int)
        days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
        daily: dict[date, dict[str, Any]] = {
            d: {"date": d.isoformat(), "arrivals": empty_table(), "departures": empty_table()}
            for d in days
        }
        before = 0  # counted here at the start of the first day
        for person_id, person_events in events.items():
            r = people.get(person_id)
            if r is None:
                continue
            for move in moves(person_events):
                day = move.at.date()
                change = (move.reached == site_id) - (move.left == site_id)
                if not change:
                    continue
                if day < start:
                    before += change
                elif day <= end:
                    direction = "arrivals" if change > 0 else "departures"
                    age = age_on(r["birth_date"], r["birth_precision"], day)
                    count(daily[day][direction], r["sex"], age_bracket(age))
            loc = current_location(person_events)
            if counted_at(loc) == site_id:
                age = age_on(r["birth_date"], r["birth_precision"], now.date())
                count(present, r["sex"], age_bracket(age))
                by_state[loc.state] += 1
                _count_vulnerabilities(vuln, r)
        for d in days:
            figures = daily[d]
            figures["present_at_start"] = before
            before += figures["arrivals"]["total"] - figures["departures"]["total"]
            figures["present_at_end"] = before
        return {
            "site": site,
            "as_of": now,
            "present": {**present, "by_state": dict(by_state)},
            "vulnerabilities_present": vuln,
            "children_alone": sum(1 for place in alone.values() if place == f"site:{site_id}"),
            "from": start.isoformat(),
            "to": end.isoformat(),
            "daily": [daily[d] for d in days],
        }

    def separated_families(
        self, site_id: str | None = None, scope: Sites = None
    ) -> list[dict[str, Any]]:
        """Households whose living members are in more than one place (or unaccounted for),
        with where each member is; those with a minor apart from every adult relative first.

        With a ``scope``, only households with a member in scope, and members outside it
        shown without name or place ("elsewhere")."""
        now = self.clock()
        with self.db.read() as conn:
            rows = _household_members(conn)
            names = queries.site_names(conn)
            visible = (
                None
                if scope is None
                else set(
                    conn.execute(
                        select(persons.c.id).where(
                            persons.c.household_id.is_not(None), queries.person_scope(scope)
                        )
                    ).scalars()
                )
            )
            alone = children_alone(conn, now.date(), rows)
        by_household: dict[str, list[Any]] = defaultdict(list)
        for r in rows:
            by_household[r["household_id"]].append(r)
        today = now.date()
        out = []
        for household_id, members in by_household.items():
            living = [m for m in members if m["state"] != "deceased"]
            places = {_place(m) for m in living}
            alone_minors = [m["id"] for m in members if m["id"] in alone]
            # Split across places, or a child alone (every adult relative dead or gone).
            if len(places) < 2 and not alone_minors:
                continue
            if site_id and not any(m["loc_site"] == site_id for m in members):
                continue
            if visible is not None and not any(m["id"] in visible for m in members):
                continue
            member_out = []
            for m in members:
                apart = m["id"] in alone
                if visible is not None and m["id"] not in visible:
                    member_out.append(
                        {
                            "id": None,
                            "relationship_to_head": m["relationship_to_head"],
                            "state": "elsewhere",
                            "minor_apart_from_adult_relatives": apart,
                        }
                    )
                    continue
                member_out.append(
                    {
                        **queries.person_summary(m, today),
                        "relationship_to_head": m["relationship_to_head"],
                        "site_id": m["loc_site"],
                        "site_name": names.get(m["loc_site"]) if m["loc_site"] else None,
                        "state": m["state"],
                        "since": m["since"],
                        "unaccounted": m["state"] == "in_transit",
                        "minor_apart_from_adult_relatives": apart,
                    }
                )
            member_out.sort(key=lambda p: (p["relationship_to_head"] != "head", p["id"] or ""))
            out.append(
                {
                    "household_id": household_id,
                    "places": len(places),
                    "minors_apart_from_every_adult": len(alone_minors),
                    "members": member_out,
                }
            )
        out.sort(key=_most_urgent_first)
        return out


def _household_members(conn: Connection) -> list[Any]:
    return list(
        conn.execute(
            select(
                persons,
                person_locations.c.site_id.label("loc_site"),
                person_locations.c.state,
                person_locations.c.since,
                person_locations.c.manifest_id,
            )
            .join(person_locations, person_locations.c.person_id == persons.c.id)
            .where(persons.c.household_id.is_not(None))
        ).mappings()
    )


def children_alone(
    conn: Connection, today: date, members: list[Any] | None = None
) -> dict[str, str]:
    """Living children (under 18) apart from every adult relative: no living adult of
    their household, and no adult linked to them as a relative, is where they are.
    Returns child id -> where they are (``site:<id>``, ``transit:<manifest>``...).

    The one count of children alone: the dashboard counts those at its site, the
    separated-families page marks the same children ("alone"). ``members``: the household
    members with their locations, when the caller has read them already."""
    rows = _household_members(conn) if members is None else members
    links = _adult_links(conn, today)
    by_household: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_household[r["household_id"]].append(r)
    out: dict[str, str] = {}
    for household in by_household.values():
        living = [m for m in household if m["state"] != "deceased"]
        ages = {m["id"]: age_on(m["birth_date"], m["birth_precision"], today) for m in living}
        adult_places = {_place(m) for m in living if (ages[m["id"]] or 0) >= ADULT_AGE}
        for m in living:
            age = ages[m["id"]]
            if age is None or age >= ADULT_AGE:
                continue
            place = _place(m)
            if place not in adult_places | links.get(m["id"], set()):
                out[m["id"]] = place
    return out


def _most_urgent_first(household: dict[str, Any]) -> tuple[int, int, str]:
    return (
        -int(household["minors_apart_from_every_adult"]),
        -int(household["places"]),
        str(household["household_id"]),
    )


def _place(m: Any) -> str:
    """Where a member is, as a key: a site, a truck on the road, or a state."""
    if m["state"] in AT_SITE_STATES:
        return f"site:{m['loc_site']}"
    if m["state"] == "in_transit":
        return f"transit:{m['manifest_id']}"
    return str(m["state"])


def _adult_links(conn: Connection, today: date) -> dict[str, set[str]]:
    """Person -> places of linked relatives who are adults (links outside the household)."""
    other = persons.alias("other")
    other_loc = person_locations.alias("other_loc")
    q = (
        select(
            relationships.c.person_id,
            other.c.birth_date,
            other.c.birth_precision,
            other_loc.c.site_id.label("loc_site"),
            other_loc.c.state,
            other_loc.c.manifest_id,
        )
        .join(other, other.c.id == relationships.c.other_person_id)
        .join(other_loc, other_loc.c.person_id == other.c.id)
    )
    out: dict[str, set[str]] = defaultdict(set)
    for r in conn.execute(q).mappings():
        age = age_on(r["birth_date"], r["birth_precision"], today)
        if age is not None and age >= ADULT_AGE and r["state"] != "deceased":
            out[r["person_id"]].add(_place(r))
    return out


def _count_vulnerabilities(vuln: dict[str, int], r: Any) -> None:
    if r["uasc"] == "unaccompanied":
        vuln["unaccompanied"] += 1
    elif r["uasc"] == "separated":
        vuln["separated"] += 1
    if r["muac_status"] == "SAM":
        vuln["sam"] += 1
    elif r["muac_status"] == "MAM":
        vuln["mam"] += 1
    for key in (
        "disabled",
        "pregnant_lactating",
        "serious_medical_condition",
        "injury",
        "elderly_alone",
    ):
        if r[key]:
            vuln[key] += 1
