"""Searches spelt in other Latin orthographies find the registered person through the API,
and an index built before those keys existed is rebuilt on upgrade (migration 0023_keys).

Somali writes Hassan as Xasan and Abdi as Cabdi; Indonesian writes Rashid as Rasyid.
The registration index (services/search/match_index.py) stores the same keys as the
engine's in-memory index, so a search by the API finds what the benchmark finds.
"""

from __future__ import annotations

from tests.api.helpers import index_rebuilt_on_upgrade, register, site


def ids(results):
    return [r["person"]["id"] for r in results]


def _population(client):
    camp = site(client, "Camp A")
    somali = register(
        client, camp, given_name="Hassan", father_name="Abdi", family_name="Hirsi", sex="m"
    )
    indonesian = register(
        client, camp, given_name="Abdul Rashid", family_name="Bashir", sex="m"
    )
    for given, family in [("Hassan", "Farah"), ("Ahmed", "Abdi"), ("Rashid", "Karim"),
                          ("Omar", "Bashar"), ("Hussein", "Hersi")]:
        register(client, camp, given_name=given, family_name=family, sex="m")
    return somali, indonesian


def _first(client, name):
    r = client.post("/api/persons/match", json={"full_name": name})
    assert r.status_code == 200, r.text
    return ids(r.json())


def test_somali_and_indonesian_spellings_find_the_registered_person_first(client):
    somali, indonesian = _population(client)
    assert _first(client, "Xasan Cabdi Xirsi")[0] == somali["id"]
    assert _first(client, "Abdul Rasyid Basyir")[0] == indonesian["id"]


def test_an_index_without_the_new_keys_is_rebuilt_on_upgrade(client, database):
    somali, _ = _population(client)
    # The index as an older version built it: no key of the Somali reading (n:HRD is
    # Hirsi's coarse skeleton; Xirsi's own spelling gives n:KDRD).
    index_rebuilt_on_upgrade(client, database, somali["id"], "n:HRD", "0022_auditvia", "Xirsi")
