"""Tracing is done at the central registry, never at a site node (issue 16, docs/sync.md,
"Tracing at the central").

The central holds every site's persons, so a match can be found across sites, and the
enquirers' key; tracing data does not travel. So at a node every tracing write is refused
in the service (``TracingAtCentral``, 409 ``tracing_at_central``) before anything is
read or written, whichever route, page or command reached it, and the node's pages offer
no tracing write and say where tracing is done.

Generated, not listed by hand:

- the service's write methods come from the same introspection as the change log's test
  (``_write_methods``): a new one is refused here or fails;
- the routes come from the route table (tests/support/route_table.py): every route whose
  write is audited as ``tracing.write``, for every role its gate lets through, for every
  record of the route world (tests/support/route_world.py) in the caller's site.

Two kinds of node: one that asked to enrol (``init_node``: from then on it is a node),
holding the tracing rows it had made before (enquiries, cases, proposed matches: a
refused write must leave every one of them as it was), and one enrolled at a central
(``_enrol``, as tests/sync's fixtures do). The same routes at a central or standalone
installation still work: tests/api/test_tracing*.py, tests/web/test_tracing*.py and
tests/api/test_route_table_protection.py.
"""

from __future__ import annotations

import inspect
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Table, func, select

from corridor.domain.ids import uuid7
from corridor.errors import TracingAtCentral
from corridor.security.crypto import MasterKey
from corridor.security.roles import Role, default_matrix
from corridor.security.tables import audit_events
from corridor.security.users import Principal
from corridor.services import Services
from corridor.services.protection.accounts import Caller
from corridor.services.tracing.cases import TracingService
from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.idempotency_tables import idempotency_keys
from corridor.storage.sync_tables import sync_changes
from corridor.storage.tracing_tables import (
    tracing_case_events,
    tracing_case_keys,
    tracing_cases,
    tracing_enquiries,
    tracing_matches,
    tracing_outbox,
)
from corridor.sync.journal import custody
from corridor.tracing_schemas import (
    CandidateIn,
    DisclosureIn,
    EnquiryIn,
    MatchDecisionIn,
    TransitionIn,
)
from corridor.web import create_app
from corridor.web.i18n import LANG_COOKIE
from tests.conftest import MASTER_KEY, Clock
from tests.support.route_table import RouteCase, fill, route_cases
from tests.support.route_world import RECORDS, World, build_world, token_client, with_form_secret
from tests.sync.helpers import hook, make_site, register, sync
from tests.sync.test_bundles import NODE_KEY, _apply, _enrol, _node_services
from tests.sync.test_change_log import _write_methods

MATRIX = default_matrix()
TRACING_TABLES = (
    tracing_enquiries,
    tracing_cases,
    tracing_matches,
    tracing_case_events,
    tracing_case_keys,
    tracing_outbox,
)
# What else a write would leave behind: its audit events, its changes, its key's row.
OTHER_TABLES = (audit_events, sync_changes, idempotency_keys)
MESSAGE = "Tracing is done at the central registry"
# Every write method of the tracing service, found as test_change_log.py finds writes.
WRITES = sorted(m.split(".", 1)[1] for m in _write_methods() if m.startswith("TracingService."))
# The routes that reach a tracing write: audited as ``tracing.write`` (the route table).
CASES = route_cases(create_app(Settings(database_url="sqlite://", master_key=MASTER_KEY)))
ROUTES = [c for c in CASES if c.audits == "tracing.write"]
# The records a caller of site A may act on (site B's are out of scope: 404, as anywhere).
IN_SCOPE = tuple(r for r in RECORDS if r != "other_site")


def _rows(db: Database, tables: tuple[Table, ...] = TRACING_TABLES) -> dict[str, Any]:
    """Every row of the tracing tables, and how many rows the other tables hold."""
    with db.read() as conn:
        out: dict[str, Any] = {
            t.name: sorted(map(repr, conn.execute(select(t)).all())) for t in tables
        }
        for t in OTHER_TABLES:
            out[t.name] = conn.execute(select(func.count()).select_from(t)).scalar_one()
    return out


