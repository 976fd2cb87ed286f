"""Protection by construction (issue 11), generated from the route table.

Every route of the app (the API, every page and its ``.json`` twin, every page form) is
called by a user of every role, who works at site A, against records of every kind (an
adult, a child, an unaccompanied child, a detained person, a hospitalised person, a
person who refused tracing, and a person at site B), on a world built once per backend
(tests/support/route_world.py). A new route is covered without anyone writing a test; a
route the test cannot call (an unknown path parameter, a body without a template) fails.

Per (route, role, record) it asserts, each in its own test so that failures read as a
list of what to fix:

1. ``out_of_scope``: a role holding the route's action for its own sites only gets 404
   for a site-B record (never 200, never 403); a role without the action gets 403 from
   the role gate; a route naming no record, or naming a record of site A (the adult's
   enquiry also seeks site B's head), shows nothing of site B.
2. ``withheld``: no canary of a field the role may not see (computed from the
   authorisation matrix: ``visible_fields`` and the field groups) is in the body.
3. ``audit``: exactly one audit event per person shown (a person id in the body of a 2xx
   answer) or refused (the person of the path, for a 403 or 404 of a person route; a
   refusal of any other personal-data route leaves at least one denial).
4. ``no_5xx``.

And: no list route with a ``site_id`` filter answers a detention facility's id to a role
outside the matrix's ``detention`` field group (404; 403 from the role gate).
Nor does any JSON list (API or page twin) filter by one under any name (``site_id``,
``site``): 404, or the filter is ignored. Every figures route withholds small counts
where it is read as aggregates only. A search by a restricted field (a phone, a
document number, a place of origin) answers about a record whose kind hides that field
from the role exactly as the search without it. A body naming a second record (a person
to link, merge, put on a manifest) is answered for site B's as for an id nobody has.

A route that names no record is asked once per role (its answer is checked against every
record of the world). A role the gate refuses is tried on a child of its own site and on
site B's record only. PostgreSQL runs the same checks on a thinner set of records (a
child, the detained husband, site B's).

Two worlds are built per backend (in each process: each xdist worker builds its own),
the same way. Every read (a GET, a search) is asked on the first, the world as planted,
which no write of the table touches, so a canary is where it was planted whatever ran
before the read. Every write is asked on the second, in the table's order (the ones
that change most last: dispatch, receive... erasure), each after every write before
it (``WRITES``; asked first if no test asked it yet): the same answer whatever order the
tests run in (pytest-randomly, ``-p no:randomly``) and however xdist shares them out.
"""

from __future__ import annotations

import functools
import html.parser
import json
import re
import shutil
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from corridor.domain.ids import format_registration_number, new_registration_number, uuid7
from corridor.security.roles import Role, default_matrix
from corridor.security.tables import audit_events
from corridor.security.tokens import ApiTokens
from corridor.services.protection.gate import SEARCHED_FIELDS
from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.number_tables import renumbered
from corridor.storage.tables import persons
from corridor.storage.tracing_tables import tracing_matches
from corridor.web import create_app
from corridor.web.retries import KEY_FIELD, retry_of
from tests.conftest import MASTER_KEY, Clock, world_database
from tests.support.figure_routes import NOT_PERSON_COUNTS, figure_routes
from tests.support.figure_routes import counts as figure_counts
from tests.support.route_table import (
    NO_KEY,
    RECORD_PARAMS,
    SEARCH_FORMS,
    RouteCase,
    all_routes,
    criteria,
    fill,
    route_cases,
    send,
)
from tests.support.route_world import (
    DETENTION_LOCALITY,
    DETENTION_NAME,
    EVENT_NOTES,
    PERSON_NOTES,
    RECORDS,
    TEXT_FIELDS,
    World,
    build_world,
    close_worlds,
    enrol_node_behind,
    token_client,
    walk_json,
    with_form_secret,
)

MATRIX = default_matrix()
APP = create_app(Settings(database_url="sqlite://", master_key=MASTER_KEY))
CASES = route_cases(APP)
ROLES = list(Role)
WORLD_TIME = datetime(2019, 3, 10, 8, 0, tzinfo=UTC)  # the world's clock when built
NO_RECORD = "-"  # a route naming no record: one request per role, against the whole world
BACKENDS = ("sqlite", "postgresql")
POSTGRES_RECORDS = (NO_RECORD, "child", "detained", "other_site")
# A role without the route's action is refused by the role gate before any record is
# read: it is tried on a child of its own site and on site B's record (both a 403).
GATE_RECORDS = (NO_RECORD, "child", "other_site")
OPTION = re.compile(r"<option\b[^>]*>.*?</option>", re.S)


def _own_site_only(role: Role, action: str) -> bool:
    return MATRIX.allowed(role, action, same_site=True) and not MATRIX.allowed(
        role, action, same_site=False
    )


def _gate_refuses(role: Role, case: RouteCase) -> bool:
    return case.action is not None and not MATRIX.allowed(role, case.action, same_site=True)


def _records(case: RouteCase) -> tuple[str, ...]:
    return RECORDS if case.per_record else (NO_RECORD,)


