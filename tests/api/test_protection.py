"""PROTECTION.md, lines 1, 4, 5, 8, 11 and 14, each proved through the HTTP API.

(Each line of PROTECTION.md has a test named ``test_protection_NN_...``; the others live
beside the code they exercise: see docs/security.md.)"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select

from corridor.logs import FIELDS, JsonFormatter, TextFormatter
from corridor.security.ratelimit import Limit
from corridor.security.roles import Role
from corridor.security.tables import alerts, audit_events, disposal_log
from corridor.storage.tables import persons
from tests.api.helpers import BASIS, CONSENT, errors, person_body, register, site, work_at
from tests.api.test_auth import api_routes
from tests.conftest import make_client

MEDICAL = {
    "muac_mm": 112,
    "oedema": True,
    "serious_medical_condition": True,
    "medical_note": "shrapnel in the left leg, needs surgery",
}


def _count(database, table) -> int:
    with database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_protection_01_a_record_with_no_legal_basis_is_refused(client, database):
    camp = site(client, "Camp A")
    body = person_body(camp, given_name="Hassan")
    del body["legal_basis"]
    r = client.post("/api/persons", json=body)
    assert r.status_code == 422
    assert "legal_basis" in errors(r)
    body = person_body(camp, given_name="Hassan", legal_basis="curiosity")
    assert "legal_basis" in errors(client.post("/api/persons", json=body))
    del body["consent"]
    assert "consent" in errors(client.post("/api/persons", json=body))
    assert _count(database, persons) == 0


def test_protection_04_registrars_see_no_medical_detention_or_minors_details(
    client, database, clock
):
    camp = site(client, "Camp A")
    prison = site(client, "Facility D", "detention")
    adult = register(
        client,
        camp,
        given_name="Omar",
        estimated_age=40,
        phone="+963944000222",
        vulnerabilities=MEDICAL,
    )
    registrar = make_client(database, clock, roles=(Role.REGISTRAR,))
    work_at(registrar, camp, prison, admin=client)
    # Registered by a registrar: a note written by a user holding every role (``client``)
    # would be read as medical and detention data too (persons.note_roles).
    child = register(
        registrar,
        camp,
        given_name="Ziad",
        estimated_age=9,
        phone="+963944000333",
        note="found alone at the gate",
        vulnerabilities={"uasc": "unaccompanied"},
    )
    r = client.post(
        f"/api/persons/{adult['id']}/events", json={"kind": "detained", "to_site_id": prison}
    )
    assert r.status_code == 201, r.text
    shown = registrar.get(f"/api/persons/{adult['id']}").json()
    # A withheld field is there, empty, and named as withheld (never a missing key).
    for name in ("muac_mm", "serious_medical_condition", "medical_note"):
        assert shown["vulnerabilities"][name] is None
        assert f"vulnerabilities.{name}" in shown["withheld"]
    assert "shrapnel" not in str(shown)
    assert shown["location"]["site_id"] is None and shown["location"]["site_withheld"]
    assert "location.site_id" in shown["withheld"]
    assert shown["phone"] == "+963944000222"  # an adult's phone is not restricted
    history = registrar.get(f"/api/persons/{adult['id']}/movements").json()
    assert prison not in str(history)
    minor = registrar.get(f"/api/persons/{child['id']}").json()
    for field in ("phone", "note", "documents"):
        assert minor[field] is None and field in minor["withheld"]
    assert minor["vulnerabilities"]["uasc"] is None and minor["origin"]["locality"] is None
    assert {"vulnerabilities.uasc", "origin.locality"} <= set(minor["withheld"])
    assert "+963944000333" not in str(minor) and "found alone" not in str(minor)
    # The roles the matrix names do see them.
    health = make_client(database, clock, roles=(Role.HEALTH,))
    work_at(health, camp, admin=client)
    seen = health.get(f"/api/persons/{adult['id']}").json()["vulnerabilities"]
    assert (seen["muac_mm"], seen["medical_note"]) == (112, MEDICAL["medical_note"])
    protection = make_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
    work_at(protection, camp, prison, admin=client)
    assert protection.get(f"/api/persons/{adult['id']}").json()["location"]["site_id"] == prison
    assert protection.get(f"/api/persons/{child['id']}").json()["note"] == "found alone at the gate"


def test_protection_04_a_registrar_patch_of_restricted_fields_is_refused(client, database, clock):
    camp = site(client, "Camp A")
    adult = register(client, camp, given_name="Omar", estimated_age=40)
    child = register(client, camp, given_name="Ziad", estimated_age=9)
    registrar = make_client(database, clock, roles=(Role.REGISTRAR,))
    work_at(registrar, camp, admin=client)
    r = registrar.patch(f"/api/persons/{adult['id']}", json={"vulnerabilities": MEDICAL})
    assert r.status_code == 403
    assert {e["field"] for e in r.json()["errors"]} == {
        "muac_mm",
        "oedema",
        "serious_medical_condition",
        "medical_note",
    }
    r = registrar.patch(f"/api/persons/{child['id']}", json={"phone": "+963944000444"})
    assert r.status_code == 403 and errors(r) == {"phone": "restricted to other roles"}
    assert client.get(f"/api/persons/{child['id']}").json()["phone"] is None
    # What a registrar may change still changes.
    r = registrar.patch(f"/api/persons/{adult['id']}", json={"father_name": "Khalil"})
    assert r.status_code == 200 and r.json()["names"]["father_name"] == "Khalil"


def test_protection_05_a_body_carrying_site_owner_or_role_is_refused(client, database):
    camp = site(client, "Camp A")
    other = site(client, "Camp B")
    p = register(client, camp, given_name="Hassan")
    before = client.get(f"/api/persons/{p['id']}").json()
    for extra in (
        {"site_id": other},
        {"registration_number": "K7M4Q2XA9"},
        {"recorded_by": "someone"},
        {"role": "administrator"},
        {"id": "another"},
    ):
        r = client.patch(f"/api/persons/{p['id']}", json={"given_name": "Hasan", **extra})
        assert r.status_code == 422, extra
        assert next(iter(extra)) in errors(r)
    after = client.get(f"/api/persons/{p['id']}").json()
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }
    r = client.put("/api/users/me/sites", json={"site_ids": [other], "roles": ["administrator"]})
    assert r.status_code == 422 and "roles" in errors(r)


def test_protection_08_no_personal_data_in_logs_urls_or_caches(client, caplog):
    caplog.set_level(logging.DEBUG)
    camp = site(client, "Camp A")
    p = register(
        client, camp, given_name="Canaryname", family_name="Quuxfamily", phone="+963944000555"
    )
    client.get(f"/api/persons/{p['id']}")
    client.post("/api/persons/match", json={"given_name": "Canaryname", "purpose": "tracing"})
    client.post("/api/persons/search", json={"phone": "+963944000555"})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    # ... nor in the lines the server writes of them, in either format (one a request).
    for formatter in (JsonFormatter(), TextFormatter()):
        logged += "\n".join(formatter.format(r) for r in caplog.records)
    for canary in ("Canaryname", "Quuxfamily", "944000555"):
        assert canary not in logged
    requests = [r for r in caplog.records if r.name == "corridor.request"]
    assert {"/api/persons/{person_id}", "/api/persons/match"} <= {
        getattr(r, FIELDS)["route"] for r in requests
    }
    # The route's template, not the path it was called by (the test's own HTTP client,
    # httpx, logs its URLs: not the server's lines).
    assert p["id"] not in "\n".join(JsonFormatter().format(r) for r in requests)
    # No route takes a name in its path or query: path parameters are ids, searches POST.
    for route in api_routes(client.app):
        names = {p.name for p in route.dependant.path_params}
        assert names <= {
            "person_id",
            "household_id",
            "manifest_id",
            "event_id",
            "link_id",
            "site_id",
            "enquiry_id",
            "case_id",
            "match_id",
            "export_id",
            "fmt",
            "user_id",
            "token_id",
        }, route.path
        queries = {q.alias or q.name for q in route.dependant.query_params}
        # (an import's options: flags, a legal basis and a purpose from fixed vocabularies;
        # the enquiry list's state, open or closed, and page number; a list's paging, days
        # and order from a fixed list: never a name)
        assert queries <= {
            "site_id",
            "status",
            "from",
            "to",
            "dry_run",
            "skip_bad_rows",
            "from_registry",
            "consent_tracing",
            "legal_basis",
            "purpose",
            "state",
            "page",
            "limit",
            "offset",
            "sort",
            "since",
            "until",
            "alone_only",
        }, route.path
    r = client.get(f"/api/persons/{p['id']}")
    assert r.headers["cache-control"] == "no-store"


def test_protection_11_an_access_request_returns_the_persons_data_with_relatives_redacted(
    client, database, clock
):
    camp = site(client, "Camp A")
    r = client.post(
        "/api/households",
        json={
            "site_id": camp,
            "consent": CONSENT,
            **BASIS,
            "head": {"given_name": "Amal", "family_name": "Hariri", "phone": "+963944000666"},
            "members": [{"relationship": "child", "given_name": "Secretchild", "estimated_age": 7}],
        },
    )
    head = r.json()["members"][0]["id"]
    protection = make_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
    work_at(protection, camp, admin=client)
    r = protection.get(f"/api/persons/{head}/access-request")
    assert r.status_code == 200, r.text
    export = r.json()
    assert export["person"]["names"]["given_name"] == "Amal"
    assert export["person"]["phone"] == "+963944000666"
    assert export["person"]["legal_basis"] == BASIS["legal_basis"]
    assert [m["kind"] for m in export["movements"]] == ["registered"]
    assert export["relatives"] == [
        {
            "relationship": "child",
            "recorded_at": export["relatives"][0]["recorded_at"],
            "details": "redacted",
            "removed_at": None,  # in force (a link removed as wrong says when)
        }
    ]
    assert "Secretchild" not in r.text
    with database.read() as conn:
        actions = (
            conn.execute(select(audit_events.c.action).where(audit_events.c.person_id == head))
            .scalars()
            .all()
        )
    assert "person.export" in actions
    # A registrar may not hand out someone's whole record.
    registrar = make_client(database, clock, roles=(Role.REGISTRAR,))
    work_at(registrar, camp, admin=client)
    assert registrar.get(f"/api/persons/{head}/access-request").status_code == 403


def test_protection_11_an_erasure_request_anonymises_the_person_and_logs_it(
    client, database, clock
):
    camp = site(client, "Camp A")
    person = register(
        client, camp, given_name="Rasha", family_name="Obeid", phone="+963944000777",
        note="asked to be forgotten", vulnerabilities={"medical_note": "gestation 6 months"},
        sex="f", estimated_age=30,
    )  # fmt: skip
    held = register(client, camp, given_name="Huda", estimated_age=40)
    protection = make_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
    work_at(protection, camp, admin=client)
    erasure = {"ground": "consent_withdrawn", "confirm": True}
    # The officer must confirm, and a registrar may not erase anyone.
    r = protection.post(f"/api/persons/{person['id']}/erasure", json={"ground": "objection"})
    assert r.status_code == 422 and "confirm" in errors(r)
    registrar = make_client(database, clock, roles=(Role.REGISTRAR,))
    work_at(registrar, camp, admin=client)
    assert registrar.post(f"/api/persons/{person['id']}/erasure", json=erasure).status_code == 403

    r = protection.post(f"/api/persons/{person['id']}/erasure", json=erasure)
    assert r.status_code == 200, r.text
    gone = client.get(f"/api/persons/{person['id']}").json()
    assert all(v in (None, []) for v in gone["names"].values())
    assert gone["phone"] is None and gone["note"] is None
    assert gone["vulnerabilities"]["medical_note"] is None
    assert (gone["sex"], gone["age_bracket"]) == ("f", person["age_bracket"])  # still counted
    for text_ in ("Rasha", "Obeid", "944000777", "forgotten", "gestation"):
        assert text_ not in str(gone)
    r = client.post("/api/persons/search", json={"phone": "+963944000777"})
    assert r.json() == []
    with database.read() as conn:
        log = conn.execute(select(disposal_log)).mappings().all()
        actions = conn.execute(
            select(audit_events.c.action, audit_events.c.purpose).where(
                audit_events.c.person_id == person["id"]
            )
        ).all()
    assert [(e["category"], e["record_id"], e["action"]) for e in log] == [
        ("erasure_request", person["id"], "anonymised")
    ]
    assert "consent_withdrawn" in log[0]["reason"] and "Rasha" not in str(dict(log[0]))
    assert ("person.export", "data-subject erasure request") in actions
    # Once only; and a record on legal hold is kept.
    r = protection.post(f"/api/persons/{person['id']}/erasure", json=erasure)
    assert r.status_code == 409
    client.app.state.services.retention.set_hold(held["id"], True, "cli:test")
    r = protection.post(f"/api/persons/{held['id']}/erasure", json=erasure)
    assert r.status_code == 409 and "legal_hold" in errors(r)
    assert client.get(f"/api/persons/{held['id']}").json()["names"]["given_name"] == "Huda"


def test_protection_14_the_n_plus_first_lookup_is_refused_and_alerted(client, database):
    camp = site(client, "Camp A")
    people = [register(client, camp, given_name=f"Person{i}")["id"] for i in range(4)]
    guard = client.app.state.services.accounts.lookups
    guard.limit = Limit("person.lookup", 3, timedelta(hours=1))
    guard.per_role = {}  # every role gets ``limit`` (the per-role policy: test_lookup_limits)
    for pid in people[:3]:
        assert client.get(f"/api/persons/{pid}").status_code == 200
    assert client.get(f"/api/persons/{people[0]}").status_code == 200  # seen: not counted
    r = client.get(f"/api/persons/{people[3]}")
    assert r.status_code == 429 and r.json()["code"] == "throttled"
    assert "Person3" not in r.text
    with database.read() as conn:
        raised = conn.execute(select(alerts.c.kind, alerts.c.detail)).all()
        denied = (
            conn.execute(
                select(audit_events.c.outcome).where(
                    audit_events.c.person_id == people[3], audit_events.c.action == "person.read"
                )
            )
            .scalars()
            .all()
        )
    assert [k for k, _ in raised] == ["lookup.enumeration"]
    assert "Person" not in raised[0][1]
    assert denied == ["denied"]