def _enquiry(given: str = "Samira", family: str = "Khalil") -> EnquiryIn:
    return EnquiryIn.model_validate(
        {
            "enquirer": {"name": "Amira Haddad", "contact": "+49 151 2345 6789",
                         "relationship": "sibling", "location": "Berlin", "country": "DEU"},
            "sought": [{"given_name": given, "family_name": family, "sex": "f",
                        "birth_year": 1990, "nationality": "SYR", "enquirer_is": "sibling"}],
        }
    )  # fmt: skip


def test_the_tracing_writes_and_routes_are_found() -> None:
    """The introspection finds the six writes and the route table their twelve routes
    (API and page forms); a new one joins the tests below by itself."""
    assert {"create_enquiry", "confirm_match", "decide_disclosure"} <= set(WRITES)
    kinds = {c.kind for c in ROUTES}
    assert kinds == {"api", "form"} and len(ROUTES) >= 12, [c.key for c in ROUTES]
    assert not [c.key for c in ROUTES if c.missing]


# -- the service, at both kinds of node ------------------------------------------------


@dataclass
class Node:
    services: Services
    ids: dict[str, str]


def _asked_to_enrol(tmp_path: Path, template: Path, clock: Clock) -> Node:
    """An installation that traced on its own (a person, an enquiry for her, the match
    proposed), then asked to enrol as the exit's node: from then on it is a node."""
    path = tmp_path / "asked.db"
    shutil.copy(template, path)
    s = Services(Database(f"sqlite:///{path}"), clock, MasterKey.from_text(MASTER_KEY))
    site = make_site(s, "Exit")
    pid = register(s, site, "Samira")
    enquiry = s.tracing.create_enquiry(_enquiry(), "cli:test", audit=hook(s, "tracing.write"))
    [case] = enquiry["cases"]
    [match] = case["matches"]
    assert match["person"]["id"] == pid
    sync(s).init_node("https://central.example", "Exit", "Exit desk 1")
    return Node(s, {"case_id": case["id"], "match_id": match["id"], "person_id": pid})


def _enrolled(tmp_path: Path, template: Path, clock: Clock) -> Node:
    """The exit's node enrolled at a central (tests/sync's ``pair``), holding an enquiry
    recorded before it enrolled; Samira, registered there since, is the one sought."""
    central_path = tmp_path / "central.db"
    shutil.copy(template, central_path)
    central = Services(
        Database(f"sqlite:///{central_path}"), clock, MasterKey.from_text(MASTER_KEY)
    )
    exit_point = make_site(central, "Exit")
    node = _node_services(tmp_path, template, clock, "node-exit")
    enquiry = node.tracing.create_enquiry(_enquiry(), "cli:test", audit=hook(node, "tracing.write"))
    _enrol(central, node, "Exit")
    central.db.dispose()
    pid = register(node, exit_point, "Samira")
    # The engine proposes nobody at a node (below): there is no match here to decide.
    return Node(node, {"case_id": enquiry["cases"][0]["id"], "match_id": uuid7(), "person_id": pid})


NODES: dict[str, Callable[[Path, Path, Clock], Node]] = {
    "asked-to-enrol": _asked_to_enrol,
    "enrolled": _enrolled,
}


@pytest.fixture(params=sorted(NODES))
def node(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, clock: Clock
) -> Iterator[Node]:
    built = NODES[request.param](tmp_path, sqlite_template, clock)
    with built.services.db.read() as conn:
        assert custody(conn)[0] == "node"
    yield built
    built.services.db.dispose()


OFFICER = Caller(
    Principal("officer-1", frozenset({Role.TRACING_OFFICER, Role.PROTECTION_OFFICER}),
              frozenset()),
    second_factor=True,
    scope=None,
)  # fmt: skip
# A valid input of each kind a tracing write takes (by its annotation).
INPUTS: dict[type, Callable[[dict[str, str]], Any]] = {
    EnquiryIn: lambda ids: _enquiry(),
    MatchDecisionIn: lambda ids: MatchDecisionIn(reason="seen in person"),
    CandidateIn: lambda ids: CandidateIn(person_id=ids["person_id"], reason="found by name"),
    DisclosureIn: lambda ids: DisclosureIn(decision="agreed", reason="she agreed"),
    TransitionIn: lambda ids: TransitionIn(to="closed", close_reason="no_contact_wished"),
}


