"""PROTECTION.md line 3, site isolation: an officer of site A reaches nothing of site B.

Generated from tests/api/data/site_isolation.json: every API route x every role. A role
without the route's action gets 403 from the role gate (whatever the record); a role
holding it for its own sites only gets 404 for a site-B record, the same answer as for a
record that does not exist (no existence oracle), and lists and searches simply leave
site B's persons out. A route missing from the data file fails the build.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from corridor.security.roles import Role, default_matrix
from tests.api.helpers import BASIS, CONSENT, register, site, work_at
from tests.api.test_auth import api_routes, gate_of
from tests.conftest import make_client
from tests.support.route_table import ENQUIRER, RECORD_PARAMS, all_routes

MATRIX_FILE = Path(__file__).parent / "data" / "site_isolation.json"
ROUTES: dict[str, dict[str, Any]] = json.loads(MATRIX_FILE.read_text())["routes"]
CANARY = ("Zubaida", "Qassab")


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, replacement in ids.items():
            value = value.replace("{" + name + "}", replacement)
        return value
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.fixture
def site_b_world(database, clock):
    """Sites A, B and C; at B a household (head and child), the child sent to C on a
    dispatched manifest and not checked in; at A one person."""
    admin = make_client(database, clock)
    a, b, c = site(admin, "Camp A"), site(admin, "Camp B"), site(admin, "Hospital C", "hospital")
    r = admin.post(
        "/api/households",
        json={
            "site_id": b,
            "consent": CONSENT,
            **BASIS,
            "head": {"given_name": "Zubaida", "family_name": "Qassab", "sex": "f"},
            "members": [
                {
                    "relationship": "child",
                    "given_name": "Zubaida",
                    "family_name": "Qassab",
                    "sex": "f",
                    "estimated_age": 6,
                }
            ],
        },
    )
    assert r.status_code == 201, r.text
    household = r.json()
    head, child = (m["id"] for m in household["members"])
    m = admin.post(
        "/api/manifests", json={"vehicle": "truck 7", "from_site_id": b, "to_site_id": c}
    )
    manifest = m.json()["id"]
    r = admin.post(
        f"/api/manifests/{manifest}/persons",
        json={"person_ids": [child], "separation_reason": "medical referral"},
    )
    assert r.status_code == 200, r.text
    assert admin.post(f"/api/manifests/{manifest}/dispatch").status_code == 200
    event = admin.get(f"/api/persons/{head}/movements").json()[0]["id"]
    link = admin.get(f"/persons/{head}.json").json()["relatives"][0]["link_id"]
    own = register(admin, a, given_name="Hamid", family_name="Saleh")
    r = admin.post(
        "/api/tracing/enquiries",
        json={
            "enquirer": ENQUIRER,
            "sought": [
                {
                    "given_name": "Zubaida",
                    "family_name": "Qassab",
                    "sex": "f",
                    "enquirer_is": "sibling",
                }
            ],
        },
    )
    assert r.status_code == 201, r.text
    enquiry = r.json()
    [case] = enquiry["cases"]
    [match] = [m for m in case["matches"] if m["person"]["id"] == head]
    r = admin.post("/api/exports", json={"reason": "monthly list for the camp committee"})
    assert r.status_code == 201, r.text
    export = r.json()
    ids = {
        "site_id": b,
        "own_site_id": a,
        "person_id": head,
        "household_id": household["id"],
        "manifest_id": manifest,
        "event_id": event,
        "link_id": link,
        "own_person_id": own["id"],
        "registration_number": household["members"][0]["registration_number"],
        "enquiry_id": enquiry["id"],
        "case_id": case["id"],
        "match_id": match["id"],
        "export_id": export["id"],
        "fmt": "csv",  # a list exported as a file (the manifests)
    }
    return admin, ids, {head, child}


def test_protection_03_every_api_route_is_in_the_site_isolation_matrix(client):
    routes = {f"{m} {r.path}" for r in api_routes(client.app) for m in r.methods}
    assert sorted(routes - set(ROUTES)) == [], f"add these routes to {MATRIX_FILE.name}"
    assert sorted(set(ROUTES) - routes) == [], "the matrix names routes that do not exist"


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_protection_03_an_officer_of_site_a_reaches_nothing_of_site_b(
    database, clock, site_b_world, role
):
    admin, ids, site_b_persons = site_b_world
    officer = make_client(database, clock, roles=(role,))
    work_at(officer, ids["own_site_id"], admin=admin)
    me = officer.get("/api/auth/me").json()
    ids = {**ids, "user_id": me["user_id"]}
    matrix = default_matrix()
    routes = {f"{m} {r.path}": r for r in api_routes(officer.app) for m in r.methods}
    checked = 0
    for key, spec in ROUTES.items():
        if spec["expect"] == "no_personal_data":
            continue
        if spec["expect"] == "any_site_only":
            action = gate_of(routes[key])
            assert not (
                matrix.allowed(role, action, same_site=True)
                and not matrix.allowed(role, action, same_site=False)
            ), (key, role, "holds it for its own sites only: say what it must answer")
            continue
        method, path = key.split(" ", 1)
        action = gate_of(routes[key])
        assert action is not None, key
        if matrix.allowed(role, action, same_site=False):
            continue  # this role holds the action on every site (the tracing officer)
        r = officer.request(method, _fill(path, ids), json=_fill(spec.get("body"), ids))
        for secret in (*site_b_persons, *CANARY):
            assert secret not in r.text, (key, role, r.text[:300])
        if not matrix.allowed(role, action, same_site=True):
            assert r.status_code == 403, (key, role, r.status_code, r.text[:200])
            continue
        checked += 1
        if spec["expect"] == "absent":
            assert r.status_code in (200, 201), (key, role, r.status_code, r.text[:200])
            continue
        assert r.status_code in (404, 422), (key, role, r.status_code, r.text[:200])
        # The same answer as for records that do not exist at all.
        unknown = {**ids, **{k: str(uuid.uuid4()) for k in RECORD_PARAMS}}
        nowhere = officer.request(
            method, _fill(path, unknown), json=_fill(spec.get("body"), unknown)
        )
        assert (nowhere.status_code, nowhere.json()["code"]) == (
            r.status_code,
            r.json()["code"],
        ), (key, role)
        if spec["expect"] == "not_found":
            assert r.status_code == 404, (key, role)
    if any(matrix.allowed(role, a, same_site=True) and matrix.actions[a] for a in matrix.actions):
        assert checked or role == Role.TRACING_OFFICER or not matrix.sees_personal_data(role)


def test_an_officer_reaches_their_own_sites_persons(database, clock, site_b_world):
    admin, ids, _ = site_b_world
    registrar = make_client(database, clock, roles=(Role.REGISTRAR,))
    work_at(registrar, ids["own_site_id"], admin=admin)
    r = registrar.get(f"/api/persons/{ids['own_person_id']}")
    assert r.status_code == 200 and r.json()["names"]["given_name"] == "Hamid"
    assert registrar.get(f"/api/persons/{ids['person_id']}").status_code == 404
    work_at(registrar, ids["site_id"], admin=admin)  # posted to site B too: now it is there
    assert registrar.get(f"/api/persons/{ids['person_id']}").status_code == 200


def _page_routes(app):
    """The web pages (and their .json twins) that name a record in their path."""
    return [
        r
        for r in all_routes(app)
        if not r.path.startswith("/api/")
        and "{" in r.path
        and "GET" in r.methods
        # a file format names no record (the manifests list's export, GET /manifests/...)
        and r.path.replace("{fmt}", "").count("{")
    ]


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_protection_03_no_page_shows_another_sites_record(database, clock, site_b_world, role):
    admin, ids, site_b_persons = site_b_world
    officer = make_client(database, clock, roles=(role,))
    work_at(officer, ids["own_site_id"], admin=admin)
    pages = _page_routes(officer.app)
    assert len(pages) >= 5
    for route in pages:
        action = gate_of(route)
        assert action is not None, route.path
        if default_matrix().allowed(role, action, same_site=False):
            continue  # this role holds the action on every site (the tracing officer)
        url = _fill(route.path, ids)
        r = officer.get(url)
        # (a page repeats its own address, in its language switch)
        for secret in (*(p for p in site_b_persons if p not in url), *CANARY):
            assert secret not in r.text, (route.path, role)
        assert r.status_code in (403, 404), (route.path, role, r.status_code)