def _table() -> Iterator[tuple[str, RouteCase, Role, str]]:
    """(backend, case, role, record) for every callable route, role and record, in the
    table's order (``route_cases``: reads, then writes, the ones that change most last);
    on PostgreSQL a thinner set of records (a child, a detained person, site B's)."""
    for backend in BACKENDS:
        for case in CASES:
            if case.missing:
                continue
            for role in ROLES:
                for record in _records(case):
                    if backend == "postgresql" and record not in POSTGRES_RECORDS:
                        continue
                    if _gate_refuses(role, case) and record not in GATE_RECORDS:
                        continue
                    yield backend, case, role, record


def _params(applies: Any = None) -> list[Any]:
    """The table's (backend, case, role, record) as test parameters, those ``applies``
    takes (all by default)."""
    return [
        pytest.param(
            backend,
            case,
            role,
            record,
            marks=[pytest.mark.postgresql] if backend == "postgresql" else [],
            id=f"{backend}|{case.key}|{role.value}|{record}",
        )
        for backend, case, role, record in _table()
        if applies is None or applies(case, role, record)
    ]


def _changes_nothing(case: RouteCase) -> bool:
    """A read: a GET, or a POST that is a read (a search: ``NO_KEY``). Asked on the world
    as planted, which no write of the table touches."""
    return case.reads or NO_KEY.get(case.key, "").startswith("a read")


# The writes of the table, per backend, in the order they run in on the world of writes:
# each after every one before it here, whatever order the tests ask for them in.
WRITES: dict[str, list[tuple[str, Role, str]]] = {b: [] for b in BACKENDS}
for _backend, _case, _role, _record in _table():
    if not _changes_nothing(_case):
        WRITES[_backend].append((_case.key, _role, _record))
CASE_OF = {c.key: c for c in CASES}


def _scope_applies(case: RouteCase, role: Role, record: str) -> bool:
    if case.action is None:
        return False
    if not MATRIX.allowed(role, case.action, same_site=True):
        return True  # the role gate answers 403
    # Every record: an answer about one of site A's shows nothing of site B's either.
    return _own_site_only(role, case.action)


@dataclass
class Answer:
    url: str
    status: int
    text: str
    data: Any  # the parsed JSON body, or None
    events: list[dict[str, Any]]  # audit rows the request added, by the caller


@dataclass
class Env:
    backend: str
    db: Database
    world: World
    clients: dict[Role, TestClient]
    users: dict[Role, str]
    spare_token: str  # an API token nobody uses, for the revoke routes
    writes: bool  # the world of the table's writes (else the world as planted: reads only)
    answers: dict[tuple[str, Role, str], Answer] = field(default_factory=dict)
    # person id -> the numbers the world knew them by before a renumbering case
    renumbered: dict[str, set[str]] = field(default_factory=dict)


ENVS: dict[tuple[str, bool], Env] = {}


def _env(request: pytest.FixtureRequest, backend: str, writes: bool = False) -> Env:
    """A world of ``backend``, built on first use and kept for the module: the world as
    planted, which every read is asked on (and every test that sends its own requests,
    none of which writes), or, with ``writes``, a second world built the same way, where
    the table's writes run (``answer``). A write never touches the world of the reads,
    so that what a read is checked against does not depend on which writes ran before
    it in this process (the order of the tests, how xdist shares them out)."""
    if (backend, writes) in ENVS:
        return ENVS[backend, writes]
    name = "route-table-writes" if writes else "route-table"
    db = world_database(request, backend, name, own=writes)
    clock = Clock(WORLD_TIME)
    world = build_world(db, clock)
    # A node of site B (no role's site but the coordinator's, who reads every site as
    # aggregates only) with two registrations not pushed: the sync state's small count.
    node_file = request.getfixturevalue("tmp_path_factory").mktemp("route-node") / "node.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), node_file)
    enrol_node_behind(db, clock, world.sites["B"], node_file)
    clients, users = {}, {}
    for role in ROLES:
        client, user = token_client(db, clock, f"rt-{role.value}", (role,), [world.sites["A"]])
        with_form_secret(client)
        clients[role], users[role] = client, user
    with db.transaction() as conn:
        spare = ApiTokens(clock).issue(conn, users[Role.COORDINATOR], "spare", ["figures.read"])
    ENVS[backend, writes] = Env(backend, db, world, clients, users, spare.id, writes)
    return ENVS[backend, writes]


@pytest.fixture(scope="module", autouse=True)
def _close_worlds() -> Iterator[None]:
    yield
    close_worlds(ENVS)


@pytest.fixture
def env(request: pytest.FixtureRequest, backend: str) -> Env:
    """The world as planted: for the tests that send their own requests (none writes)."""
    return _env(request, backend)


@pytest.fixture
def table_env(request: pytest.FixtureRequest, backend: str, case: RouteCase) -> Env:
    """The world a case of the table's answers (``answer``) is asked on: the world as
    planted for a read, the world of the writes for a write."""
    return _env(request, backend, writes=not _changes_nothing(case))


def _last_seq(db: Database) -> int:
    with db.read() as conn:
        last = conn.execute(select(func.coalesce(func.max(audit_events.c.seq), 0))).scalar()
        return int(last or 0)


def answer(env: Env, case: RouteCase, role: Role, record: str) -> Answer:
    """The answer to ``case`` for ``role`` and ``record`` (asked once, then remembered).

    A read is asked on the world as planted (no write runs there). A write is asked on
    the world of the writes, after every write before it in ``WRITES`` (asked first if
    no test asked it yet): each write sees the same world whatever order the tests run
    in and however xdist shares them out (the erasure, for one, comes last)."""
    assert env.writes != _changes_nothing(case), ("asked on the wrong world", case.key)
    key = (case.key, role, record)
    if key not in env.answers and env.writes:
        for before in WRITES[env.backend]:
            if before == key:
                break
            if before not in env.answers:
                _ask(env, CASE_OF[before[0]], before[1], before[2])
    if key not in env.answers:
        _ask(env, case, role, record)
    return env.answers[key]


