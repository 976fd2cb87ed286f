"""Safe retries over every write of the route table: nothing a user registered is ever
lost or doubled, not by a retry nor by a double tap (docs/api.md, "Safe retries").

Generated from the route table (tests/support/route_table.py) on the world of every kind
of record (tests/support/route_world.py), once per backend. Every write of the table
that takes a key (every API write and page form but those in ``NO_KEY``) is sent by
every role its gate lets in, by an officer of site A, on each of site A's records, in
the table's order (the writes that change most last), as
tests/api/test_route_table_protection.py sends them on its world of writes:

1. with a fresh key, then again with the same key and the same body: the same status
   and body come back (a page's form: the same redirect, or the same page less the
   fresh key of its forms; an import: less what only its first answer gives,
   ``FIRST_ONLY``), marked ``Idempotent-Replayed``, and no row of any table is
   inserted, updated or deleted but the bookkeeping's (``BOOKKEEPING``; triggers count
   the rows written per table, ``count_writes``): no second row, no second change in
   the journal of the other nodes, no second tracing proposal; the audit trail gains
   no event of the write (a replay reads its records again through the gate: reads);
2. then with the same key and another body (``other_body``): 409 naming the key (a page
   form: a 4xx page) and nothing written;
3. each create of the table (its first role and record that made a record) is made
   once more, tapped twice at once with one key from two apps on two connection pools
   (two server processes): one answer for both, and exactly the rows (of what a user
   registers, ``REGISTERED``) and write events the create's first send added.

A write refused the first time (a 4xx: the table's bodies ask for some refusals, such
as a merge of a person with themselves) stores no key; sent again it is refused the
same way, with the same audit events, and writes nothing. And no read of the table that
names no record journals a change for the other nodes.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from corridor.security.roles import Role, default_matrix
from corridor.security.tables import audit_events
from corridor.security.tokens import ApiTokens
from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.metadata import metadata
from corridor.web import create_app
from corridor.web.csrf import CSRF_COOKIE, HEADER, token_for
from corridor.web.retries import KEY_FIELD, REPLAYED_HEADER
from tests.conftest import MASTER_KEY, Clock, world_database
from tests.support.races import together
from tests.support.route_table import NO_KEY, RouteCase, fill, route_cases
from tests.support.route_world import RECORDS, World, build_world, token_client

MATRIX = default_matrix()
APP = create_app(Settings(database_url="sqlite://", master_key=MASTER_KEY))
CASES = [c for c in route_cases(APP) if not c.missing]
ROLES = list(Role)
WORLD_TIME = datetime(2019, 3, 10, 8, 0, tzinfo=UTC)
NO_RECORD = "-"  # a write naming no record: sent once per role
# Site A's records (the callers work at A; a write on site B's record is a 404 that
# stores no key). PostgreSQL, where each request costs more, writes on a thinner set:
# a child, and the detained husband (whose manifest is his truck to the facility).
A_RECORDS = {
    "sqlite": tuple(r for r in RECORDS if r != "other_site"),
    "postgresql": ("child", "detained"),
}
# Tables a replay may change, and why: each records that a request was made, not what
# the write did.
BOOKKEEPING = frozenset(
    {
        # Who did what: a replay's answer re-reads the write's records through the gate,
        # and each read is audited (checked apart: no event of the write itself).
        "audit_events",
        # Person look-ups counted against the anti-enumeration limit (PROTECTION.md
        # line 14): the replay's re-read is a look-up like any other, and its alert.
        "rate_events",
        "alerts",
        # The caller's API token and session: last used now.
        "api_tokens",
        "sessions",
    }
)
# A form's fields that every rendering makes anew.
FRESH = re.compile(r'name="(?:idempotency_key|csrf_token)" value="[^"]*"')


def _reads(case: RouteCase) -> bool:
    return case.reads or NO_KEY.get(case.key, "").startswith("a read")


def _keyed_writes() -> list[RouteCase]:
    return [c for c in CASES if not _reads(c) and c.key not in NO_KEY]


def _allowed(role: Role, case: RouteCase) -> bool:
    return case.action is None or MATRIX.allowed(role, case.action, same_site=True)


Key = tuple[str, Role, str]  # (route, role, record)


def _steps(backend: str) -> Iterator[tuple[RouteCase, Role, str]]:
    """Every keyed write, by every role its gate lets in, on each of site A's records, in
    the table's order."""
    for case in _keyed_writes():
        for role in ROLES:
            if _allowed(role, case):
                for record in A_RECORDS[backend] if case.per_record else (NO_RECORD,):
                    yield case, role, record


