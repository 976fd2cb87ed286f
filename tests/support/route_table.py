"""The route table as test cases: every route of the app (API, pages and their ``.json``
twins, page forms), with its gate, its path parameters, and the body to send.

Bodies come from tests/api/data/site_isolation.json (the hand-kept isolation matrix) and,
for the routes it gives none (or a fixed one), from ``BODIES`` and ``FORMS`` below.
Placeholders ``{name}`` are filled from the record under test. A route whose body is
required and has no template, or whose path has a parameter ``fill`` does not know, is
reported by ``missing`` and fails the test: a new route forces someone to extend this.
"""

from __future__ import annotations

import json
import re
import traceback
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

ISOLATION_FILE = Path(__file__).parent.parent / "api" / "data" / "site_isolation.json"
ISOLATION: dict[str, dict[str, Any]] = json.loads(ISOLATION_FILE.read_text())["routes"]
PARAM = re.compile(r"{(\w+)}")
# Path parameters that name a record (or its site): each takes its value from the record
# under test, so a site-B record's is out of the caller's scope.
RECORD_PARAMS = {
    "person_id",
    "household_id",
    "manifest_id",
    "event_id",
    "link_id",
    "enquiry_id",
    "case_id",
    "match_id",
    "export_id",
    "site_id",
}
# Other path parameters the test can fill: the caller's own user id, a file format (the
# first value its annotation allows).
# The token to revoke is a spare one of the world's (never a caller's own).
OTHER_PARAMS = {"user_id", "fmt", "token_id"}