def _ask(env: Env, case: RouteCase, role: Role, record: str) -> None:
    """Send ``case`` for ``role`` and ``record``; remember its answer in ``env``."""
    key = (case.key, role, record)
    rec = env.world.record("adult" if record == NO_RECORD else record)
    ids = {
        **rec.ids_for(case.key),
        "user_id": env.users[role],
        "fmt": case.fmt or "",
        "token_id": env.spare_token,
    }
    url = fill(case.path, ids)
    body = fill(case.body, ids)
    client = env.clients[role]
    before = _last_seq(env.db)
    status, text, data = send(client, case, url, body)
    with env.db.read() as conn:
        rows = conn.execute(
            select(audit_events).where(
                audit_events.c.seq > before, audit_events.c.user_id == env.users[role]
            )
        ).mappings()
        events = [dict(row) for row in rows]
    if case.key.endswith("/renumber") and status == 200 and isinstance(data, dict):
        # The person holds a new number from now on: the later cases name them by it
        # (the number before is someone else's to take; ``_persons_in`` still knows it).
        env.renumbered.setdefault(rec.person_id, set()).add(rec.ids["registration_number"])
        rec.ids["registration_number"] = str(data["registration_number"])
    env.answers[key] = Answer(url, status, text, data, events)


def _said(a: Answer) -> str:
    return f"{a.status} {a.url}: {a.text[:300]}"


def test_every_route_can_be_called() -> None:
    """A route with a path parameter the test cannot fill, or a body it has no template
    for, fails here: extend tests/support/route_table.py."""
    missing = [f"{c.key}: {c.missing}" for c in CASES if c.missing]
    assert missing == []
    kinds = Counter(c.kind for c in CASES)
    assert kinds["api"] > 40 and kinds["page"] >= 10 and kinds["twin"] >= 10, kinds


def test_every_page_has_its_json_twin() -> None:
    pages = {c.path for c in CASES if c.kind == "page"}
    twins = {c.path.removesuffix(".json") for c in CASES if c.kind == "twin"}
    assert twins <= pages


def _site_filtered_lists() -> list[Any]:
    out = []
    for route in all_routes(APP):
        if "GET" not in (route.methods or ()) or "{" in route.path:
            continue
        if "site_id" not in {q.alias for q in route.dependant.query_params}:
            continue
        action = next((c.action for c in CASES if c.key == f"GET {route.path}"), None)
        for role in ROLES:
            if "detention_site_id" in MATRIX.visible_fields(role, "person"):
                continue  # the roles of the detention field group
            for backend in BACKENDS:
                marks = [pytest.mark.postgresql] if backend == "postgresql" else []
                out.append(
                    pytest.param(
                        backend,
                        route.path,
                        action,
                        role,
                        marks=marks,
                        id=f"{backend}|{route.path}|{role.value}",
                    )
                )
    return out


def test_some_list_route_filters_by_site() -> None:
    assert _site_filtered_lists(), "no list route takes site_id: is the route walk broken?"


@pytest.mark.parametrize(("backend", "path", "action", "role"), _site_filtered_lists())
def test_no_list_by_detention_facility(env: Env, path: str, action: str | None, role: Role) -> None:
    """``site_id`` of a detention facility in a list route is a 404 for every role outside
    the detention field group (403 where the role gate refuses the route first). Asked
    before the generated cases below, on the world as built (no write has run yet)."""
    client = env.clients[role]
    try:
        r = client.get(path, params={"site_id": env.world.sites["D"]})
        status, text = r.status_code, r.text
    except Exception:
        status, text = 500, traceback.format_exc()
    if action is not None and not MATRIX.allowed(role, action, same_site=True):
        assert status == 403, (status, text[:300])
    else:
        assert status == 404, (status, text[:300])


# -- small counts: figures read as aggregates only withhold them -----------------------

# The sync state (``/sync``, its twin, ``GET /api/sync/status``) counts persons and their
# changes per node and site (corridor/sync/shown.py): checked as a route naming no site.
# Its small counts are those of the world's node of site B (``enrol_node_behind``),
# which only the coordinator sees, as aggregates.
FIGURE_ROUTES = figure_routes(CASES)
SMALL_BELOW = Settings().small_counts_below  # the app's policy (default settings)


def test_no_figures_route_goes_unchecked() -> None:
    assert sorted(set(NOT_PERSON_COUNTS) - {c.key for c in CASES}) == []
    assert {c.kind for c in FIGURE_ROUTES} >= {"api", "page", "twin"}


def _aggregate_only(role: Role, site: str) -> bool:
    """Whether ``role`` (working at site A) reads figures as aggregates only: a route that
    names no site is a published report (for everyone); a site's figures, unless the role
    may read the site's persons, and, at the detention facility, see detention sites."""
    if site == NO_RECORD:
        return True
    reads = MATRIX.allowed(role, "person.read", same_site=site == "A")
    return not reads or (
        site == "D" and "detention_site_id" not in MATRIX.visible_fields(role, "person")
    )


