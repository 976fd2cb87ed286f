"""A correction of a person's details may not make their movement history impossible
(on both databases): a birth date after a recorded movement of theirs (an admission
to hospital, a discharge, their registration, their death) would have them admitted,
discharged or registered before they were born. Refused (422, naming the field and the
movement), nothing written (docs/api.md, "Corrections of details")."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from corridor.storage.tables import persons
from tests.api.helpers import errors, register, site


def _stored(database, person_id):
    with database.read() as conn:
        return conn.execute(
            select(persons.c.birth_date, persons.c.birth_precision, persons.c.updated_at).where(
                persons.c.id == person_id
            )
        ).one()


def _history_from_paper(client, clock):
    """Registered on paper a week before she was entered (the registration movement
    corrected to its real time), admitted to hospital and discharged since."""
    camp = site(client, "Camp")
    hospital = site(client, "Hospital", kind="hospital")
    pid = register(client, camp, given_name="Amina", birth_date="1990")["id"]
    [registered] = client.get(f"/api/persons/{pid}/movements").json()
    paper = (clock() - timedelta(days=9)).isoformat()  # 2019-03-01
    r = client.post(
        f"/api/movements/{registered['id']}/corrections",
        json={"kind": "registered", "to_site_id": camp, "occurred_at": paper, "note": "paper"},
    )
    assert r.status_code == 201, r.text
    admitted = (clock() - timedelta(days=5)).isoformat()  # 2019-03-05
    r = client.post(
        f"/api/persons/{pid}/events",
        json={"kind": "hospitalised", "to_site_id": hospital, "occurred_at": admitted},
    )
    assert r.status_code == 201, r.text
    r = client.post(f"/api/persons/{pid}/events", json={"kind": "discharged", "to_site_id": camp})
    assert r.status_code == 201, r.text
    return pid


def test_a_birth_date_after_a_recorded_movement_is_refused(client, database, clock):
    """Before, a birth date of 2019-03-08 was taken (it is before the record's
    registration date, the only bound checked), though she was registered on 03-01 and
    admitted to hospital on 03-05."""
    pid = _history_from_paper(client, clock)
    before = _stored(database, pid)
    for text in ("2019-03-08", "2019-03-02"):
        r = client.patch(f"/api/persons/{pid}", json={"birth_date": text})
        assert r.status_code == 422, r.text
        assert errors(r) == {
            "birth_date": "is after the person's first recorded movement (registered on "
            "2019-03-01): correct the date or that movement"
        }
        assert _stored(database, pid) == before
    # A birth date that may be on or before the first movement is a correction like any
    # other (March 2019 may be the 1st).
    r = client.patch(f"/api/persons/{pid}", json={"birth_date": "2019-03"})
    assert r.status_code == 200, r.text
    assert r.json()["birth_date"] == "2019-03"


def test_a_birth_date_after_a_recorded_death_is_refused(client, database, clock):
    """Her death is a movement too: a birth date after it is refused the same way, and a
    deceased person's details can still be corrected otherwise (a family tracing her
    needs her name right)."""
    camp = site(client, "Camp")
    pid = register(client, camp, given_name="Nour")["id"]
    [registered] = client.get(f"/api/persons/{pid}/movements").json()
    paper = (clock() - timedelta(days=9)).isoformat()
    client.post(
        f"/api/movements/{registered['id']}/corrections",
        json={"kind": "registered", "to_site_id": camp, "occurred_at": paper, "note": "paper"},
    )
    died = (clock() - timedelta(days=8)).isoformat()
    r = client.post(f"/api/persons/{pid}/events", json={"kind": "deceased", "occurred_at": died})
    assert r.status_code == 201, r.text
    r = client.patch(f"/api/persons/{pid}", json={"birth_date": "2019-03-05"})
    assert r.status_code == 422, r.text
    assert errors(r)["birth_date"].startswith("is after the person's first recorded movement")
    r = client.patch(f"/api/persons/{pid}", json={"family_name": "Haddad"})
    assert r.status_code == 200, r.text
