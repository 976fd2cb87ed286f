"""Daily figures per site, and families split across places."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Date, and_, case, cast, distinct, func, literal, or_, select

from corridor.domain import disclosure
from corridor.domain.birth import ADULT_AGE, BRACKETS, UNKNOWN_BRACKET, age_bracket, age_on
from corridor.domain.movements import AT_SITE_STATES, COUNTED_KINDS, EVENT_KINDS
from corridor.domain.paging import ALL, Page, Paging
from corridor.errors import NotFound, Problem, ValidationFailed
from corridor.services.base import Service
from corridor.services.movements.manifests import due
from corridor.storage import queries
from corridor.storage.database import Database
from corridor.storage.queries import Sites
from corridor.storage.tables import (
    manifests,
    movements,
    person_locations,
    persons,
    relationships,
)
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


def count(table: dict[str, Any], sex: str | None, bracket: str, n: int = 1) -> None:
    s = sex or "unknown"
    table["total"] += n
    table["by_sex"][s] += n
    table["by_bracket"][bracket] += n
    table["by_sex_bracket"][s][bracket] += n


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


def _day_of(column: Any, dialect: str) -> Any:
    """The UTC day of a time column, in the database (a date, or ``YYYY-MM-DD`` text)."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.substr(column, 1, 10)  # SQLite keeps UTC times as ISO text


def _moves_at(site_id: str, dialect: str) -> Any:
    """``domain.movements.moves`` for the persons ever counted at a site, folded in the
    database and counted there.

    Each effective event (not voided, not corrected) gets where the person is counted
    after it (``here``) and before it (``before``: the previous event's ``here``), and
    whether it is the person's latest (no ``next_seq``). Of the events that touch the
    site, the rows are grouped by day, ``change`` (+1 an arrival, -1 a departure, 0
    neither), the latest event's kind where it leaves the person here (``now``: present
    now), and what the counts are by (sex, birth date, vulnerabilities), with ``n``."""
    corrected = select(movements.c.corrects_id).where(movements.c.corrects_id.is_not(None))
    came = select(movements.c.person_id).where(movements.c.to_site_id == site_id)
    here = case((movements.c.kind.in_(COUNTED_KINDS), movements.c.to_site_id), else_=None)
    order = (movements.c.occurred_at, movements.c.seq)
    folded = (
        select(
            movements.c.person_id,
            movements.c.kind,
            movements.c.occurred_at,
            here.label("here"),
            func.lag(here).over(partition_by=movements.c.person_id, order_by=order).label("before"),
            # The latest event has none after it (one window, one sort).
            func.lead(movements.c.seq)
            .over(partition_by=movements.c.person_id, order_by=order)
            .label("next_seq"),
        )
        .where(
            movements.c.kind != "voided",
            movements.c.id.not_in(corrected),
            movements.c.person_id.in_(came),
        )
        .subquery()
    )
    arrived = case((folded.c.here == site_id, 1), else_=0)
    left = case((folded.c.before == site_id, 1), else_=0)
    # A registration of someone counted already (only a merge folds two registrations
    # into one log): where it ends the count is a duplicate resolved, not a departure.
    duplicate = case((and_(folded.c.kind == "registered", folded.c.before == site_id), 1), else_=0)
    now = case(
        (and_(folded.c.next_seq.is_(None), folded.c.here == site_id), folded.c.kind), else_=None
    )
    keys = [
        _day_of(folded.c.occurred_at, dialect).label("day"),
        (arrived - left).label("change"),
        duplicate.label("duplicate"),
        now.label("now"),
        *[persons.c[c] for c in PERSON_COLUMNS if c != "id"],
    ]
    return (
        select(*keys, func.count().label("n"))
        .select_from(folded.join(persons, persons.c.id == folded.c.person_id))
        .where(or_(folded.c.here == site_id, folded.c.before == site_id))
        .group_by(*keys)
    )


