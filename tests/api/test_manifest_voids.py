"""Voiding a movement of someone who travels on a truck keeps the truck's manifest in
step with the movement log (on both databases): their place on the truck, the truck's
list and counts, and that nobody is on two trucks at once (docs/api.md, "Corrections
and manifests")."""

from __future__ import annotations

from sqlalchemy import select

from corridor.storage.tables import manifest_items
from tests.api.helpers import errors, register, site
from tests.api.test_manifests import manifest
from tests.api.test_movement_times import events, location, on_the_road

VOID = {"kind": "voided", "note": "recorded of the wrong person"}


def _places(database, person_id) -> dict[str, int | None]:
    """manifest -> the person's place on it (1: held)."""
    with database.read() as conn:
        return dict(
            conn.execute(
                select(manifest_items.c.manifest_id, manifest_items.c.open_slot).where(
                    manifest_items.c.person_id == person_id
                )
            ).all()
        )


def _movement(client, person_id, kind) -> str:
    [event] = [
        m for m in client.get(f"/api/persons/{person_id}/movements").json() if m["kind"] == kind
    ]
    return str(event["id"])


def _found_in_hospital(client, clock):
    """Amina is on a truck that is due and did not bring her; she is found in a hospital."""
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    hospital = site(client, "Hospital", kind="hospital")
    pid = register(client, exit_point, given_name="Amina")["id"]
    truck, _ = on_the_road(client, clock, exit_point, camp, [pid])
    clock.advance(hours=13)  # past the expected arrival
    r = client.post(
        f"/api/persons/{pid}/events", json={"kind": "hospitalised", "to_site_id": hospital}
    )
    assert r.status_code == 201, r.text
    return pid, truck, hospital, camp, r.json()["id"]


def test_a_voided_event_of_someone_found_off_the_truck_puts_them_back_on_it(
    client, database, clock
):
    """The hospital admission was recorded of the wrong person: voided, she is on the road
    on her truck again, and holds her place on it again (the admission had freed it).
    Before, her place stayed free: the log put her on the truck, its manifest did not."""
    pid, truck, _, _, admission = _found_in_hospital(client, clock)
    assert _places(database, pid) == {truck: None}
    r = client.post(f"/api/movements/{admission}/corrections", json=VOID)
    assert r.status_code == 201, r.text
    assert (location(client, pid)["state"], location(client, pid)["manifest_id"]) == (
        "in_transit", truck,
    )  # fmt: skip
    assert _places(database, pid) == {truck: 1}
    view = client.get(f"/api/manifests/{truck}").json()
    assert view["persons"][0]["status"] == "unaccounted"
    assert view["counts"]["unaccounted"] == 1


def test_a_void_that_would_put_someone_on_two_trucks_is_refused(client, database, clock):
    """Found in a hospital and put on a new truck there (a draft): voiding the admission
    would put her on the road on her old truck and on the new one at once. Refused (409,
    naming the new manifest), nothing written; taken off the new truck, the void is made.
    Before, the void was made and she was on both."""
    pid, truck, hospital, camp, admission = _found_in_hospital(client, clock)
    onward = manifest(client, hospital, camp)
    r = client.post(f"/api/manifests/{onward}/persons", json={"person_ids": [pid]})
    assert r.status_code == 200, r.text
    written = events(database)
    r = client.post(f"/api/movements/{admission}/corrections", json=VOID)
    assert r.status_code == 409, r.text
    assert errors(r) == {
        "event_id": f"the person is on open manifest {onward}; take them off it before "
        "voiding this event"
    }
    assert events(database) == written
    assert location(client, pid)["site_id"] == hospital
    assert client.delete(f"/api/manifests/{onward}/persons/{pid}").status_code in (200, 204)
    r = client.post(f"/api/movements/{admission}/corrections", json=VOID)
    assert r.status_code == 201, r.text
    assert _places(database, pid) == {truck: 1}


def test_someone_who_left_on_another_truck_is_elsewhere_on_the_first(client, clock):
    """Found in a hospital, then sent on from there on a new truck: the first truck's
    manifest shows her elsewhere, not on it (in transit or unaccounted), and counts her
    so. Before, it counted her unaccounted because she was in transit, on another truck."""
    pid, truck, hospital, camp, _ = _found_in_hospital(client, clock)
    onward, _ = on_the_road(client, clock, hospital, camp, [pid])
    assert location(client, pid)["manifest_id"] == onward
    view = client.get(f"/api/manifests/{truck}").json()
    assert view["persons"][0]["status"] == "elsewhere"
    assert view["counts"]["unaccounted"] == view["counts"]["in_transit"] == 0
    assert [u["manifest_id"] for u in client.get("/api/unaccounted").json()] == [onward]


def test_a_voided_departure_takes_the_person_off_the_truck(client, database, clock):
    """Ticked onto the truck by mistake (she never boarded): the departure is voided, she
    is at the exit point again, the truck's manifest shows her elsewhere (not in transit,
    not unaccounted) and her place on it is free, so the next truck can take her. Before,
    the truck held her place: "already on open manifest" on every other truck, and
    nothing could take her off it."""
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    pid = register(client, exit_point, given_name="Nour")["id"]
    other = register(client, exit_point, given_name="Omar")["id"]
    truck, _ = on_the_road(client, clock, exit_point, camp, [pid, other])
    r = client.post(f"/api/movements/{_movement(client, pid, 'dispatched')}/corrections", json=VOID)
    assert r.status_code == 201, r.text
    assert (location(client, pid)["state"], location(client, pid)["site_id"]) == (
        "present", exit_point,
    )  # fmt: skip
    view = client.get(f"/api/manifests/{truck}").json()
    assert {p["id"]: p["status"] for p in view["persons"]} == {
        pid: "elsewhere",
        other: "in_transit",
    }
    assert view["counts"]["in_transit"] == 1
    assert _places(database, pid) == {truck: None}
    nxt = manifest(client, exit_point, camp)
    r = client.post(f"/api/manifests/{nxt}/persons", json={"person_ids": [pid]})
    assert r.status_code == 200, r.text


def test_voiding_an_earlier_arrival_while_on_the_road_is_refused(client, database, clock):
    """Checked in at the camp off her first truck, she left the camp on a second. Voiding
    that check-in would put her on the road on both trucks: refused (409) with a reason
    she can act on (the second truck is on the road: check her in there first), nothing
    written. Before, the reason said to take her off a truck that had left."""
    exit_point, camp, farther = site(client, "Exit"), site(client, "Camp"), site(client, "Far")
    pid = register(client, exit_point, given_name="Rima")["id"]
    first, _ = on_the_road(client, clock, exit_point, camp, [pid])
    clock.advance(hours=3)
    arrival = client.post(f"/api/manifests/{first}/check-ins", json={"person_id": pid}).json()
    second, _ = on_the_road(client, clock, camp, farther, [pid])
    written = events(database)
    r = client.post(f"/api/movements/{arrival['movement_id']}/corrections", json=VOID)
    assert r.status_code == 409, r.text
    assert errors(r) == {
        "event_id": f"the person is on the road on manifest {second}; check them in at its "
        "destination before voiding this arrival"
    }
    assert events(database) == written
    assert _places(database, pid) == {first: None, second: 1}