@dataclass
class Answer:
    status: int
    text: str
    location: str | None
    replayed: bool


@dataclass
class Sent:
    """One write of the table, sent with a key, sent again, then with another body."""

    first: Answer
    again: Answer | None = None
    other: Answer | None = None
    rows_first: dict[str, int] = field(default_factory=dict)  # rows the first added
    events_first: list[str] = field(default_factory=list)  # its audit events
    changed_again: list[str] = field(default_factory=list)  # tables the replay changed
    events_again: list[str] = field(default_factory=list)
    changed_other: list[str] = field(default_factory=list)
    events_other: list[str] = field(default_factory=list)


@dataclass
class Race:
    """A create sent twice at once with one key, then once with a new key."""

    answers: list[Answer]
    rows: dict[str, int]  # rows the pair added, per table
    events: list[str]  # the pair's audit events


@dataclass
class Replays:
    backend: str
    db: Database
    world: World
    clients: dict[Role, TestClient]
    twins: dict[Role, TestClient]  # the same callers on a second app and pool
    users: dict[Role, str]
    spare_token: str
    sent: dict[Key, Sent] = field(default_factory=dict)
    races: dict[Key, Race] = field(default_factory=dict)
    journaled_by_reads: list[str] = field(default_factory=list)


_KEYS = itertools.count(1)


def _fresh_key() -> str:
    return f"replay-{next(_KEYS)}-{secrets.token_hex(4)}"


def send(
    client: TestClient, case: RouteCase, url: str, body: Any, key: str, query: Any = None
) -> Answer:
    """``case`` sent with ``key`` (the header of an API write, the hidden field of a form)."""
    try:
        if case.kind == "form":
            r = client.request(case.method, url, data={**(body or {}), KEY_FIELD: key})
        else:
            headers = {"Idempotency-Key": key}
            if isinstance(body, dict) and "files" in body:
                files = {k: (n, c.encode()) for k, (n, c) in body["files"].items()}
                params = {**body["params"], **(query or {})}
                r = client.request(case.method, url, files=files, params=params, headers=headers)
            else:
                r = client.request(case.method, url, json=body, params=query, headers=headers)
        status, text = r.status_code, r.text
        location = r.headers.get("location")
        replayed = r.headers.get(REPLAYED_HEADER) == "true"
    except Exception:  # the app raised: a 500 for the caller
        status, text, location, replayed = 500, traceback.format_exc(), None, False
    return Answer(status, text, location, replayed)


def _ids(env: Replays, role: Role, record: str, key: str) -> dict[str, str]:
    """The record's ids for the route ``key``: of the record's state that offers it where
    it has one (``Record.ids_for``: a match left proposed to reject, a draft of its own to
    dispatch, a person on a draft to take off), else a replay of the write is never seen
    done."""
    rec = env.world.record("adult" if record == NO_RECORD else record)
    # A second person of the caller's site (a link's other end): the adult, or for the
    # adult her child.
    other = env.world.record("child" if rec.kind == "adult" else "adult")
    return {
        **rec.ids_for(key),
        "own_person_id": other.person_id,
        "own_registration_number": other.ids["registration_number"],
        "hospital_id": env.world.sites["H"],
        "user_id": env.users[role],
        "token_id": env.spare_token,
    }