# The relative abroad who asks, in every enquiry the route tests make.
ENQUIRER = {
    "name": "Amira Haddad",
    "contact": "+49 151 2345 6789",
    "relationship": "sibling",
    "location": "Berlin",
    "country": "DEU",
}
ENQUIRY = {
    "enquirer": ENQUIRER,
    "sought": [
        {"given_name": "{given_name}", "family_name": "{family_name}", "enquirer_is": "sibling"}
    ],
}
# API bodies the isolation matrix does not give, or gives without the record in them.
BODIES: dict[str, Any] = {
    "POST /api/auth/login": {"username": "nobody-here", "password": "not the password"},
    "POST /api/auth/second-factor": {"code": "000000"},
    "POST /api/auth/tokens": {"name": "another", "scopes": ["figures.read"]},
    "POST /api/sites": {"name": "Camp Route Table", "kind": "camp", "pcode": "SY08"},
    "PUT /api/users/{user_id}/sites": {"site_ids": ["{own_site_id}"]},
    # An administrator acts on their own account (the path's user id is the caller's):
    # nothing that locks them out (deactivating oneself is refused), roles unchanged.
    "POST /api/users": {
        "username": "rt-created",
        "display_name": "Created by the route table",
        "password": "a long test password",
        "roles": ["coordinator"],
    },
    "PATCH /api/users/{user_id}": {"language": "en", "roles": ["administrator"]},
    # One's own: refused (409), nothing changed. A wrong current password: refused (422),
    # one failed sign-in counted.
    "POST /api/users/{user_id}/password": {"password": "a one-time test password"},
    "POST /api/auth/password": {
        "current_password": "not the password",
        "new_password": "a new long test password",
    },
    "PATCH /api/sites/{site_id}": {"capacity": 1234},
    "POST /api/persons/match": {
        "given_name": "{given_name}",
        "family_name": "{family_name}",
        "purpose": "deduplication",
    },
    "POST /api/tracing/enquiries": ENQUIRY,
    # What an officer of the record's site would send (the isolation matrix's bodies ask
    # for refusals): a truck from the record's site to the hospital, the record taken
    # to hospital, the record and a person of their site not linked to them yet
    # (tests/api/test_world_succeeds_every_write.py).
    "POST /api/manifests": {
        "vehicle": "truck",
        "from_site_id": "{site_id}",
        "to_site_id": "{hospital_id}",
    },
    "POST /api/persons/{person_id}/events": {"kind": "hospitalised", "to_site_id": "{hospital_id}"},
    "POST /api/relationships": {
        "person_id": "{person_id}",
        "other_person_id": "{relative_id}",
        "kind": "cousin",
    },
    "POST /api/manifests/{manifest_id}/household-check-ins": {"household_id": "{household_id}"},
    "POST /api/tracing/matches/{match_id}/confirm": {"reason": "seen in person"},
    "POST /api/tracing/matches/{match_id}/reject": {"reason": "not the same person"},
    "POST /api/tracing/cases/{case_id}/transitions": {"to": "family_informed", "reason": "told"},
    "POST /api/tracing/cases/{case_id}/candidates": {"person_id": "{person_id}"},
    # The person queued beside the record as a probable duplicate (the adult's: she was
    # registered again, tests/support/route_world.py); the record itself where it has
    # none (merged with themselves: refused, 422, the world unchanged).
    "POST /api/persons/{person_id}/merge": {
        "other_person_id": "{other_person_id}",
        "reason": "one person registered twice",
        "consent_tracing": True,
    },
    "POST /api/persons/{person_id}/not-duplicate": {
        "other_person_id": "{other_person_id}",
        "reason": "two cousins of one name",
    },
    # The administrator's: the person given a new registration number (issue 16).
    "POST /api/persons/{person_id}/renumber": {"reason": "number given twice"},
    # As their page forms: the conflict the world holds (the desk's phone taken), the
    # erasure it holds back (kept held).
    "POST /api/persons/{person_id}/resolve-conflict": {
        "conflict_id": "{conflict_id}",
        "theirs": ["phone"],
    },
    "POST /api/persons/{person_id}/resolve-hold": {"conflict_id": "{conflict_id}", "lift": False},
    # A dry run of a file naming the record's person, into the record's site: the
    # duplicates found are persons shown.
    "POST /api/imports/{fmt}": {
        "files": {
            "file": (
                "people.csv",
                "record_id,given_name,family_name\nr1,{given_name},{family_name}\n",
            )
        },
        "params": {"site_id": "{site_id}", "dry_run": "true"},
    },
}
# Page forms (posted with the CSRF token of the caller's browser secret).
FORMS: dict[str, dict[str, str]] = {
    "POST /login": {"username": "nobody-here", "password": "not the password"},
    "POST /login/code": {"code": "000000"},
    "POST /logout": {},
    "POST /language": {"lang": "ar", "next": "/"},
    "POST /search": {"name": "{given_name} {family_name}"},
    "POST /register": {
        "given_name": "Canary",
        "site_id": "{site_id}",
        "purpose": "registration",
        "legal_basis": "vital_interest",
    },
    "POST /register/household": {
        "head.given_name": "Canary",
        "site_id": "{site_id}",
        "purpose": "registration",
        "legal_basis": "vital_interest",
    },
    "POST /register/similar": {"given_name": "{given_name}", "family_name": "{family_name}"},
    "POST /persons/{person_id}/events": {"kind": "hospitalised", "to_site_id": "{hospital_id}"},
    "POST /persons/{person_id}/health": {"muac_mm": "", "medical_note": "seen again"},
    # As their API twins: the pair queued (the adult's), else the record itself
    # (refused, 422); the unmerge of the person merged into the adult (else of a person
    # not merged: a conflict).
    "POST /persons/{person_id}/merge": {
        "other_person_id": "{other_person_id}",
        "reason": "one person registered twice",
        "consent_tracing": "true",
    },
    "POST /persons/{person_id}/not-duplicate": {
        "other_person_id": "{other_person_id}",
        "reason": "two cousins of one name",
    },
    "POST /persons/{person_id}/unmerge": {"reason": "merged by mistake"},
    # A decision on a sync conflict: the one the world holds (the desk's phone taken),
    # else one nobody has (404, nothing written).
    "POST /persons/{person_id}/resolve-conflict": {
        "conflict_id": "{conflict_id}",
        "choice.phone": "theirs",
    },
    # A decision on an erasure received for a person on hold: the one the world holds
    # back (the hold kept, the erasure refused), else one nobody has (404).
    "POST /persons/{person_id}/resolve-hold": {"conflict_id": "{conflict_id}", "decision": "keep"},
    "POST /persons/{person_id}/links": {
        "registration_number": "{relative_number}",
        "link_kind": "cousin",
    },
    "POST /persons/{person_id}/links/{link_id}/remove": {"reason": "a sister, not the mother"},
    "POST /manifests": {
        "vehicle": "truck 9",
        "from_site_id": "{site_id}",
        "to_site_id": "{hospital_id}",
    },
    "POST /manifests/{manifest_id}/persons": {
        "registration_numbers": "{registration_number}",
        "separation_reason": "medical referral",
    },
    "POST /manifests/{manifest_id}/remove": {"person_id": "{person_id}"},
    "POST /manifests/{manifest_id}/dispatch": {"confirmed": "yes"},
    "POST /manifests/{manifest_id}/check-in": {"person_id": "{person_id}"},
    "POST /manifests/{manifest_id}/receive": {"confirmed": "yes"},
    "POST /tracing/enquiries": {
        "enquirer.name": "Amira Haddad",
        "enquirer.contact": "+49 151 2345 6789",
        "enquirer.relationship": "sibling",
        "enquirer.location": "Berlin",
        "sought[0].given_name": "{given_name}",
        "sought[0].family_name": "{family_name}",
    },
    "POST /tracing/matches/{match_id}/confirm": {"case_id": "{case_id}", "reason": "seen"},
    "POST /tracing/matches/{match_id}/reject": {"case_id": "{case_id}", "reason": "not her"},
    "POST /tracing/cases/{case_id}/disclosure": {"decision": "agreed", "reason": "asked"},
    "POST /tracing/cases/{case_id}/transitions": {"to": "family_informed", "reason": "told"},
    "POST /tracing/cases/{case_id}/search": {"name": "{given_name} {family_name}"},
    "POST /tracing/cases/{case_id}/candidates": {"person_id": "{person_id}"},
    "POST /admin/users": {
        "username": "rt-page-created",
        "display_name": "Created on the page",
        "password": "a long test password",
        "roles": "coordinator",
    },
    "POST /admin/users/{user_id}": {"language": "en", "roles": "administrator"},
    "POST /admin/users/{user_id}/deactivate": {},
    "POST /admin/users/{user_id}/reactivate": {},
    "POST /admin/users/{user_id}/second-factor": {},
    "POST /admin/users/{user_id}/sessions/end": {},
    "POST /admin/users/{user_id}/password": {"password": ""},
    "POST /admin/users/{user_id}/unlock": {},
    "POST /account/password": {
        "current_password": "not the password",
        "new_password": "a new long test password",
        "new_password_again": "a new long test password",
    },
    "POST /admin/sites": {"name": "Camp Route Table Page", "kind": "camp", "pcode": "SY08"},
    "POST /admin/sites/{site_id}": {"capacity": "1234"},
    "POST /admin/sites/{site_id}/close": {},
    "POST /admin/tokens/{token_id}/revoke": {},
    # The data protection officer's desk: a look-up by number; lifting a hold nobody
    # placed (the world stays as it is); a drill confirmed with a wrong phrase (422,
    # nothing destroyed).
    "POST /dpo/audit": {"person": "{registration_number}"},
    "POST /dpo/holds": {"kind": "person", "ref": "{registration_number}", "hold": "lift"},
    "POST /dpo/drill/{site_id}": {"confirm": "not the site's name"},
    # A list's export asked for (the families at the record's site: out of scope for
    # site B's), approved, downloaded (two-key bulk export, pages/exports.py).
    "POST /exports": {"list": "families", "site": "{site_id}", "reason": "for the committee"},
    "POST /exports/{export_id}/approve": {},
    "POST /exports/{export_id}/download": {"passphrase": "a long enough passphrase"},
}
# Writes that take no idempotency key, and why (docs/api.md, "Safe retries"). Every other
# API write lists ``Idempotency-Key`` among its parameters, every other page form carries
# a hidden ``idempotency_key`` and its handler takes ``Retried``: a new write without one
# fails tests/api/test_route_table_protection.py.
NO_KEY: dict[str, str] = {
    "POST /api/auth/login": "no caller yet to own a key; its body is a password",
    "POST /api/auth/second-factor": "part of the login; its body is a one-time code",
    "POST /api/auth/logout": "ending a session twice is ending it once",
    "POST /api/auth/password": "its body is passwords, never hashed into a stored row; "
    "sent again, the current password is no longer the one (422)",
    "POST /api/persons/search": "a read (a POST so that nothing personal is in the URL)",
    "POST /api/persons/match": "a read (a POST so that nothing personal is in the URL)",
    "POST /api/exports/{export_id}/download": "once-only by design: the file is kept "
    "nowhere to answer again, and its body is a passphrase never hashed into a stored row",
    "POST /login": "the login form",
    "POST /login/code": "the login's second step",
    "POST /logout": "ending a session twice is ending it once",
    "POST /account/password": "the password form, as its API twin",
    "POST /language": "a preference in a cookie",
    "POST /search": "a read",
    "POST /tracing/cases/{case_id}/search": "a read (the search for a case's person sought)",
    "POST /register/similar": "a read (the similar persons while typing)",
    "POST /dpo/audit": "a read (who opened a record)",
    "POST /exports/{export_id}/download": "once-only by design, as its API twin",
    # A site node's bundle (issue 16): its changes carry their own ids and per-origin
    # numbers, so a bundle sent again is "already applied" and changes nothing; the
    # node's signature, not an account, says who sends (corridor/web/sync_routes.py).
    "POST /api/sync/push": "a bundle's change ids and per-origin numbers make a replay "
    "change nothing (docs/sync.md)",
    "POST /api/sync/pull": "the request carries only the node's marks, which only move "
    "forward; the answer is made again from them",
}

