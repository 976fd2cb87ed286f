"""Every API write of the route table succeeds for some role on some record of the route
table's world (tests/support/route_world.py), with the body the route table builds for
that record (tests/support/route_table.py), so that the generated audits of writes
(protection, write audit, replays, races, key destruction, bad input) see what the
write does and answers, not only its refusals.

A write that no (role, record) gets done is checked by those audits only where it is
refused: a success that shows a canary, writes across scope, writes no audit event or
writes twice on a replay would pass them all. Each write is sent on a fresh copy of the
world (a file copy), by one user per role working at site A (as the protection audit's
callers), on each record in turn (a write naming no record once per role), until one
answer is a 2xx; a write none gets done fails, unless ``NEVER`` says why no world can
(or ``NOT_YET`` what this one lacks). And each must succeed in the protection audit's
own order too (every write by every role on every record, one after the other on one
world), where an earlier write can take away what a later one needs.
"""

from __future__ import annotations

import shutil
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from corridor.security.roles import Role, default_matrix
from corridor.security.tokens import ApiTokens
from corridor.settings import Settings
from corridor.storage import Database
from corridor.web import create_app
from tests.conftest import MASTER_KEY, Clock
from tests.support.route_table import NO_KEY, RouteCase, fill, route_cases, send
from tests.support.route_world import RECORDS, World, build_world, close_worlds, token_client

MATRIX = default_matrix()
APP = create_app(Settings(database_url="sqlite://", master_key=MASTER_KEY))
CASES = route_cases(APP)
WORLD_TIME = datetime(2019, 3, 10, 8, 0, tzinfo=UTC)
ROLES = list(Role)
NO_RECORD = "-"
# API writes the route table's body cannot get done on any world, by design, and why.
NEVER: dict[str, str] = {
    "POST /api/auth/login": "the table signs in as nobody (a wrong password): a caller "
    "signed in already is what every other case needs",
    "POST /api/auth/second-factor": "a wrong code: the sign-in's second step, between "
    "the two steps only (tests/api/test_auth.py)",
    "POST /api/auth/password": "from a signed-in session only, never with a token (403), "
    "and the table's current password is a wrong one (a right one would end every "
    "session and token of the caller under the audits that act with them)",
    "POST /api/users/{user_id}/password": "a one-time password for the caller's own "
    "account: refused (409), the administrator keeps theirs",
    "POST /api/users/{user_id}/deactivate": "the caller's own account: refused, nobody "
    "locks themselves out",
    "POST /api/users/{user_id}/second-factor": "the caller's own account: refused (409), "
    "another administrator resets one's second factor",
    "POST /api/auth/tokens": "every caller of the audits acts with an API token, and a "
    "token is issued to a signed-in session only, never by another token (403)",
    "POST /api/sync/push": "a site node's signed bundle, not a user's request "
    "(tests/sync/test_http.py)",
    "POST /api/sync/pull": "a site node's signed request, not a user's (tests/sync/test_http.py)",
}

# API writes the world does not get done yet, and what it lacks: a gap of the generated
# audits (they see the write refused only), to be closed by a state of the world.
NOT_YET: dict[str, str] = {
    "POST /api/exports/{export_id}/download": "only the officer who asked for an export "
    "downloads it, once approved: the world's exports are asked by officers who are none "
    "of the audits' callers, and approved by nobody",
}
ALLOWED = {**NEVER, **NOT_YET}


def _writes() -> list[RouteCase]:
    """The API writes of the route table (the reads that are POSTs aside)."""
    return [
        c
        for c in CASES
        if c.kind == "api"
        and not c.reads
        and not c.missing
        and not NO_KEY.get(c.key, "").startswith("a read")
    ]


WRITES = _writes()


@dataclass
class Lab:
    world: World
    saved: Path  # the world as built, copied for each write
    dir: Path
    tokens: dict[Role, str]  # each role's API token (a user of site A)
    users: dict[Role, str]
    spare_token: str
    clock: Clock


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Lab]:
    folder = tmp_path_factory.mktemp("every-write")
    saved = folder / "world.db"
    shutil.copy(sqlite_template, saved)
    db = Database(f"sqlite:///{saved}")
    clock = Clock(WORLD_TIME)
    world = build_world(db, clock)
    tokens, users = {}, {}
    for role in ROLES:
        client, user = token_client(db, clock, f"ew-{role.value}", (role,), [world.sites["A"]])
        tokens[role], users[role] = str(client.headers["Authorization"]), user
        client.close()
    with db.transaction() as conn:
        spare = ApiTokens(clock).issue(conn, users[Role.COORDINATOR], "spare", ["figures.read"])
    db.dispose()  # the last connection closed folds the WAL into the file
    yield Lab(world, saved, folder, tokens, users, spare.id, clock)


