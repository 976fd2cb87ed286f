"""PROTECTION.md line 7, the evacuation drill over every route, generated from the route
table (tests/support/route_table.py) and the world of every kind of record
(tests/support/route_world.py).

One world per backend: every read of the table (a GET, a search) is asked by every role
that may call it, by an officer of site A about each record of A and by an officer of
site B about B's, then site A's keys are destroyed (``services.keys.destroy_site``, as
``corridor keys destroy --site A`` does) and every read is asked again. Then:

- ``no_5xx``: no read, write or command answers a server error after the drill;
- ``site_b_unchanged``: site B's officers read exactly what they read before;
- ``site_a_unreadable``: what site A's officers read shows no sealed value of A (no
  canary), no ciphertext, nothing of site B; where a field was shown before and cannot be
  read now, the answer says so (``unreadable``), not a bare ``null`` that reads as "not
  recorded";
- ``writes``: every write of the table on site A's records is either done (under a new
  key: what it sealed reads back) or refused with an error in the one shape, writing
  nothing (every table but the audit trail as before);
- a person registered at A after the drill gets a new key and reads back whole;
- the command line's commands keep working.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from corridor.security.roles import Role, default_matrix
from corridor.security.tables import site_keys
from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.metadata import metadata
from corridor.web import create_app
from corridor.web.csrf import CSRF_COOKIE, HEADER, token_for
from tests.conftest import ALL_ROLES, MASTER_KEY, Clock, world_database
from tests.support.route_table import NO_KEY, RouteCase, fill, route_cases, send
from tests.support.route_world import EVENT_NOTES, PERSON_NOTES, RECORDS, World, build_world

MATRIX = default_matrix()
APP = create_app(Settings(database_url="sqlite://", master_key=MASTER_KEY))
CASES = [c for c in route_cases(APP) if not c.missing]
ROLES = list(Role)
WORLD_TIME = datetime(2019, 3, 10, 8, 0, tzinfo=UTC)
NO_RECORD = "-"  # a route naming no record: asked once per role and site
BACKENDS = ("sqlite", "postgresql")
# Site A's records read before and after the drill (every kind that carries a sealed
# field of its own: the medical details, a detention's and a hospital's event notes, a
# child's), and those its writes are asked on; PostgreSQL asks a thinner set.
A_READS = {
    "sqlite": ("adult", "child", "unaccompanied_child", "detained", "hospitalised"),
    "postgresql": ("adult", "detained"),
}
# Writes: on SQLite every record of A (so that the table's writes reach a dispatch refused
# for a household member left behind, whom its refusal names).
A_WRITES = {"sqlite": tuple(r for r in RECORDS if r != "other_site"), "postgresql": ("detained",)}
# The world's values that are sealed under the registering site's key (PROTECTION.md
# line 7: documents, phones, medical details; the notes): the route world's canaries of
# them (its place of origin is restricted to some roles, not sealed).
SEALED_CANARIES = ("phone", "documents", "note", "medical_note", *EVENT_NOTES, *PERSON_NOTES)
TOKEN = "enc:v1:"
# Tables that record that a request was made, whatever its answer (who asked, how often,
# with which key): not what a refused write may not touch.
BOOKKEEPING = frozenset(
    {"audit_events", "rate_events", "alerts", "sessions", "api_tokens", "idempotency_keys",
     "users"}
)  # fmt: skip
# Routes whose answer is the audit trail itself, which every request of the drill grows
# (site B's entries in it are checked to be kept, as they were, below).
AUDIT_TRAIL = frozenset(
    {"GET /dpo/verify", "GET /dpo/verify.json", "GET /dpo/persons/{person_id}/audit",
     "GET /dpo/persons/{person_id}/audit.json", "POST /dpo/audit"}
)  # fmt: skip
FRESH_KEY = re.compile(r'name="idempotency_key" value="[^"]+"')


def _reads(case: RouteCase) -> bool:
    return case.reads or NO_KEY.get(case.key, "").startswith("a read")


def _allowed(role: Role, case: RouteCase) -> bool:
    return case.action is None or MATRIX.allowed(role, case.action, same_site=True)


@dataclass
class Answer:
    status: int
    text: str
    data: Any  # the parsed JSON body, or None
    changed: list[str] = field(default_factory=list)  # tables a write changed
    read_back: tuple[int, str] | None = None  # a written person, as a desk reads her next


Key = tuple[str, str, Role, str]  # (route, site of the caller, role, record)


@dataclass
class Drill:
    backend: str
    db: Database
    world: World
    app: Any
    clients: dict[tuple[str, Role], TestClient]  # (site, role) -> an officer of that site
    users: dict[tuple[str, Role], str]
    desk: TestClient  # an officer of site A holding every operational role
    before: dict[Key, Answer] = field(default_factory=dict)
    after: dict[Key, Answer] = field(default_factory=dict)
    writes: dict[Key, Answer] = field(default_factory=dict)
    canaries: dict[str, dict[str, str]] = field(default_factory=dict)  # record -> sealed
    registered: dict[str, Any] = field(default_factory=dict)  # ``register_after``


def _client(app: Any, db: Database, name: str, roles: tuple[Role, ...], site: str) -> Any:
    """A client of ``app`` for a new user holding ``roles`` at ``site``, with an API token
    of every action the roles allow and a browser secret for the page forms."""
    svc = app.state.services
    user_id, _ = svc.accounts.create(
        name, name, "a long test password", roles, [site],
        audit=svc.audit.operator_hook("test", "users.admin"),
    )  # fmt: skip
    scopes = [a for a in MATRIX.actions if any(MATRIX.allowed(r, a, True) for r in roles)]
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    if scopes:
        with db.transaction() as conn:
            issued = svc.accounts.tokens.issue(conn, user_id, "tests", scopes)
        client.headers["Authorization"] = f"Bearer {issued.secret}"
    browser = secrets.token_urlsafe(16)
    client.cookies.set(CSRF_COOKIE, browser)
    client.headers[HEADER] = token_for(browser, None)
    return client, str(user_id)


def ask(drill: Drill, case: RouteCase, site: str, role: Role, record: str) -> Answer:
    """``case`` asked by ``role``'s officer of ``site`` about ``record`` (a route naming
    no record: about site A's adult, or site B's head)."""
    named = record if record != NO_RECORD else ("adult" if site == "A" else "other_site")
    rec = drill.world.record(named)
    user = drill.users[site, role]
    ids = {**rec.ids_for(case.key), "user_id": user, "fmt": case.fmt or "", "token_id": ""}
    url, body = fill(case.path, ids), fill(case.body, ids)
    client = drill.clients[site, role]
    status, text, data = send(client, case, url, body)
    return Answer(status, text, data)


def _read_keys(backend: str) -> Iterator[tuple[RouteCase, str, Role, str]]:
    """Every read of the table, by every role its gate lets in: site A's officers about
    site A's records, site B's about B's head."""
    for case in CASES:
        if not _reads(case):
            continue
        for role in ROLES:
            if not _allowed(role, case):
                continue
            if case.per_record:
                for record in A_READS[backend]:
                    yield case, "A", role, record
                yield case, "B", role, "other_site"
            else:
                yield case, "A", role, NO_RECORD
                yield case, "B", role, NO_RECORD