def _arguments(s: Services, method: str, ids: dict[str, str]) -> dict[str, Any]:
    """The arguments of a write, from its signature: a parameter this does not know fails
    the test (extend it), so a new write cannot pass untried."""
    signature = inspect.signature(getattr(TracingService, method), eval_str=True)
    args: dict[str, Any] = {}
    for name, p in signature.parameters.items():
        if name == "self":
            continue
        if name in ids:
            args[name] = ids[name]
        elif name == "recorded_by":
            args[name] = "cli:test"
        elif name == "who":
            args[name] = OFFICER
        elif name == "audit":
            args[name] = hook(s, "tracing.write")
        elif p.annotation in INPUTS:
            args[name] = INPUTS[p.annotation](ids)
        else:
            pytest.fail(f"TracingService.{method}: no argument for {name}: extend _arguments")
    return args


@pytest.mark.parametrize("method", WRITES)
def test_every_tracing_write_is_refused_at_a_node_and_writes_nothing(
    node: Node, method: str
) -> None:
    s = node.services
    before = _rows(s.db)
    with pytest.raises(TracingAtCentral) as refused:
        getattr(s.tracing, method)(**_arguments(s, method, node.ids))
    assert refused.value.code == "tracing_at_central"
    assert refused.value.message.startswith(MESSAGE)
    assert _rows(s.db) == before


def test_the_engine_proposes_nobody_at_a_node(
    tmp_path: Path, sqlite_template: Path, clock: Clock
) -> None:
    """A case a node held from before it enrolled: a person registered there who is the
    one sought is not proposed at the node (the central checks her when her change
    arrives), and the outbox is emptied all the same (nothing waits for ever)."""
    built = _enrolled(tmp_path, sqlite_template, clock)
    s = built.services
    try:
        with s.db.read() as conn:
            assert conn.execute(select(func.count()).select_from(tracing_cases)).scalar_one() == 1
            for table in (tracing_matches, tracing_outbox):
                assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0
        assert s.tracing.check_persons([built.ids["person_id"]]) == 0
        assert s.tracing.views.case(built.ids["case_id"])["state"] == "open"
    finally:
        s.db.dispose()


def test_a_person_registered_at_a_node_is_found_by_the_centrals_enquiry(
    pair: tuple[Services, Services, str, str],
) -> None:
    """The path left open: the enquiry recorded at the central, the person registered at
    the exit's node; once her change reaches the central, the central proposes her: the
    import leaves her in the central's tracing outbox and checks it after its commit, as
    a desk's registration does (before, nothing did until the tracing worker's next
    look, up to ``POLL_S`` later)."""
    central, node, exit_point, _ = pair
    enquiry = central.tracing.create_enquiry(
        _enquiry(), "cli:test", audit=hook(central, "tracing.write")
    )
    [case] = enquiry["cases"]
    assert case["matches"] == []
    pid = register(node, exit_point, "Samira")
    report = sync(central).import_bundle(sync(node).export(), audit=_apply(central))
    assert report.applied == 1
    assert central.tracing.drain_outbox() == 0  # checked already
    found = central.tracing.views.case(case["id"])
    assert [m["person"]["id"] for m in found["matches"]] == [pid]
    assert found["state"] == "possible_match"
    with node.db.read() as conn:  # the node proposed nothing, and holds no tracing row
        for table in (tracing_enquiries, tracing_cases, tracing_matches):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0


def test_the_centrals_tracing_worker_is_woken_by_an_import(
    pair: tuple[Services, Services, str, str],
) -> None:
    """As a server runs it (``tracing_in_background``): the import wakes the central's
    tracing worker, which proposes the person within moments, not at its next look
    (``POLL_S``, a minute: the test would wait for ever on the old code)."""
    central, node, exit_point, _ = pair
    served = Services(
        central.db, central.clock, MasterKey.from_text(MASTER_KEY), tracing_in_background=True
    )
    assert served.tracing_worker is not None
    served.tracing_worker.poll_s = 3600.0  # no look of its own during the test
    try:
        enquiry = served.tracing.create_enquiry(
            _enquiry(), "cli:test", audit=hook(served, "tracing.write")
        )
        [case] = enquiry["cases"]
        served.start()
        assert served.tracing_worker.wait_idle(10)
        pid = register(node, exit_point, "Samira")
        sync(served).import_bundle(sync(node).export(), audit=_apply(served))
        assert served.tracing_worker.wait_idle(10)
        found = served.tracing.views.case(case["id"])
        assert [m["person"]["id"] for m in found["matches"]] == [pid]
    finally:
        served.close()