# Page forms that search by a criterion (the form field's name, as the API's): those of
# ``SEARCHED_FIELDS`` (corridor/services/protection/gate.py) are checked against the
# field groups. API searches are found from their body's schema (``criteria``). Every
# page form that is "a read" (``NO_KEY``) is named here, with the criteria it takes.
SEARCH_FORMS: dict[str, tuple[str, ...]] = {
    "POST /search": ("registration_number", "phone", "document_number"),
    "POST /register/similar": (),  # names, sex, age: no restricted field
    "POST /tracing/cases/{case_id}/search": (),  # a name, sex, age
    "POST /dpo/audit": (),  # a registration number, for the audit trail
}


def criteria(app: FastAPI, case: RouteCase) -> tuple[str, ...]:
    """The search criteria a route takes: a page form's from ``SEARCH_FORMS``, an API
    read's from its body's schema (a POST that is a read: ``NO_KEY``)."""
    if case.kind == "form":
        return SEARCH_FORMS.get(case.key, ())
    if case.kind != "api" or case.key not in NO_KEY:
        return ()
    for route in all_routes(app):
        if route.path == case.path and case.method in (route.methods or ()):
            body = route.body_field.field_info.annotation if route.body_field else None
            return tuple(getattr(body, "model_fields", {}))
    return ()