def _figures_params() -> list[Any]:
    out = []
    for backend in BACKENDS:
        marks = [pytest.mark.postgresql] if backend == "postgresql" else []
        for case in FIGURE_ROUTES:
            for role in ROLES:
                if _gate_refuses(role, case):
                    continue
                for site in ("A", "D") if "site_id" in case.params else (NO_RECORD,):
                    out.append(
                        pytest.param(
                            backend, case, role, site, marks=marks,
                            id=f"{backend}|{case.key}|{role.value}|{site}",
                        )
                    )  # fmt: skip
    return out


# Figures routes naming no site that count the caller's own sites (corridor/sync/shown.py:
# the sync state of the peers of the caller's sites, and the conflicts and held erasures
# of their persons): read exactly where the role reads site A's persons (the world holds
# a node of site A, whose erasure waits on a legal hold), else as aggregates only.
SCOPED_STATUS = {"GET /api/sync/status", "GET /sync", "GET /sync.json"}


@pytest.mark.parametrize(("backend", "case", "role", "site"), _figures_params())
def test_figures_withhold_small_counts(env: Env, case: RouteCase, role: Role, site: str) -> None:
    """Every figures route (JSON, page, its twin, the HXL file), generated from the route
    table: read as aggregates only (``_aggregate_only``), no count from 1 to
    ``small_counts_below - 1`` is in the answer; read exactly (a registrar's own site), the
    small counts are there. The detention facility holds one person (the detained
    husband): on the code before, a coordinator's JSON figures of it said 1."""
    url = case.path
    if site != NO_RECORD:
        url = url.replace("{site_id}", env.world.sites[site])
    day = WORLD_TIME.date()
    r = env.clients[role].get(url, params={"from": f"{day.replace(day=1)}", "to": f"{day}"})
    if r.status_code == 404:  # the site is outside the role's sites (own_site)
        assert site != NO_RECORD and _own_site_only(role, "figures.read") and site != "A"
        return
    assert r.status_code == 200, (r.status_code, r.text[:300])
    data = r.json() if r.text[:1] in "[{" else None
    counts = figure_counts(r.text, data)
    assert counts, ("no counts found in the answer: is the parse broken?", r.text[:300])
    small = sorted({n for n in counts if 0 < n < SMALL_BELOW})
    if _aggregate_only(role, "A" if case.key in SCOPED_STATUS else site):
        assert small == [], (case.key, role.value, site, small)
    else:
        assert small, "read exactly, a site of a few persons has small counts"


# -- a second record named in a body: site B's is nobody (no existence oracle) ----------

# Placeholders of a body that name a record (the path names the first, these a second).
BODY_RECORDS = (
    "person_id",
    "other_person_id",
    "household_id",
    "registration_number",
    "case_id",
    "match_id",
    "relative_id",
    "relative_number",
)
# A body's relative (the person a link or relationship names: ``Record.ids``) is, in
# this test, site B's record itself: its id and its registration number.
AS_RELATIVE = {"relative_id": "person_id", "relative_number": "registration_number"}


def _names_a_second_record(case: RouteCase) -> bool:
    text = json.dumps(case.body, default=str)
    return case.method == "POST" and any("{" + p + "}" in text for p in BODY_RECORDS)


def _second_record_params() -> list[Any]:
    out = []
    for backend in BACKENDS:
        marks = [pytest.mark.postgresql] if backend == "postgresql" else []
        for case in CASES:
            if case.missing or case.action is None or not _names_a_second_record(case):
                continue
            for role in ROLES:
                if _own_site_only(role, case.action):
                    out.append(
                        pytest.param(
                            backend, case, role, marks=marks,
                            id=f"{backend}|{case.key}|{role.value}",
                        )
                    )  # fmt: skip
    return out


def _fake_ids() -> dict[str, str]:
    """Ids of the right shape that no record has."""
    return {
        "person_id": uuid7(),
        "other_person_id": uuid7(),
        "household_id": uuid7(),
        "case_id": uuid7(),
        "match_id": uuid7(),
        "registration_number": format_registration_number(new_registration_number()),
        "relative_id": uuid7(),
        "relative_number": format_registration_number(new_registration_number()),
    }


def _send(env: Env, case: RouteCase, role: Role, body_ids: dict[str, str]) -> tuple[int, str]:
    own = env.world.record("adult")
    url = fill(case.path, {**own.ids_for(case.key), "user_id": env.users[role]})
    body = fill(case.body, {**own.ids_for(case.key), **body_ids})
    client = env.clients[role]
    r = client.post(url, data=body) if case.kind == "form" else client.post(url, json=body)
    text = r.text
    for value in body_ids.values():
        text = text.replace(value, "<the record named>")
    # A page re-rendered with the form's values carries a fresh key each time.
    text = re.sub(r'name="idempotency_key" value="[^"]+"', "", text)
    return r.status_code, text