def test_an_enquiry_sent_to_an_enrolled_nodes_api_is_refused_in_words(
    tmp_path: Path, sqlite_template: Path, clock: Clock
) -> None:
    built = _enrolled(tmp_path, sqlite_template, clock)
    db = built.services.db
    client, _ = token_client(db, clock, "tracer", (Role.TRACING_OFFICER,), [], NODE_KEY)
    try:
        before = _rows(db)
        r = client.post(
            "/api/tracing/enquiries",
            json=_enquiry().model_dump(mode="json", exclude_none=True),
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert r.status_code == 409, r.text
        body = r.json()
        assert body["code"] == "tracing_at_central" and body["status"] == 409
        assert body["message"].startswith(MESSAGE) and "enquirers' key" in body["message"]
        assert _rows(db) == before
    finally:
        client.close()
        db.dispose()


# -- every route of the route table that reaches a tracing write ----------------------


@dataclass
class Env:
    db: Database
    world: World
    clients: dict[Role, TestClient]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Env]:
    """The route world (tracing cases with proposed matches for every record), one client
    per role; then the installation asks to enrol as site A's node."""
    path = tmp_path_factory.mktemp("tracing-at-node") / "node.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    clock = Clock(datetime(2019, 3, 10, 8, 0, tzinfo=UTC))
    world = build_world(db, clock)
    clients = {}
    for role in Role:
        client, _ = token_client(db, clock, f"at-node-{role.value}", (role,), [world.sites["A"]])
        with_form_secret(client)
        clients[role] = client
    # A case verified (the adult found): its disclosure form is one the node must not offer.
    adult = world.record("adult").ids
    r = clients[Role.TRACING_OFFICER].post(
        f"/api/tracing/matches/{adult['match_id']}/confirm", json={"reason": "seen in person"}
    )
    assert r.status_code == 200, r.text
    services = Services(db, clock, MasterKey.from_text(MASTER_KEY))
    sync(services).init_node("https://central.example", "Camp Alpha", "Camp desk 1")
    yield Env(db, world, clients)
    for client in clients.values():
        client.close()
    db.dispose()


def _route_params() -> list[Any]:
    out = []
    for case in ROUTES:
        assert case.action is not None, case.key
        for role in Role:
            if not MATRIX.allowed(role, case.action, same_site=True):
                continue  # the role gate answers 403 before the write, as anywhere
            for record in IN_SCOPE if case.per_record else ("adult",):
                out.append(pytest.param(case, role, record, id=f"{case.key}|{role.value}|{record}"))
    return out


def _send(env: Env, case: RouteCase, role: Role, record: str) -> Any:
    ids = env.world.record(record).ids
    url, body = fill(case.path, ids), fill(case.body, ids)
    key = str(uuid.uuid4())
    client = env.clients[role]
    if case.kind == "form":
        return client.post(url, data={**(body or {}), "idempotency_key": key})
    return client.post(url, json=body, headers={"Idempotency-Key": key})


def _sees_case(env: Env, role: Role, record: str) -> bool:
    case_id = env.world.record(record).ids["case_id"]
    return bool(env.clients[role].get(f"/api/tracing/cases/{case_id}").status_code == 200)


