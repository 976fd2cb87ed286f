"""Every read that shows persons in full counts them as looked up (PROTECTION.md line 14),
not only a person's own record: a household (its page, its ``.json`` twin, its printed
sheet), an exact search by number, phone or document, a data-subject access request.
On the code before, a user refused a second person's record read the whole household
(every member's names and phone) and swept phone numbers through the search, uncounted;
the access request was not counted at all."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from corridor.security.ratelimit import Limit
from corridor.security.tables import alerts, audit_events
from tests.api.helpers import BASIS, CONSENT, register, site
from tests.conftest import make_client

LIMIT = 3


@pytest.fixture
def officer(database, clock) -> TestClient:
    """An officer of every operational role who may look up ``LIMIT`` persons an hour."""
    client = make_client(database, clock)
    guard = client.app.state.services.accounts.lookups  # type: ignore[attr-defined]
    guard.limit = Limit("person.lookup", LIMIT, timedelta(hours=1))
    guard.per_role = {}
    return client


def _household(client: TestClient, camp: str, size: int) -> dict[str, Any]:
    """A household of ``size`` persons, each with a phone (``+963 944 000 10<n>``)."""
    person = [
        {"given_name": f"Member{i}", "family_name": "Barakzawi", "sex": "f",
         "birth_date": f"{1980 + i}", "phone": f"+963 944 000 10{i}"}
        for i in range(size)
    ]  # fmt: skip
    body = {
        "site_id": camp,
        "consent": CONSENT,
        **BASIS,
        "head": person[0],
        "members": [{"relationship": "sibling", **p} for p in person[1:]],
    }
    r = client.post("/api/households", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _outcomes(database, person_id: str) -> list[tuple[str, str]]:
    with database.read() as conn:
        rows = conn.execute(
            select(audit_events.c.action, audit_events.c.outcome)
            .where(audit_events.c.person_id == person_id)
            .where(audit_events.c.action != "person.write")
            .order_by(audit_events.c.seq)
        ).all()
    return [tuple(r) for r in rows]


def _alerts(database) -> list[str]:
    with database.read() as conn:
        return list(conn.execute(select(alerts.c.kind)).scalars())


@pytest.mark.parametrize(
    "path", ["/api/households/{id}", "/households/{id}", "/households/{id}.json",
             "/households/{id}/sheet", "/households/{id}/sheet.json"]
)  # fmt: skip
def test_a_household_beyond_the_limit_is_refused_whole(officer, database, path):
    camp = site(officer, "Camp A")
    household = _household(officer, camp, LIMIT + 1)
    members = [m["id"] for m in household["members"]]
    r = officer.get(path.format(id=household["id"]))
    assert r.status_code == 429, r.text
    assert "Member" not in r.text and "944" not in r.text
    action = "person.print" if "sheet" in path else "person.read"
    assert all(_outcomes(database, m) == [(action, "denied")] for m in members)
    assert _alerts(database) == ["lookup.enumeration"]


def test_a_household_counts_each_member(officer, database):
    camp = site(officer, "Camp A")
    household = _household(officer, camp, LIMIT - 1)
    other = register(officer, camp, given_name="Other")
    last = register(officer, camp, given_name="Last")
    assert officer.get(f"/api/households/{household['id']}").status_code == 200
    # Its members were looked up: one more person fits, the next is one too many ...
    assert officer.get(f"/api/persons/{other['id']}").status_code == 200
    assert officer.get(f"/api/persons/{last['id']}").status_code == 429
    # ... and the members, the household and the other stay open.
    for m in household["members"]:
        assert officer.get(f"/api/persons/{m['id']}").status_code == 200
    assert officer.get(f"/api/households/{household['id']}").status_code == 200
    assert officer.get(f"/api/persons/{other['id']}").status_code == 200


def test_an_exact_search_counts_whom_it_finds(officer, database):
    camp = site(officer, "Camp A")
    phones = [f"+963 944 000 20{i}" for i in range(LIMIT + 1)]
    people = [
        register(officer, camp, given_name=f"Caller{i}", phone=p) for i, p in enumerate(phones)
    ]
    for phone in phones[:LIMIT]:
        r = officer.post("/api/persons/search", json={"phone": phone})
        assert r.status_code == 200 and len(r.json()) == 1, r.text
    # A number nobody has costs nothing; the same person again neither.
    assert officer.post("/api/persons/search", json={"phone": "+963 944 999 999"}).json() == []
    again = officer.post("/api/persons/search", json={"phone": phones[0]})
    assert again.status_code == 200
    r = officer.post("/api/persons/search", json={"phone": phones[LIMIT]})
    assert r.status_code == 429, r.text
    assert "Caller" not in r.text
    assert _outcomes(database, people[LIMIT]["id"]) == [("person.search", "denied")]


def test_a_data_subject_access_request_counts(officer, database):
    camp = site(officer, "Camp A")
    people = [register(officer, camp, given_name=f"Subject{i}")["id"] for i in range(LIMIT + 1)]
    for pid in people[:LIMIT]:
        assert officer.get(f"/api/persons/{pid}/access-request").status_code == 200
    r = officer.get(f"/api/persons/{people[LIMIT]}/access-request")
    assert r.status_code == 429, r.text
    assert "Subject" not in r.text
    assert _outcomes(database, people[LIMIT]) == [("person.export", "denied")]
