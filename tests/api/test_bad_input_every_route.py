"""Bad input over every write route of the JSON API, generated from the OpenAPI schema
the app publishes (docs/api.md, "Bad input"): a new route or a new field is covered
without anyone editing this test.

For every operation whose body is JSON (every POST, PUT, PATCH and DELETE of ``/api``
taking one), for each field of its body, nested ones included (an object's fields, a
list's first item's), it sends:

- ``wrong_type``: a value of a JSON type the field's schema does not allow;
- ``too_long``: a string far over any limit the schema states (in a list of strings: as
  its first item);
- ``missing``: for a required field, the field left out;

and once per route a body that is not JSON. The rest of the body is the route table's
(tests/support/route_table.py: the body a caller sends in the protection sweep), filled
with the ids of a world (tests/support/route_world.py) built once for the module. The
caller holds a role allowed to write on the route at its own site, so that the request
reaches validation.

Each answer must be a 4xx (never a 5xx) in the one error shape
(``{"status", "code", "message", "errors": [{"field", "reason"}]}``, corridor/web/errors.py)
with an error naming the field sent wrong (its dotted path, ``members[0].given_name``)
and a reason; and the database must hold what it held before: the same number of rows in
every table, the audit log's included.

The sweep runs on SQLite, which stores a text of any length; a value far too long for a
field whose schema allows more than the text column of its name holds (or states no
limit) runs on PostgreSQL too, where the column would refuse it (``COLUMN_LENGTHS``).

A nested model met again (a person's details in a household's head and its members, in
``/api/persons`` and its corrections) is swept field by field at the first place the
walk meets it; elsewhere its fields are not sent again, so the sweep stays short.
"""

from __future__ import annotations

import html.parser
import json
import re
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, func, select

from corridor.security.roles import Role, default_matrix
from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.tables import metadata
from corridor.web import create_app
from tests.conftest import MASTER_KEY, Clock, world_database
from tests.support.route_table import NO_KEY, RouteCase, fill, route_cases
from tests.support.route_world import (
    World,
    build_world,
    close_worlds,
    token_client,
    with_form_secret,
)

MATRIX = default_matrix()
APP = create_app(Settings(database_url="sqlite://", master_key=MASTER_KEY))
SPEC: dict[str, Any] = APP.openapi()
SCHEMAS: dict[str, Any] = SPEC.get("components", {}).get("schemas", {})
CASES = {c.key: c for c in route_cases(APP)}
WRITES = ("post", "put", "patch", "delete")
WORLD_TIME = datetime(2019, 3, 10, 8, 0, tzinfo=UTC)
DEPTH = 4  # how deep the walk goes into nested objects


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _ref_name(schema: dict[str, Any]) -> str | None:
    if "$ref" in schema:
        return str(schema["$ref"].rsplit("/", 1)[-1])
    return None