@pytest.mark.parametrize(("case", "role", "record"), _route_params())
def test_every_tracing_write_route_is_refused_at_a_node(
    env: Env, case: RouteCase, role: Role, record: str
) -> None:
    sees = _sees_case(env, role, record)
    before = _rows(env.db)
    r = _send(env, case, role, record)
    if r.status_code == 404 and not sees:
        # A case out of the caller's scope (no candidate of their site): the disclosure
        # routes look it up before the write and answer 404, as anywhere (the denial
        # audited); nothing of tracing changes.
        assert "disclosure" in case.key, r.text[:300]
        after = _rows(env.db)
        assert [after[t.name] for t in TRACING_TABLES] == [before[t.name] for t in TRACING_TABLES]
        return
    if r.status_code == 403 and "disclosure" in case.key:
        # A role that does not decide this case's disclosure is told so before anything
        # else, wherever it sends the form (``TracingService.refuse_other_decider``);
        # nothing of tracing changes.
        after = _rows(env.db)
        assert [after[t.name] for t in TRACING_TABLES] == [before[t.name] for t in TRACING_TABLES]
        return
    assert r.status_code == 409, (r.status_code, r.text[:500])
    if case.kind == "api":
        assert r.json()["code"] == "tracing_at_central", r.text
        assert r.json()["message"].startswith(MESSAGE)
    else:  # the form's page again, never the bare error page: why, and what was typed
        assert r.headers["content-type"].startswith("text/html")
        assert "data-error-status" not in r.text, r.text[-2000:]
        alerts = re.findall(r'<p class="error" role="alert"[^>]*>([^<]*)</p>', r.text)
        assert any(a.startswith(MESSAGE) and "every site&#39;s persons" in a for a in alerts)
        typed = [v for k, v in (fill(case.body, env.world.record(record).ids) or {}).items()
                 if k in ("reason", "enquirer.name")]  # fmt: skip
        assert all(f">{v}<" in r.text or f'"{v}"' in r.text for v in typed), typed
        # The case page shown again reads (and audits) the persons it shows: no write.
        before.pop("audit_events")
        after = _rows(env.db)
        after.pop("audit_events")
        assert after == before
        return
    assert _rows(env.db) == before


def test_the_refusal_page_is_in_the_readers_language(env: Env) -> None:
    [case] = [c for c in ROUTES if c.key == "POST /tracing/enquiries"]
    client = env.clients[Role.TRACING_OFFICER]
    client.cookies.set(LANG_COOKIE, "ar")
    try:
        r = _send(env, case, Role.TRACING_OFFICER, "adult")
    finally:
        client.cookies.delete(LANG_COOKIE)
    assert r.status_code == 409
    assert 'lang="ar"' in r.text and MESSAGE not in r.text
    assert "المركزي" in r.text  # "central", in the Arabic message


# -- the node's pages --------------------------------------------------------------------

TRACING_PAGES = (
    "/tracing",
    "/tracing/enquiries",
    "/tracing/enquiries/new",
    "/tracing/enquiries/{enquiry_id}",
    "/tracing/enquiries/{enquiry_id}/enquirer-view",
    "/tracing/cases/{case_id}",
)
PAGE_GATES = {c.path: str(c.action) for c in CASES if c.kind == "page" and c.path in TRACING_PAGES}
# What a page offers that the node would refuse: a form posting to tracing (a write, or
# the search for a candidate to attach), or the way to the enquiry form.
OFFERS = ('method="post" action="/tracing', 'href="/tracing/enquiries/new"')


@pytest.mark.parametrize("role", [Role.TRACING_OFFICER, Role.PROTECTION_OFFICER])
@pytest.mark.parametrize("record", ["adult", "unaccompanied_child"])
def test_the_nodes_tracing_pages_say_so_and_offer_no_write(
    env: Env, role: Role, record: str
) -> None:
    """A notice instead of the forms, on every tracing page, for the roles that write
    tracing or decide a disclosure, on a case found and waiting for the disclosure
    decision (the adult's) and one with a candidate waiting (a child's); what the node
    holds of tracing is still read, and the navigation offers no tracing write."""
    ids = env.world.record(record).ids
    client = env.clients[role]
    for path in TRACING_PAGES:
        r = client.get(fill(path, ids))
        if r.status_code == 403 and not MATRIX.allowed(role, PAGE_GATES[path], same_site=True):
            continue  # the enquiry form is the tracing officers' (the role gate, as anywhere)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        assert 'id="tracing-at-central"' in r.text and MESSAGE in r.text, path
        offered = [o for o in OFFERS if o in r.text]
        assert not offered, (path, offered)
    case = client.get(fill("/tracing/cases/{case_id}", ids)).text
    assert env.world.record(record).names[0] in case  # the person sought, read