# The order writes run in, after every read: the ones that change most come last.
LAST = (
    "/dispatch",
    "/receive",
    "/check-in",
    "DELETE ",
    "/remove",
    "/corrections",
    "/close",  # closing a site: after every write that registers or sends people there
    "/renumber",  # a new number: after every write that names the person by their number
    # An erasure last of all: a write after it on the erased person finds nobody (404),
    # so that, run earlier, it hid every removal of a link or from a manifest, and
    # every correction, from the audits (tests/api/test_world_succeeds_every_write.py).
    "/erasure",
)


@dataclass(frozen=True)
class RouteCase:
    key: str  # "GET /api/persons/{person_id}"
    method: str
    path: str
    action: str | None  # the matrix action of the route's gate (None: no gate)
    params: tuple[str, ...]
    kind: str  # "api", "page" (HTML), "twin" (a page's .json), "form" (a page's POST)
    body: Any  # a JSON body, a form, {"files":..., "params":...}, or None
    missing: str | None  # why the test cannot call it (then the case fails)
    fmt: str | None = None
    audits: str | None = None  # the action a write handler's audit events record

    @property
    def reads(self) -> bool:
        return self.method == "GET"

    @property
    def per_record(self) -> bool:
        """Whether the request depends on the record (a path parameter or a placeholder
        naming it): otherwise one request per role is enough."""
        if set(self.params) & RECORD_PARAMS:
            return True
        text = json.dumps(self.body, default=str)
        return any("{" + p + "}" in text for p in (*RECORD_PARAMS, *PLACEHOLDERS))


PLACEHOLDERS = (
    "own_site_id",
    "hospital_id",
    "relative_id",
    "relative_number",
    "registration_number",
    "given_name",
    "family_name",
    "other_person_id",
    "conflict_id",
)


