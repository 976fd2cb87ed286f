"""Daily figures per site, and families split across places."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, case, distinct, func, literal, select

from corridor.domain.birth import ADULT_AGE, BRACKETS, UNKNOWN_BRACKET, age_bracket, age_on
from corridor.domain.movements import ARRIVAL_KINDS, AT_SITE_STATES, DEPARTURE_KINDS
from corridor.domain.paging import ALL, Page, Paging
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
        return self.separated_families_page(site_id, scope=scope).items

    def separated_families_page(
        self,
        site_id: str | None = None,
        *,
        scope: Sites = None,
        paging: Paging = ALL,
        alone_only: bool = False,
    ) -> Page[dict[str, Any]]:
        """One page of ``separated_families`` (``alone_only``: only households with a
        child apart from every adult relative). The database finds the split households
        (one grouped query: living members in two places or more) within the site filter
        and the scope; where each member is and their age then order them, and only the
        page's households are read in full."""
        now = self.clock()
        today = now.date()
        with self.db.read() as conn:
            split = list(conn.execute(_split_households(site_id)).scalars())
            where = select(
                persons.c.id,
                persons.c.household_id,
                persons.c.site_id,
                persons.c.birth_date,
                persons.c.birth_precision,
                person_locations.c.site_id.label("loc_site"),
                person_locations.c.destination_site_id,
                person_locations.c.state,
                person_locations.c.manifest_id,
            ).join(person_locations, person_locations.c.person_id == persons.c.id)
            light = _in_chunks(conn, where, persons.c.household_id, split)
            # The members in scope (queries.person_scope, on the rows just read).
            visible = (
                None
                if scope is None
                else {r["id"] for r in light if queries.in_person_scope(r, scope)}
            )
            by_household: dict[str, list[Any]] = defaultdict(list)
            in_scope = {r["household_id"] for r in light if visible is None or r["id"] in visible}
            for r in light:
                if r["household_id"] in in_scope:
                    by_household[r["household_id"]].append(r)
            # Linked adults elsewhere matter only to the minors (_alone_minors).
            minors = [
                r["id"]
                for r in light
                if (age := age_on(r["birth_date"], r["birth_precision"], today)) is not None
                and age < ADULT_AGE
            ]
            links = _adult_links(conn, today, minors)
            keys: list[dict[str, Any]] = []
            for household_id, members in by_household.items():
                living = [m for m in members if m["state"] != "deceased"]
                places = len({_place(m) for m in living})
                alone = len(_alone_minors(members, links, today))
                if alone_only and not alone:
                    continue
                keys.append(
                    {
                        "household_id": household_id,
                        "places": places,
                        "minors_apart_from_every_adult": alone,
                        "members_count": len(members),
                    }
                )
            keys.sort(key=FAMILY_ORDERS[paging.sort or "urgent"], reverse=paging.descending)
            end = None if paging.limit is None else paging.offset + paging.limit
            shown = keys[paging.offset : end]
            wanted = [k["household_id"] for k in shown]
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
                    .where(persons.c.household_id.in_(wanted))
                )
                .mappings()
                .all()
            )
            names = queries.site_names(conn)
        full: dict[str, list[Any]] = defaultdict(list)
        for r in rows:
            full[r["household_id"]].append(r)
        out = [_family(k, full[k["household_id"]], links, visible, names, today) for k in shown]
        return Page(out, len(keys), paging.limit, paging.offset)


