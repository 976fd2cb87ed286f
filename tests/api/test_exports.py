"""PROTECTION.md line 9: bulk exports need a protection role and a second person's
approval; the file is encrypted and carries who exported and who approved."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from corridor.security import export_file
from corridor.security.roles import Role
from corridor.security.tables import audit_events
from tests.api.helpers import register, site, work_at
from tests.conftest import make_client

PASSPHRASE = "sand storm over the river"


@pytest.fixture
def officers(database, clock):
    admin = make_client(database, clock)
    camp = site(admin, "Camp A")
    other = site(admin, "Camp B")
    register(admin, camp, given_name="Canaryone", estimated_age=9,
             vulnerabilities={"uasc": "unaccompanied"})
    register(admin, other, given_name="Elsewhere")
    people = {}
    for name, role in (("protection", Role.PROTECTION_OFFICER), ("manager", Role.SITE_MANAGER),
                       ("registrar", Role.REGISTRAR)):
        people[name] = make_client(database, clock, roles=(role,))
        work_at(people[name], camp, admin=admin)
    return people


def test_protection_09_export_without_both_keys_is_refused(officers, database):
    protection, manager = officers["protection"], officers["manager"]
    # A registrar holds no export role at all.
    assert officers["registrar"].post("/api/exports", json={"reason": "list"}).status_code == 403
    r = protection.post("/api/exports", json={"reason": "lists for the camp committee"})
    assert r.status_code == 201, r.text
    export = r.json()
    assert export["state"] == "pending"
    body = {"passphrase": PASSPHRASE}
    # Not before a second person approved; never approved by the requester.
    r = protection.post(f"/api/exports/{export['id']}/download", json=body)
    assert r.status_code == 409 and "approval" in r.json()["message"]
    assert protection.post(f"/api/exports/{export['id']}/approve").status_code == 403
    # A manager may approve, not download.
    assert manager.post(f"/api/exports/{export['id']}/approve").status_code == 200
    assert manager.post(f"/api/exports/{export['id']}/download", json=body).status_code == 403
    short = protection.post(f"/api/exports/{export['id']}/download", json={"passphrase": "short"})
    assert short.status_code == 422
    r = protection.post(f"/api/exports/{export['id']}/download", json=body)
    assert r.status_code == 200, r.text
    assert b"Canaryone" not in r.content  # encrypted
    header, content = export_file.open_file(r.content, PASSPHRASE)
    me = protection.get("/api/auth/me").json()["user_id"]
    boss = manager.get("/api/auth/me").json()["user_id"]
    assert (header["exported_by"], header["approved_by"]) == (me, boss)
    people = [json.loads(line) for line in content.decode().splitlines()]
    assert [p["names"]["given_name"] for p in people] == ["Canaryone"]  # own sites only
    assert people[0]["vulnerabilities"]["uasc"] == "unaccompanied"  # a protection role
    # Once only; and a wrong passphrase or an edited header opens nothing.
    again = protection.post(f"/api/exports/{export['id']}/download", json=body)
    assert again.status_code == 409
    with pytest.raises(export_file.ExportFileError):
        export_file.open_file(r.content, "another long passphrase")
    doc = json.loads(r.content)
    doc["header"]["exported_by"] = "someone else"
    with pytest.raises(export_file.ExportFileError):
        export_file.open_file(json.dumps(doc).encode(), PASSPHRASE)
    with database.read() as conn:
        exported = conn.execute(
            select(audit_events.c.person_id).where(
                audit_events.c.action == "export.bulk", audit_events.c.person_id.is_not(None)
            )
        ).scalars().all()
    assert exported == [people[0]["id"]]