def aggregate_only(figures: dict[str, Any], below: int) -> dict[str, Any]:
    """A site's figures as a reader of aggregates only sees them: every count from 1 to
    ``below - 1`` withheld (``None``), with one more where a sum would give it away, and
    every other count rounded to the nearest multiple of ``below``, so that no two
    answers (windows, days, routes) can be subtracted to give a withheld count
    (``domain.disclosure``); ``suppressed_below`` says so."""
    return {
        **figures,
        "present": disclosure.withhold_table(figures["present"], below),
        "vulnerabilities_present": {
            **{
                k: disclosure.withhold_one(v, below)
                for k, v in figures["vulnerabilities_present"].items()
            },
            "restricted_below": None,  # the figures' ``suppressed_below`` says it for all
        },
        "children_alone": disclosure.withhold_one(figures["children_alone"], below),
        "children_alone_in_transit": disclosure.withhold_one(
            figures["children_alone_in_transit"], below
        ),
        "daily": [disclosure.withhold_day(d, below) for d in figures["daily"]],
        "suppressed_below": below,
    }


def restricted_counts(figures: dict[str, Any], keys: Collection[str], below: int) -> dict[str, Any]:
    """Exact figures with the vulnerability counts of ``keys`` (those derived from a field
    the reader's roles may not see on a record: ``Gate.site_figures`` names them) as a
    reader of aggregates only sees them (``domain.disclosure.withhold_one``): a count of
    1 at a camp with one small child is that child's SAM (PROTECTION.md line 4); the
    vulnerabilities' ``restricted_below`` says so."""
    vuln = dict(figures["vulnerabilities_present"])
    for key in keys:
        vuln[key] = disclosure.withhold_one(vuln[key], below)
    vuln["restricted_below"] = below if keys else None
    return {**figures, "vulnerabilities_present": vuln}


