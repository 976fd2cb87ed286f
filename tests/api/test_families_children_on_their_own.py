"""A child registered on their own (no household: an unaccompanied boy registered alone
at a desk) whom the site's dashboard counts among the "children apart from every adult
relative" is listed on the separated-families list, where protection staff act on it
(on both databases).

On the code before, the dashboard counted him (``figures.children_alone`` makes a
person of no household a household of one) while the list showed households only: a
protection officer read "1" on the dashboard and found nobody on the list. The list
shows him as an entry of one (``household_id`` null), through the gate as a household's
members are: within the reader's sites, audited, a detention facility withheld from the
roles that may not see it.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from corridor.security.roles import Role
from corridor.security.tables import audit_events
from corridor.storage import Database
from tests.api.helpers import register, site, work_at
from tests.conftest import Clock, make_client


def _post(client: TestClient, url: str, body: dict[str, Any]) -> None:
    r = client.post(url, json=body)
    assert r.status_code in (200, 201), r.text


def _link(client: TestClient, child: str, adult: str) -> None:
    _post(
        client,
        "/api/relationships",
        {"person_id": child, "other_person_id": adult, "kind": "uncle_aunt"},
    )


def _alone_on_dashboard(client: TestClient, site_id: str) -> int:
    r = client.get(f"/api/sites/{site_id}/figures")
    assert r.status_code == 200, r.text
    return int(r.json()["children_alone"])


def _families(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/separated-families", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["X-Total-Count"] == str(len(r.json()))
    return list(r.json())


def _alone_at(families: list[dict[str, Any]], site_id: str) -> list[str]:
    """The children the list marks alone at ``site_id``, by id."""
    return sorted(
        m["id"]
        for f in families
        for m in f["members"]
        if m["minor_apart_from_adult_relatives"] and m.get("site_id") == site_id
    )


def _events(database: Database, after: int) -> list[tuple[str | None, str, str]]:
    with database.read() as conn:
        rows = conn.execute(
            select(audit_events.c.person_id, audit_events.c.action, audit_events.c.outcome)
            .where(audit_events.c.seq > after)
            .order_by(audit_events.c.seq)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _last_seq(database: Database) -> int:
    with database.read() as conn:
        rows = conn.execute(select(audit_events.c.seq)).scalars().all()
    return max(rows, default=0)


def test_a_child_registered_on_their_own_is_on_the_list_the_dashboard_counts(
    client: TestClient, database: Database, clock: Clock
) -> None:
    camp, other = site(client, "Camp A"), site(client, "Camp B")
    officer = make_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
    work_at(officer, camp, admin=client)  # camp A only
    yusuf = register(client, camp, given_name="Yusuf", family_name="Darwish", sex="m",
                     estimated_age=16, vulnerabilities={"uasc": "unaccompanied"})["id"]  # fmt: skip
    mona = register(client, camp, given_name="Mona", sex="f", estimated_age=9)["id"]
    uncle = register(client, camp, given_name="Hamid", sex="m", birth_date="1975")["id"]
    _link(client, mona, uncle)  # Mona's uncle is at the camp: she is not alone
    nader = register(client, other, given_name="Nader", sex="m", estimated_age=10)["id"]
    register(client, camp, given_name="Adil", sex="m", birth_date="1980")  # an adult alone

    assert _alone_on_dashboard(officer, camp) == 1  # Yusuf
    before = _last_seq(database)
    families = _families(officer)
    # The list shows the child the dashboard counts, and only him (Nader is at camp B,
    # outside the officer's sites; Mona is with her uncle).
    assert _alone_at(families, camp) == [yusuf]
    [entry] = families
    assert entry["household_id"] is None
    assert (entry["places"], entry["minors_apart_from_every_adult"]) == (1, 1)
    [member] = entry["members"]
    assert member["id"] == yusuf and member["name"].startswith("Yusuf")
    assert (member["site_id"], member["site_name"], member["state"]) == (camp, "Camp A", "present")
    assert member["age"] == 16 and member["registration_number"]
    # Audited as a household's members are: one read per person shown.
    assert _events(database, before) == [(yusuf, "tracing.read", "allowed")]
    assert "Nader" not in json.dumps(families) and nader not in json.dumps(families)
    assert _families(officer, alone_only=True) == families
    assert _families(officer, site_id=camp) == families
    assert _families(officer, sort="size") == families

    # The administrator's sites are both camps: each camp's count is its list's.
    assert _alone_on_dashboard(client, other) == 1
    everyone = _families(client)
    for place in (camp, other):
        assert len(_alone_at(everyone, place)) == _alone_on_dashboard(client, place)
    assert _alone_at(_families(client, site_id=other), other) == [nader]

    # An adult relative at the other camp leaves him alone here; one at the camp does not.
    _link(client, yusuf, register(client, other, given_name="Samir", sex="m",
                                  birth_date="1970")["id"])  # fmt: skip
    assert (_alone_on_dashboard(officer, camp), _alone_at(_families(officer), camp)) == (1, [yusuf])
    _link(client, yusuf, register(client, camp, given_name="Karim", sex="m",
                                  birth_date="1982")["id"])  # fmt: skip
    assert _alone_on_dashboard(officer, camp) == 0
    assert _families(officer) == []
    # A child of no household who died is on neither.
    _post(client, f"/api/persons/{nader}/events", {"kind": "deceased"})
    assert _alone_on_dashboard(client, other) == 0 and _families(client) == []


def test_a_child_on_their_own_held_at_a_facility_is_listed_without_the_facility(
    client: TestClient, database: Database, clock: Clock
) -> None:
    """The facility where a child registered on their own is held is withheld from a
    tracing officer, as a household member's is; a protection officer reads it."""
    camp = site(client, "Camp A")
    prison = site(client, "Facility D", "detention")
    child = register(client, camp, given_name="Omar", sex="m", estimated_age=15)["id"]
    _post(client, f"/api/persons/{child}/events", {"kind": "detained", "to_site_id": prison})
    assert _alone_on_dashboard(client, prison) == 1

    tracer = make_client(database, clock, roles=(Role.TRACING_OFFICER,))
    work_at(tracer, camp, admin=client)
    r = tracer.get("/api/separated-families")
    assert r.status_code == 200, r.text
    assert prison not in r.text and "Facility D" not in r.text
    [entry] = r.json()
    [member] = entry["members"]
    assert member["id"] == child and member["minor_apart_from_adult_relatives"]
    assert (member["site_id"], member["site_name"], member["site_withheld"]) == (None, None, True)

    protection = make_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
    work_at(protection, camp, prison, admin=client)
    shown = _families(protection)
    assert _alone_at(shown, prison) == [child]
    assert _alone_on_dashboard(protection, prison) == 1
    assert _alone_at(_families(protection, site_id=prison), prison) == [child]
