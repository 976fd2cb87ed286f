"""Imports and exports over HTTP: behind the role matrix, site-scoped, audited."""

from __future__ import annotations

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from corridor.formats import pfif
from corridor.security import export_file
from corridor.security.roles import Role
from corridor.settings import Settings
from corridor.storage.tables import persons
from corridor.web import create_app
from tests.conftest import MASTER_KEY
from tests.formats.helpers import fixture, make_site

PASSWORD = "a long test password"


def _client(database, clock, name: str, roles, site_ids) -> TestClient:
    settings = Settings(
        database_url=str(database.url), master_key=MASTER_KEY, instance_domain="corridor.test"
    )
    app = create_app(settings, database=database, clock=clock)
    client = TestClient(app, base_url="https://testserver")
    _, secret = app.state.services.accounts.create(
        name,
        name,
        PASSWORD,
        roles,
        site_ids,
        audit=app.state.services.audit.operator_hook("test", "users.admin"),
    )
    assert client.post("/api/auth/login", json={"username": name, "password": PASSWORD}).is_success
    if secret:
        code = pyotp.TOTP(secret).at(clock())
        r = client.post("/api/auth/second-factor", json={"code": code})
        assert r.status_code == 200, r.text
    return client


@pytest.fixture
def sites(services):
    return make_site(services, "Al-Hol"), make_site(services, "Roj")


def _two_key_export(database, clock, officer, camp, fmt, reason="for a partner") -> bytes:
    """Asked for by ``officer``, approved by a site manager, downloaded and opened."""
    r = officer.post("/api/exports", json={"reason": reason, "format": fmt})
    assert r.status_code == 201, r.text
    export_id = r.json()["id"]
    manager = _client(database, clock, f"sm-{fmt}", [Role.SITE_MANAGER], [camp])
    assert manager.post(f"/api/exports/{export_id}/approve").status_code == 200
    secret = "a passphrase for the partner"
    r = officer.post(f"/api/exports/{export_id}/download", json={"passphrase": secret})
    assert r.status_code == 200, r.text
    header, content = export_file.open_file(r.content, secret)
    assert header["format"] == fmt and header["reason"] == reason
    return content


def _upload(client, fmt, data, name="file", **params):
    return client.post(f"/api/imports/{fmt}", params=params, files={"file": (name, data)})


def test_protection_officer_imports_and_exports_pfif_audited(database, clock, services, sites):
    camp, _ = sites
    officer = _client(database, clock, "po", [Role.PROTECTION_OFFICER], [camp])
    r = _upload(officer, "pfif", fixture("pfif-1.4.xml"), site_id=camp, dry_run=True)
    assert r.status_code == 200 and r.json()["created"] == 1 and not r.json()["written"]
    r = _upload(officer, "pfif", fixture("pfif-1.4.xml"), site_id=camp, consent_tracing=True)
    body = r.json()
    assert body["written"] and body["created"] == 1 and body["notes"] == 1
    content = _two_key_export(database, clock, officer, camp, "pfif")
    me = officer.get("/api/auth/me").json()["user_id"]
    assert f"<!-- Exported from Corridor by {me} at ".encode() in content
    [person] = pfif.parse(content, clock()).records
    assert person.key == "tracing.example.org/person.14"
    with services.db.read() as conn:
        [pid] = conn.execute(select(persons.c.id)).scalars().all()
    actions = [e["action"] for e in services.audit.accesses_to(pid)]
    assert actions.count("person.write") == 1 and actions.count("export.bulk") == 1
    content = _two_key_export(database, clock, officer, camp, "csv", "handover to UNHCR")
    assert pid.encode() in content
    events = [e for e in services.audit.accesses_to(pid) if e["action"] == "export.bulk"]
    assert len(events) == 2 and "downloaded" in events[-1]["purpose"]


def test_roles_and_sites_gate_imports_and_exports(database, clock, sites):
    camp, other = sites
    registrar = _client(database, clock, "reg", [Role.REGISTRAR], [camp])
    assert registrar.post("/api/exports", json={"reason": "for a partner"}).status_code == 403
    r = _upload(registrar, "csv", b"given_name\nLayla\n", site_id=other)
    assert r.status_code == 404  # another site is not found, never "forbidden"
    r = _upload(registrar, "csv", f"given_name,site_id\nLayla,{other}\n".encode(), site_id=camp)
    assert r.json()["problems"][0]["reason"] == f"unknown site {other!r}"
    r = _upload(registrar, "csv", b"given_name\nLayla\n", site_id=camp)
    assert r.status_code == 200 and r.json()["created"] == 1
    coordinator = _client(database, clock, "coord", [Role.COORDINATOR], [])
    assert _upload(coordinator, "csv", b"given_name\nX\n").status_code == 403


def test_an_unreadable_file_is_a_clear_error(database, clock, sites):
    camp, _ = sites
    registrar = _client(database, clock, "reg", [Role.REGISTRAR], [camp])
    r = _upload(registrar, "pfif", fixture("pfif-entities.xml"), site_id=camp)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "file"
    r = _upload(registrar, "pfif", fixture("pfif-bad-records.xml"), site_id=camp)
    assert r.status_code == 200 and not r.json()["written"]
    assert {p["line"] for p in r.json()["problems"]} == {8, 12, 17, 21}


def test_kobo_upload_with_a_mapping(database, clock, sites):
    import json

    camp, _ = sites
    registrar = _client(database, clock, "reg", [Role.REGISTRAR], [camp])
    mapping = json.dumps({"submission": {"grp/nom": "given_name"}}).encode()
    data = b'"grp/nom";"_uuid"\n"Walid";"u-1"\n'
    r = registrar.post(
        "/api/imports/kobo",
        params={"site_id": camp},
        files={"file": ("k.csv", data), "mapping": ("m.json", mapping)},
    )
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    bad = json.dumps({"submission": {"q": "religion"}}).encode()
    r = registrar.post(
        "/api/imports/kobo",
        params={"site_id": camp},
        files={"file": ("k.csv", data), "mapping": ("m.json", bad)},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "mapping"


def test_hxl_report_over_http_is_confined_to_the_callers_sites(database, clock, services, sites):
    from corridor.schemas import ConsentIn, PersonIn

    camp, other = sites
    for site in (camp, other):
        services.registration.register_many(
            [
                PersonIn(
                    site_id=site,
                    given_name=f"P{i}",
                    consent=ConsentIn(tracing=False),
                    purpose="registration",
                    legal_basis="vital_interest",
                )
                for i in range(6)
            ],
            audit=services.audit.operator_hook("test", "person.write"),
        )
    day = clock().date().isoformat()
    registrar = _client(database, clock, "reg", [Role.REGISTRAR], [camp])
    r = registrar.get("/api/reports/hxl", params={"from": day, "to": day})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[1].startswith("#date+reported")
    assert {line.split(",")[4] for line in lines[2:]} == {camp}
    assert "P1" not in r.text
    coordinator = _client(database, clock, "coord", [Role.COORDINATOR], [])
    r = coordinator.get("/api/reports/hxl", params={"from": day, "to": day})
    assert {line.split(",")[4] for line in r.text.splitlines()[2:]} == {camp, other}
