"""Issue 13: unlikely details (a child older than the head, an age over 110) are refused
with each field and reason until the registrar confirms them; nothing is written before.
Run on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select

from corridor.storage.tables import persons
from tests.api.helpers import CONSENT, errors, person_body, site

HOUSEHOLD = {
    "consent": CONSENT,
    "purpose": "registration and assistance",
    "legal_basis": "vital_interest",
    "head": {"given_name": "Walid", "family_name": "Qarbenthi", "sex": "m", "estimated_age": 20},
    "members": [
        {"relationship": "spouse", "given_name": "Huda", "sex": "f", "estimated_age": 19},
        {"relationship": "child", "given_name": "Sami", "sex": "m", "estimated_age": 60},
        {"relationship": "parent", "given_name": "Ahmad", "sex": "m", "estimated_age": 25},
    ],
}


def _count(database, family: str = "Qarbenthi") -> int:
    with database.read() as conn:
        return int(
            conn.execute(select(func.count()).where(persons.c.family_name == family)).scalar()
        )


def test_a_child_older_than_the_head_is_refused_until_confirmed(client, database):
    camp = site(client, "Camp")
    body = {**HOUSEHOLD, "site_id": camp}
    r = client.post("/api/households", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "implausible"
    found = errors(r)
    # Both unlikely members named at once, by field, with the ages in the reason.
    assert set(found) == {"members[1].relationship", "members[2].relationship"}
    assert "aged 60" in found["members[1].relationship"]
    assert "(aged 20)" in found["members[1].relationship"]
    assert "parent aged 25" in found["members[2].relationship"]
    assert _count(database) == 0  # nothing written

    r = client.post("/api/households", json={**body, "confirm_implausible": True})
    assert r.status_code == 201, r.text
    assert len(r.json()["members"]) == 4
    assert _count(database) == 1  # the head carries the family name


def test_errors_and_warnings_come_together(client, database):
    camp = site(client, "Camp")
    body = {**HOUSEHOLD, "site_id": camp}
    body["head"] = {**body["head"], "phone": "12"}  # an error beside the warnings
    r = client.post("/api/households", json=body)
    assert r.status_code == 422
    assert r.json()["code"] == "invalid"
    assert set(errors(r)) == {"head.phone", "members[1].relationship", "members[2].relationship"}
    # Confirming the warnings does not let the error through.
    r = client.post("/api/households", json={**body, "confirm_implausible": True})
    assert r.status_code == 422
    assert set(errors(r)) == {"head.phone"}
    assert _count(database) == 0


def test_a_person_over_110_is_refused_until_confirmed(client, database):
    camp = site(client, "Camp")
    body = person_body(camp, given_name="Old", family_name="Qarbenthi", estimated_age=112)
    r = client.post("/api/persons", json=body)
    assert r.status_code == 422 and r.json()["code"] == "implausible"
    assert "112" in errors(r)["estimated_age"]
    assert _count(database) == 0
    r = client.post("/api/persons", json={**body, "confirm_implausible": True})
    assert r.status_code == 201, r.text
    assert r.json()["estimated_age_at_registration"] == 112


def test_a_likely_household_needs_no_confirmation(client):
    camp = site(client, "Camp")
    body = {
        **HOUSEHOLD,
        "site_id": camp,
        "head": {**HOUSEHOLD["head"], "estimated_age": 44},
        "members": [
            {"relationship": "child", "given_name": "Sami", "estimated_age": 20},
            {"relationship": "parent", "given_name": "Ahmad", "birth_date": "1955"},
            {"relationship": "grandchild", "given_name": "Rami", "estimated_age": 2},
        ],
    }
    r = client.post("/api/households", json=body)
    assert r.status_code == 201, r.text