# Bodies that get the write done where the route table's asks for a refusal (a body
# checked for what a refusal protects: a person linked or "not the same" as themselves,
# a truck or a hospital admission to the site it is at). A refusal stores no key, so
# its replay is no replay of a write.
DONE_BODIES: dict[str, Any] = {
    "POST /api/persons/{person_id}/not-duplicate": {"other_person_id": "{own_person_id}"},
    "POST /persons/{person_id}/not-duplicate": {"other_person_id": "{own_person_id}"},
    "POST /persons/{person_id}/links": {
        "registration_number": "{own_registration_number}",
        "link_kind": "cousin",
    },
    "POST /api/manifests": {
        "vehicle": "truck",
        "from_site_id": "{site_id}",
        "to_site_id": "{hospital_id}",
    },
    "POST /manifests": {
        "vehicle": "truck 9",
        "from_site_id": "{site_id}",
        "to_site_id": "{hospital_id}",
    },
    "POST /api/persons/{person_id}/events": {"kind": "hospitalised", "to_site_id": "{hospital_id}"},
    # The table's import is a dry run (a read: it stores no key); this one writes.
    "POST /api/imports/{fmt}": {
        "files": {
            "file": (
                "people.csv",
                "record_id,given_name,family_name\nr1,{given_name},{family_name}\n",
            )
        },
        "params": {"site_id": "{site_id}"},
    },
    "POST /persons/{person_id}/events": {"kind": "hospitalised", "to_site_id": "{hospital_id}"},
}


def _url_body(env: Replays, case: RouteCase, role: Role, record: str) -> tuple[str, Any]:
    ids = {**_ids(env, role, record, case.key), "fmt": case.fmt or ""}
    return fill(case.path, ids), fill(DONE_BODIES.get(case.key, case.body), ids)


# Free-text fields whose value another body changes (a valid body still: the schemas
# refuse unknown fields, so another body cannot just add one).
FREE_TEXT = ("reason", "note", "name", "vehicle", "display_name", "medical_note", "given_name")


def other_body(case: RouteCase, body: Any) -> tuple[Any, Any]:
    """Another body for ``case`` (and a query, where the body cannot change): a free-text
    field changed, a form given one more field, a file given one more row, an empty
    body given an empty JSON object."""
    if case.kind == "form":
        return {**(body or {}), "replay_probe": "another body"}, None
    if body is None:
        return {}, None
    if isinstance(body, dict) and "files" in body:
        files = {k: (n, c + "r2,Other,Person\n") for k, (n, c) in body["files"].items()}
        return {**body, "files": files}, None
    if isinstance(body, dict):
        for name in FREE_TEXT:
            if isinstance(body.get(name), str):
                return {**body, name: body[name] + " (another)"}, None
        for name, value in body.items():  # one level down: an enquiry's enquirer
            if isinstance(value, dict):
                for inner in FREE_TEXT:
                    if isinstance(value.get(inner), str):
                        changed = {**value, inner: value[inner] + " (another)"}
                        return {**body, name: changed}, None
        if isinstance(body.get("capacity"), int):
            return {**body, "capacity": body["capacity"] + 1}, None
    # No field to change without making the body invalid: the query is part of the
    # request the key was used for (corridor/web/retries.py hashes it with the body).
    return body, {"replay_probe": "another request"}


COUNTS = "replay_write_counts"


