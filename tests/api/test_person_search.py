"""Finding a sought person through the API: across scripts, with the consent gate."""

from __future__ import annotations

from tests.api.helpers import register, site


def ids(results):
    return [r["person"]["id"] for r in results]


def test_an_arabic_enquiry_finds_a_latin_registration_and_explains_why(client):
    camp = site(client, "Camp A")
    target = register(
        client,
        camp,
        given_name="Abdul Rahman",
        father_name="Hamid",
        family_name="al-Jabouri",
        sex="m",
        birth_date="1984",
    )
    register(
        client,
        camp,
        given_name="Mahmoud",
        father_name="Hamid",
        family_name="al-Jabouri",
        sex="m",
        birth_date="1984",
    )
    register(client, camp, given_name="Fatima", father_name="Ali", family_name="Haddad", sex="f")
    r = client.post(
        "/api/persons/match",
        json={"full_name": "عبد الرحمن حميد الجبوري", "birth_year": 1985, "sex": "m"},
    )
    assert r.status_code == 200, r.text
    results = r.json()
    assert ids(results)[0] == target["id"]
    best = results[0]
    assert best["probability"] > 0.5
    fields = {e["field"]: e for e in best["explanation"]}
    assert fields["given name"]["level"] == "same name in another script"
    assert {"family name", "father and grandfather", "birth year", "sex"} <= set(fields)
    assert all(set(e) == {"field", "level", "weight", "text"} for e in best["explanation"])
    if len(results) > 1:
        assert results[1]["probability"] < best["probability"]


def test_protection_02_persons_who_refused_tracing_are_never_offered(client):
    camp = site(client, "Camp A")
    refused = register(
        client,
        camp,
        given_name="Anwar",
        father_name="Saleh",
        family_name="Khoury",
        consent={"tracing": False, "share_with": []},
    )
    query = {"given_name": "Anwar", "father_name": "Saleh", "family_name": "Khoury"}
    assert client.post("/api/persons/match", json=query).json() == []
    dedupe = client.post("/api/persons/match", json={**query, "purpose": "deduplication"}).json()
    assert ids(dedupe) == [refused["id"]]
    # Consent given later: now a candidate.
    client.patch(f"/api/persons/{refused['id']}", json={"consent": {"tracing": True}})
    assert ids(client.post("/api/persons/match", json=query).json()) == [refused["id"]]


def test_details_added_later_are_searchable_at_once(client):
    camp = site(client, "Camp A")
    p = register(client, camp, given_name="Zainab", estimated_age=30)
    query = {"name_original_script": "زينب عمر الحسن"}
    client.patch(
        f"/api/persons/{p['id']}", json={"father_name": "Omar", "family_name": "al-Hassan"}
    )
    assert ids(client.post("/api/persons/match", json=query).json())[:1] == [p["id"]]


def test_exact_keys_find_a_person_whatever_the_name(client):
    camp = site(client, "Camp A")
    p = register(client, camp, given_name="Khalil", phone="+963944123456")
    r = client.post(
        "/api/persons/match",
        json={"full_name": "Unknown", "phone": "+963944123456", "purpose": "deduplication"},
    )
    assert ids(r.json())[:1] == [p["id"]]


def test_search_is_a_post_and_refuses_unknown_fields(client):
    r = client.post("/api/persons/match", json={"fullname": "x"})
    assert r.status_code == 422
    assert client.get("/api/persons/match").status_code in (404, 405)
