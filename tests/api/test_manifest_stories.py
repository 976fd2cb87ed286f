"""Stories of trucks at the corridor's exit, end to end over the API (on both
databases): what the manifests, the persons' locations and logs, and the sites'
figures say afterwards, and that they agree."""

from __future__ import annotations

from tests.api.helpers import errors, register, site
from tests.api.test_manifests import manifest


def test_someone_who_came_on_the_wrong_truck_can_travel_on(client, clock):
    """A man on truck 1 climbs onto truck 2 and is checked in off its manifest at the
    camp. He is at the camp; truck 1's manifest shows him elsewhere, and he can be put on
    the next truck. Before, truck 1 still held his place ("already on open manifest"):
    he could go nowhere until someone ticked him off a truck he never came on."""
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    hospital = site(client, "Hospital", kind="hospital")
    wrong_truck = register(client, exit_point, given_name="Karim")["id"]
    other = register(client, exit_point, given_name="Omar")["id"]
    trucks = [manifest(client, exit_point, camp) for _ in range(2)]
    for truck, pid in zip(trucks, (wrong_truck, other), strict=True):
        r = client.post(f"/api/manifests/{truck}/persons", json={"person_ids": [pid]})
        assert r.status_code == 200, r.text
    clock.advance(hours=1)
    for truck in trucks:
        assert client.post(f"/api/manifests/{truck}/dispatch").status_code == 200
    clock.advance(hours=3)
    r = client.post(f"/api/manifests/{trucks[1]}/check-ins", json={"person_id": wrong_truck})
    assert r.json()["status"] == "discrepancy_recorded", r.text
    assert client.get(f"/api/persons/{wrong_truck}").json()["location"]["site_id"] == camp
    [shown] = client.get(f"/api/manifests/{trucks[0]}").json()["persons"]
    assert shown["status"] == "elsewhere"
    missing = [u["person"]["id"] for u in client.get("/api/unaccounted").json()]
    assert missing == [other]  # Omar was not checked in
    onward = manifest(client, camp, hospital)
    r = client.post(f"/api/manifests/{onward}/persons", json={"person_ids": [wrong_truck]})
    assert r.status_code == 200, r.text
    clock.advance(hours=1)
    assert client.post(f"/api/manifests/{onward}/dispatch").status_code == 200
    assert client.get(f"/api/persons/{wrong_truck}").json()["location"]["state"] == "in_transit"


def test_a_draft_keeps_its_place_for_someone_who_left_on_another_truck(client, clock):
    """One on a draft who leaves on another truck (and is checked in off its manifest)
    stays on the draft: its dispatch names them as no longer at its origin."""
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    pid = register(client, exit_point)["id"]
    draft, truck = manifest(client, exit_point, camp), manifest(client, exit_point, camp)
    client.post(f"/api/manifests/{draft}/persons", json={"person_ids": [pid]})
    aboard = register(client, exit_point, given_name="Bashir")["id"]
    client.post(f"/api/manifests/{truck}/persons", json={"person_ids": [aboard]})
    clock.advance(hours=1)
    client.post(f"/api/manifests/{truck}/dispatch")
    clock.advance(hours=1)
    client.post(f"/api/manifests/{truck}/check-ins", json={"person_id": pid})
    r = client.post(f"/api/manifests/{draft}/dispatch")
    assert errors(r) == {
        "items[0].person_id": "the person is no longer at the manifest's origin site"
    }


def test_someone_missing_from_a_truck_found_in_a_hospital_is_recorded_there(client, clock):
    """Two did not come off the truck; one is found in a hospital. Once the truck is
    due (or its arrival closed), the hospital records her there: she is off the truck
    (its manifest shows her elsewhere, the unaccounted list no longer names her), counted
    at the hospital, and can travel on. Before, a person in transit could get no event at
    all: only a check-in at the camp she never reached. On the road before the truck is
    due, an event is still refused (409)."""
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    hospital = site(client, "Hospital", kind="hospital")
    found, lost = (register(client, exit_point, given_name=n)["id"] for n in ("Amina", "Nour"))
    truck = manifest(client, exit_point, camp)
    client.post(f"/api/manifests/{truck}/persons", json={"person_ids": [found, lost]})
    clock.advance(hours=1)
    r = client.post(f"/api/manifests/{truck}/dispatch", json={"travel_hours": 4})
    assert r.status_code == 200, r.text
    event = {"kind": "hospitalised", "to_site_id": hospital}
    clock.advance(hours=2)  # on the road, not yet due
    r = client.post(f"/api/persons/{found}/events", json=event)
    assert r.status_code == 409, r.text
    clock.advance(hours=3)
    assert client.post(f"/api/manifests/{truck}/receive").status_code == 200
    r = client.post(f"/api/persons/{found}/events", json=event)
    assert r.status_code == 201, r.text
    assert client.get(f"/api/persons/{found}").json()["location"]["site_id"] == hospital
    view = client.get(f"/api/manifests/{truck}").json()
    assert {p["id"]: p["status"] for p in view["persons"]} == {
        found: "elsewhere",
        lost: "unaccounted",
    }
    assert [u["person"]["id"] for u in client.get("/api/unaccounted").json()] == [lost]
    day = clock().date().isoformat()
    figures = client.get(f"/api/sites/{hospital}/figures?from={day}&to={day}").json()
    assert figures["present"]["total"] == 1 == figures["daily"][0]["present_at_end"]
    onward = manifest(client, hospital, camp)
    r = client.post(f"/api/manifests/{onward}/persons", json={"person_ids": [found]})
    assert r.status_code == 200, r.text