def count_writes(db: Database) -> None:
    """Triggers on every table but the bookkeeping's that count each row inserted,
    updated or deleted, per table, in ``COUNTS`` (in the world's own database): whether
    a request wrote, and how many rows it added, is then one read of that table, not a
    digest of every row (which was most of this module's time)."""
    tables = [t for t in sorted(metadata.tables) if t not in BOOKKEEPING]
    with db.transaction() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {COUNTS} (tbl VARCHAR(64), op VARCHAR(8), n INTEGER NOT NULL,"
            " PRIMARY KEY (tbl, op))"
        )
        if db.is_sqlite:
            for t in tables:
                for op in ("INSERT", "UPDATE", "DELETE"):
                    conn.exec_driver_sql(
                        f"CREATE TRIGGER replay_{t}_{op.lower()} AFTER {op} ON {t} BEGIN"
                        f" INSERT INTO {COUNTS} VALUES ('{t}', '{op}', 1)"
                        " ON CONFLICT (tbl, op) DO UPDATE SET n = n + 1; END"
                    )
            return
        conn.exec_driver_sql(
            "CREATE FUNCTION replay_count() RETURNS trigger AS $$ BEGIN"
            f" INSERT INTO {COUNTS} VALUES (TG_TABLE_NAME, TG_OP, 1)"
            f" ON CONFLICT (tbl, op) DO UPDATE SET n = {COUNTS}.n + 1; RETURN NULL; END"
            " $$ LANGUAGE plpgsql"
        )
        for t in tables:
            conn.exec_driver_sql(
                f"CREATE TRIGGER replay_count AFTER INSERT OR UPDATE OR DELETE ON {t}"
                " FOR EACH ROW EXECUTE FUNCTION replay_count()"
            )


Writes = dict[tuple[str, str], int]  # (table, operation) -> rows written so far


def writes(db: Database) -> Writes:
    with db.read() as conn:
        rows = conn.exec_driver_sql(f"SELECT tbl, op, n FROM {COUNTS}").all()
    return {(str(t), str(op)): int(n) for t, op, n in rows}


def _changed(before: Writes, after: Writes) -> list[str]:
    """The tables written to between the two counts."""
    return sorted({t for (t, op), n in after.items() if before.get((t, op), 0) != n})


def _delta(before: Writes, after: Writes) -> dict[str, int]:
    """Rows added (inserted less deleted) per table between the two counts."""
    out: dict[str, int] = {}
    for (t, op), n in after.items():
        if op in ("INSERT", "DELETE"):
            sign = 1 if op == "INSERT" else -1
            out[t] = out.get(t, 0) + sign * (n - before.get((t, op), 0))
    return {t: n for t, n in out.items() if n}


def _last_seq(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.coalesce(func.max(audit_events.c.seq), 0))).scalar())


# Actions a replay's answer may be audited under: reading the records it names again.
READ_ACTIONS = frozenset(a for a in MATRIX.actions if a.endswith((".read", ".search")))


def _events(db: Database, since: int, until: int | None = None) -> list[str]:
    """The audit events after ``since`` (up to ``until``): action, outcome, person."""
    with db.read() as conn:
        query = select(audit_events.c.action, audit_events.c.outcome, audit_events.c.person_id)
        query = query.where(audit_events.c.seq > since).order_by(audit_events.c.seq)
        if until is not None:
            query = query.where(audit_events.c.seq <= until)
        return [f"{action} {outcome} {person}" for action, outcome, person in conn.execute(query)]


def _of_writes(events: list[str]) -> list[str]:
    """The events that are neither reads nor denials: those of a write done."""
    return [e for e in events if e.split()[0] not in READ_ACTIONS and e.split()[1] != "denied"]


def _done(a: Answer) -> bool:
    """A write done (stored under its key): 2xx, or a page's redirect to its result."""
    return a.status < 400


def step(env: Replays, case: RouteCase, role: Role, record: str) -> Sent:
    url, body = _url_body(env, case, role, record)
    client, key = env.clients[role], _fresh_key()
    start, seq = writes(env.db), _last_seq(env.db)
    sent = Sent(send(client, case, url, body, key))
    before, seq_again = writes(env.db), _last_seq(env.db)
    sent.rows_first = _delta(start, before)
    sent.events_first = _events(env.db, seq, seq_again)
    sent.again = send(client, case, url, body, key)
    after = writes(env.db)
    sent.changed_again = _changed(before, after)
    sent.events_again = _events(env.db, seq_again)
    if _done(sent.first):  # a refused write stored no key: another body is a new write
        seq = _last_seq(env.db)
        changed, query = other_body(case, body)
        sent.other = send(client, case, url, changed, key, query)
        sent.changed_other = _changed(after, writes(env.db))
        sent.events_other = _events(env.db, seq)
    return sent