def test_a_persons_page_still_mentions_the_cases_about_them(env: Env) -> None:
    rec = env.world.record("adult")
    r = env.clients[Role.TRACING_OFFICER].get(f"/persons/{rec.person_id}")
    assert r.status_code == 200, r.text[:300]
    assert f'href="/tracing/cases/{rec.ids["case_id"]}"' in r.text


def test_the_pages_offer_tracing_writes_where_tracing_is_done(
    tmp_path: Path, sqlite_template: Path, clock: Clock
) -> None:
    """The same pages at a standalone installation: the forms are there (the notice is
    not), so the checks above are not empty."""
    path = tmp_path / "standalone.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    s = Services(db, clock, MasterKey.from_text(MASTER_KEY))
    site = make_site(s, "Exit")
    register(s, site, "Samira")
    enquiry = s.tracing.create_enquiry(_enquiry(), "cli:test", audit=hook(s, "tracing.write"))
    client, _ = token_client(db, clock, "tracer", (Role.TRACING_OFFICER,), [site])
    [case] = enquiry["cases"]
    try:
        page = client.get(f"/tracing/cases/{case['id']}").text
        assert 'id="tracing-at-central"' not in page
        assert 'method="post" action="/tracing/matches/' in page
        assert f'method="post" action="/tracing/cases/{case["id"]}/search"' in page
        assert 'href="/tracing/enquiries/new"' in client.get("/tracing").text
        assert (
            'method="post" action="/tracing/enquiries"' in client.get("/tracing/enquiries/new").text
        )
        r = client.post(
            f"/api/tracing/matches/{case['matches'][0]['id']}/confirm", json={"reason": "seen"}
        )
        assert r.status_code == 200, r.text
        page = client.get(f"/tracing/cases/{case['id']}").text
        assert f'method="post" action="/tracing/cases/{case["id"]}/disclosure"' in page
    finally:
        client.close()
        db.dispose()


# An enquiry as an officer types it (every field of the form, two persons sought).
TYPED_ENQUIRY = {
    "enquirer.name": "Amira Haddad",
    "enquirer.contact": "+49 151 2345 6789",
    "enquirer.relationship": "sibling",
    "enquirer.location": "Berlin",
    "enquirer.country": "DEU",
    "sought[0].full_name": "Samira Khalil",
    "sought[0].name_original_script": "سميرة خليل",
    "sought[0].sex": "f",
    "sought[0].age": "29",
    "sought[0].mother_name": "Huda",
    "sought[0].place_of_origin": "Hajin",
    "sought[0].relatives_names": "Omar Khalil, Lina Khalil",
    "sought[0].last_seen_place": "Baghouz camp gate",
    "sought[0].last_seen_date": "2019-02-20",
    "sought[1].full_name": "Yusuf Khalil",
    "sought[1].birth_year": "2012",
    "note": "She asked at the Berlin office twice",
}


@pytest.mark.parametrize("lang", ["en", "ar", "ku"])
def test_an_enquiry_typed_at_a_node_comes_back_as_typed(env: Env, lang: str) -> None:
    """An enquiry typed at a site node (a page opened before it enrolled, or a form kept
    by the browser) is refused, as every tracing write there: the form again (409),
    every field as typed, and why in the reader's language, to be recorded at the
    central. (It was the bare 409 page: everything typed lost.) Nothing written."""
    from tests.web.test_refused_forms_keep_input import _lost, forms_posting_to

    client = env.clients[Role.TRACING_OFFICER]
    before = _rows(env.db)
    client.cookies.set(LANG_COOKIE, lang)
    try:
        r = client.post("/tracing/enquiries", data={**TYPED_ENQUIRY, "idempotency_key": uuid7()})
    finally:
        client.cookies.delete(LANG_COOKIE)
    assert r.status_code == 409, r.text[-800:]
    assert "data-error-status" not in r.text and f'<html lang="{lang}"' in r.text
    assert forms_posting_to(r.text, "/tracing/enquiries"), r.text[-1500:]
    assert not _lost(r.text, "/tracing/enquiries", TYPED_ENQUIRY)
    why = r.text.partition('id="e-form">')[2].partition("</p>")[0]
    assert why and (MESSAGE in why) == (lang == "en"), why
    assert _rows(env.db) == before
