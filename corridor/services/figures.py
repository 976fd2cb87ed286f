"""Daily figures per site, and families split across places."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, select

from corridor.domain.birth import ADULT_AGE, BRACKETS, UNKNOWN_BRACKET, age_bracket, age_on
from corridor.domain.movements import ARRIVAL_KINDS, AT_SITE_STATES, DEPARTURE_KINDS
from corridor.errors import NotFound, Problem, ValidationFailed
from corridor.services.base import Service
from corridor.storage import queries
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


def effective_movements() -> Any:
    """Movements that still count: not voided and not replaced by a correction."""
    corrected = select(movements.c.corrects_id).where(movements.c.corrects_id.is_not(None))
    return movements.c.kind != "voided", movements.c.id.not_in(corrected)


class FigureService(Service):
    def site_figures(
        self,
        site_id: str,
        start: date | None = None,
        end: date | None = None,
        scope: Sites = None,
    ) -> dict[str, Any]:
        """Present now; arrivals and departures per day by sex and age bracket; vulnerabilities."""
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
            present = empty_table()
            vuln = dict.fromkeys(VULNERABILITY_KEYS, 0)
            by_state: dict[str, int] = defaultdict(int)
            rows = conn.execute(
                select(persons, person_locations.c.state)
                .join(person_locations, person_locations.c.person_id == persons.c.id)
                .where(
                    person_locations.c.site_id == site_id,
                    person_locations.c.state.in_(AT_SITE_STATES),
                )
            ).mappings()
            for r in rows:
                age = age_on(r["birth_date"], r["birth_precision"], now.date())
                count(present, r["sex"], age_bracket(age))
                by_state[r["state"]] += 1
                _count_vulnerabilities(vuln, r)
            days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
            daily: dict[date, dict[str, Any]] = {
                d: {"date": d.isoformat(), "arrivals": empty_table(), "departures": empty_table()}
                for d in days
            }
            lo = datetime.combine(start, time.min, tzinfo=UTC)
            hi = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
            for direction, column, kinds in (
                ("arrivals", movements.c.to_site_id, ARRIVAL_KINDS),
                ("departures", movements.c.from_site_id, DEPARTURE_KINDS),
            ):
                q = (
                    select(
                        movements.c.occurred_at,
                        movements.c.kind,
                        persons.c.sex,
                        persons.c.birth_date,
                        persons.c.birth_precision,
                    )
                    .join(persons, persons.c.id == movements.c.person_id)
                    .where(
                        column == site_id,
                        movements.c.kind.in_(kinds),
                        movements.c.occurred_at >= lo,
                        movements.c.occurred_at < hi,
                        *effective_movements(),
                    )
                )
                for r in conn.execute(q).mappings():
                    day = r["occurred_at"].date()
                    age = age_on(r["birth_date"], r["birth_precision"], day)
                    count(daily[day][direction], r["sex"], age_bracket(age))
            return {
                "site": site,
                "as_of": now,
                "present": {**present, "by_state": dict(by_state)},
                "vulnerabilities_present": vuln,
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
            rows = (
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
                )
                .mappings()
                .all()
            )
            names = queries.site_names(conn)
            links = _adult_links(conn, now.date())
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
        by_household: dict[str, list[Any]] = defaultdict(list)
        for r in rows:
            by_household[r["household_id"]].append(r)
        today = now.date()
        out = []
        for household_id, members in by_household.items():
            living = [m for m in members if m["state"] != "deceased"]
            places = {_place(m) for m in living}
            if len(places) < 2:
                continue
            if site_id and not any(m["loc_site"] == site_id for m in members):
                continue
            if visible is not None and not any(m["id"] in visible for m in members):
                continue
            ages = {m["id"]: age_on(m["birth_date"], m["birth_precision"], today) for m in members}
            adult_places = {_place(m) for m in living if (ages[m["id"]] or 0) >= ADULT_AGE}
            member_out = []
            alone_minors = []
            for m in members:
                age = ages[m["id"]]
                minor = age is not None and age < ADULT_AGE
                place = _place(m)
                relatives = adult_places | links.get(m["id"], set())
                apart = minor and m["state"] != "deceased" and place not in relatives
                if apart:
                    alone_minors.append(m["id"])
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
