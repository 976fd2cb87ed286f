"""PROTECTION.md line 16: biometrics are off by default; where enabled, only templates or
references from a biometric system, never raw images."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from corridor.security.roles import visible_fields
from corridor.settings import Settings
from corridor.storage.tables import persons
from corridor.web import create_app
from tests.api.helpers import errors, person_body, register, site
from tests.conftest import MASTER_KEY, make_client

REFERENCE = "IRIS:enrol/2019-03/00042-7"


def test_biometrics_are_off_by_default_in_settings():
    assert Settings().biometrics_enabled is False
    assert Settings.from_env({}).biometrics_enabled is False
    assert Settings.from_env({"CORRIDOR_BIOMETRICS_ENABLED": "true"}).biometrics_enabled
    with pytest.raises(ValueError):
        Settings.from_env({"CORRIDOR_BIOMETRICS_ENABLED": "perhaps"})


def test_the_biometric_field_refuses_data_unless_enabled(client):
    camp = site(client, "Camp")
    r = client.post("/api/persons", json=person_body(camp, given_name="Ali",
                                                     biometric_reference=REFERENCE))
    assert r.status_code == 422
    reason = errors(r)["biometric_reference"]
    assert "biometrics are disabled" in reason and "biometrics_enabled" in reason
    person = register(client, camp, given_name="Ali")
    r = client.patch(f"/api/persons/{person['id']}", json={"biometric_reference": REFERENCE})
    assert r.status_code == 422 and "biometric_reference" in errors(r)
    r = client.post("/api/households", json={
        "site_id": camp, "consent": {"tracing": True}, "purpose": "registration",
        "legal_basis": "vital_interest", "head": {"given_name": "Omar"},
        "members": [{"given_name": "Sara", "relationship": "child",
                     "biometric_reference": REFERENCE}]})  # fmt: skip
    assert r.status_code == 422 and "members[0].biometric_reference" in errors(r)


@pytest.fixture
def enabled_client(database, clock):
    client = make_client(database, clock)
    settings = Settings(database_url=str(database.url), master_key=MASTER_KEY,
                        biometrics_enabled=True)  # fmt: skip
    enabled = TestClient(create_app(settings, database=database, clock=clock),
                         base_url="https://testserver")  # fmt: skip
    enabled.headers["Authorization"] = client.headers["Authorization"]
    with enabled:
        yield enabled


def test_where_enabled_only_a_reference_is_taken_and_it_is_sealed(enabled_client, database):
    camp = site(enabled_client, "Camp")
    person = register(enabled_client, camp, given_name="Ali", biometric_reference=REFERENCE)
    assert person["biometric_reference"] == REFERENCE
    with database.read() as conn:
        stored = conn.execute(
            select(persons.c.biometric_reference).where(persons.c.id == person["id"])
        ).scalar_one()
    assert stored.startswith("enc:v1:") and REFERENCE not in stored
    # A raw image (even a tiny one, base64) is not a reference.
    image = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(600)).decode()
    r = enabled_client.post("/api/persons", json=person_body(camp, given_name="Omar",
                                                             biometric_reference=image))
    assert r.status_code == 422 and "biometric_reference" in errors(r)


def test_only_protection_roles_see_the_reference():
    assert "biometric_reference" in visible_fields("protection_officer", "person")
    for role in ("registrar", "health", "tracing_officer", "movement_officer"):
        assert "biometric_reference" not in visible_fields(role, "person")