class FigureService(Service):
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        small_counts_below: int = disclosure.DEFAULT_BELOW,
    ) -> None:
        """``small_counts_below``: policy (``Settings.small_counts_below``), the counts
        withheld from figures read as aggregates only."""
        super().__init__(db, clock)
        self.small_counts_below = small_counts_below

    def site_figures(
        self,
        site_id: str,
        start: date | None = None,
        end: date | None = None,
        scope: Sites = None,
        *,
        exact: bool = True,
        restricted: Collection[str] = (),
    ) -> dict[str, Any]:
        """Present now; arrivals and departures per day by sex and age bracket, with the
        number present at the start and the end of each day; vulnerabilities; children
        apart from every adult relative.

        Everything is folded from the movement log (``domain.movements.moves``): whatever
        moved a person (a manifest, a transfer, a hospitalisation, a detention, a check-in
        off the manifest, a death), it is a departure from where they were counted and an
        arrival where they are counted now, so ``present_at_end`` of a day is always
        ``present_at_start + arrivals - departures - duplicates`` and the next day starts
        from it. ``duplicates``: persons whose count here ended because they were found
        to be one person with someone registered later at another site (a merge: their
        log holds both registrations, the later one counting them there). A duplicate
        resolved is nobody moving: no departure from here, and the later registration
        stays the arrival it was where it was made.

        Not ``exact`` (a reader of aggregates only: ``Gate.site_figures`` decides), the
        small counts are withheld (``aggregate_only``); ``exact``, the vulnerability
        counts named ``restricted`` still are (``restricted_counts``)."""
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
            rows = conn.execute(_moves_at(site_id, conn.dialect.name)).mappings().all()
            alone = children_alone(conn, now.date(), at_site=site_id)
            coming = children_alone_in_transit(conn, now.date(), site_id)
        present = empty_table()
        vuln = dict.fromkeys(VULNERABILITY_KEYS, 0)
        by_state: dict[str, int] = defaultdict(int)
        days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
        daily: dict[date, dict[str, Any]] = {
            d: {
                "date": d.isoformat(),
                "arrivals": empty_table(),
                "departures": empty_table(),
                "duplicates": empty_table(),
            }
            for d in days
        }
        before = 0  # counted here at the start of the first day
        brackets: dict[tuple[Any, Any, date], str] = {}

        def bracket(r: Any, on: date) -> str:
            key = (r["birth_date"], r["birth_precision"], on)
            if key not in brackets:
                brackets[key] = age_bracket(age_on(r["birth_date"], r["birth_precision"], on))
            return brackets[key]

        for r in rows:
            n = r["n"]
            if r["now"] is not None:
                count(present, r["sex"], bracket(r, now.date()), n)
                by_state[EVENT_KINDS[r["now"]][2]] += n
                _count_vulnerabilities(vuln, r, n)
            if not r["change"]:
                continue
            day = r["day"] if isinstance(r["day"], date) else date.fromisoformat(r["day"])
            if day < start:
                before += r["change"] * n
            elif day <= end:
                direction = "arrivals" if r["change"] > 0 else "departures"
                if r["change"] < 0 and r["duplicate"]:
                    direction = "duplicates"
                count(daily[day][direction], r["sex"], bracket(r, day), n)
        for d in days:
            figures = daily[d]
            figures["present_at_start"] = before
            before += (
                figures["arrivals"]["total"]
                - figures["departures"]["total"]
                - figures["duplicates"]["total"]
            )
            figures["present_at_end"] = before
        figures = {
            "site": site,
            "as_of": now,
            "present": {**present, "by_state": dict(by_state)},
            "vulnerabilities_present": vuln,
            "children_alone": sum(1 for place in alone.values() if place == f"site:{site_id}"),
            "children_alone_in_transit": len(coming),
            "from": start.isoformat(),
            "to": end.isoformat(),
            "daily": [daily[d] for d in days],
            "suppressed_below": None,
        }
        if not exact:
            return aggregate_only(figures, self.small_counts_below)
        return restricted_counts(figures, restricted, self.small_counts_below)

    def separated_families(
        self, site_id: str | None = None, scope: Sites = None
    ) -> list[dict[str, Any]]:
        """Households whose living members are in more than one place (or unaccounted for),
        with where each member is; those with a minor apart from every adult relative first.
        A child registered on their own (no household) whom ``children_alone`` counts is
        an entry of one, its ``household_id`` None: the dashboard counts them, so the
        list shows them.

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
        child apart from every adult relative, and the children alone of no household).
        The database finds the split households (one grouped query: living members in two
        places or more) and the persons of no household who may be children, within the
        site filter and the scope; where each member is and their age then order them,
        and only the page's entries are read in full."""
        now = self.clock()
        today = now.date()
        with self.db.read() as conn:
            # Candidates: households split across places, and those with no living member
            # surely adult (a child may be alone with every adult relative dead or gone).
            split = set(conn.execute(_split_households(site_id)).scalars())
            split |= set(conn.execute(_adultless_households(site_id, today)).scalars())
            candidates = sorted(split)
            where = select(*LIGHT_COLUMNS).join(
                person_locations, person_locations.c.person_id == persons.c.id
            )
            light = _in_chunks(conn, where, persons.c.household_id, candidates)
            # Persons of no household who may be children alone (registered on their own).
            lone = list(conn.execute(_lone_minors(site_id, today)).mappings())
            # The members in scope (queries.person_scope, on the rows just read).
            visible = (
                None
                if scope is None
                else {r["id"] for r in [*light, *lone] if queries.in_person_scope(r, scope)}
            )
            by_household: dict[str, list[Any]] = defaultdict(list)
            in_scope = {r["household_id"] for r in light if visible is None or r["id"] in visible}
            for r in light:
                if r["household_id"] in in_scope:
                    by_household[r["household_id"]].append(r)
            # The one count of children alone (the dashboard's too), on the rows just read:
            # a person of no household is a household of one there too.
            alone = children_alone(conn, today, [*light, *lone])
            keys: list[dict[str, Any]] = []
            # A child registered on their own and counted alone is listed as an entry of
            # one (no household): the dashboard counts them, so the page shows them.
            for r in lone:
                if r["id"] in alone and (visible is None or r["id"] in visible):
                    keys.append(
                        {
                            "household_id": None,
                            "person_id": r["id"],
                            "places": 1,
                            "minors_apart_from_every_adult": 1,
                            "members_count": 1,
                        }
                    )
            for household_id, members in by_household.items():
                living = [m for m in members if m["state"] != "deceased"]
                places = len({_place(m) for m in living})
                n_alone = sum(1 for m in members if m["id"] in alone)
                if places < 2 and not n_alone:
                    continue
                if alone_only and not n_alone:
                    continue
                keys.append(
                    {
                        "household_id": household_id,
                        "person_id": None,
                        "places": places,
                        "minors_apart_from_every_adult": n_alone,
                        "members_count": len(members),
                    }
                )
            keys.sort(key=FAMILY_ORDERS[paging.sort or "urgent"], reverse=paging.descending)
            end = None if paging.limit is None else paging.offset + paging.limit
            shown = keys[paging.offset : end]
            wanted = [k["household_id"] for k in shown if k["household_id"]]
            wanted_alone = [k["person_id"] for k in shown if k["person_id"]]
            rows = (
                conn.execute(
                    select(
                        persons,
                        person_locations.c.site_id.label("loc_site"),
                        person_locations.c.state,
                        person_locations.c.since,
                        person_locations.c.manifest_id,
                        manifests.c.expected_arrival,
                    )
                    .join(person_locations, person_locations.c.person_id == persons.c.id)
                    .outerjoin(manifests, manifests.c.id == person_locations.c.manifest_id)
                    .where(
                        or_(
                            persons.c.household_id.in_(wanted),
                            persons.c.id.in_(wanted_alone),
                        )
                    )
                )
                .mappings()
                .all()
            )
            names = queries.site_names(conn)
        full: dict[str, list[Any]] = defaultdict(list)
        for r in rows:
            full[r["household_id"] or f"person:{r['id']}"].append(r)
        out = [_family(k, full[_entry(k)], set(alone), visible, names, now) for k in shown]
        return Page(out, len(keys), paging.limit, paging.offset)


