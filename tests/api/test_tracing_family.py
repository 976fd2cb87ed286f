"""Issue 14: families as evidence in tracing. An enquiry seeking a mother and her twins:
once the mother is confirmed, each twin is proposed for the sought person she is, not
crossed; and a registered person whose household holds the enquiry's other sought persons
is the more likely. Through the API, on SQLite and PostgreSQL (``backend``)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from corridor.security.roles import Role
from tests.api.helpers import register, site, work_at
from tests.conftest import make_client

ENQUIRER = {
    "name": "Fatima Hoesein",
    "contact": "+31 6 1234 5678",
    "relationship": "sibling",
    "location": "Utrecht",
    "country": "NLD",
}


def household(client: TestClient, camp: str, members: list[tuple[str, str, int]]) -> dict[str, str]:
    """Rania al-Khatib, head of a household with the children ``members`` (name, sex, age)."""
    r = client.post(
        "/api/households",
        json={
            "site_id": camp,
            "consent": {"tracing": True, "share_with": []},
            "purpose": "registration and family tracing",
            "legal_basis": "vital_interest",
            "head": {
                "given_name": "Rania",
                "father_name": "Hussein",
                "family_name": "al-Khatib",
                "sex": "f",
                "estimated_age": 34,
            },
            "members": [
                {
                    "relationship": "child",
                    "given_name": name,
                    "father_name": "Omar",
                    "family_name": "al-Khatib",
                    "sex": sex,
                    "estimated_age": age,
                }
                for name, sex, age in members
            ],
        },
    )
    assert r.status_code == 201, r.text
    return {m["name"].split()[0]: m["id"] for m in r.json()["members"]}


def tracer_of(database, clock, admin: TestClient) -> TestClient:
    tracer = make_client(database, clock, (Role.TRACING_OFFICER,))
    work_at(tracer, *admin.get("/api/auth/me").json()["site_ids"], admin=admin)
    return tracer


def enquire(client: TestClient, *sought: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/tracing/enquiries", json={"enquirer": ENQUIRER, "sought": list(sought)})
    assert r.status_code == 201, r.text
    return dict(r.json())


def twin(name: str) -> dict[str, Any]:
    return {
        "given_name": name,
        "father_name": "Omar",
        "family_name": "al-Khatib",
        "sex": "f",
        "age": 6,
        "enquirer_is": "uncle_aunt",
    }


def proposed(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["person"]["id"]: m for m in case["matches"] if m["status"] == "proposed"}


def test_confirming_the_mother_proposes_each_twin_for_her_own_case_not_crossed(
    client, database, clock
):
    camp = site(client, "Camp A")
    kids = household(client, camp, [("Amina", "f", 6), ("Amira", "f", 6), ("Yusuf", "m", 12)])
    tracer = tracer_of(database, clock, client)
    # The mother is known by her kunya only: nothing links her but an officer's search.
    enquiry = enquire(
        tracer, {"full_name": "Umm Amina", "sex": "f", "age": 34}, twin("Amina"), twin("Amira")
    )
    mother_case, amina_case, amira_case = enquiry["cases"]
    r = tracer.post("/api/persons/match", json={"full_name": "Rania Hussein al-Khatib"})
    assert r.status_code == 200, r.text
    rania = r.json()[0]["person"]["id"]
    r = tracer.post(f"/api/tracing/cases/{mother_case['id']}/candidates", json={"person_id": rania})
    assert r.status_code == 200, r.text
    [m] = r.json()["matches"]
    r = tracer.post(f"/api/tracing/matches/{m['id']}/confirm", json={"reason": "in person"})
    assert r.status_code == 200, r.text

    view = tracer.get(f"/api/tracing/enquiries/{enquiry['id']}").json()
    cases = {c["id"]: c for c in view["cases"]}
    for case_id, mine, other in (
        (amina_case["id"], kids["Amina"], kids["Amira"]),
        (amira_case["id"], kids["Amira"], kids["Amina"]),
    ):
        offered = proposed(cases[case_id])
        # Her own twin is proposed, marked as from her mother's household; her sister,
        # of the same age and sex, is not proposed for her; the boy of twelve is not.
        assert mine in offered, offered
        assert offered[mine]["household_of"]["id"] == rania
        assert other not in offered
        assert kids["Yusuf"] not in offered
        assert cases[case_id]["state"] == "possible_match"


def test_a_person_whose_household_holds_the_other_sought_persons_is_the_more_likely(
    client, database, clock
):
    """Two girls named Amina Omar al-Khatib, both six: the one whose household holds
    Amira and Rania, sought by the same enquiry, is proposed first and at a higher
    probability; the other's explanation says nothing of relatives."""
    camp = site(client, "Camp A")
    kids = household(client, camp, [("Amina", "f", 6), ("Amira", "f", 6)])
    stranger = register(
        client,
        camp,
        given_name="Amina",
        father_name="Omar",
        family_name="al-Khatib",
        sex="f",
        estimated_age=6,
    )["id"]
    tracer = tracer_of(database, clock, client)
    enquiry = enquire(
        tracer,
        twin("Amina"),
        twin("Amira"),
        {"given_name": "Rania", "family_name": "al-Khatib", "sex": "f", "age": 34},
    )
    matches = enquiry["cases"][0]["matches"]
    by_id = {m["person"]["id"]: m for m in matches}
    assert matches[0]["person"]["id"] == kids["Amina"]
    # The other Amina is proposed below her, or not at all (below ``propose_at``).
    if stranger in by_id:
        assert by_id[kids["Amina"]]["probability"] > by_id[stranger]["probability"]
        assert "relatives" not in {e["field"] for e in by_id[stranger]["explanation"]}
    fields = {e["field"]: e for e in by_id[kids["Amina"]]["explanation"]}
    assert fields["relatives"]["weight"] > 0
