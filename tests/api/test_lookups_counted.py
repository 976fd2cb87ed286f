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
    # No member's name nor phone (``944 000 10``: a random id of the page may hold "944").
    assert "Member" not in r.text and "Barakzawi" not in r.text
    assert "944 000" not in r.text and "94400010" not in r.text
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


def _queue_pairs(client: TestClient, camp: str, pairs: int) -> list[str]:
    """``pairs`` men each registered twice at ``camp``, each pair queued for review (by
    the desk's own check of a registration, or here)."""
    svc = client.app.state.services  # type: ignore[attr-defined]
    ids = []
    for i in range(pairs):
        name = {"given_name": f"Twin{i}", "father_name": "Ali", "family_name": "Jabbouri",
                "sex": "m", "birth_date": f"19{60 + i}-03-02"}  # fmt: skip
        ids += [register(client, camp, **name)["id"], register(client, camp, **name)["id"]]
    queue = [ids[i : i + 2] for i in range(0, len(ids), 2)]
    svc.merges.propose(queue, audit=svc.audit.operator_hook("test", "person.merge"))
    queued, total = svc.merges.queue_page()
    assert total == pairs and {p["id"] for d in queued for p in d["persons"]} == set(ids)
    return ids


@pytest.mark.parametrize("path", ["/api/duplicates", "/duplicates", "/duplicates.json"])
def test_the_duplicates_queue_beyond_the_limit_is_refused_whole(officer, database, path):
    """Two persons side by side per pair: the queue's page counts every one of them.
    On the code before, the queue showed any number of persons, uncounted."""
    camp = site(officer, "Camp A")
    ids = _queue_pairs(officer, camp, 2)  # four persons: one more than the limit
    r = officer.get(path)
    assert r.status_code == 429, r.text
    assert "Twin" not in r.text
    # One denial each; the only other events are the queue's own (``propose``).
    for p in ids:
        assert [o for o in _outcomes(database, p) if o[1] == "denied"] == [
            ("person.merge", "denied")
        ]
    assert _alerts(database) == ["lookup.enumeration"]


def test_the_duplicates_queue_counts_each_person_shown(officer, database):
    camp = site(officer, "Camp A")
    ids = _queue_pairs(officer, camp, 1)  # two persons: one look-up left after them
    other = register(officer, camp, given_name="Other")
    last = register(officer, camp, given_name="Last")
    r = officer.get("/api/duplicates")
    assert r.status_code == 200 and len(r.json()) == 1, r.text
    assert officer.get(f"/api/persons/{other['id']}").status_code == 200
    assert officer.get(f"/api/persons/{last['id']}").status_code == 429
    # The persons of the queue stay open, and the queue itself.
    assert all(officer.get(f"/api/persons/{p}").status_code == 200 for p in ids)
    assert officer.get("/api/duplicates").status_code == 200