def _creates(case: RouteCase, first: Answer) -> bool:
    """A write that made a new record (an API 201, a page form's redirect to the page of
    what it made): sent again under a new key, it makes another one."""
    if case.kind == "form":
        return first.status == 303 and case.path.count("/") == 1 and bool(first.location)
    return first.status == 201


def race(env: Replays, case: RouteCase, role: Role, record: str) -> Race:
    """The create ``case`` made once more (another body: a name is unique), tapped twice
    at once with one key, from two apps."""
    url, body = _url_body(env, case, role, record)
    body, query = other_body(case, body)
    key = _fresh_key()
    start, seq = writes(env.db), _last_seq(env.db)
    answers = together(
        lambda: send(env.clients[role], case, url, body, key, query),
        lambda: send(env.twins[role], case, url, body, key, query),
    )
    return Race(answers, _delta(start, writes(env.db)), _events(env.db, seq))


ENVS: dict[str, Replays] = {}


def _client(db: Database, clock: Clock, role: Role, site: str) -> tuple[TestClient, str]:
    client, user = token_client(db, clock, f"rp-{role.value}", (role,), [site])
    browser = secrets.token_urlsafe(16)  # a browser secret for the page forms
    client.cookies.set(CSRF_COOKIE, browser)
    client.headers[HEADER] = token_for(browser, None)
    return client, user


def _twin(db: Database, clock: Clock, client: TestClient) -> TestClient:
    """The caller of ``client`` on a second app, with its own connection pool."""
    other = Database(db.url.render_as_string(hide_password=False))
    settings = Settings(database_url=str(db.url), master_key=MASTER_KEY, tracing_checks="inline")
    app = create_app(settings, database=other, clock=clock)
    twin = TestClient(app, base_url="https://testserver", follow_redirects=False)
    twin.headers.update(client.headers)
    twin.cookies = client.cookies
    return twin


def _env(request: pytest.FixtureRequest, backend: str) -> Replays:
    """The world of ``backend``, every keyed write of the table sent on it (built once
    per module)."""
    if backend in ENVS:
        return ENVS[backend]
    # A database of its own on PostgreSQL: the counting triggers stay with it.
    db = world_database(request, backend, "replays", own=True)
    clock = Clock(WORLD_TIME)
    world = build_world(db, clock)
    count_writes(db)
    clients, twins, users = {}, {}, {}
    for role in ROLES:
        clients[role], users[role] = _client(db, clock, role, world.sites["A"])
        twins[role] = _twin(db, clock, clients[role])
    with db.transaction() as conn:
        spare = ApiTokens(clock).issue(conn, users[Role.COORDINATOR], "spare", ["figures.read"])
    env = Replays(backend, db, world, clients, twins, users, spare.id)
    env.journaled_by_reads = reads_journal(env)
    raced: set[str] = set()
    for case, role, record in _steps(backend):
        sent = step(env, case, role, record)
        env.sent[case.key, role, record] = sent
        # Each create once (its first role and record), twice at once, once more.
        if case.key not in raced and _creates(case, sent.first):
            raced.add(case.key)
            env.races[case.key, role, record] = race(env, case, role, record)
    ENVS[backend] = env
    return env


@pytest.fixture(scope="module", autouse=True)
def _close_worlds() -> Iterator[None]:
    yield
    for env in ENVS.values():
        for client in (*env.clients.values(), *env.twins.values()):
            client.close()
        for twin in env.twins.values():
            twin.app.state.services.db.dispose()  # type: ignore[attr-defined]
        env.db.dispose()
    ENVS.clear()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)], scope="module"
)
def env(request: pytest.FixtureRequest) -> Replays:
    return _env(request, request.param)