def _write_keys(backend: str) -> Iterator[tuple[RouteCase, Role, str]]:
    """Every write of the table, in its order, by every role its gate lets in, on site
    A's records (by site A's officers)."""
    for case in CASES:
        if _reads(case):
            continue
        for role in ROLES:
            if _allowed(role, case):
                for record in A_WRITES[backend] if case.per_record else (NO_RECORD,):
                    yield case, role, record


def digest(db: Database) -> dict[str, str]:
    """A hash of every table's rows but the bookkeeping's, as the driver reads them (no
    type of the table's columns applied: a third of the time)."""
    out = {}
    with db.read() as conn:
        for name in sorted(metadata.tables):
            if name not in BOOKKEEPING:
                rows = sorted(map(repr, conn.exec_driver_sql(f'SELECT * FROM "{name}"')))
                out[name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return out


DRILLS: dict[str, Drill] = {}


def _drill(request: pytest.FixtureRequest, backend: str) -> Drill:
    """The world of ``backend``, read before and after site A's keys are destroyed, then
    written on (built once per module)."""
    if backend in DRILLS:
        return DRILLS[backend]
    db = world_database(request, backend, "drill")
    clock = Clock(WORLD_TIME)
    world = build_world(db, clock)
    settings = Settings(database_url=str(db.url), master_key=MASTER_KEY, tracing_checks="inline")
    app = create_app(settings, database=db, clock=clock)
    clients, users = {}, {}
    for site in ("A", "B"):
        for role in ROLES:
            name = f"kd-{site}-{role.value}"
            clients[site, role], users[site, role] = _client(
                app, db, name, (role,), world.sites[site]
            )
    desk, _ = _client(app, db, "kd-desk", ALL_ROLES, world.sites["A"])
    drill = Drill(backend, db, world, app, clients, users, desk)
    drill.canaries = {
        k: {f: v for f, v in r.text_canaries.items() if f in SEALED_CANARIES}
        for k, r in world.records.items()
    }
    for case, site, role, record in _read_keys(backend):
        drill.before[case.key, site, role, record] = ask(drill, case, site, role, record)
    app.state.services.keys.destroy_site(world.sites["A"], "cli:drill")
    for case, site, role, record in _read_keys(backend):
        drill.after[case.key, site, role, record] = ask(drill, case, site, role, record)
    drill.registered = register_after(drill)
    now = digest(db)
    for case, role, record in _write_keys(backend):
        was = now  # what the write before (or its read back) left
        answer = ask(drill, case, "A", role, record)
        now = digest(db)
        answer.changed = sorted(t for t in was if was[t] != now[t])
        if answer.status < 400 and record != NO_RECORD and "person_id" in case.params:
            shown = drill.desk.get(f"/api/persons/{world.record(record).person_id}")
            answer.read_back = (shown.status_code, shown.text)
            now = digest(db)
        drill.writes[case.key, "A", role, record] = answer
    DRILLS[backend] = drill
    return drill


@pytest.fixture(scope="module", autouse=True)
def _close_drills() -> Iterator[None]:
    yield
    for drill in DRILLS.values():
        for client in (*drill.clients.values(), drill.desk):
            client.close()
        drill.db.dispose()
    DRILLS.clear()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)], scope="module"
)
def drill(request: pytest.FixtureRequest) -> Drill:
    return _drill(request, request.param)


