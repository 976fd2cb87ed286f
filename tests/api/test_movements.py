from __future__ import annotations

from tests.api.helpers import errors, register, site


def test_status_events_and_their_corrections(client, clock):
    camp = site(client, "Camp")
    hospital = site(client, "Hospital", "hospital")
    prison = site(client, "Detention facility", "detention")
    p = register(client, camp)
    clock.advance(hours=2)
    r = client.post(
        f"/api/persons/{p['id']}/events", json={"kind": "detained", "to_site_id": prison}
    )
    assert r.status_code == 201, r.text
    wrong = r.json()
    loc = client.get(f"/api/persons/{p['id']}").json()["location"]
    assert (loc["site_id"], loc["state"]) == (prison, "detained")

    # It was the hospital, not detention: a correction is a new event naming the old one.
    clock.advance(hours=1)
    r = client.post(
        f"/api/movements/{wrong['id']}/corrections",
        json={
            "kind": "hospitalised",
            "to_site_id": hospital,
            "note": "entered under the wrong person",
        },
    )
    assert r.status_code == 201, r.text
    fix = r.json()
    assert fix["corrects_id"] == wrong["id"] and fix["occurred_at"] == wrong["occurred_at"]
    loc = client.get(f"/api/persons/{p['id']}").json()["location"]
    assert (loc["site_id"], loc["state"]) == (hospital, "hospitalised")
    history = client.get(f"/api/persons/{p['id']}/movements").json()
    assert [(h["kind"], h["corrected"]) for h in history] == [
        ("registered", False),
        ("detained", True),
        ("hospitalised", False),
    ]
    r = client.post(
        f"/api/movements/{wrong['id']}/corrections", json={"kind": "voided", "note": "x"}
    )
    assert r.status_code == 409

    # Voiding the correction's correction brings the person back to the camp.
    r = client.post(
        f"/api/movements/{fix['id']}/corrections", json={"kind": "voided", "note": "never left"}
    )
    assert client.get(f"/api/persons/{p['id']}").json()["location"]["site_id"] == camp

    clock.advance(hours=1)
    client.post(f"/api/persons/{p['id']}/events", json={"kind": "deceased"})
    r = client.post(
        f"/api/persons/{p['id']}/events", json={"kind": "transferred", "to_site_id": hospital}
    )
    assert r.status_code == 409


def test_event_rules(client, clock):
    camp = site(client, "Camp")
    p = register(client, camp)
    r = client.post(f"/api/persons/{p['id']}/events", json={"kind": "hospitalised"})
    assert "destination" in errors(r)["to_site_id"]
    r = client.post(
        f"/api/persons/{p['id']}/events", json={"kind": "hospitalised", "to_site_id": camp}
    )
    assert "hospital" in errors(r)["to_site_id"]
    r = client.post(
        f"/api/persons/{p['id']}/events",
        json={"kind": "departed", "occurred_at": "2030-01-01T00:00:00Z"},
    )
    assert "future" in errors(r)["occurred_at"]
    r = client.post(f"/api/persons/{p['id']}/events", json={"kind": "released"})
    assert r.status_code == 201
    assert client.get(f"/api/persons/{p['id']}").json()["location"]["state"] == "left"


def test_a_discharge_ends_a_hospital_stay(client, clock):
    """The health worker refers a malnourished child to the field hospital and the
    hospital discharges her back to the camp. A discharge of a person not in hospital,
    and a second admission to the hospital she is in, are refused (409 naming the
    field and why) and nothing is written; a move on to another hospital is an
    admission there. On the code before, both were recorded (201): a camp-to-camp move
    logged as a discharge, the child admitted twice to one hospital."""
    camp = site(client, "Camp")
    other_camp = site(client, "Camp B")
    hospital = site(client, "Field hospital", "hospital")
    referral = site(client, "Referral hospital", "hospital")
    child = register(client, camp, given_name="Sara", birth_date="2018-06")
    events = f"/api/persons/{child['id']}/events"
    history = f"/api/persons/{child['id']}/movements"

    def refused(body: dict[str, str], field: str, why: str) -> None:
        before = client.get(history).json()
        r = client.post(events, json=body)
        assert r.status_code == 409, r.text
        assert why in errors(r)[field]
        assert client.get(history).json() == before

    clock.advance(hours=1)
    refused({"kind": "discharged", "to_site_id": other_camp}, "kind", "not in hospital")
    r = client.post(events, json={"kind": "hospitalised", "to_site_id": hospital})
    assert r.status_code == 201, r.text
    clock.advance(hours=1)
    refused({"kind": "hospitalised", "to_site_id": hospital}, "to_site_id", "already")
    r = client.post(events, json={"kind": "hospitalised", "to_site_id": referral})
    assert r.status_code == 201, r.text
    clock.advance(hours=30)
    r = client.post(events, json={"kind": "discharged", "to_site_id": camp})
    assert r.status_code == 201, r.text
    assert r.json()["from_site_id"] == referral
    loc = client.get(f"/api/persons/{child['id']}").json()["location"]
    assert (loc["site_id"], loc["state"]) == (camp, "present")
    clock.advance(hours=1)
    refused({"kind": "discharged", "to_site_id": camp}, "kind", "not in hospital")
    kinds = [m["kind"] for m in client.get(history).json()]
    assert kinds == ["registered", "hospitalised", "hospitalised", "discharged"]


def test_a_move_to_the_site_the_person_is_at_is_refused(client, clock):
    """A transfer, a detention or a release leads somewhere else than where the person
    is. On the code before, a transfer from the camp to the same camp (a double click,
    the wrong line of the list) was recorded: a departure and an arrival of a person who
    never moved, counted in the camp's figures; a second detention at the facility where
    the person is held too. Now 409 on ``to_site_id``, nothing written; a move elsewhere,
    or a change of state where they are (detained where a truck brought them: the route
    table's world), is recorded as before."""
    camp = site(client, "Camp")
    other_camp = site(client, "Camp B")
    prison = site(client, "Facility", "detention")
    man = register(client, camp, given_name="Khalil", estimated_age=40)
    events = f"/api/persons/{man['id']}/events"
    history = f"/api/persons/{man['id']}/movements"

    def refused(body: dict[str, str]) -> None:
        before = client.get(history).json()
        r = client.post(events, json=body)
        assert r.status_code == 409, r.text
        assert "at this site already" in errors(r)["to_site_id"]
        assert client.get(history).json() == before

    clock.advance(hours=1)
    refused({"kind": "transferred", "to_site_id": camp})
    r = client.post(events, json={"kind": "transferred", "to_site_id": other_camp})
    assert r.status_code == 201, r.text
    clock.advance(hours=1)
    refused({"kind": "transferred", "to_site_id": other_camp})
    assert client.post(events, json={"kind": "detained", "to_site_id": prison}).status_code == 201
    clock.advance(hours=1)
    refused({"kind": "detained", "to_site_id": prison})
    r = client.post(events, json={"kind": "released", "to_site_id": camp})
    assert r.status_code == 201, r.text
    kinds = [m["kind"] for m in client.get(history).json()]
    assert kinds == ["registered", "transferred", "detained", "released"]