def _said(key: Key, a: Answer | None) -> str:
    route, role, record = key
    if a is None:
        return f"{route} | {role.value} {record}: not sent"
    text = a.text[-300:] if a.status >= 500 else a.text[:200]
    return f"{route} | {role.value} {record}: {a.status} {text!r}"


# What a replay gives from the first answer only, by design (docs/api.md, "Safe
# retries": the key's row holds ids and counts, never a field value): an import's
# problems and suspected duplicates, which may quote the file's values.
FIRST_ONLY = {"POST /api/imports/{fmt}": ("problems", "suspected_duplicates")}


def _normal(a: Answer, route: str = "") -> tuple[int, str | None, Any]:
    """An answer as compared with its replay: status, redirect, body less the fresh
    values of a page's forms (and less what only the first answer gives)."""
    first_only = FIRST_ONLY.get(route)
    if first_only and a.status < 400:
        data = json.loads(a.text)
        return a.status, a.location, {k: v for k, v in data.items() if k not in first_only}
    return a.status, a.location, FRESH.sub("", a.text)


# -- the checks ------------------------------------------------------------------------


def test_every_keyed_write_is_replayed() -> None:
    """The table holds API writes and page forms that take a key; every one of them is
    sent by some role (a write no role may call would escape this test)."""
    writes = _keyed_writes()
    assert {c.kind for c in writes} == {"api", "form"}
    assert len(writes) > 60, len(writes)
    assert not [c.key for c in writes if not any(_allowed(r, c) for r in ROLES)]


def test_some_writes_are_done(env: Replays) -> None:
    """The sweep is no sweep of refusals: most writes of the table are done the first
    time (and so stored under their key), on every kind of route."""
    done = {k[0] for k, s in env.sent.items() if _done(s.first)}
    assert len(done) >= 0.5 * len({k[0] for k in env.sent}), sorted(done)
    assert env.races, "no create was raced"


def test_no_5xx(env: Replays) -> None:
    bad = [
        _said(k, a)
        for k, s in env.sent.items()
        for a in (s.first, s.again, s.other)
        if a is not None and a.status >= 500
    ]
    assert not bad, "\n".join(bad)


def test_a_replay_answers_as_the_first(env: Replays) -> None:
    """Sent again with the same key and body, a write answers what it answered first:
    the same status and body (a page: the same redirect, or the same page), marked
    ``Idempotent-Replayed`` where it was done (API)."""
    bad = []
    for key, s in env.sent.items():
        assert s.again is not None
        if _normal(s.again, key[0]) != _normal(s.first, key[0]):
            bad.append(f"{_said(key, s.first)}\n    again: {s.again.status} {s.again.text[:200]!r}")
        api = " /api/" in key[0]
        if api and _done(s.first) and not s.again.replayed:
            bad.append(f"{_said(key, s.again)}: not marked {REPLAYED_HEADER}")
    assert not bad, "\n".join(bad)


def test_a_replay_writes_nothing(env: Replays) -> None:
    """Sent again with the same key and body, a write changes no row of any table but
    the bookkeeping's (no second row, no second sync change, no second tracing
    proposal), and its audit trail gains reads at most: no second event of the write."""
    bad = []
    for key, s in env.sent.items():
        if s.changed_again:
            bad.append(f"{_said(key, s.first)}: the replay changed {s.changed_again}")
        if _done(s.first) and _of_writes(s.events_again):
            bad.append(f"{_said(key, s.first)}: the replay audited {_of_writes(s.events_again)}")
        elif not _done(s.first) and s.events_again != s.events_first:
            # Refused again, the same way: the same denials and persons named.
            bad.append(f"{_said(key, s.first)}: audited {s.events_again}, not {s.events_first}")
    assert not bad, "\n".join(bad)