def all_routes(app: FastAPI) -> list[APIRoute]:
    """Every path operation of the app: all of them are in ``app.routes`` itself
    (``corridor.web.routers.add_routes`` refuses a router nested behind FastAPI's
    ``include_router`` wrapper, which a walk of ``app.routes`` would not open)."""
    found = [r for r in app.routes if isinstance(r, APIRoute)]
    assert len(found) > 150, f"the route walk found {len(found)} routes"
    return found


def gate_of(route: APIRoute) -> str | None:
    """The action the route's role gate checks (``requires(action)``), if any."""
    for dep in route.dependant.dependencies:
        action = getattr(dep.call, "action", None)
        if action:
            return str(action)
    return None


def audited_as(route: APIRoute) -> str | None:
    """The action a write handler is audited as (``audited(action)``), if any: a route
    audited as ``tracing.write`` reaches a tracing write (tests/sync/test_tracing_at_node.py)."""
    for dep in route.dependant.dependencies:
        action = getattr(dep.call, "audits", None)
        if action:
            return str(action)
    return None


def _fmt(route: APIRoute) -> str | None:
    for p in route.dependant.path_params:
        if p.name == "fmt":
            values: tuple[object, ...] = typing.get_args(p.field_info.annotation)
            extra = p.field_info.json_schema_extra
            if not values and isinstance(extra, dict):  # a pattern with its enum listed
                values = tuple(extra.get("enum") or ())  # type: ignore[arg-type]
            return str(values[0]) if values else None
    return None


def route_cases(app: FastAPI) -> list[RouteCase]:
    cases = []
    for route in all_routes(app):
        for method in sorted(route.methods or ()):
            key = f"{method} {route.path}"
            params = tuple(PARAM.findall(route.path))
            api = route.path.startswith("/api/")
            if api:
                kind = "api"
            elif method == "GET":
                kind = "twin" if route.path.endswith(".json") else "page"
            else:
                kind = "form"
            missing = None
            unknown = sorted(set(params) - RECORD_PARAMS - OTHER_PARAMS)
            if unknown:
                missing = f"no filler for path parameter(s) {unknown}: extend RECORD_PARAMS"
            body: Any = None
            if kind == "form":
                body = FORMS.get(key)
                if body is None:
                    missing = missing or "a page form without a template: add it to FORMS"
            elif key in BODIES:
                body = BODIES[key]
            elif ISOLATION.get(key, {}).get("body") is not None:
                body = ISOLATION[key]["body"]
            elif route.body_field is not None and route.body_field.field_info.is_required():
                missing = missing or "a body without a template: add it to BODIES"
            cases.append(
                RouteCase(
                    key,
                    method,
                    route.path,
                    gate_of(route),
                    params,
                    kind,
                    body,
                    missing,
                    _fmt(route),
                    audited_as(route),
                )
            )

    def order(c: RouteCase) -> tuple[int, int, int, str]:
        # Of the writes of one step, the API's first: a page form of the same step (the
        # site closed on its page, a person taken off a manifest there) would otherwise
        # leave the API's nothing to do (tests/api/test_world_succeeds_every_write.py).
        late = next((i for i, m in enumerate(LAST) if m in c.key), -1)
        return (0 if c.reads else 1, late, 0 if c.kind == "api" else 1, c.key)

    return sorted(cases, key=order)


def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, replacement in ids.items():
            value = value.replace("{" + name + "}", replacement)
        return value
    if isinstance(value, list | tuple):
        return type(value)(fill(v, ids) for v in value)
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


def send(client: Any, case: RouteCase, url: str, body: Any) -> tuple[int, str, Any]:
    """Send ``case`` (its filled ``url`` and ``body``) with ``client``: the status, the
    text and the JSON it holds (None if none). A form as a form, an upload as files, any
    other body as JSON; an app that raised is a 500 for the caller."""
    try:
        if case.kind == "form":
            r = client.request(case.method, url, data=body or None)
        elif isinstance(body, dict) and "files" in body:
            files = {k: (n, c.encode()) for k, (n, c) in body["files"].items()}
            r = client.request(case.method, url, files=files, params=body["params"])
        else:
            r = client.request(case.method, url, json=body)
        status, text = r.status_code, r.text
    except Exception:  # the app raised: a 500 for the caller
        status, text = 500, traceback.format_exc()
    data = None
    if text[:1] in "[{":
        try:
            data = json.loads(text)
        except ValueError:
            data = None
    return status, text, data
