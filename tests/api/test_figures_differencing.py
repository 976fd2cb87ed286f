"""No withheld count is worked out by comparing figures, generated from the route table.

Figures read as aggregates only (``Gate.exact_figures``: a coordinator's, a registrar's of
a detention facility at their site; the HXL report, for everyone) withhold every count
under ``small_counts_below``. Within one answer a sum never gives a withheld cell away
(one more cell is withheld with it); but two answers (two windows of days, a day and the
next, a site's figures and the HXL report, the page and its ``.json`` twin) or two tables
of one answer (the pyramid and its totals, a day's start and end) can be subtracted. On
the code before, every count from ``small_counts_below`` up was exact, so a withheld
arrival came out as the difference of two shown numbers: the HXL report's women over 60
present at a camp one day and the next (one of them arrived), a site's men minus the men
of a bracket, a table's complement cell written out again in its breakdown.

Every route of ``figures.read`` that counts persons is called by each reader, at every
site, with every value of each of its query parameters (the windows of days, including
none); a route taking a parameter the test does not vary fails, so a new filter is
covered as soon as it exists. For each answer read as aggregates only it asserts:

- every count shown is 0 or a multiple of ``small_counts_below`` (counts are rounded to
  it), so that no sum or difference of shown counts, in any answers, is a withheld count;
- a withheld count's breakdown is withheld whole (a table whose total is withheld shows no
  cell, not even a 0; a sex whose count is withheld shows no bracket), and a group whose
  sum is shown never withholds one cell alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from corridor.schemas import ConsentIn, PersonIn, SiteIn, StatusEventIn
from corridor.security.crypto import MasterKey
from corridor.security.roles import Role
from corridor.services import Services
from corridor.settings import Settings
from corridor.storage import Database
from corridor.web import create_app
from tests.conftest import MASTER_KEY, Clock
from tests.support.figure_routes import counts, figure_routes, query_params
from tests.support.route_table import RouteCase, all_routes, route_cases
from tests.support.route_world import token_client, walk_json

APP = create_app(Settings(database_url="sqlite://", master_key=MASTER_KEY))
ROUTES = figure_routes(route_cases(APP))
BELOW = Settings().small_counts_below
DAY1 = date(2019, 3, 8)
DAYS = (DAY1 - timedelta(days=1), DAY1, DAY1 + timedelta(days=1), DAY1 + timedelta(days=2))
NOW = datetime.combine(DAYS[-1], datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
# The values each query parameter of a figures route is asked with (None: not given, for
# a parameter that may be left out). A parameter missing here fails the test.
VARIED: dict[str, tuple[date | None, ...]] = {"from": (None, *DAYS), "to": (None, *DAYS)}
SITES = ("A", "B", "D", "H")
# Who reads: a coordinator (aggregates only, every site) and a registrar of A and D
# (exact at A, aggregates only at the detention facility D).
READERS: dict[str, tuple[tuple[Role, ...], tuple[str, ...]]] = {
    "coordinator": ((Role.COORDINATOR,), ()),
    "registrar": ((Role.REGISTRAR,), ("A", "D")),
}


@dataclass
class World:
    sites: dict[str, str]
    clients: dict[str, TestClient]


def _register(svc: Services, site: str, n: int, sex: str, born: str, at: datetime) -> list[str]:
    return svc.registration.register_many(
        [
            PersonIn(
                site_id=site,
                given_name=f"Diff{sex}{born}{i}",
                sex=sex,  # type: ignore[arg-type]
                birth_date=born,
                consent=ConsentIn(tracing=True),
                purpose="registration",
                legal_basis="vital_interest",
                registered_at=at,
            )
            for i in range(n)
        ],
        audit=svc.audit.operator_hook("test", "person.write"),
    )


def _move(svc: Services, pid: str, kind: str, to: str, at: datetime) -> None:
    svc.movements.record(
        pid,
        StatusEventIn(kind=kind, to_site_id=to, occurred_at=at),  # type: ignore[arg-type]
        audit=svc.audit.operator_hook("test", "movement.write"),
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Any) -> Iterator[World]:
    """A camp A of some twenty persons who came over two days (a woman over 60 among the
    second day's), a man detained from A to the facility D and a woman taken from A to
    the hospital H on the second day, a camp B of six; the readers' clients."""
    import shutil

    path = tmp_path_factory.mktemp("differencing") / "d.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    clock = Clock(NOW)
    svc = Services(database, clock, MasterKey.from_text(MASTER_KEY))
    hook = svc.audit.operator_hook("test", "sites.admin")
    sites = {
        key: str(svc.sites.create(SiteIn(name=name, kind=kind, pcode="SY08"), audit=hook)["id"])  # type: ignore[arg-type]
        for key, name, kind in (
            ("A", "Camp Alpha", "camp"),
            ("B", "Camp Bravo", "camp"),
            ("D", "Facility Delta", "detention"),
            ("H", "Hospital Hotel", "hospital"),
        )
    }
    first = datetime.combine(DAYS[1], datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    second = first + timedelta(days=1)
    _register(svc, sites["A"], 9, "f", "1990", first)
    _register(svc, sites["A"], 31, "f", "1950", first)
    men = _register(svc, sites["A"], 7, "m", "1985", first)
    _register(svc, sites["A"], 2, "m", "2017", first)
    _register(svc, sites["A"], 1, "f", "1951", second)
    _register(svc, sites["A"], 2, "m", "1986", second)
    women = _register(svc, sites["A"], 1, "f", "1992", second)
    _register(svc, sites["B"], 6, "f", "1980", second)
    _move(svc, men[0], "detained", sites["D"], second + timedelta(hours=2))
    _move(svc, women[0], "hospitalised", sites["H"], second + timedelta(hours=3))
    clients = {}
    for name, (roles, at) in READERS.items():
        clients[name], _ = token_client(
            database, clock, f"diff-{name}", roles, [sites[k] for k in at]
        )
    yield World(sites, clients)
    for client in clients.values():
        client.close()
    database.dispose()


def _required(case: RouteCase) -> dict[str, bool]:
    for route in all_routes(APP):
        if route.path == case.path and case.method in (route.methods or ()):
            return {q.alias: bool(q.field_info.is_required()) for q in route.dependant.query_params}
    raise AssertionError(case.key)


def _parameters(case: RouteCase) -> list[dict[str, str]]:
    """Every assignment of the route's query parameters to the values of ``VARIED``."""
    names = query_params(APP, case)
    unknown = sorted(set(names) - set(VARIED))
    assert not unknown, f"{case.key} takes {unknown}: add their values to VARIED"
    required = _required(case)
    out = []
    for values in itertools.product(*(VARIED[n] for n in names)):
        given = dict(zip(names, values, strict=True))
        if any(v is None and required[n] for n, v in given.items()):
            continue
        if given.get("from") and given.get("to") and given["from"] > given["to"]:
            continue
        out.append({n: v.isoformat() for n, v in given.items() if v is not None})
    return out


@dataclass
class Read:
    what: str  # the route, the site and the parameters, for messages
    data: Any  # the JSON, or None (a page, a CSV file)
    counts: list[int]


def _reads(world: World, reader: str, case: RouteCase) -> list[Read]:
    """The answers of ``case`` to ``reader`` read as aggregates only, for every site and
    every assignment of its query parameters."""
    out = []
    sites = SITES if "site_id" in case.params else ("-",)
    asked = 0
    for site in sites:
        url = case.path.replace("{site_id}", world.sites.get(site, ""))
        for params in _parameters(case):
            r = world.clients[reader].get(url, params=params)
            if r.status_code == 404:  # a site outside the reader's (figures.read own_site)
                assert reader != "coordinator", (url, r.text[:200])
                continue
            assert r.status_code == 200, (url, params, r.status_code, r.text[:300])
            asked += 1
            data = r.json() if r.text[:1] in "[{" else None
            if data is not None:  # the page's twin holds the figures under "figures"
                aggregate = any(
                    k == "suppressed_below" and v is not None for k, v in walk_json(data)
                )
            elif r.text.lstrip().startswith("<"):
                aggregate = 'id="suppressed"' in r.text
            else:
                aggregate = True  # the HXL report: published, aggregates for everyone
            if reader == "coordinator":
                assert aggregate, ("a coordinator read exact figures", url)
            if aggregate:
                out.append(Read(f"{case.key} {site} {params}", data, counts(r.text, data)))
    assert asked, f"{case.key}: no answer at all"
    return out


def _cases() -> list[Any]:
    return [
        pytest.param(reader, case, id=f"{reader}|{case.key}")
        for reader in READERS
        for case in ROUTES
    ]


def test_every_figures_route_is_varied() -> None:
    assert {c.kind for c in ROUTES} >= {"api", "page", "twin"}
    assert any(query_params(APP, c) for c in ROUTES), "no figures route takes a window"


@pytest.mark.parametrize(("reader", "case"), _cases())
def test_no_difference_of_shown_counts_is_a_withheld_count(
    world: World, reader: str, case: RouteCase
) -> None:
    """Every count an aggregate-only reader is shown is 0 or a multiple of
    ``small_counts_below``, in every answer of every figures route and parameter: any sum
    or difference of them (two windows, two days, a total and its parts, two routes) is a
    multiple too, never a count from 1 to ``small_counts_below - 1``."""
    reads = _reads(world, reader, case)
    assert reads, f"{case.key}: nothing read as aggregates only by the {reader}"
    off = sorted({(n, r.what) for r in reads for n in r.counts if n % BELOW})
    assert off == [], f"{len(off)} counts not a multiple of {BELOW}, e.g. {off[:5]}"


def test_no_two_routes_differ_by_a_withheld_count(world: World) -> None:
    """Across every figures route, site and window a coordinator reads: no two counts
    shown differ by 1 to ``small_counts_below - 1`` (a site's total in one route minus a
    category of another, the report's day minus the day before)."""
    shown: dict[int, str] = {}
    for case in ROUTES:
        for read in _reads(world, "coordinator", case):
            for n in read.counts:
                shown.setdefault(n, read.what)
    pairs = [
        (a, shown[a], b, shown[b])
        for a, b in itertools.combinations(sorted(shown), 2)
        if 0 < b - a < BELOW
    ]
    assert pairs == [], f"{len(pairs)} pairs differ by a withheld count, e.g. {pairs[:3]}"


def _tables(value: Any) -> Iterator[dict[str, Any]]:
    """Every table of counts in a JSON answer: a mapping with a ``total``."""
    if isinstance(value, dict):
        if "total" in value:
            yield value
        for v in value.values():
            yield from _tables(v)
    elif isinstance(value, list):
        for v in value:
            yield from _tables(v)


def _cells(group: Any) -> list[Any]:
    if isinstance(group, dict):
        return [c for v in group.values() for c in _cells(v)]
    return [group]


@pytest.mark.parametrize(
    ("reader", "case"), [p for p in _cases() if p.values[1].kind in ("api", "twin")]
)
def test_a_withheld_count_withholds_its_breakdown(
    world: World, reader: str, case: RouteCase
) -> None:
    """In every table of every JSON answer read as aggregates only: a total withheld
    withholds every cell of its groups; a sex withheld withholds its brackets; a group
    whose sum is shown withholds no cell alone (on the code before, the detention
    facility's one man was "withheld" as a total whose breakdown said 0 women and 0 of
    unknown sex, and a complement cell's brackets were shown, which add up to it)."""
    problems = []
    for read in _reads(world, reader, case):
        for table in _tables(read.data):
            groups = {k: v for k, v in table.items() if k.startswith("by_")}
            if table["total"] is None:
                shown = [c for g in groups.values() for c in _cells(g) if c is not None]
                if shown:
                    problems.append((read.what, "total withheld, cells shown", shown))
                continue
            for name, group in groups.items():
                if name == "by_sex_bracket":
                    for sex, row in group.items():
                        hidden = table["by_sex"][sex] is None
                        cells = list(row.values())
                        if hidden and any(c is not None for c in cells):
                            problems.append((read.what, f"{sex} withheld, brackets shown", row))
                        if not hidden and cells.count(None) == 1:
                            problems.append((read.what, f"one cell of {sex} withheld", row))
                elif list(group.values()).count(None) == 1:
                    problems.append((read.what, f"one cell of {name} withheld", group))
    assert problems == [], f"{len(problems)} problems, e.g. {problems[:3]}"