def _variants(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives a schema allows (``anyOf``/``oneOf``), each resolved."""
    schema = _resolve(schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return [v for s in schema[key] for v in _variants(s)]
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _variants(schema["allOf"][0])
    return [schema]


def _types(schema: dict[str, Any]) -> set[str] | None:
    """The JSON types a schema allows; None where it allows any."""
    out: set[str] = set()
    for v in _variants(schema):
        if "type" in v:
            t = v["type"]
            out |= set(t) if isinstance(t, list) else {t}
        elif "enum" in v or "const" in v:
            values = v.get("enum", [v.get("const")])
            out |= {_json_type(x) for x in values}
        else:
            return None
    if "integer" in out:
        out.add("number")
    if "number" in out:
        out.add("integer")
    return out


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


WRONG: tuple[tuple[str, Any], ...] = (
    ("object", {"wrong": "type"}),
    ("array", ["wrong", "type"]),
    ("number", 12345),
    ("string", "wrong type"),
)


def _longest_limit() -> int:
    """The largest ``maxLength`` anywhere in the schema."""
    found = [0]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("maxLength"), int):
                found.append(node["maxLength"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(SPEC)
    return max(found)


# Far over any limit, and well under the request body limit (``max_body_bytes``).
LONG = "x" * max(20 * _longest_limit(), 50_000)


@dataclass(frozen=True)
class Field:
    path: tuple[str | int, ...]  # ("members", 0, "given_name")
    schema: dict[str, Any]
    required: bool

    @property
    def name(self) -> str:
        out = ""
        for p in self.path:
            out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
        return out


def _objects(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in _variants(schema) if "properties" in v]


def _fields(
    schema: dict[str, Any], path: tuple[str | int, ...], seen: set[str], depth: int = 0
) -> Iterator[Field]:
    """Every field of an object schema, then the fields of its nested objects (an object
    field's, a list of objects' first item's); a named model met before is not opened
    again (``seen``)."""
    for obj in _objects(schema)[:1]:
        required = set(obj.get("required", ()))
        for name, sub in obj["properties"].items():
            here = (*path, name)
            yield Field(here, sub, name in required)
            if depth >= DEPTH:
                continue
            for variant in (sub, *_variants(sub)):
                items = _resolve(variant).get("items") if "$ref" not in variant else None
                inner, at = (items, (*here, 0)) if isinstance(items, dict) else (variant, here)
                ref = _ref_name(inner) or next(
                    (n for s in _resolve(inner).get("anyOf", ()) if (n := _ref_name(s))), None
                )
                if ref and ref not in seen and _objects(inner):
                    seen.add(ref)
                    yield from _fields(inner, at, seen, depth + 1)


@dataclass(frozen=True)
class BadCase:
    route: str  # "POST /api/persons"
    kind: str  # "wrong_type", "too_long", "missing", "not_json"
    field: Field | None
    value: Any = None

    @property
    def id(self) -> str:
        return f"{self.route}|{self.field.name if self.field else 'body'}|{self.kind}"


def _body_schema(op: dict[str, Any]) -> dict[str, Any] | None:
    content = op.get("requestBody", {}).get("content", {})
    json_body = content.get("application/json")
    return json_body.get("schema") if json_body else None


def write_routes() -> list[tuple[str, dict[str, Any]]]:
    """(route key, body schema) for every API write taking a JSON body."""
    out = []
    for path, ops in SPEC["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, op in ops.items():
            if method in WRITES and (schema := _body_schema(op)) is not None:
                out.append((f"{method.upper()} {path}", schema))
    return out


def _bad_cases() -> list[BadCase]:
    cases: list[BadCase] = []
    seen: set[str] = set()
    for route, schema in write_routes():
        cases.append(BadCase(route, "not_json", None))
        top = _ref_name(schema)
        for f in _fields(schema, (), seen | ({top} if top else set())):
            types = _types(f.schema)
            if types is not None:
                wrong = next((v for t, v in WRONG if t not in types), None)
                if wrong is not None:
                    cases.append(BadCase(route, "wrong_type", f, wrong))
                if "string" in types:
                    cases.append(BadCase(route, "too_long", f, LONG))
                elif "array" in types and _list_of_strings(f.schema):
                    long_item = Field((*f.path, 0), f.schema, False)
                    cases.append(BadCase(route, "too_long", long_item, LONG))
            if f.required:
                cases.append(BadCase(route, "missing", f))
        if top:
            seen.add(top)
    return cases


def _list_of_strings(schema: dict[str, Any]) -> bool:
    for v in _variants(schema):
        items = v.get("items")
        if isinstance(items, dict) and "string" in (_types(items) or set()):
            return True
    return False


CASES_BAD = _bad_cases()


# -- the world ---------------------------------------------------------------------------


@dataclass
class Env:
    db: Database
    world: World
    clients: dict[Role, TestClient]
    users: dict[Role, str]


ENVS: dict[str, Env] = {}


def _env(request: pytest.FixtureRequest, backend: str) -> Env:
    """A world of ``backend``, built on first use and kept for the module, and a client
    per role working at its site A."""
    if backend in ENVS:
        return ENVS[backend]
    db = world_database(request, backend, "bad-input", own=True)
    clock = Clock(WORLD_TIME)
    world = build_world(db, clock)
    clients, users = {}, {}
    for role in Role:
        client, user = token_client(db, clock, f"bad-{role.value}", (role,), [world.sites["A"]])
        with_form_secret(client)
        clients[role], users[role] = client, user
    ENVS[backend] = Env(db, world, clients, users)
    return ENVS[backend]


@pytest.fixture(scope="module", autouse=True)
def _close_worlds() -> Iterator[None]:
    yield
    close_worlds(ENVS)


@pytest.fixture
def env(request: pytest.FixtureRequest, backend: str) -> Env:
    return _env(request, backend)


# The shortest length of a bounded text column of each name (``person_id``: 36): a value
# longer than its field's schema allows is refused before the database sees it; where
# the schema allows more (or states no limit), only PostgreSQL would refuse it, with a
# 500. Those cases also run on PostgreSQL (SQLite stores any length).
COLUMN_LENGTHS: dict[str, int] = {}
for _table in metadata.sorted_tables:
    for _column in _table.columns:
        if isinstance(_column.type, String) and _column.type.length:
            _known = COLUMN_LENGTHS.get(_column.name, _column.type.length)
            COLUMN_LENGTHS[_column.name] = min(_known, _column.type.length)


def _leaf(name: str) -> str:
    """The column name a field's path ends in (``members[0].person_ids[0]``: person_ids)."""
    return re.sub(r"\[\d+\]$", "", name.rsplit(".", 1)[-1])


def _max_length(schema: dict[str, Any]) -> int | None:
    found = [v.get("maxLength") for v in _variants(schema)]
    found += [_resolve(v["items"]).get("maxLength") for v in _variants(schema) if "items" in v]
    return max((n for n in found if isinstance(n, int)), default=None)


def _database_bound(name: str, schema: dict[str, Any] | None) -> bool:
    """Whether a value far too long for ``name`` could reach a column too short for it."""
    column = COLUMN_LENGTHS.get(_leaf(name))
    if column is None:
        return False
    stated = _max_length(schema) if schema is not None else None
    return stated is None or stated > column


def _database_bound_field(f: Field | None) -> bool:
    return f is not None and _database_bound(f.name, f.schema)


def _on_backends(cases: list[Any], bound: Any) -> list[Any]:
    """Every case on SQLite; those ``bound`` (a value the database could refuse) on
    PostgreSQL too."""
    out = [pytest.param("sqlite", c, id=c.id) for c in cases]
    out += [
        pytest.param("postgresql", c, id=f"postgresql|{c.id}", marks=[pytest.mark.postgresql])
        for c in cases
        if bound(c)
    ]
    return out


def _route_case(route: str) -> RouteCase:
    return CASES[route]


def _role_for(case: RouteCase) -> Role:
    """A role allowed to write on the route at its own site (the administrator where the
    route has no role gate: signing in, one's own password)."""
    if case.action is None:
        return Role.ADMINISTRATOR
    for role in Role:
        if MATRIX.allowed(role, case.action, same_site=True):
            return role
    raise AssertionError(f"no role may call {case.key}")


def state(db: Database) -> dict[str, int]:
    """The number of rows of every table (the audit log's included)."""
    tables = metadata.sorted_tables
    counts = [select(func.count()).select_from(t).scalar_subquery() for t in tables]
    with db.read() as conn:
        row = conn.execute(select(*counts)).one()
    return {t.name: int(n) for t, n in zip(tables, row, strict=True)}


def _parent(body: Any, path: tuple[str | int, ...]) -> Any:
    """The object or list holding ``path``'s last step, made on the way where the body
    has none (a nested field of an object the route table's body leaves out)."""
    node = body
    for here, after in zip(path, path[1:], strict=False):
        empty: Any = [] if isinstance(after, int) else {}
        if isinstance(here, int):
            while len(node) <= here:
                node.append(empty)
            if not isinstance(node[here], type(empty)):
                node[here] = empty
        elif not isinstance(node.get(here), type(empty)):
            node[here] = empty
        node = node[here]
    return node


def _put(body: Any, path: tuple[str | int, ...], value: Any) -> None:
    node, last = _parent(body, path), path[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value


def _drop(body: Any, path: tuple[str | int, ...]) -> None:
    _parent(body, path).pop(path[-1], None)


def _base(env: Env, case: RouteCase, role: Role) -> tuple[str, dict[str, Any]]:
    """The route's URL and its body as the route table sends it, filled with the ids of
    the world's adult (site A, the caller's own site) in the state that offers the route's
    form (``Record.ids_for``: a case awaiting her decision, a pair of hers queued...)."""
    rec = env.world.record("adult")
    ids = {**rec.ids_for(case.key), "user_id": env.users[role], "fmt": case.fmt or ""}
    body = fill(case.body, ids)
    return fill(case.path, ids), json.loads(json.dumps(body)) if body is not None else {}


def _named(errors: list[dict[str, Any]], name: str) -> bool:
    return any(
        e["field"] == name or str(e["field"]).startswith((name + ".", name + "["))
        for e in errors
    )


@pytest.mark.parametrize(
    ("backend", "bad"),
    _on_backends(CASES_BAD, lambda c: c.kind == "too_long" and _database_bound_field(c.field)),
)
def test_bad_input_is_refused_naming_the_field(env: Env, bad: BadCase) -> None:
    case = _route_case(bad.route)
    assert not case.missing, case.missing
    role = _role_for(case)
    client = env.clients[role]
    url, body = _base(env, case, role)
    if bad.kind == "not_json":
        content: bytes = b'{"given_name": "Omar",'  # cut off
    else:
        assert bad.field is not None
        if bad.kind == "missing":
            _drop(body, bad.field.path)
        else:
            _put(body, bad.field.path, bad.value)
        content = json.dumps(body).encode()
    before = state(env.db)
    try:
        r = client.request(
            case.method, url, content=content, headers={"Content-Type": "application/json"}
        )
        status, text = r.status_code, r.text
    except Exception:  # the app raised: a 500 for the caller
        status, text = 500, traceback.format_exc()
    said = f"{status} {bad.id}: {text[:400]}"
    assert 400 <= status < 500, said
    answer = json.loads(text)
    assert set(answer) == {"status", "code", "message", "errors"}, said
    assert answer["status"] == status and answer["code"] and answer["message"], said
    errors = answer["errors"]
    assert errors and all(set(e) == {"field", "reason"} and e["reason"] for e in errors), said
    name = bad.field.name if bad.field else "body"
    assert _named(errors, name), said
    assert state(env.db) == before, said


def test_every_write_route_is_swept() -> None:
    """Every API write with a JSON body has cases here, and the route table can call it."""
    routes = {r for r, _ in write_routes()}
    assert len(routes) > 30, routes
    assert routes <= {c.route for c in CASES_BAD}
    assert not [r for r in routes if CASES[r].missing], "a route the route table cannot call"
    # The walk reaches nested fields (a household member's details).
    assert any(c.field and len(c.field.path) > 2 for c in CASES_BAD)


# -- the page forms that write -----------------------------------------------------------

# Page forms left out, and why: the sign-in machinery (a bad value there is a failed
# sign-in, answered as one), a preference in a cookie, and the forms that only read.
FORMS_LEFT_OUT = {
    "POST /login": "a failed sign-in, answered as one (no field is named: no oracle)",
    "POST /login/code": "a failed second factor, answered as one",
    "POST /logout": "takes no field",
    "POST /language": "a preference in a cookie; writes nothing",
}
# Fields of the route table's forms that are no input to the write, and why.
NOT_INPUT = {
    ("POST /manifests/{manifest_id}/dispatch", "confirmed"): "a checkbox: any value ticks it",
    ("POST /manifests/{manifest_id}/receive", "confirmed"): "a checkbox: any value ticks it",
    ("POST /tracing/matches/{match_id}/confirm", "case_id"): "the page to go back to",
    ("POST /tracing/matches/{match_id}/reject", "case_id"): "the page to go back to",
}
# Forms a page shows to some of the roles allowed on the route only, and the role that
# fills them in: another role's post is refused whatever it holds (403 after the scope
# check), so its page shows no such form to mark.
FORM_ROLE = {
    "POST /persons/{person_id}/health": Role.HEALTH,  # the health form: health staff's
    # The world's case awaiting a decision is an adult's: a tracing officer records it.
    "POST /tracing/cases/{case_id}/disclosure": Role.TRACING_OFFICER,
}
# A field the page marks under the name of its own input: the route table's form gives
# a sought person's name in parts, the enquiry form types it whole.
MARKED_AS = {
    ("POST /tracing/enquiries", "sought[0].given_name"): "sought[0].full_name",
    ("POST /tracing/enquiries", "sought[0].family_name"): "sought[0].full_name",
}


@dataclass(frozen=True)
class FormCase:
    route: str
    field: str
    kind: str  # "too_long", "wrong_type"
    value: str

    @property
    def id(self) -> str:
        return f"{self.route}|{self.field}|{self.kind}"


def _writing_forms() -> list[RouteCase]:
    return [
        c
        for key, c in CASES.items()
        if c.kind == "form"
        and key not in FORMS_LEFT_OUT
        and not NO_KEY.get(key, "").startswith("a read")
    ]


def _form_cases() -> list[FormCase]:
    out = []
    for case in _writing_forms():
        for name, value in (case.body or {}).items():
            if (case.key, name) in NOT_INPUT:
                continue
            out.append(FormCase(case.key, name, "too_long", LONG))
            if value.strip().lstrip("-").isdigit():
                out.append(FormCase(case.key, name, "wrong_type", "not a number"))
    return out


FORM_CASES = _form_cases()
# Tables a refused form may still add to: the page shown again shows the person (one
# audit event per person shown, PROTECTION.md line 6; a look-up counted against
# enumeration, line 14).
READ_TABLES = {"audit_events", "rate_events"}


class _Marks(html.parser.HTMLParser):
    """What a page says of its fields: the controls marked invalid (``aria-invalid`` and
    the id of the text that says why, a fieldset's for the controls in it), the hidden
    inputs of each form with what that form says (an alert in it, or its
    ``aria-describedby``), and the text of every element with an id."""

    VOID = frozenset({"input", "br", "img", "meta", "link", "hr", "source", "wbr", "col"})

    def __init__(self) -> None:
        super().__init__()
        self.invalid: dict[str, set[str]] = {}  # name -> ids of the text saying why
        self.hidden: list[tuple[set[str], set[str]]] = []  # (names, ids of what it says)
        self.texts: dict[str, str] = {}
        self.actions: list[str] = []  # where each POST form posts to
        self.alerts: list[str] = []  # the ids of the page's alerts
        self._open: list[tuple[str, dict[str, str | None]]] = []
        self._form: tuple[set[str], set[str]] | None = None
        self._fieldsets: list[set[str]] = []  # the ids naming each open fieldset's why
        self._alerts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        why = set((a.get("aria-describedby") or "").split()) if a.get("aria-invalid") else set()
        if tag == "form":
            self.actions.append(a.get("action") or "")
            self._form = (set(), set((a.get("aria-describedby") or "").split()))
            self.hidden.append(self._form)
        elif tag == "fieldset":
            self._fieldsets.append(why)
        if tag in ("input", "select", "textarea") and a.get("name"):
            name = a["name"] or ""
            marked = why | {i for f in self._fieldsets for i in f}
            if marked:
                self.invalid.setdefault(name, set()).update(marked)
            if tag == "input" and a.get("type") == "hidden" and self._form is not None:
                self._form[0].add(name)
        if a.get("role") == "alert":
            ident = a.get("id") or f"alert-{len(self.alerts)}"
            a["id"] = ident
            self.alerts.append(ident)
            if self._form is not None:
                self._form[1].add(ident)
        if tag not in self.VOID:
            self._open.append((tag, a))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "fieldset" and self._fieldsets:
            self._fieldsets.pop()
        while self._open:
            opened, _ = self._open.pop()
            if opened == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, a in self._open:
            if a.get("id"):
                self.texts[a["id"] or ""] = self.texts.get(a["id"] or "", "") + data


def _marks(text: str, field: str, path: str) -> bool:
    """Whether the page marks ``field`` of the form posting to ``path``: its error next
    to it, or the summary's link, or the control (or its fieldset) ``aria-invalid`` and
    described by a text that says why; for a hidden input (an id the form sends, a
    button's choice), the form it is in says why (an alert in it, or the text it is
    described by). Where the page no longer offers that form (the record moved on: a
    case no longer to decide, a record not merged), an alert says why."""
    if f'id="e-{field}"' in text or f'data-field="f-{field}"' in text:
        return True
    page = _Marks()
    page.feed(text)
    said = {i for i, t in page.texts.items() if t.strip()}
    if page.invalid.get(field, set()) & said:
        return True
    if any(field in names and ids & said for names, ids in page.hidden):
        return True
    offered = re.compile(re.sub(r"{\w+}", "[^/]+", path))
    if not any(offered.fullmatch(action.split("?", 1)[0]) for action in page.actions):
        return bool(set(page.alerts) & said)
    return False


@pytest.mark.parametrize(
    ("backend", "bad"),
    _on_backends(FORM_CASES, lambda c: c.kind == "too_long" and _database_bound(c.field, None)),
)
def test_bad_form_value_is_refused_on_the_form(env: Env, bad: FormCase) -> None:
    """A page form posted with a bad value: never a 5xx, nothing written, and a 4xx with the
    field marked (``_marks``), on every writing form of the route table."""
    case = _route_case(bad.route)
    role = FORM_ROLE.get(case.key) or _role_for(case)
    client = env.clients[role]
    url, body = _base(env, case, role)
    body[bad.field] = bad.value
    before = state(env.db)
    try:
        r = client.post(url, data=body)
        status, text = r.status_code, r.text
    except Exception:  # the app raised: a 500 for the caller
        status, text = 500, traceback.format_exc()
    said = f"{status} {bad.id}: {text[-600:] if status >= 500 else ''}"
    assert status < 500, said
    after = state(env.db)
    changed = {t: (before[t], after[t]) for t in after if after[t] != before[t]}
    assert set(changed) <= READ_TABLES, (said, changed)
    assert 400 <= status < 500, said
    assert _marks(text, MARKED_AS.get((bad.route, bad.field), bad.field), case.path), said


def test_the_forms_named_here_are_writing_forms() -> None:
    """Every form ``NOT_INPUT`` and ``FORM_ROLE`` name is a writing form of the route
    table (no entry outlives its route)."""
    forms = {c.key for c in _writing_forms()}
    assert {k for k, _ in NOT_INPUT} <= forms
    assert set(FORM_ROLE) <= forms