# What the families list reads of every candidate member, to find who is where.
LIGHT_COLUMNS = (
    persons.c.id,
    persons.c.household_id,
    persons.c.site_id,
    persons.c.birth_date,
    persons.c.birth_precision,
    person_locations.c.site_id.label("loc_site"),
    person_locations.c.destination_site_id,
    person_locations.c.state,
    person_locations.c.manifest_id,
)


def _lone_minors(site_id: str | None, today: date) -> Any:
    """The persons of no household (registered on their own) who are living and not
    surely adult (``_adultless_households``' cutoff), at ``site_id`` if given, with their
    locations: a superset of the children alone among them, which ``children_alone``
    then decides exactly."""
    cutoff = date(today.year - 19, 1, 1)
    q = (
        select(*LIGHT_COLUMNS)
        .join(person_locations, person_locations.c.person_id == persons.c.id)
        .where(
            persons.c.household_id.is_(None),
            persons.c.birth_date.is_not(None),
            persons.c.birth_date > cutoff,
            person_locations.c.state != "deceased",
        )
        .order_by(persons.c.id)
    )
    if site_id:
        q = q.where(_at_or_coming_to(site_id))
    return q


def _at_or_coming_to(site_id: str) -> Any:
    """A location at ``site_id``, or on a truck on the road to it: the site's lists hold
    whom its dashboard counts (``children_alone_in_transit``: a child alone on the way is
    counted where the truck goes), so a child on a truck is on no site's list no more."""
    return or_(
        person_locations.c.site_id == site_id,
        and_(
            person_locations.c.state == "in_transit",
            person_locations.c.destination_site_id == site_id,
        ),
    )


def _entry(key: dict[str, Any]) -> str:
    """An entry of the families list, as a key: its household, or the one person of no
    household it lists (``children_alone`` names them so too)."""
    return str(key["household_id"] or f"person:{key['person_id']}")


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
    return _with_a_member_at(q, site_id)


