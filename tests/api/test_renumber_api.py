"""POST /api/persons/{id}/renumber (issue 16, docs/sync.md "Registration numbers"): the
administrator gives a person a new registration number; other roles may not; the same
idempotency key gives one new number; the person's page shows the number changed."""

from __future__ import annotations

from sqlalchemy import select

from corridor.security.roles import Role
from corridor.security.tables import audit_events
from tests.api.helpers import register, site
from tests.conftest import make_client


def test_the_administrator_gives_a_person_a_new_number(database, clock) -> None:
    officer = make_client(database, clock)  # every role
    camp = site(officer, "Camp A")
    person = register(officer, camp, given_name="Samira")
    pid, number = person["id"], person["registration_number"]
    registrar = make_client(database, clock, (Role.REGISTRAR, Role.SITE_MANAGER))
    r = registrar.post(f"/api/persons/{pid}/renumber", json={"reason": "given twice"})
    assert r.status_code == 403, r.text
    admin = make_client(database, clock, (Role.ADMINISTRATOR,))
    key = {"Idempotency-Key": "renumber-samira-1"}
    r = admin.post(f"/api/persons/{pid}/renumber", json={"reason": "given twice"}, headers=key)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["person_id"] == pid and done["previous_number"] == number
    new = done["registration_number"]
    assert new != number and "Samira" not in r.text
    again = admin.post(f"/api/persons/{pid}/renumber", json={"reason": "given twice"}, headers=key)
    assert again.status_code == 200 and again.json()["registration_number"] == new
    assert officer.get(f"/api/persons/{pid}").json()["registration_number"] == new
    # Found by the new number, not by the old one (it may now be someone else's).
    found = officer.post("/api/persons/search", json={"registration_number": new}).json()
    assert [p["id"] for p in found] == [pid]
    assert officer.post("/api/persons/search", json={"registration_number": number}).json() == []
    with database.read() as conn:
        events = conn.execute(
            select(audit_events.c.person_id, audit_events.c.purpose).where(
                audit_events.c.action == "person.renumber", audit_events.c.outcome == "allowed"
            )
        ).all()
    assert [tuple(e) for e in events] == [(pid, "given twice")]
    r = admin.post(f"/api/persons/{pid}/renumber", json={"reason": ""})
    assert r.status_code == 422, r.text
    r = admin.post(
        "/api/persons/0190aaaa-0000-7000-8000-000000000000/renumber", json={"reason": "x"}
    )
    assert r.status_code == 404, r.text


def test_the_person_page_shows_the_number_changed(database, clock) -> None:
    from tests.web.conftest import page_client

    officer = make_client(database, clock)
    camp = site(officer, "Camp A")
    person = register(officer, camp, given_name="Samira")
    pid, number = person["id"], person["registration_number"]
    pages = page_client(database, clock, name="pages")
    assert "renumbered" not in pages.page(f"/persons/{pid}")
    admin = make_client(database, clock, (Role.ADMINISTRATOR,))
    r = admin.post(f"/api/persons/{pid}/renumber", json={"reason": "given twice"})
    assert r.status_code == 200, r.text
    new = r.json()["registration_number"]
    html = pages.page(f"/persons/{pid}")
    assert 'id="renumbered"' in html and number in html and new in html
    twin = pages.get(f"/persons/{pid}.json").json()
    assert [(x["previous_number"], x["registration_number"]) for x in twin["renumbered"]] == [
        (number, new)
    ]