@pytest.mark.parametrize(("backend", "case", "role"), _second_record_params())
def test_a_second_record_of_site_b_is_nobody(env: Env, case: RouteCase, role: Role) -> None:
    """Every route whose body names a second record (a person to link, merge, put on a
    manifest or attach to a case; a household to check in), asked by a role holding the
    action for its own sites, with the path naming its own record: site B's record in the
    body is answered exactly as an id nobody has (status and text), so that the answer
    tells nothing of whether it exists (PROTECTION.md line 3). Asked on the world as
    planted (``env``), which no write of the table touches; nothing is written either way."""
    other = env.world.record("other_site")
    # Where the body names a relative, the relative is the second record (the body's
    # person the caller's own); else every record the body names is.
    text = json.dumps(case.body, default=str)
    second = [p for p in AS_RELATIVE if "{" + p + "}" in text] or BODY_RECORDS
    named = {p: other.ids[AS_RELATIVE.get(p, p)] for p in second
             if AS_RELATIVE.get(p, p) in other.ids}
    b_status, b_text = _send(env, case, role, named)
    fake = {p: v for p, v in _fake_ids().items() if p in named}
    n_status, n_text = _send(env, case, role, fake)
    assert b_status == n_status, (b_status, n_status, b_text[:300], n_text[:300])
    assert b_status >= 400 or case.key in NO_KEY, (b_status, b_text[:300])
    assert b_text == n_text


# -- a search matches on no field the caller may not see (PROTECTION.md line 4) ---------

# Searches by a restricted field, from the route table: (route, criterion) pairs.
SEARCHES = [
    (c, criterion)
    for c in CASES
    if not c.missing
    for criterion in criteria(APP, c)
    if criterion in SEARCHED_FIELDS
]


def test_every_read_form_says_what_it_searches_by() -> None:
    forms = [c.key for c in CASES if c.kind == "form"]
    reads = {k for k in forms if NO_KEY.get(k, "").startswith("a read")}
    assert sorted(reads - set(SEARCH_FORMS)) == []
    assert {c.key for c, _ in SEARCHES} >= {"POST /api/persons/search", "POST /search"}


def _search_params(hidden: bool) -> list[Any]:
    """(backend, case, criterion, role, record): every search by a restricted field, by
    every role that may search, on every record whose kind hides the field from the role
    (``hidden``), or shows it (not ``hidden``: the criterion must find the record)."""
    out = []
    for backend in BACKENDS:
        marks = [pytest.mark.postgresql] if backend == "postgresql" else []
        for case, criterion in SEARCHES:
            for role in ROLES:
                if _gate_refuses(role, case):
                    continue
                for record in RECORDS:
                    if backend == "postgresql" and record not in POSTGRES_RECORDS:
                        continue
                    kind = "minor" if record in ("child", "unaccompanied_child") else "person"
                    rules = MATRIX.records[kind]
                    restricted = set().union(*(MATRIX.group_fields[g] for g in rules.groups))
                    withheld = restricted - MATRIX.visible_fields(role, kind)
                    if (SEARCHED_FIELDS[criterion] in withheld) != hidden:
                        continue
                    if not hidden and (record == "other_site" or record == "refused_tracing"):
                        continue  # out of the caller's scope or purpose: found or not
                    out.append(
                        pytest.param(
                            backend,
                            case,
                            criterion,
                            role,
                            record,
                            marks=marks,
                            id=f"{backend}|{case.key}|{criterion}|{role.value}|{record}",
                        )
                    )
    return out


CANARY_OF = {"phone": "phone", "document_number": "documents", "place_of_origin": "origin_locality"}


def _search(env: Env, case: RouteCase, role: Role, record: str, criteria: dict[str, str]) -> Any:
    """Whether the answer of ``case`` searched by ``criteria`` shows the record: None, or
    its probability (True where the answer gives none)."""
    rec = env.world.record(record)
    url = fill(case.path, {**rec.ids})
    client = env.clients[role]
    sent = {"data": criteria} if case.kind == "form" else {"json": criteria}
    r = client.post(url, **sent)
    assert r.status_code < 500, (r.status_code, r.text[:300])
    if r.status_code >= 300:
        return None
    if r.text[:1] == "[":
        for item in r.json():
            person = item.get("person", item)
            if person.get("id") == rec.person_id:
                return item.get("probability", True)
        return None
    text = r.text
    found = rec.person_id in text or rec.ids["registration_number"] in text
    return True if found else None


def _value(env: Env, record: str, criterion: str) -> str:
    return env.world.record(record).text_canaries[CANARY_OF[criterion]]


@pytest.mark.parametrize(
    ("backend", "case", "criterion", "role", "record"), _search_params(hidden=True)
)
def test_no_search_matches_on_a_withheld_field(
    env: Env, case: RouteCase, criterion: str, role: Role, record: str
) -> None:
    """A search by a field the role may not see on the record (a child's phone, for a
    registrar) answers about that record exactly as the search without it: on the code
    before, the exact search found the child by their phone, which it then withheld."""
    value = _value(env, record, criterion)
    given = _search(env, case, role, record, {criterion: value})
    without = _search(env, case, role, record, {})
    assert given == without, (case.key, criterion, given, without)


@pytest.mark.parametrize(
    ("backend", "case", "criterion", "role", "record"), _search_params(hidden=False)
)
def test_a_search_finds_by_a_field_the_role_sees(
    env: Env, case: RouteCase, criterion: str, role: Role, record: str
) -> None:
    """The other side: the same search by a role that sees the field finds the record
    (so that the check above is not passed by a search that finds nobody)."""
    if criterion == "place_of_origin":
        pytest.skip("a place of origin alone is no search: it ranks, never finds")
    assert _search(env, case, role, record, {criterion: _value(env, record, criterion)}), (
        case.key,
        criterion,
    )