def _said(key: Key, a: Answer) -> str:
    route, site, role, record = key
    text = a.text[-300:] if a.status >= 500 else a.text[:200]
    return f"{route} | {site} {role.value} {record}: {a.status} {text!r}"


# -- the checks ------------------------------------------------------------------------


def test_the_drill_reads_every_route() -> None:
    """The table holds reads and writes of every kind, and each read is asked."""
    kinds = {c.kind for c in CASES if _reads(c)}
    assert kinds >= {"api", "page", "twin", "form"}, kinds
    assert sum(1 for c in CASES if not _reads(c)) > 50


def test_no_5xx_after_the_drill(drill: Drill) -> None:
    """No read, and no write on site A's records, answers a server error once site A's
    keys are gone."""
    failed = [
        _said(k, a) for k, a in (*drill.after.items(), *drill.writes.items()) if a.status >= 500
    ]
    assert not failed, "\n".join(failed)


def _normal(case_key: str, a: Answer) -> Any:
    """An answer as compared before and after: a page's fresh idempotency keys aside."""
    return (a.status, FRESH_KEY.sub("", a.text))


def test_site_b_reads_as_before(drill: Drill) -> None:
    """Every read by site B's officers (site B's head, and the routes naming no record)
    answers exactly as before the drill; the audit trail keeps every entry it had."""
    differ = []
    for key, before in drill.before.items():
        route, site, _, _ = key
        if site != "B":
            continue
        after = drill.after[key]
        if route in AUDIT_TRAIL:
            kept = after.status == before.status
            if isinstance(before.data, dict) and "trail" in before.data:
                old, new = before.data["trail"]["entries"], after.data["trail"]["entries"]
                kept = kept and all(e in new for e in old)
            if not kept:
                differ.append(_said(key, after))
            continue
        if _normal(route, before) != _normal(route, after):
            differ.append(_said(key, after))
    assert not differ, "\n".join(differ)


def _sealed_of_a(drill: Drill) -> dict[str, str]:
    return {
        f"{record}.{f}": v
        for record, values in drill.canaries.items()
        if record != "other_site"
        for f, v in values.items()
    }


def test_site_a_shows_no_sealed_value(drill: Drill) -> None:
    """After the drill no read by site A's officers shows a value sealed under A's key
    (the canary a role saw before), nor ciphertext, nor site B's head's sealed values."""
    theirs = {f"other_site.{f}": v for f, v in drill.canaries["other_site"].items()}
    found = []
    for key, a in drill.after.items():
        if key[1] != "A":
            continue
        seen = [n for n, v in (*_sealed_of_a(drill).items(), *theirs.items()) if v in a.text]
        if TOKEN in a.text:
            seen.append("ciphertext")
        if seen:
            found.append(f"{_said(key, a)} shows {seen}")
    assert not found, "\n".join(found)


