"""A movement recorded late (backdated) is placed in the log by its time, and a person's
location is folded from the log in time order: a time before the person's last recorded
movement (a check-in before the truck left, a dispatch before the person arrived, a
hospitalisation backdated past a later arrival) would be folded in before it and lost,
leaving the manifest, the location and the figures disagreeing. Such a time is refused,
naming the field, and nothing is written; a late record after the last movement counts on
its own day (on both databases)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from corridor.storage.security_tables import audit_events
from corridor.storage.tables import manifest_discrepancies, movements
from tests.api.helpers import errors, register, site
from tests.api.test_figures_add_up import assert_adds_up
from tests.api.test_manifests import manifest


def events(database) -> int:
    with database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(movements)).scalar_one())


def location(client, pid):
    return client.get(f"/api/persons/{pid}").json()["location"]


def on_the_road(client, clock, frm, to, pids):
    m = manifest(client, frm, to)
    assert client.post(f"/api/manifests/{m}/persons", json={"person_ids": pids}).status_code == 200
    clock.advance(hours=1)
    r = client.post(f"/api/manifests/{m}/dispatch")
    assert r.status_code == 200, r.text
    return m, r.json()["dispatched_at"]


def test_a_check_in_before_the_truck_left_is_refused(client, database, clock):
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    pid = register(client, exit_point)["id"]
    m, left = on_the_road(client, clock, exit_point, camp, [pid])
    clock.advance(hours=5)
    before = (clock() - timedelta(hours=6)).isoformat()
    written = events(database)
    for path, body in (
        ("check-ins", {"person_id": pid, "arrived_at": before}),
        ("receive", {"received_at": before}),
    ):
        r = client.post(f"/api/manifests/{m}/{path}", json=body)
        assert r.status_code == 422, r.text
        [field] = errors(r)
        assert errors(r)[field].startswith("is before the departure"), r.text
        assert left.replace("+00:00", "Z") in errors(r)[field]
    assert events(database) == written
    # Nothing changed: still on the road, on the manifest and in the person's location.
    assert location(client, pid)["state"] == "in_transit"
    view = client.get(f"/api/manifests/{m}").json()
    assert view["status"] == "dispatched"
    assert view["persons"][0]["status"] == "in_transit"
    # At (or after) the departure it is taken, and all three agree.
    r = client.post(f"/api/manifests/{m}/check-ins", json={"person_id": pid, "arrived_at": left})
    assert r.status_code == 200, r.text
    assert location(client, pid)["site_id"] == camp
    assert client.get(f"/api/manifests/{m}").json()["persons"][0]["status"] == "checked_in"


def test_a_receipt_in_the_future_is_refused(client, clock):
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    pid = register(client, exit_point)["id"]
    m, _ = on_the_road(client, clock, exit_point, camp, [pid])
    later = (clock() + timedelta(hours=2)).isoformat()
    r = client.post(f"/api/manifests/{m}/receive", json={"received_at": later})
    assert errors(r) == {"received_at": "is in the future"}
    assert client.get(f"/api/manifests/{m}").json()["status"] == "dispatched"


def test_a_dispatch_before_a_person_arrived_is_refused(client, database, clock):
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    first = register(client, exit_point, given_name="Early")["id"]
    clock.advance(hours=3)
    late = register(client, exit_point, given_name="Late")["id"]  # registered at 11:00
    m = manifest(client, exit_point, camp)
    client.post(f"/api/manifests/{m}/persons", json={"person_ids": [first, late]})
    written = events(database)
    r = client.post(
        f"/api/manifests/{m}/dispatch",
        json={"departed_at": (clock() - timedelta(hours=1)).isoformat()},
    )
    assert r.status_code == 422, r.text
    assert set(errors(r)) == {"departed_at"}
    assert "last recorded movement" in errors(r)["departed_at"]
    assert events(database) == written
    assert client.get(f"/api/manifests/{m}").json()["status"] == "draft"
    assert location(client, late)["state"] == "present"


def test_a_status_event_backdated_past_a_later_movement_is_refused(client, database, clock):
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    hospital = site(client, "Hospital", kind="hospital")
    pid = register(client, exit_point)["id"]
    m, _ = on_the_road(client, clock, exit_point, camp, [pid])
    clock.advance(hours=3)
    assert client.post(f"/api/manifests/{m}/check-ins", json={"person_id": pid}).status_code == 200
    arrived = clock()
    clock.advance(hours=3)
    written = events(database)
    # Taken to hospital "at 08:30": before the truck left the exit point at 09:00.
    body = {
        "kind": "hospitalised",
        "to_site_id": hospital,
        "occurred_at": (arrived - timedelta(hours=3, minutes=30)).isoformat(),
    }
    r = client.post(f"/api/persons/{pid}/events", json=body)
    assert r.status_code == 422, r.text
    assert set(errors(r)) == {"occurred_at"}
    assert "correction" in errors(r)["occurred_at"]
    assert events(database) == written
    # Recorded late but after the arrival: taken, and counted on its own day at both ends.
    body["occurred_at"] = (arrived + timedelta(hours=1)).isoformat()
    r = client.post(f"/api/persons/{pid}/events", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["from_site_id"] == camp
    assert location(client, pid)["site_id"] == hospital
    day = arrived.date().isoformat()
    for where, present in ((hospital, 1), (camp, 0)):
        f = client.get(f"/api/sites/{where}/figures?from={day}&to={day}").json()
        assert f["present"]["total"] == present
        assert f["daily"][-1]["present_at_end"] == present


def test_someone_off_the_manifest_cannot_arrive_before_their_last_movement(
    client, database, clock
):
    exit_point, camp, other = site(client, "Exit"), site(client, "Camp"), site(client, "Other")
    pid = register(client, exit_point)["id"]
    m, left = on_the_road(client, clock, exit_point, camp, [pid])
    clock.advance(hours=2)
    stray = register(client, other, given_name="Stray")["id"]  # registered after the departure
    clock.advance(hours=2)
    body = {"person_id": stray, "arrived_at": left}
    r = client.post(f"/api/manifests/{m}/check-ins", json=body)
    assert r.status_code == 422, r.text
    assert "last recorded movement" in errors(r)["arrived_at"]
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(manifest_discrepancies)).scalar() == 0
    assert location(client, stray)["site_id"] == other


def test_a_voided_or_corrected_arrival_is_followed_by_the_manifest(client, database, clock):
    """Voiding the arrival a check-in recorded (the wrong person ticked) puts the person
    back on the truck on the manifest too, so they can be checked in again; correcting
    its time moves the check-in's time, never before the departure. Before, the manifest
    kept them checked in while the log put them back on the road: the unaccounted list
    named them and a new check-in answered "already checked in", for good."""
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    pid = register(client, exit_point)["id"]
    m, _ = on_the_road(client, clock, exit_point, camp, [pid])
    clock.advance(hours=3)
    arrival = client.post(f"/api/manifests/{m}/check-ins", json={"person_id": pid}).json()
    body = {"kind": "voided", "note": "the wrong wristband was scanned"}
    r = client.post(f"/api/movements/{arrival['movement_id']}/corrections", json=body)
    assert r.status_code == 201, r.text
    assert location(client, pid)["state"] == "in_transit"
    view = client.get(f"/api/manifests/{m}").json()
    assert view["persons"][0]["status"] == "in_transit"
    assert view["persons"][0]["checked_in_at"] is None
    assert view["counts"]["checked_in"] == 0
    clock.advance(hours=1)
    again = client.post(f"/api/manifests/{m}/check-ins", json={"person_id": pid}).json()
    assert again["status"] == "checked_in" and again["movement_id"] != arrival["movement_id"]
    assert location(client, pid)["site_id"] == camp
    assert client.get("/api/unaccounted").json() == []
    # A new time for the arrival: the manifest's check-in follows; before the departure
    # it is refused, nothing written.
    written = events(database)
    fix = {"kind": "arrived", "note": "time", "from_site_id": exit_point, "to_site_id": camp}
    early = {**fix, "occurred_at": (clock() - timedelta(hours=9)).isoformat()}
    r = client.post(f"/api/movements/{again['movement_id']}/corrections", json=early)
    assert r.status_code == 422, r.text
    assert errors(r)["occurred_at"].startswith("is before the departure")
    assert events(database) == written
    later = {**fix, "occurred_at": (clock() - timedelta(hours=1)).isoformat()}
    r = client.post(f"/api/movements/{again['movement_id']}/corrections", json=later)
    assert r.status_code == 201, r.text
    [person] = client.get(f"/api/manifests/{m}").json()["persons"]
    assert person["status"] == "checked_in"
    assert person["checked_in_at"] == later["occurred_at"].replace("+00:00", "Z")
    assert location(client, pid)["site_id"] == camp


def _discrepancies(database, manifest_id) -> list[str]:
    with database.read() as conn:
        return list(
            conn.execute(
                select(manifest_discrepancies.c.person_id).where(
                    manifest_discrepancies.c.manifest_id == manifest_id
                )
            ).scalars()
        )


def test_a_voided_arrival_off_the_manifest_takes_its_discrepancy_away(client, database, clock):
    """Two persons ticked off a truck they were not on (a discrepancy each): one was on
    another truck still on the road, one was at another site. The wrong wristbands were
    scanned, and both arrivals are voided: the discrepancies go (list, counts, page), the
    first is back on her own truck (its list, the unaccounted list, her place on it, so
    she is on no second truck), the second back where he was, and each can be checked
    in anew (a new arrival and discrepancy when they do come). Before, the discrepancies
    stood after the void, the truck kept counting them, and checking the person in again
    answered "already recorded as a discrepancy" with no arrival: nobody could record
    them arriving on that truck."""
    exit_point, camp, other = site(client, "Exit"), site(client, "Camp"), site(client, "Other")
    rider = register(client, exit_point, given_name="Rider")["id"]
    stayer = register(client, other, given_name="Stayer")["id"]
    own, _ = on_the_road(client, clock, exit_point, camp, [rider])
    filler = register(client, exit_point, given_name="Filler")["id"]
    wrong, _ = on_the_road(client, clock, exit_point, camp, [filler])
    clock.advance(hours=3)
    arrivals = {}
    for pid in (rider, stayer):
        r = client.post(f"/api/manifests/{wrong}/check-ins", json={"person_id": pid})
        assert r.json()["status"] == "discrepancy_recorded", r.text
        arrivals[pid] = r.json()["movement_id"]
    assert sorted(_discrepancies(database, wrong)) == sorted([rider, stayer])
    assert client.get(f"/api/manifests/{own}").json()["persons"][0]["status"] == "elsewhere"
    written = events(database)
    for pid in (rider, stayer):
        body = {"kind": "voided", "note": "the wrong wristband was scanned"}
        r = client.post(f"/api/movements/{arrivals[pid]}/corrections", json=body)
        assert r.status_code == 201, r.text
    assert events(database) == written + 2  # the two voids, nothing else
    assert _discrepancies(database, wrong) == []
    view = client.get(f"/api/manifests/{wrong}").json()
    assert view["discrepancies"] == [] and view["counts"]["discrepancies"] == 0
    page = client.get(f"/manifests/{wrong}").text
    assert "Rider" not in page and "Stayer" not in page
    assert "arrived without being on the manifest" not in page
    camp_figures = client.get(f"/api/sites/{camp}/figures").json()
    assert camp_figures["present"]["total"] == 0
    assert_adds_up(camp_figures)
    assert location(client, stayer)["site_id"] == other
    assert (location(client, rider)["state"], location(client, rider)["manifest_id"]) == (
        "in_transit", own,
    )  # fmt: skip
    [on_own] = client.get(f"/api/manifests/{own}").json()["persons"]
    assert on_own["status"] == "in_transit"
    assert [u["person"]["id"] for u in client.get("/api/unaccounted").json()] == [rider, filler]
    # Her place on her own truck is hers again: no second truck takes her.
    third = manifest(client, exit_point, camp)
    r = client.post(f"/api/manifests/{third}/persons", json={"person_ids": [rider]})
    assert r.status_code == 422, r.text
    assert errors(r) == {"person_ids[0]": f"the person is already on open manifest {own}"}
    # Voided events are audited as every correction is: one movement.write each.
    with database.read() as conn:
        audited = conn.execute(
            select(audit_events.c.person_id).where(
                audit_events.c.action == "movement.write", audit_events.c.outcome == "allowed"
            ).order_by(audit_events.c.seq)
        ).scalars().all()
    assert audited[-2:] == [rider, stayer]
    # When they do come on that truck, they are recorded as arriving on it again.
    clock.advance(hours=1)
    for pid in (rider, stayer):
        r = client.post(f"/api/manifests/{wrong}/check-ins", json={"person_id": pid})
        assert r.json()["status"] == "discrepancy_recorded", r.text
        assert location(client, pid)["site_id"] == camp
    assert client.get(f"/api/manifests/{wrong}").json()["counts"]["discrepancies"] == 2


def test_an_arrival_off_the_manifest_is_not_voided_while_on_a_new_truck(client, database, clock):
    """Ticked off the wrong truck, then put on a new truck at the camp: voiding that
    arrival would put her on two trucks at once (her own, still on the road, and the new
    one), so it is refused (409, naming the new manifest), nothing written, the
    discrepancy standing; taken off the new truck, the void is made."""
    exit_point, camp, farther = site(client, "Exit"), site(client, "Camp"), site(client, "Farther")
    rider = register(client, exit_point, given_name="Rider")["id"]
    filler = register(client, exit_point, given_name="Filler")["id"]
    own, _ = on_the_road(client, clock, exit_point, camp, [rider])
    wrong, _ = on_the_road(client, clock, exit_point, camp, [filler])
    clock.advance(hours=3)
    arrival = client.post(f"/api/manifests/{wrong}/check-ins", json={"person_id": rider}).json()
    onward = manifest(client, camp, farther)
    r = client.post(f"/api/manifests/{onward}/persons", json={"person_ids": [rider]})
    assert r.status_code == 200, r.text
    written = events(database)
    body = {"kind": "voided", "note": "the wrong wristband was scanned"}
    r = client.post(f"/api/movements/{arrival['movement_id']}/corrections", json=body)
    assert r.status_code == 409, r.text
    assert errors(r)["event_id"] == (
        f"the person is on open manifest {onward}; take them off it before voiding this arrival"
    )
    assert events(database) == written and _discrepancies(database, wrong) == [rider]
    assert location(client, rider)["site_id"] == camp
    r = client.delete(f"/api/manifests/{onward}/persons/{rider}")
    assert r.status_code in (200, 204), r.text
    r = client.post(f"/api/movements/{arrival['movement_id']}/corrections", json=body)
    assert r.status_code == 201, r.text
    assert _discrepancies(database, wrong) == []
    assert location(client, rider)["manifest_id"] == own