def _lists_of_json() -> list[Any]:
    """Every JSON list of the route table (API, page twins) naming no record, for every
    role outside the detention field group that passes its role gate."""
    out = []
    for case in CASES:
        if not case.reads or case.params or case.kind not in ("api", "twin") or case.missing:
            continue
        for role in ROLES:
            if "detention_site_id" in MATRIX.visible_fields(role, "person"):
                continue
            if _gate_refuses(role, case):
                continue
            for backend in BACKENDS:
                marks = [pytest.mark.postgresql] if backend == "postgresql" else []
                out.append(
                    pytest.param(
                        backend, case, role, marks=marks, id=f"{backend}|{case.key}|{role.value}"
                    )
                )
    return out


@pytest.mark.parametrize(("backend", "case", "role"), _lists_of_json())
def test_no_filter_by_detention_facility(env: Env, case: RouteCase, role: Role) -> None:
    """Whatever a list calls its site filter (``site_id`` in the API, ``site`` on the
    pages, read from the query string where no schema declares it), a detention
    facility's id is a 404, or the filter is no filter (the answer is the list's own):
    generated from the route table, where ``test_no_list_by_detention_facility`` sees the
    declared ``site_id`` only."""
    client = env.clients[role]
    d = env.world.sites["D"]
    plain = client.get(case.path)
    for name in ("site_id", "site"):
        r = client.get(case.path, params={name: d})
        if r.status_code == 404:
            continue
        assert r.status_code == plain.status_code, (name, r.status_code, r.text[:300])
        assert r.text == plain.text, (name, "a detention facility filtered the list")


@pytest.mark.parametrize(("backend", "case", "role", "record"), _params())
def test_no_5xx(table_env: Env, case: RouteCase, role: Role, record: str) -> None:
    a = answer(table_env, case, role, record)
    assert a.status < 500, _said(a)


def _b_leaks(env: Env, a: Answer, site: bool = True) -> list[str]:
    """What of site B's records is in an answer: the person's id, household, manifest,
    canaries, and (outside a page's site menus, with ``site``) the site's id."""
    b = env.world.record("other_site")
    text = a.text
    tokens = {
        "person id": b.person_id,
        "household id": b.ids["household_id"],
        "manifest id": b.ids["manifest_id"],
        **{f"{f} canary": v for f, v in b.text_canaries.items() if f != "phone"},
    }
    found = [name for name, value in tokens.items() if value in text]
    if _phone(b.text_canaries["phone"]).search(text):
        found.append("phone canary")
    if site and b.site_id in OPTION.sub("", text):
        found.append("site B's id")
    return found


@pytest.mark.parametrize(("backend", "case", "role", "record"), _params(_scope_applies))
def test_out_of_scope(table_env: Env, case: RouteCase, role: Role, record: str) -> None:
    """403 only from the role gate; 404 for a site-B record; nothing of site B in a list."""
    a = answer(table_env, case, role, record)
    assert case.action is not None
    if not MATRIX.allowed(role, case.action, same_site=True):
        assert a.status == 403, ("the role gate must refuse", _said(a))
        return
    personal = MATRIX.actions[case.action]
    if record not in ("other_site", NO_RECORD):
        # A record of the caller's own site: whatever the answer, nothing of site B's is
        # in it (an enquiry seeking a person at A and one at B shows the first only).
        if a.status < 400 and personal:
            assert _b_leaks(table_env, a) == [], _said(a)
        return
    names_record = bool(set(case.params) & RECORD_PARAMS)
    if record == "other_site" and names_record and personal:
        assert a.status == 404, ("a site-B record must be a 404", _said(a))
        return
    assert a.status != 403, ("403 is for the role gate only, not for a scope miss", _said(a))
    if a.status < 400 and personal:
        assert _b_leaks(table_env, a) == [], _said(a)
    if not personal:  # a site's own details are no personal data; its persons are
        assert _b_leaks(table_env, a, site=False) == [] or a.status >= 400, _said(a)


@functools.cache
def _phone(value: str) -> re.Pattern[str]:
    """A phone number however it is spaced or dashed."""
    digits = re.sub(r"\D", "", value)
    return re.compile(r"[\s\-]?".join(digits))


def _group_fields(kind: str) -> set[str]:
    rules = MATRIX.records[kind]
    return set().union(*(MATRIX.group_fields[g] for g in rules.groups))


@functools.cache
def _hidden(role: Role, kind: str) -> frozenset[str]:
    return frozenset(_group_fields(kind) - MATRIX.visible_fields(role, kind))


# A data-subject access request hands the person everything held on them (PROTECTION.md
# line 11), their medical details included, whatever the field groups of the officer
# who hands it over; relatives stay redacted. Its own test checks that
# (tests/api/test_protection.py, line 11).
FULL_RECORD_ROUTES = {"GET /api/persons/{person_id}/access-request"}


def test_every_canary_is_a_restricted_field() -> None:
    """Each field the world plants a canary in (tests/support/route_world.py: the
    person's text fields, the movement and manifest notes of ``EVENT_NOTES``, the notes
    of ``PERSON_NOTES`` a health or protection officer wrote) is one the
    matrix restricts on that kind of record, held by some role and hidden from another:
    a canary of a field no group names would never be looked for
    (``test_no_withheld_field`` checks the fields hidden from each role)."""
    fields = (*TEXT_FIELDS, *EVENT_NOTES, *PERSON_NOTES)
    planted = {(k, f) for k in ("person", "minor") for f in fields}
    planted -= {("person", f) for f in ("phone", "documents", "note", "origin_locality")}
    unchecked = sorted(
        (kind, f)
        for kind, f in planted
        if f not in _group_fields(kind) or not any(f in _hidden(r, kind) for r in ROLES)
    )
    assert unchecked == []