def _split_households(site_id: str | None) -> Any:
    """The ids of households whose living members are in two places or more (with a
    member at ``site_id``): one grouped query, the database does it."""
    place = case(
        (
            person_locations.c.state.in_(sorted(AT_SITE_STATES)),
            literal("site:") + func.coalesce(person_locations.c.site_id, "None"),
        ),
        (
            person_locations.c.state == "in_transit",
            literal("transit:") + func.coalesce(person_locations.c.manifest_id, "None"),
        ),
        else_=person_locations.c.state,
    )
    q = (
        select(persons.c.household_id)
        .join(person_locations, person_locations.c.person_id == persons.c.id)
        .where(persons.c.household_id.is_not(None), person_locations.c.state != "deceased")
        .group_by(persons.c.household_id)
        .having(func.count(distinct(place)) >= 2)
        .order_by(persons.c.household_id)
    )
    if site_id:
        member = persons.alias("member")
        at_site = (
            select(member.c.household_id)
            .join(person_locations, person_locations.c.person_id == member.c.id)
            .where(person_locations.c.site_id == site_id)
        )
        q = q.where(persons.c.household_id.in_(at_site))
    return q


def _alone_minors(members: list[Any], links: dict[str, set[str]], today: date) -> list[str]:
    """The living minors of a household away from every adult relative (the household's
    adults and linked adults elsewhere)."""
    ages = {m["id"]: age_on(m["birth_date"], m["birth_precision"], today) for m in members}
    living = [m for m in members if m["state"] != "deceased"]
    adult_places = {_place(m) for m in living if (ages[m["id"]] or 0) >= ADULT_AGE}
    out = []
    for m in living:
        age = ages[m["id"]]
        relatives = adult_places | links.get(m["id"], set())
        if age is not None and age < ADULT_AGE and _place(m) not in relatives:
            out.append(m["id"])
    return out


def _family(
    key: dict[str, Any],
    members: list[Any],
    links: dict[str, set[str]],
    visible: set[str] | None,
    names: dict[str, str],
    today: date,
) -> dict[str, Any]:
    """One separated household as the list shows it (members outside the scope
    "elsewhere", without name or place)."""
    alone = set(_alone_minors(members, links, today))
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
    return {
        "household_id": key["household_id"],
        "places": key["places"],
        "minors_apart_from_every_adult": key["minors_apart_from_every_adult"],
        "members": member_out,
    }


def _most_urgent_first(household: dict[str, Any]) -> tuple[int, int, str]:
    return (
        -int(household["minors_apart_from_every_adult"]),
        -int(household["places"]),
        str(household["household_id"]),
    )


CHUNK = 10_000  # ids in one IN (...): well under SQLite's limit on parameters


def _in_chunks(conn: Connection, query: Any, column: Any, ids: list[str]) -> list[Any]:
    """The rows of ``query`` whose ``column`` is one of ``ids``, asked in chunks."""
    rows: list[Any] = []
    for i in range(0, len(ids), CHUNK):
        rows += conn.execute(query.where(column.in_(ids[i : i + CHUNK]))).mappings().all()
    return rows


def _by_places(household: dict[str, Any]) -> tuple[int, int, str]:
    return (
        -int(household["places"]),
        -int(household["minors_apart_from_every_adult"]),
        str(household["household_id"]),
    )


def _by_size(household: dict[str, Any]) -> tuple[int, int, str]:
    return (
        -int(household["members_count"]),
        -int(household["minors_apart_from_every_adult"]),
        str(household["household_id"]),
    )


# The orders the families list offers: a child alone first (the default), most places
# first, largest household first.
FAMILY_ORDERS: dict[str, Callable[[dict[str, Any]], tuple[int, int, str]]] = {
    "urgent": _most_urgent_first,
    "places": _by_places,
    "size": _by_size,
}


def _place(m: Any) -> str:
    """Where a member is, as a key: a site, a truck on the road, or a state."""
    if m["state"] in AT_SITE_STATES:
        return f"site:{m['loc_site']}"
    if m["state"] == "in_transit":
        return f"transit:{m['manifest_id']}"
    return str(m["state"])


def _adult_links(conn: Connection, today: date, of: list[str] | None = None) -> dict[str, set[str]]:
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
    rows = (
        conn.execute(q).mappings().all()
        if of is None
        else _in_chunks(conn, q, relationships.c.person_id, of)
    )
    out: dict[str, set[str]] = defaultdict(set)
    for r in rows:
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