def _sealed_paths(value: Any, values: set[str], path: tuple[Any, ...] = ()) -> Iterator[Any]:
    """The paths in a JSON document to each string holding one of ``values``."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _sealed_paths(v, values, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _sealed_paths(v, values, (*path, i))
    elif isinstance(value, str) and any(s in value for s in values):
        yield path


def _at(value: Any, path: tuple[Any, ...]) -> list[Any]:
    """The nodes along ``path`` in ``value`` (as far as it goes)."""
    nodes = [value]
    for step in path:
        node = nodes[-1]
        inside = (isinstance(node, dict) and step in node) or (
            isinstance(node, list) and isinstance(step, int) and step < len(node)
        )
        if not inside:
            break
        nodes.append(node[step])
    return nodes


def _marked(nodes: list[Any], path: tuple[Any, ...]) -> bool:
    """Whether the value at the end of ``path`` (``nodes`` along it) is said to be
    unreadable: ``<field>_unavailable`` beside it, or its path (from a record holding an
    ``unreadable`` list, list indexes left out) in that list."""
    parent, name = nodes[-2], path[-1]
    if isinstance(parent, dict) and parent.get(f"{name}_unavailable") is True:
        return True
    for depth in range(len(nodes) - 1):
        holder = nodes[depth]
        if isinstance(holder, dict) and isinstance(holder.get("unreadable"), list):
            rest = ".".join(str(p) for p in path[depth:] if not isinstance(p, int))
            if rest in holder["unreadable"]:
                return True
    return False


def test_site_a_says_what_it_cannot_read(drill: Drill) -> None:
    """Every JSON answer (the API, a page's twin) that showed a value sealed under A's key
    to a role before the drill now holds ``null`` there, said to be unreadable (a
    ``<field>_unavailable`` flag, or the field in the record's ``unreadable`` list), so
    that nobody reads "not recorded" into a value that was recorded and is lost."""
    sealed = set(_sealed_of_a(drill).values())
    bare: dict[str, set[str]] = {}  # route and field -> the roles it is bare for
    for key, before in drill.before.items():
        if key[1] != "A" or before.data is None or before.status >= 300:
            continue
        after = drill.after[key]
        for path in _sealed_paths(before.data, sealed):
            nodes = _at(after.data, path)
            where = ".".join(str(p) for p in path if not isinstance(p, int))
            if len(nodes) != len(path) + 1:
                bare.setdefault(f"{key[0]} {where}: gone", set()).add(key[2].value)
            elif nodes[-1] is not None or not _marked(nodes, path):
                said = f"{key[0]} {where} = {nodes[-1]!r}"
                bare.setdefault(said, set()).add(key[2].value)
    listed = sorted(f"{k} ({', '.join(sorted(v))})" for k, v in bare.items())
    assert not listed, "\n".join(listed)


MARKER = re.compile(r'class="[^"]*\bunreadable\b')


def test_pages_say_what_they_cannot_read(drill: Drill) -> None:
    """Every page (HTML) that showed site A officers a sealed value before the drill says,
    for each value it showed, that it cannot be read now (an element of class
    ``unreadable``, in the page's language), and prints no ``None`` where a value was
    (the health officer's person page of a child said "MUAC None mm (SAM)")."""
    sealed = set(_sealed_of_a(drill).values())
    bare = []
    for key, before in drill.before.items():
        if key[1] != "A" or before.data is not None or before.status >= 300:
            continue
        after = drill.after[key]
        shown = {v for v in sealed if v in before.text}
        if len(MARKER.findall(after.text)) < len(shown):
            said = f"{key[0]} | {key[2].value} {key[3]}"
            bare.append(f"{said}: {len(shown)} sealed values shown before, unmarked now")
        if after.text.count("None") > before.text.count("None"):
            at = after.text.find("None")
            bare.append(f"{key[0]} | {key[2].value} {key[3]}: {after.text[at - 60 : at + 20]!r}")
    assert not bare, "\n".join(bare)


def test_a_refused_write_writes_nothing(drill: Drill) -> None:
    """Every write of the table on site A's records after the drill is done (2xx, 3xx) or
    refused in the one error shape (a page form: the page again, with a 4xx), every table
    but the bookkeeping as it was: never a half write."""
    bad = []
    for key, a in drill.writes.items():
        if a.status < 400:
            continue
        if a.changed:
            bad.append(f"{_said(key, a)} changed {a.changed}")
        shaped = isinstance(a.data, dict) and a.data.get("code") and a.data.get("message")
        if key[0].split(" ", 1)[1].startswith("/api/") and a.status != 429 and not shaped:
            bad.append(f"{_said(key, a)}: not the error shape")
    assert not bad, "\n".join(bad)


def _sent(body: Any) -> Iterator[str]:
    """The sealed values a write's body sends (a note, a phone, a health note)."""
    if isinstance(body, dict):
        for k, v in body.items():
            if k in SEALED_BODY_KEYS and isinstance(v, str) and v.strip():
                yield v
            else:
                yield from _sent(v)


SEALED_BODY_KEYS = ("note", "phone", "medical_note")


def test_writes_on_site_a_are_read_back(drill: Drill) -> None:
    """A write done on a site A person after the drill seals what it wrote under a new
    key: read next by a desk that sees every field, the person shows no ciphertext, and
    the sealed values the write sent are there."""
    bad = []
    checked: set[str] = set()
    for key, a in drill.writes.items():
        if a.read_back is None:
            continue
        status, text = a.read_back
        case = next(c for c in CASES if c.key == key[0])
        ids = {**drill.world.record(key[3]).ids, "user_id": drill.users["A", key[2]]}
        sent = list(_sent(fill(case.body, ids)))
        checked.update(key[0] for _ in sent[:1])
        lost = [v for v in sent if v not in text]
        if status != 200 or TOKEN in text or lost:
            bad.append(f"{_said(key, a)}: read back {status}, lost {lost}: {text[:200]}")
    assert not bad, "\n".join(bad)
    # A person's note written again (the API, the health form) is among them.
    assert {"PATCH /api/persons/{person_id}", "POST /persons/{person_id}/health"} <= checked


def register_after(drill: Drill) -> dict[str, Any]:
    """A person registered at site A after the drill (before the writes of the table):
    the answers to her registration, her reading back, a search by her phone, and the
    states of site A's keys."""
    site = drill.world.sites["A"]
    body = {
        "site_id": site, "consent": {"tracing": True, "share_with": []},
        "purpose": "registration and assistance", "legal_basis": "vital_interest",
        "given_name": "Layla", "family_name": "Nasrawi", "sex": "f", "birth_date": "1990",
        "phone": "+963 944 555 0192", "documents": [{"type": "passport", "number": "NP0192X"}],
        "note": "arrived after the drill",
        "vulnerabilities": {"medical_note": "asthma after the drill", "muac_mm": 230},
    }  # fmt: skip
    r = drill.desk.post("/api/persons", json=body)
    out: dict[str, Any] = {"registered": (r.status_code, r.text)}
    if r.status_code == 201:
        pid = r.json()["id"]
        out["id"] = pid
        out["shown"] = drill.desk.get(f"/api/persons/{pid}").json()
        out["page"] = drill.desk.get(f"/persons/{pid}").text
        found = drill.desk.post("/api/persons/search", json={"phone": "+963 944 555 0192"})
        out["found"] = (found.status_code, found.text)
    with drill.db.read() as conn:
        query = select(site_keys.c.state).where(site_keys.c.site_id == site)
        out["keys"] = sorted(conn.execute(query).scalars())
    return out


def test_a_person_registered_after_the_drill_reads_whole(drill: Drill) -> None:
    """A person registered at site A after the drill is sealed under a new key of A's,
    and reads back whole: phone, document, note, medical details; a search by her phone
    finds her."""
    got = drill.registered
    assert got["registered"][0] == 201, got["registered"]
    shown = got["shown"]
    assert shown["phone"] == "+9639445550192"
    assert [d["number"] for d in shown["documents"]] == ["NP0192X"]
    assert shown["note"] == "arrived after the drill"
    assert shown["vulnerabilities"]["medical_note"] == "asthma after the drill"
    assert shown["vulnerabilities"]["muac_mm"] == 230
    assert not shown.get("unreadable") and TOKEN not in json.dumps(shown)
    assert "asthma after the drill" in got["page"]
    assert got["keys"].count("active") == 1 and "destroyed" in got["keys"], got["keys"]
    assert got["found"][0] == 200 and got["id"] in got["found"][1], got["found"]


# -- the command line ------------------------------------------------------------------


def _commands() -> list[str]:
    """Every command of the command table that it runs (``args``), once per format."""
    from tests.support.cli_table import COMMANDS

    return [
        case
        for kind in ("reads", "none", "writes", "operator")  # what changes the world last
        for name, command in COMMANDS.items()
        if command.args and command.kind == kind
        for case in ([f"{name} {f}" for f in command.formats] or [name])
    ]


def test_the_command_line_keeps_working(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Every command of the command table (tests/support/cli_table.py) that names what it
    runs on, run on the drill's world (SQLite) after site A's keys were destroyed and the
    table's writes: it ends well (exit 0), and prints (or writes) no ciphertext and no
    value sealed under A's key (an operator's tool, a backup, holds the database's
    ciphertext by design)."""
    from tests.cli import test_command_table_protection as table

    drill = _drill(request, "sqlite")
    adult = drill.world.record("adult")
    files = table._import_files(tmp_path, drill.world.sites["B"], *adult.names, "1971")
    desk = drill.app.state.services.accounts  # the second key of the operator's exports
    approver, _ = desk.create(
        "kd-approver", "kd-approver", "a long test password", (Role.PROTECTION_OFFICER,), [],
        audit=drill.app.state.services.audit.operator_hook("test", "users.admin"),
    )  # fmt: skip
    env = table.Env(
        drill.db, str(drill.db.url), drill.world, tmp_path,
        {r.person_id: r.ids["registration_number"] for r in drill.world.records.values()},
        files, approver=str(approver),
    )  # fmt: skip
    sealed = _sealed_of_a(drill)
    bad = []
    for name in _commands():
        try:
            r = table.run(env, name)
        except Exception:
            bad.append(f"{name}: raised {traceback.format_exc()[-300:]}")
            continue
        if r.exit_code != 0:
            bad.append(f"{name}: exit {r.exit_code}: {r.text[-300:]}")
        if table._command(name)[0].kind == "operator":
            continue
        shown = [n for n, v in sealed.items() if v in r.text]
        if TOKEN in r.text or shown:
            bad.append(f"{name}: shows {shown or 'ciphertext'}")
    assert not bad, "\n".join(bad)


# -- sync: a node of another site -------------------------------------------------------


def test_a_node_of_site_b_keeps_syncing_after_the_drill(
    services: Any, tmp_path: Path, sqlite_template: Path, clock: Clock
) -> None:
    """A node of site B (SQLite; its central on either backend) pushes and pulls as
    before once site A's keys are destroyed at the central: its registrations arrive
    readable, the central's changes of B reach it readable, a traveller of A at B reads
    there with A's sealed fields unreadable (they never were there), nothing fails."""
    from corridor.schemas import StatusEventIn
    from tests.sync.helpers import make_site, register, sync
    from tests.sync.test_bundles import _enrol
    from tests.sync.test_http import _node_services, _round

    central = services
    a, b = make_site(central, "Exit A"), make_site(central, "Camp B", "camp")
    node = _node_services(tmp_path, sqlite_template, clock, "node-b")
    _enrol(central, node, "Camp B")
    settings = Settings(database_url=str(central.db.url), master_key=MASTER_KEY)
    app = create_app(settings, database=central.db, clock=clock)
    try:
        with TestClient(app, base_url="https://central.example") as http:
            traveller = register(central, a, "Amina", "+963933100011")
            central.movements.record(
                traveller, StatusEventIn(kind="transferred", to_site_id=b, note="to the camp"),
                audit=central.audit.operator_hook("test", "movement.write"),
            )  # fmt: skip
            register(node, b, "Bushra", "+963933100022")
            assert _round(node, http).pushed == 1
            central.keys.destroy_site(a, "cli:drill")
            after_node = register(node, b, "Dalal", "+963933100033")
            after_central = register(central, b, "Eva", "+963933100044")
            done = _round(node, http)
            assert done.pushed == 1 and done.push["applied"] == 1, done
            assert done.pulled.applied >= 1 and not done.wiped, done
            assert central.registration.get_person(after_node)["phone"] == "+963933100033"
            assert node.registration.get_person(after_central)["phone"] == "+963933100044"
            at_node = node.registration.get_person(traveller)
            assert at_node["names"]["given_name"] == "Amina" and at_node["phone"] is None
            assert TOKEN not in json.dumps(at_node, default=str)
            again = _round(node, http)
            assert again.pushed == 0 and not again.wiped, again
            assert sync(node).status()["status"] != "wiped"
    finally:
        node.db.dispose()