@pytest.mark.parametrize(("backend", "case", "role", "record"), _params())
def test_no_withheld_field(table_env: Env, case: RouteCase, role: Role, record: str) -> None:
    """No canary of a field the role may not see, on any record, in the body (text
    canaries anywhere, JSON or HTML; planted flags and answers by key in JSON)."""
    a = answer(table_env, case, role, record)
    if case.key in FULL_RECORD_ROUTES:
        # Only the person asked for: nothing of any other record may appear.
        others = [r for name, r in table_env.world.records.items() if name != record]
        leaks = [
            f"{rec.kind}.{f}"
            for rec in others
            for f, value in rec.text_canaries.items()
            if f in _hidden(role, rec.matrix_kind) and value in a.text
        ]
        assert leaks == [], _said(a)
        return
    leaks = []
    pairs = {(k, json.dumps(v)) for k, v in walk_json(a.data)} if a.data is not None else set()
    for rec in table_env.world.records.values():
        hidden = _hidden(role, rec.matrix_kind)
        for f, value in rec.text_canaries.items():
            if f not in hidden:
                continue
            present = _phone(value).search(a.text) if f == "phone" else value in a.text
            if present:
                leaks.append(f"{rec.kind}.{f}")
        planted = {(k, json.dumps(v)): f for f, (k, v) in rec.flags.items() if f in hidden}
        leaks += [f"{planted[p]} (of a {rec.matrix_kind})" for p in pairs & set(planted)]
    detention_hidden = {"detention_site", "detention_site_id"} & _hidden(role, "person")
    if "detention_site" in detention_hidden:
        leaks += [
            f"detention site {w}"
            for w, v in (("name", DETENTION_NAME), ("locality", DETENTION_LOCALITY))
            if v in a.text
        ]
    if (
        "detention_site_id" in detention_hidden
        and case.action is not None
        and MATRIX.actions[case.action]
        and table_env.world.sites["D"] in OPTION.sub("", a.text)
    ):
        leaks.append("detention site id (a person's location or movement)")
    assert sorted(set(leaks)) == [], _said(a)


def _persons_in(env: Env, a: Answer) -> set[str]:
    """The persons an answer shows: a person of the world whose id or registration number
    is in it, or a person the request audited whose id is in it (one it registered). The
    page's own address, which a page repeats (its language switch), does not count."""
    text = a.text.replace(a.url.split("?")[0], "")
    allowed = {e["person_id"] for e in a.events if e["person_id"]}
    before = _numbers_before(env)
    shown = {
        r.person_id
        for r in env.world.records.values()
        if r.person_id in text
        or r.ids["registration_number"] in text
        or any(n in text for n in before.get(r.person_id, ()))
    } | {pid for pid in allowed if pid in text}
    unseen = sorted(allowed - shown)
    if unseen:  # an audited person may be shown by name and number only
        with env.db.read() as conn:
            numbers = conn.execute(
                select(persons.c.id, persons.c.registration_number).where(persons.c.id.in_(unseen))
            ).all()
            shown |= {pid for pid, n in numbers if format_registration_number(n) in text}
    return shown


def _numbers_before(env: Env) -> dict[str, set[str]]:
    """The numbers the world's persons held before a renumbering case gave them new ones
    (an answer asked before it shows the number before): the world's, and those the
    database recorded (an erasure case gives a number too)."""
    with env.db.read() as conn:
        rows = conn.execute(select(renumbered.c.person_id, renumbered.c.previous_number)).all()
    found: dict[str, set[str]] = {pid: set(numbers) for pid, numbers in env.renumbered.items()}
    for pid, number in rows:
        found.setdefault(str(pid), set()).add(format_registration_number(number))
    return found


def _anonymised(env: Env, ids: set[str]) -> set[str]:
    """Of these persons, those erased (by an erasure case run before in this process):
    an anonymised record holds nothing personal, and the disposal log names it by id."""
    if not ids:
        return set()
    with env.db.read() as conn:
        return set(
            conn.execute(
                select(persons.c.id).where(
                    persons.c.id.in_(sorted(ids)), persons.c.anonymised_at.is_not(None)
                )
            ).scalars()
        )


def _offered_from_households(env: Env, ids: set[str]) -> set[str]:
    """Of these persons, those a confirmation offered as candidates from a household."""
    if not ids:
        return set()
    with env.db.read() as conn:
        return {
            str(p)
            for p in conn.execute(
                select(tracing_matches.c.person_id).where(
                    tracing_matches.c.person_id.in_(sorted(ids)),
                    tracing_matches.c.found_by == "household",
                )
            ).scalars()
        }


TWINS = {c.path.removesuffix(".json"): c for c in CASES if c.kind == "twin"}