def _with_a_member_at(q: Any, site_id: str | None) -> Any:
    """``q`` (household ids) kept to households with a member at ``site_id`` (or on the
    way to it), if given."""
    if not site_id:
        return q
    member = persons.alias("member")
    at_site = (
        select(member.c.household_id)
        .join(person_locations, person_locations.c.person_id == member.c.id)
        .where(_at_or_coming_to(site_id))
    )
    return q.where(persons.c.household_id.in_(at_site))


def _adultless_households(site_id: str | None, today: date) -> Any:
    """The ids of households with no living member surely adult (born 19 years or more
    before this year began: an adult whatever the birth date's precision), with a member
    at ``site_id``: a superset of those where a child may be alone in one place, which
    ``children_alone`` then decides exactly."""
    cutoff = date(today.year - 19, 1, 1)
    adult = case(
        (
            and_(
                person_locations.c.state != "deceased",
                persons.c.birth_date.is_not(None),
                persons.c.birth_date <= cutoff,
            ),
            1,
        ),
        else_=0,
    )
    q = (
        select(persons.c.household_id)
        .join(person_locations, person_locations.c.person_id == persons.c.id)
        .where(persons.c.household_id.is_not(None))
        .group_by(persons.c.household_id)
        .having(func.sum(adult) == 0)
        .order_by(persons.c.household_id)
    )
    return _with_a_member_at(q, site_id)


def _family(
    key: dict[str, Any],
    members: list[Any],
    alone: set[str],
    visible: set[str] | None,
    names: dict[str, str],
    now: datetime,
) -> dict[str, Any]:
    """One separated household as the list shows it (members outside the scope
    "elsewhere", without name or place); a child alone of no household, as a household
    of one with no ``household_id``. A member in transit is unaccounted for once their
    vehicle is due (as the manifest and the unaccounted list say), not before."""
    today = now.date()
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
                "unaccounted": m["state"] == "in_transit"
                and m["manifest_id"] is not None
                and due(m["expected_arrival"], now),
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


def children_alone(
    conn: Connection,
    today: date,
    members: list[Any] | None = None,
    *,
    at_site: str | None = None,
) -> dict[str, str]:
    """Living children (under 18) apart from every adult relative: no living adult of
    their household, and no adult linked to them as a relative, is where they are.
    Returns child id -> where they are (``site:<id>``, ``transit:<manifest>``...).

    A person with no household (registered on their own) is a household of one: an
    unaccompanied child registered alone is counted, unless an adult relative linked to
    them is where they are.

    The one count of children alone: the dashboard counts those at its site, the
    separated-families page marks the same children ("alone"), a child of no household
    as an entry of their own. ``members``: the
    household members with their locations, when the caller has read them already;
    ``at_site``: only the households with someone counted at that site, and the persons
    of no household counted there (the same answer there)."""
    if members is None:
        q = _alone_rows()
        rows: list[Any] = []
        if at_site is not None:
            counted_there = and_(
                person_locations.c.site_id == at_site,
                person_locations.c.state.in_(AT_SITE_STATES),
            )
            there = (
                select(persons.c.household_id)
                .join(person_locations, person_locations.c.person_id == persons.c.id)
                .where(counted_there, persons.c.household_id.is_not(None))
            )
            # The households with someone here, and whoever is here in none (two
            # queries: each keeps its index).
            rows += conn.execute(q.where(persons.c.household_id.in_(there))).mappings()
            q = q.where(persons.c.household_id.is_(None), counted_there)
        rows += conn.execute(q).mappings()
    else:
        rows = members
    by_household: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        # A person registered on their own (no household) is a household of one: a
        # child registered alone at a desk is apart from every adult relative unless a
        # relative linked to them is where they are.
        by_household[r["household_id"] or f"person:{r['id']}"].append(r)
    apart: dict[str, str] = {}  # from every adult of the household
    for household in by_household.values():
        living = [m for m in household if m["state"] != "deceased"]
        ages = {m["id"]: age_on(m["birth_date"], m["birth_precision"], today) for m in living}
        adult_places = {_place(m) for m in living if (ages[m["id"]] or 0) >= ADULT_AGE}
        for m in living:
            age = ages[m["id"]]
            if age is not None and age < ADULT_AGE and _place(m) not in adult_places:
                apart[m["id"]] = _place(m)
    links = _adult_links(conn, today, apart)
    return {pid: place for pid, place in apart.items() if place not in links.get(pid, set())}


