from __future__ import annotations

from sqlalchemy import func, select

from corridor.storage.tables import manifest_discrepancies, movements
from tests.api.helpers import BASIS, CONSENT, errors, register, site


def household(client, site_id, n=3):
    r = client.post(
        "/api/households",
        json={
            "site_id": site_id,
            "consent": CONSENT,
            **BASIS,
            "head": {"given_name": "Layla", "sex": "f", "estimated_age": 35},
            "members": [
                {"relationship": "child", "given_name": f"Child{i}", "estimated_age": i + 2}
                for i in range(n - 1)
            ],
        },
    )
    assert r.status_code == 201, r.text
    return [m["id"] for m in r.json()["members"]]


def manifest(client, frm, to):
    return client.post(
        "/api/manifests", json={"vehicle": "Truck", "from_site_id": frm, "to_site_id": to}
    ).json()["id"]


def test_households_stay_together_unless_the_officer_says_why(client):
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    ids = household(client, exit_point)
    m = manifest(client, exit_point, camp)
    client.post(f"/api/manifests/{m}/persons", json={"person_ids": ids[:2]})
    r = client.post(f"/api/manifests/{m}/dispatch")
    assert r.status_code == 422
    problems = errors(r)
    assert set(problems) == {"items[0].separation_reason", "items[1].separation_reason"}
    # The member left behind is named by name, not by id (issue 13).
    assert "Child1" in problems["items[0].separation_reason"]
    assert ids[2] not in problems["items[0].separation_reason"]
    # Adding the rest of the household is one way; a reason is the other.
    client.post(f"/api/manifests/{m}/persons", json={"person_ids": ids[2:]})
    assert client.post(f"/api/manifests/{m}/dispatch").status_code == 200


def test_removing_from_a_draft_and_a_separation_reason(client):
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    ids = household(client, exit_point, 2)
    m = manifest(client, exit_point, camp)
    client.post(f"/api/manifests/{m}/persons", json={"person_ids": ids})
    assert client.delete(f"/api/manifests/{m}/persons/{ids[1]}").status_code == 200
    client.delete(f"/api/manifests/{m}/persons/{ids[0]}")
    client.post(
        f"/api/manifests/{m}/persons",
        json={"person_ids": [ids[0]], "separation_reason": "mother needs surgery"},
    )
    r = client.post(f"/api/manifests/{m}/dispatch")
    assert r.status_code == 200, r.text
    assert r.json()["persons"][0]["separation_reason"] == "mother needs surgery"


def test_check_in_twice_is_one_movement_and_strangers_are_discrepancies(client, database, clock):
    exit_point, camp, other = site(client, "Exit"), site(client, "Camp"), site(client, "Other")
    traveller = register(client, exit_point)
    stranger = register(client, other, given_name="Stranger")
    m = manifest(client, exit_point, camp)
    client.post(f"/api/manifests/{m}/persons", json={"person_ids": [traveller["id"]]})
    r = client.post(f"/api/manifests/{m}/check-ins", json={"person_id": traveller["id"]})
    assert r.status_code == 409  # not dispatched yet
    client.post(f"/api/manifests/{m}/dispatch")
    clock.advance(hours=3)
    first = client.post(f"/api/manifests/{m}/check-ins", json={"person_id": traveller["id"]}).json()
    again = client.post(f"/api/manifests/{m}/check-ins", json={"person_id": traveller["id"]}).json()
    assert first["status"] == "checked_in" and again["status"] == "already_checked_in"
    assert again["movement_id"] == first["movement_id"]
    r = client.post(
        f"/api/manifests/{m}/check-ins",
        json={"registration_number": stranger["registration_number"]},
    )
    assert r.json()["status"] == "discrepancy_recorded"
    r = client.post(f"/api/manifests/{m}/check-ins", json={"person_id": stranger["id"]})
    assert r.json()["status"] == "already_recorded_as_discrepancy"
    body = client.get(f"/api/manifests/{m}").json()
    assert body["counts"] == {
        "on_manifest": 1,
        "checked_in": 1,
        "in_transit": 0,
        "unaccounted": 0,
        "late_arrivals": 0,
        "discrepancies": 1,
        "erased": 0,
    }
    assert body["discrepancies"][0]["person"]["id"] == stranger["id"]
    assert [p["id"] for p in body["persons"]] == [traveller["id"]]
    assert client.get(f"/api/persons/{stranger['id']}").json()["location"]["site_id"] == camp
    with database.read() as conn:
        arrivals = conn.execute(
            select(func.count()).select_from(movements).where(movements.c.kind == "arrived")
        ).scalar_one()
        assert arrivals == 2
        assert (
            conn.execute(select(func.count()).select_from(manifest_discrepancies)).scalar_one() == 1
        )


def test_unaccounted_until_checked_in_anywhere(client, clock):
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    p = register(client, exit_point)
    m = manifest(client, exit_point, camp)
    client.post(f"/api/manifests/{m}/persons", json={"person_ids": [p["id"]]})
    client.post(f"/api/manifests/{m}/dispatch")
    client.post(f"/api/manifests/{m}/receive")
    clock.advance(hours=30)
    [missing] = client.get("/api/unaccounted").json()
    assert missing["person"]["id"] == p["id"] and missing["hours_since_departure"] == 30.0
    assert client.get("/api/unaccounted", params={"site_id": camp}).json()[0]["manifest_id"] == m
    # A late arrival is still checked in on the received manifest.
    r = client.post(f"/api/manifests/{m}/check-ins", json={"person_id": p["id"]})
    assert r.json()["status"] == "checked_in"
    assert client.get("/api/unaccounted").json() == []


def test_only_persons_at_the_origin_can_board(client):
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    elsewhere = register(client, camp)
    m = manifest(client, exit_point, camp)
    r = client.post(f"/api/manifests/{m}/persons", json={"person_ids": [elsewhere["id"], "ghost"]})
    assert errors(r) == {
        "person_ids[0]": "the person is not at the manifest's origin site",
        "person_ids[1]": "person not found",
    }