def test_the_key_with_another_body_is_refused(env: Replays) -> None:
    """The key of a write done, sent with another body: 409 naming the key (a page form:
    a 4xx page), and nothing written."""
    bad = []
    for key, s in env.sent.items():
        if s.other is None:
            continue
        api = " /api/" in key[0]
        if (api and s.other.status != 409) or not 400 <= s.other.status < 500:
            bad.append(f"{_said(key, s.other)}: not refused as another request")
        elif api and '"Idempotency-Key"' not in s.other.text:
            bad.append(f"{_said(key, s.other)}: does not name the key")
        if s.changed_other:
            bad.append(f"{_said(key, s.first)}: another body changed {s.changed_other}")
        # (A page form's refusal renders its page again, whose reads are audited under
        # the form's action, as the duplicates queue's: the tables say what was written.)
        if " /api/" in key[0] and _of_writes(s.events_other):
            bad.append(f"{_said(key, s.first)}: another body audited {_of_writes(s.events_other)}")
    assert not bad, "\n".join(bad)


# What a user registered, the change journal of the other nodes, and the key's row: a
# create tapped twice at once adds to these exactly what it added the first time. (Rows
# derived from the rest of the registry, such as duplicate pairs, tracing proposals and
# the matching index's counts, may differ: the race's record meets the first one's.)
REGISTERED = (
    "persons", "households", "movements", "person_documents", "relationships",
    "manifests", "manifest_items", "manifest_discrepancies", "person_merges",
    "tracing_enquiries", "tracing_cases", "tracing_case_events", "export_requests",
    "imported_records", "sites", "users", "user_roles", "user_sites", "sync_changes",
    "idempotency_keys",
)  # fmt: skip


def test_a_create_tapped_twice_at_once_is_made_once(env: Replays) -> None:
    """Each create of the table (its first role and record that made a record), made
    once more and tapped twice at once with one key from two apps (two connection
    pools): one answer for both, done; the rows of what a user registers and the audit
    events of the write, exactly as many as the create's first send added."""
    bad, done = [], 0
    for key, r in env.races.items():
        first = env.sent[key]
        a, b = r.answers
        if a is None or b is None or _normal(a) != _normal(b):
            bad.append(f"{_said(key, a)}\n    and {_said(key, b)}")
            continue
        done += a.status < 400
        # (A create that cannot be made twice, refused alike for both: a link recorded
        # already, a user name taken, must still write nothing.)
        rows = {t: n for t, n in r.rows.items() if t in REGISTERED}
        once = {t: n for t, n in first.rows_first.items() if t in REGISTERED}
        audited = len(_of_writes(first.events_first))
        if a.status >= 400:
            once, audited = {}, len(_of_writes(r.events))  # a refusal's named persons
        if rows != once or len(_of_writes(r.events)) != audited:
            said = f"{key[0]} | {key[1].value} {key[2]}"
            bad.append(f"{said}: {rows} {_of_writes(r.events)}; once: {once}")
    assert not bad, "\n".join(bad)
    assert done >= 0.6 * len(env.races), (done, sorted(k[0] for k in env.races))


# The change journal of the other nodes (docs/sync.md): a read adds nothing to it.
JOURNAL = ("sync_changes", "sync_heads", "sync_nodes")


def test_no_read_journals_a_change(env: Replays) -> None:
    """Every read of the table that names no record (a list, a queue, a page), asked by
    the first role its gate lets in, before the writes (with a pair in the duplicates
    queue): no change goes to the other nodes (the duplicates queue, read under
    ``person.merge``, journaled one change per person it showed)."""
    assert not env.journaled_by_reads, "\n".join(env.journaled_by_reads)


