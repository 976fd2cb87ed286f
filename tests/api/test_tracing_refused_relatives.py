"""A relative who refused tracing gives no evidence to a tracing enquiry (PROTECTION.md 2).

A girl of 15 is registered in her father's household; he refused tracing. An enquiry for
her names her father. Before, the match's explanation said "A relative's name agrees
(Abdallah)" (or, for a mother who refused, that the mother's name agrees), which told
the tracing officer that a person the enquirer named, who refused to be traced, is
registered beside her. The relatives who refused are now left out of a tracing search's
comparisons; a search for deduplication still reads them. With the relative consenting,
the same enquiry shows the evidence (the check sees what it looks for). Run on SQLite and
PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import site
from tests.api.test_tracing import ENQUIRER, case_of, enquire

REFUSED = {"tracing": False, "share_with": []}


def household(client: Any, camp: str, parent: dict[str, Any]) -> tuple[str, str]:
    """A parent and their daughter of 15; the ids of the parent and the girl."""
    r = client.post(
        "/api/households",
        json={
            "site_id": camp,
            "consent": {"tracing": True, "share_with": []},
            "purpose": "registration",
            "legal_basis": "vital_interest",
            "head": {**parent, "estimated_age": 45},
            "members": [
                {
                    "relationship": "child",
                    "given_name": "Nour",
                    "father_name": "Abdallah",
                    "family_name": "al-Obeidi",
                    "sex": "f",
                    "estimated_age": 15,
                }
            ],
        },
    )
    assert r.status_code == 201, r.text
    head, girl = (m["id"] for m in r.json()["members"])
    return head, girl


def girls_match(client: Any, girl: str, sought: dict[str, Any]) -> dict[str, Any]:
    enquirer = {**ENQUIRER, "name": "Salwa Haddad", "relationship": "uncle_aunt"}
    case = case_of(enquire(client, sought, enquirer=enquirer))
    [match] = [m for m in case["matches"] if m["person"]["id"] == girl]
    return dict(match)


FATHER = (
    {"given_name": "Abdallah", "father_name": "Khalil", "family_name": "al-Obeidi", "sex": "m"},
    {"relatives_names": ["Abdallah"]},
    "relatives",
)
MOTHER = (
    {"given_name": "Zainab", "father_name": "Hamid", "family_name": "al-Jubouri", "sex": "f"},
    {"mother_name": "Zainab"},
    "mother's name",
)


@pytest.mark.parametrize("refused", [True, False], ids=["refused", "consented"])
@pytest.mark.parametrize(("parent", "named", "field"), [FATHER, MOTHER], ids=["father", "mother"])
def test_a_parent_who_refused_tracing_is_no_evidence_for_the_child(
    client, parent, named, field, refused
):
    camp = site(client, "Camp A")
    head, girl = household(client, camp, parent)
    if refused:
        r = client.patch(f"/api/persons/{head}", json={"consent": REFUSED})
        assert r.status_code == 200, r.text
    sought = {"given_name": "Nour", "family_name": "Obeidi", "sex": "f", "age": 15,
              "enquirer_is": "uncle_aunt", **named}  # fmt: skip
    match = girls_match(client, girl, sought)
    evidence = {e["field"]: e for e in match["explanation"]}
    if refused:
        assert field not in evidence, evidence[field]
        assert parent["given_name"] not in str(match["explanation"])
    else:
        assert evidence[field]["weight"] > 0
    # The parent who refused is never offered either (and the one who agreed is not the
    # girl's match: a man of 45, or a woman of 45 for a girl of 15).
    assert all(m["person"]["id"] != head or not refused for m in _all_matches(client))


def _all_matches(client: Any) -> list[dict[str, Any]]:
    r = client.get("/api/tracing/enquiries")
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = []
    for item in r.json()["items"]:
        enquiry = client.get(f"/api/tracing/enquiries/{item['id']}").json()
        for case in enquiry["cases"]:
            out += case["matches"]
    return out


def test_a_search_for_duplicates_still_reads_the_relative_who_refused(client, database):
    """Deduplication is not tracing: a registrar checking that the girl is not
    registered twice still has her father's name compared (nothing is shown of him)."""
    from corridor.services.search.match_index import person_record, with_relatives
    from corridor.storage.tables import persons

    camp = site(client, "Camp A")
    head, girl = household(client, camp, FATHER[0])
    assert client.patch(f"/api/persons/{head}", json={"consent": REFUSED}).status_code == 200
    from sqlalchemy import select

    with database.read() as conn:
        row = conn.execute(select(persons).where(persons.c.id == girl)).mappings().one()
        [dedupe] = with_relatives(conn, [person_record(row)])
        [tracing] = with_relatives(conn, [person_record(row)], tracing=True)
    assert any("Abdallah" in n for n in dedupe.relatives_names)
    assert not any("Abdallah" in n for n in tracing.relatives_names)