def _alone_rows() -> Any:
    """What ``children_alone`` reads of each person: their household, birth and where
    they are (and where a truck takes them)."""
    return select(
        persons.c.id,
        persons.c.household_id,
        persons.c.birth_date,
        persons.c.birth_precision,
        person_locations.c.site_id.label("loc_site"),
        person_locations.c.state,
        person_locations.c.manifest_id,
        person_locations.c.destination_site_id,
    ).join(person_locations, person_locations.c.person_id == persons.c.id)


def children_alone_in_transit(conn: Connection, today: date, site_id: str) -> set[str]:
    """The children alone (``children_alone``: apart from every adult relative) on a
    truck on the road to ``site_id``: counted at no site while travelling, they are the
    site's "on their way here" (where they will be counted once checked in), so that no
    dashboard loses them and none counts them twice."""
    going = and_(
        person_locations.c.state == "in_transit",
        person_locations.c.destination_site_id == site_id,
    )
    q = _alone_rows()
    households_going = (
        select(persons.c.household_id)
        .join(person_locations, person_locations.c.person_id == persons.c.id)
        .where(going, persons.c.household_id.is_not(None))
    )
    # The households with someone on the way (every member: where the adults are
    # decides), and whoever is on the way in none (two queries: each keeps its index).
    rows: list[Any] = list(
        conn.execute(q.where(persons.c.household_id.in_(households_going))).mappings()
    )
    rows += conn.execute(q.where(persons.c.household_id.is_(None), going)).mappings()
    on_the_way = {
        r["id"] for r in rows if r["state"] == "in_transit" and r["destination_site_id"] == site_id
    }
    alone = children_alone(conn, today, rows)
    return {p for p, place in alone.items() if p in on_the_way and place.startswith("transit:")}


def _most_urgent_first(household: dict[str, Any]) -> tuple[int, int, str]:
    return (
        -int(household["minors_apart_from_every_adult"]),
        -int(household["places"]),
        _entry(household),
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
        _entry(household),
    )


def _by_size(household: dict[str, Any]) -> tuple[int, int, str]:
    return (
        -int(household["members_count"]),
        -int(household["minors_apart_from_every_adult"]),
        _entry(household),
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


def _adult_links(conn: Connection, today: date, person_ids: Iterable[str]) -> dict[str, set[str]]:
    """Person -> places of linked relatives who are adults (links outside the household),
    for ``person_ids``."""
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
        .where(relationships.c.removed_at.is_(None))  # a removed link (0035) says nothing
    )
    ids = sorted(set(person_ids))
    out: dict[str, set[str]] = defaultdict(set)
    for start in range(0, len(ids), 500):
        chunk = q.where(relationships.c.person_id.in_(ids[start : start + 500]))
        for r in conn.execute(chunk).mappings():
            age = age_on(r["birth_date"], r["birth_precision"], today)
            if age is not None and age >= ADULT_AGE and r["state"] != "deceased":
                out[r["person_id"]].add(_place(r))
    return out


def _count_vulnerabilities(vuln: dict[str, int], r: Any, n: int = 1) -> None:
    if r["uasc"] == "unaccompanied":
        vuln["unaccompanied"] += n
    elif r["uasc"] == "separated":
        vuln["separated"] += n
    if r["muac_status"] == "SAM":
        vuln["sam"] += n
    elif r["muac_status"] == "MAM":
        vuln["mam"] += n
    for key in (
        "disabled",
        "pregnant_lactating",
        "serious_medical_condition",
        "injury",
        "elderly_alone",
    ):
        if r[key]:
            vuln[key] += n