def reads_journal(env: Replays) -> list[str]:
    """``test_no_read_journals_a_change``'s reads, and what they journaled."""
    # Two registrations of one man: a pair in the duplicates queue.
    man = {
        "site_id": env.world.sites["A"], "consent": {"tracing": True, "share_with": []},
        "purpose": "registration", "legal_basis": "vital_interest", "given_name": "Jassim",
        "father_name": "Ali", "family_name": "Douri", "sex": "m", "birth_date": "1980-03-02",
    }  # fmt: skip
    for _ in range(2):
        r = env.clients[Role.REGISTRAR].post("/api/persons", json=man)
        assert r.status_code == 201, r.text
    queue = env.clients[Role.PROTECTION_OFFICER].get("/api/duplicates")
    assert queue.status_code == 200 and queue.json(), queue.text
    bad = []
    for case in CASES:
        if not case.reads or case.per_record:
            continue
        role = next((r for r in ROLES if _allowed(r, case)), None)
        if role is None:
            continue
        before = writes(env.db)
        r = env.clients[role].get(fill(case.path, {"fmt": case.fmt or ""}))
        changed = [t for t in _changed(before, writes(env.db)) if t in JOURNAL]
        if changed:
            bad.append(f"{case.key} | {role.value}: {r.status_code}, changed {changed}")
    return bad



# -- the command line: a command run twice --------------------------------------------

# Commands whose every run writes anew by design, and why (what a second run adds).
RUN_AGAIN_WRITES = {
    # Each run is a new request for an export, with its reason, which names nobody and
    # releases nothing until a second person approves it (docs/security.md).
    **{f"export {f}": "a new export request" for f in ("csv", "jsonl", "pfif", "xlsx")},
    **{f"export fetch {f}": "a new export request" for f in ("csv", "jsonl", "pfif", "xlsx")},
    "person renumber": "a new registration number each run: the command's purpose",
    # docs/formats.md: "A row with no id at all cannot be recognised again: importing it
    # twice registers it twice" (the table's CSV and XLSX files carry no record id; its
    # Kobo/ODK and PFIF files do, and a second run of them writes nothing).
    "import csv": "rows without a record id",
    "import xlsx": "rows without a record id",
}


def _commands() -> list[str]:
    """Every command of the command table that it runs (``args``) on the world, once per
    format, but an operator's tools (a backup, a migration) and benchmarks."""
    from tests.support.cli_table import COMMANDS

    return [
        case
        for name, command in COMMANDS.items()
        if command.args and command.kind in ("reads", "writes", "none")
        for case in ([f"{name} {f}" for f in command.formats] or [name])
    ]


def test_a_command_run_again_writes_nothing_more(
    request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    """Every command of the command table (tests/support/cli_table.py) run twice on the
    world, as an operator does after a lost answer or a crash (an import without
    ``--dry-run``): the second run adds no row to any table but the bookkeeping's
    (``RUN_AGAIN_WRITES``: those that write anew by design). A legal hold placed again
    journaled a second change of the person for the other nodes."""
    from click.testing import CliRunner

    from corridor.cli import main
    from tests.cli import test_command_table_protection as table

    db = world_database(request, "sqlite", "replay-cli")
    world = build_world(db, Clock(datetime.now(UTC).replace(microsecond=0)))
    count_writes(db)
    adult = world.record("adult")
    files = table._import_files(tmp_path, world.sites["A"], *adult.names, "1971")
    numbers = {r.person_id: r.ids["registration_number"] for r in world.records.values()}
    env = table.Env(db, str(db.url), world, tmp_path, numbers, files)
    bad = []
    try:
        for name in _commands():
            line = tuple(a for a in table._command(name)[1] if a != "--dry-run")
            added = []
            for i in range(2):
                out = tmp_path / f"{name.replace(' ', '-')}-{i}"
                out.mkdir()
                args = table._fill(env, line, out, "")
                before = writes(db)
                r = CliRunner().invoke(main, args, env={"CORRIDOR_MASTER_KEY": MASTER_KEY})
                assert r.exit_code == 0, (name, i, r.output[-500:])
                added.append(_delta(before, writes(db)))
            if added[1] and name not in RUN_AGAIN_WRITES:
                bad.append(f"{name}: run again, added {added[1]} (first: {added[0]})")
    finally:
        db.dispose()
    assert not bad, "\n".join(bad)
    assert set(RUN_AGAIN_WRITES) <= set(_commands())
