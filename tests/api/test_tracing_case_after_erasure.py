"""A case that found a person who is later erased keeps that it found them, nothing more.

An unaccompanied girl of 15 is found for a relative's enquiry and confirmed; later her
record is erased (she withdrew her consent: a data-subject erasure). Before, the case
still showed the tracing officer her camp and "unaccompanied" (from her location and
her vulnerabilities, which the erasure keeps for the figures). Now the case shows her
as anonymised: no site, no flag; the page says "anonymised". Run on SQLite and
PostgreSQL."""

from __future__ import annotations

from tests.api.helpers import register, site
from tests.api.test_tracing import ENQUIRER, case_of, enquire

ERASE = {"ground": "consent_withdrawn", "confirm": True}


def test_an_erased_candidate_shows_no_site_and_no_flag_on_the_case(client):
    camp = site(client, "Camp Newroz")
    girl = register(
        client, camp, given_name="Layla", father_name="Hassan", family_name="al-Jabouri",
        sex="f", estimated_age=15, vulnerabilities={"uasc": "unaccompanied"},
    )["id"]  # fmt: skip
    sought = {"given_name": "Leila", "father_name": "Hasan", "family_name": "Jabouri",
              "sex": "f", "age": 15, "enquirer_is": "uncle_aunt"}  # fmt: skip
    case = case_of(enquire(client, sought, enquirer={**ENQUIRER, "relationship": "uncle_aunt"}))
    [match] = [m for m in case["matches"] if m["person"]["id"] == girl]
    assert (match["person"]["site"]["id"], match["person"]["uasc"]) == (camp, "unaccompanied")
    r = client.post(f"/api/tracing/matches/{match['id']}/confirm", json={"reason": "names"})
    assert r.status_code == 200, r.text
    r = client.post(f"/api/persons/{girl}/erasure", json=ERASE)
    assert r.status_code in (200, 201), r.text
    seen = client.get(f"/api/tracing/cases/{case['id']}").json()
    [after] = [m for m in seen["matches"] if m["person"]["id"] == girl]
    assert after["status"] == "confirmed"  # the case keeps that it found her
    assert after["person"]["uasc"] is None
    assert after["person"]["site"] == {"id": None, "name": None, "kind": None,
                                       "hidden": "anonymised"}  # fmt: skip
    page = client.get(f"/tracing/cases/{case['id']}").text
    assert "Camp Newroz" not in page and "anonymised" in page