@dataclass
class Tried:
    done: tuple[Role, str] | None  # the first (role, record) that got it done
    answers: list[str]  # what each refusal said, for the report


def _try(lab: Lab, case: RouteCase) -> Tried:
    """``case`` sent by every role its gate lets in, on every record (once, for a write
    naming no record), on a fresh copy of the world, until one gets it done."""
    work = lab.dir / "work.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copy(lab.saved, work)
    db = Database(f"sqlite:///{work}")
    settings = Settings(database_url=str(db.url), master_key=MASTER_KEY, tracing_checks="inline")
    app = create_app(settings, database=db, clock=lab.clock)
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    answers = []
    try:
        for role in ROLES:
            if case.action is not None and not MATRIX.allowed(role, case.action, True):
                continue
            client.headers["Authorization"] = lab.tokens[role]
            for record in RECORDS if case.per_record else (NO_RECORD,):
                rec = lab.world.record("adult" if record == NO_RECORD else record)
                ids = {
                    **rec.ids_for(case.key),
                    "user_id": lab.users[role],
                    "fmt": case.fmt or "",
                    "token_id": lab.spare_token,
                }
                try:
                    status, text, _ = send(client, case, fill(case.path, ids), fill(case.body, ids))
                except Exception:
                    status, text = 500, traceback.format_exc()
                if 200 <= status < 300:
                    return Tried((role, record), answers)
                answers.append(f"{role.value}/{record}: {status} {text[:160]}")
    finally:
        client.close()
        db.dispose()
    return Tried(None, answers)


@pytest.fixture(scope="module")
def tried(lab: Lab) -> dict[str, Tried]:
    return {case.key: _try(lab, case) for case in WRITES}


def test_every_api_write_succeeds_somewhere(tried: dict[str, Tried]) -> None:
    """A write of the route table that no role gets done on any record of the world
    fails here, with what each refusal said: give the route table a body that a user
    would send (built from the record: ``route_table.BODIES``), or put a record of the
    world in the state the write is made for (``Record.offers``), or say in ``NEVER``
    why no world can."""
    never = {k: t for k, t in tried.items() if t.done is None and k not in ALLOWED}
    report = [f"{k}\n    " + "\n    ".join(t.answers[:4]) for k, t in never.items()]
    assert not never, f"{len(never)} writes never succeed:\n" + "\n".join(report)


def test_never_lists_only_writes_that_never_succeed(tried: dict[str, Tried]) -> None:
    """An entry of ``NEVER`` or ``NOT_YET`` names an API write of the table that still
    never succeeds (once the world gets it done, the entry goes)."""
    assert set(ALLOWED) <= set(tried)
    done = {k: tried[k].done for k in ALLOWED if tried[k].done is not None}
    assert done == {}


def test_every_api_write_succeeds_in_the_audits_order(request: pytest.FixtureRequest) -> None:
    """The protection audit (tests/api/test_route_table_protection.py) asks every write
    of the table, by every role, on every record, one after the other on one world, in
    the table's order (``route_table.LAST``: the ones that change most last): each API
    write must succeed there at least once too, or what it does and answers is never
    checked (on the code before, an erasure of every record ran before every link
    removal, a dispatch before every removal from the manifest, a confirmation before
    every rejection of the same match: refused, each of them, every time)."""
    from tests.api import test_route_table_protection as audit

    try:
        env = audit._env(request, "sqlite", writes=True)
        for key in audit.WRITES["sqlite"]:
            if key not in env.answers:
                audit._ask(env, audit.CASE_OF[key[0]], key[1], key[2])
        statuses: dict[str, list[str]] = {}
        for (key, role, record), a in env.answers.items():
            statuses.setdefault(key, []).append(f"{role.value}/{record}: {a.status}")
        done = {key for (key, _, _), a in env.answers.items() if 200 <= a.status < 300}
    finally:
        close_worlds(audit.ENVS)
    never = sorted(c.key for c in WRITES if c.key not in done and c.key not in ALLOWED)
    report = [f"{k}: " + ", ".join(statuses.get(k, [])[:8]) for k in never]
    assert not never, f"{len(never)} writes never succeed:\n" + "\n".join(report)