@pytest.mark.parametrize(("backend", "case", "role", "record"), _params())
def test_one_audit_event_per_person(
    table_env: Env, case: RouteCase, role: Role, record: str
) -> None:
    """One audit event per person shown or refused. JSON answers and pages with a ``.json``
    twin (the same data) are checked exactly; a page without a twin (a form's answer)
    shows some persons by name only, so there every person it names by id or number must
    be audited once, and nobody twice."""
    a = answer(table_env, case, role, record)
    personal = case.action is not None and MATRIX.actions[case.action]
    allowed = Counter(
        e["person_id"] for e in a.events if e["outcome"] == "allowed" and e["person_id"]
    )
    denied = [e for e in a.events if e["outcome"] == "denied"]
    if personal and a.status in (403, 404):
        assert allowed == Counter(), ("a refusal audited as allowed", a.events, _said(a))
        if "person_id" in case.params:
            # The person of the path (of the record's state offering the route, if any).
            named = table_env.world.record("adult" if record == NO_RECORD else record)
            pid = named.ids_for(case.key)["person_id"]
            got = Counter(e["person_id"] for e in denied)
            assert got == Counter({pid: 1}), ("one denial for the person refused", got, _said(a))
        else:
            assert denied, ("a refusal leaves no denial event", _said(a))
        return
    if a.status in (401, 403, 404, 429):
        assert allowed == Counter(), ("a refusal audited as allowed", a.events, _said(a))
        return
    shown = _persons_in(table_env, a) if a.status < 300 or a.status >= 400 else set()
    twin = TWINS.get(case.path) if case.kind == "page" else None
    exact = a.data is not None or twin is not None
    if twin is not None:
        shown |= _persons_in(table_env, answer(table_env, twin, role, record))
    problems = {
        "shown, not audited": sorted(set(shown) - set(allowed) - _anonymised(table_env, shown)),
        "audited twice": sorted(p for p, n in allowed.items() if n > 1),
    }
    if exact:
        # A write on the person its path names (taking them off a manifest) is audited
        # on them though its answer (the manifest) no longer shows them.
        written = set()
        if not case.reads and "person_id" in case.params:
            named = table_env.world.record("adult" if record == NO_RECORD else record)
            written.add(named.ids_for(case.key)["person_id"])
        if not case.reads and case.audits == "tracing.write":
            # A confirmation offers the confirmed person's household for the enquiry's
            # other persons sought (docs/tracing.md): written on, shown on their cases.
            written |= _offered_from_households(table_env, set(allowed) - set(shown))
        problems["audited, not shown"] = sorted(set(allowed) - set(shown) - written)
    assert not any(problems.values()), ("one event per person shown", problems, _said(a))


# -- safe retries: every write takes an idempotency key (issue 12) ------------------------


def _takes_key(dependant: Any) -> bool:
    return any(d.call is retry_of or _takes_key(d) for d in dependant.dependencies)


def test_every_api_write_takes_an_idempotency_key() -> None:
    """Generated from the route table: every POST/PUT/PATCH/DELETE under /api lists the
    ``Idempotency-Key`` header in its OpenAPI operation, but for the few in ``NO_KEY``
    (each with its reason). Fails for a new write route without ``retry: Retried``."""
    paths = APP.openapi()["paths"]
    writes = [c for c in CASES if c.kind == "api" and not c.reads]
    assert len(writes) > 30
    lacking = []
    for case in writes:
        if case.key in NO_KEY:
            continue
        operation = paths[case.path][case.method.lower()]
        # Header names are case-insensitive (RFC 9110): FastAPI names it idempotency-key.
        headers = {
            p["name"].lower() for p in operation.get("parameters", []) if p["in"] == "header"
        }
        if "idempotency-key" not in headers:
            lacking.append(case.key)
    assert lacking == []


def test_every_page_form_handler_takes_a_key() -> None:
    routes = {f"{m} {r.path}": r for r in all_routes(APP) for m in (r.methods or ())}
    forms = [c for c in CASES if c.kind == "form"]
    lacking = [
        c.key for c in forms if c.key not in NO_KEY and not _takes_key(routes[c.key].dependant)
    ]
    assert lacking == []


def test_no_key_lists_only_routes_that_exist() -> None:
    keys = {c.key for c in CASES}
    assert sorted(set(NO_KEY) - keys) == []


class _Forms(html.parser.HTMLParser):
    """The POST forms of a page: (action, names of its hidden inputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, set[str]]] = []
        self._open: tuple[str, set[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self._open = (a.get("action") or "", set())
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and a.get("type") == "hidden":
            self._open[1].add(a.get("name") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def _form_route(action: str) -> str | None:
    """The route key ("POST /path/{id}") a form's action reaches."""
    path = action.split("?", 1)[0]
    for case in CASES:
        if case.kind == "form" and re.fullmatch(re.sub(r"{\w+}", "[^/]+", case.path), path):
            return case.key
    return None


@pytest.mark.parametrize(
    ("backend", "case", "role", "record"), _params(lambda c, _r, _rec: c.kind == "page")
)
def test_every_writing_form_carries_a_key(
    table_env: Env, case: RouteCase, role: Role, record: str
) -> None:
    """Every POST form on every page, as every role sees it, carries a hidden
    ``idempotency_key`` (made when the page is rendered), but the reads and the login
    forms named in ``NO_KEY``: a new form without one fails here."""
    a = answer(table_env, case, role, record)
    if a.status != 200 or "<form" not in a.text:
        return
    parser = _Forms()
    parser.feed(a.text)
    lacking = []
    for action, hidden in parser.forms:
        route = _form_route(action)
        assert route is not None, f"{a.url}: a form posts to {action!r}, which is no route"
        if route not in NO_KEY and KEY_FIELD not in hidden:
            lacking.append(action)
    assert lacking == [], f"{a.url}: forms without a key"
