"""Issue 13, manifests: the split-household refusal names people, a whole household is
checked in at once, a late arrival after the arrival was closed, and "in transit" until
the expected arrival time (on both databases; times are passed or moved explicitly)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from corridor.security.tables import audit_events
from corridor.services.movements.manifests import LATE_ARRIVAL_NOTE, _listing
from corridor.settings import Settings
from corridor.storage.tables import manifest_items, movements
from tests.api.helpers import errors, register, site
from tests.api.test_manifests import household, manifest

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def arrivals(database, person_ids=None) -> int:
    with database.read() as conn:
        q = select(func.count()).select_from(movements).where(movements.c.kind == "arrived")
        if person_ids is not None:
            q = q.where(movements.c.person_id.in_(person_ids))
        return int(conn.execute(q).scalar_one())


def audited(database, action: str, since: int = 0) -> list[tuple[str | None, bool, str | None]]:
    with database.read() as conn:
        rows = conn.execute(
            select(audit_events)
            .where(audit_events.c.seq > since, audit_events.c.action == action)
            .order_by(audit_events.c.seq)
        ).all()
    return [(r.person_id, r.outcome == "allowed", r.purpose) for r in rows]


def last_seq(database) -> int:
    with database.read() as conn:
        return int(conn.execute(select(func.coalesce(func.max(audit_events.c.seq), 0))).scalar())


def dispatched(client, frm, to, person_ids, **body):
    m = manifest(client, frm, to)
    r = client.post(f"/api/manifests/{m}/persons", json={"person_ids": person_ids})
    assert r.status_code == 200, r.text
    r = client.post(f"/api/manifests/{m}/dispatch", json=body or None)
    assert r.status_code == 200, r.text
    return m


# -- the refusal names the members left behind ----------------------------------------


def test_a_split_household_is_refused_naming_who_stays_behind(client, database):
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    ids = household(client, exit_point, 4)  # Layla, Child1, Child2, Child3
    m = manifest(client, exit_point, camp)
    client.post(f"/api/manifests/{m}/persons", json={"person_ids": ids[:2]})
    seq = last_seq(database)
    r = client.post(f"/api/manifests/{m}/dispatch")
    assert r.status_code == 422
    reason = errors(r)["items[0].separation_reason"]
    # By name and registration number (two persons may share a name).
    assert re.search(r"Child1 \([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]\), Child2 \(", reason), reason
    assert not UUID.search(reason), reason  # no id in what an officer reads
    # The names the refusal shows are audited as read: one event for each, none for the
    # persons on board (the dispatch rolled back).
    named = audited(database, "manifest.write", seq)
    assert sorted(p for p, _, _ in named) == sorted(ids[2:])
    assert all(ok and purpose == "named in a refusal" for _, ok, purpose in named)


def test_members_the_reader_may_not_see_are_counted_not_named():
    listing = _listing(["a", "b", "c"], {"a": "Layla", "c": "Omar"})
    assert str(listing) == "Layla, Omar, 1 more you may not see"


# -- bulk check-in of a household ---------------------------------------------------


def test_a_whole_household_is_checked_in_at_once(client, database, clock):
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    family = household(client, exit_point, 3)
    alone = register(client, exit_point, given_name="Alone")
    m = dispatched(client, exit_point, camp, [*family, alone["id"]])
    hh = client.get(f"/api/persons/{family[0]}").json()["household_id"]
    clock.advance(hours=4)
    arrived = (clock() - timedelta(minutes=30)).isoformat()
    seq = last_seq(database)
    key = {"Idempotency-Key": "household-check-in-1"}
    body = {"household_id": hh, "arrived_at": arrived}
    r = client.post(f"/api/manifests/{m}/household-check-ins", json=body, headers=key)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["household_id"] == hh
    assert [x["person_id"] for x in first["results"]] == family
    assert {x["status"] for x in first["results"]} == {"checked_in"}
    # One movement and one audit event per member; nobody else touched.
    assert arrivals(database) == 3
    assert sorted(p for p, ok, _ in audited(database, "manifest.write", seq) if ok) == sorted(
        family
    )
    view = client.get(f"/api/manifests/{m}").json()
    assert view["counts"]["checked_in"] == 3
    by_id = {p["id"]: p for p in view["persons"]}
    assert by_id[alone["id"]]["checked_in_at"] is None
    for pid in family:
        assert by_id[pid]["status"] == "checked_in"
        assert client.get(f"/api/persons/{pid}").json()["location"]["site_id"] == camp
    # Sent again with the same key: the first answer, nothing written.
    again = client.post(f"/api/manifests/{m}/household-check-ins", json=body, headers=key)
    assert again.status_code == 200 and again.json() == first
    # Sent again without a key (a second officer): harmless, one movement each still.
    other = client.post(f"/api/manifests/{m}/household-check-ins", json={"household_id": hh})
    assert {x["status"] for x in other.json()["results"]} == {"already_checked_in"}
    assert [x["movement_id"] for x in other.json()["results"]] == [
        x["movement_id"] for x in first["results"]
    ]
    assert arrivals(database) == 3


def test_household_check_in_is_all_or_nothing(client, database, clock):
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    family = household(client, exit_point, 2)
    hh = client.get(f"/api/persons/{family[0]}").json()["household_id"]
    m = manifest(client, exit_point, camp)
    client.post(f"/api/manifests/{m}/persons", json={"person_ids": family})
    r = client.post(f"/api/manifests/{m}/household-check-ins", json={"household_id": hh})
    assert r.status_code == 409  # not dispatched yet
    client.post(f"/api/manifests/{m}/dispatch")
    future = (clock() + timedelta(hours=1)).isoformat()
    r = client.post(
        f"/api/manifests/{m}/household-check-ins", json={"household_id": hh, "arrived_at": future}
    )
    assert errors(r) == {"arrived_at": "is in the future"}
    r = client.post(f"/api/manifests/{m}/household-check-ins", json={"household_id": "nobody"})
    assert errors(r) == {"household_id": "nobody of this household is on the manifest"}
    assert arrivals(database) == 0


# -- late arrivals ------------------------------------------------------------------


def test_a_late_arrival_after_the_arrival_was_closed(client, database, clock):
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    on_time = register(client, exit_point, given_name="OnTime")
    late = register(client, exit_point, given_name="Late")
    m = dispatched(client, exit_point, camp, [on_time["id"], late["id"]])
    clock.advance(hours=5)
    client.post(f"/api/manifests/{m}/check-ins", json={"person_id": on_time["id"]})
    assert client.post(f"/api/manifests/{m}/receive").json()["status"] == "received"
    clock.advance(hours=20)
    came = clock() - timedelta(hours=2)  # they arrived two hours before the officer saw them
    r = client.post(
        f"/api/manifests/{m}/check-ins",
        json={"person_id": late["id"], "arrived_at": came.isoformat()},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "checked_in" and r.json()["late_arrival"] is True
    view = client.get(f"/api/manifests/{m}").json()
    status = {p["id"]: (p["status"], p["late_arrival"]) for p in view["persons"]}
    assert status == {on_time["id"]: ("checked_in", False), late["id"]: ("late_arrival", True)}
    assert view["counts"]["checked_in"] == 2
    assert view["counts"]["late_arrivals"] == 1
    assert view["counts"]["unaccounted"] == 0 and view["counts"]["in_transit"] == 0
    # The movement log says so, and the arrival is at the time they came, into the camp.
    log = client.get(f"/api/persons/{late['id']}/movements").json()
    arrival = [e for e in log if e["kind"] == "arrived"]
    assert len(arrival) == 1 and arrival[0]["note"] == LATE_ARRIVAL_NOTE
    assert arrival[0]["to_site_id"] == camp
    assert arrival[0]["occurred_at"].startswith(came.isoformat()[:19])
    assert client.get(f"/api/persons/{late['id']}").json()["location"]["site_id"] == camp
    assert client.get("/api/unaccounted").json() == []
    with database.read() as conn:
        flags = dict(
            conn.execute(
                select(manifest_items.c.person_id, manifest_items.c.late_arrival).where(
                    manifest_items.c.manifest_id == m
                )
            ).all()
        )
    assert flags == {on_time["id"]: None, late["id"]: 1}


def test_a_household_checked_in_after_closing_is_late(client, clock):
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    family = household(client, exit_point, 2)
    hh = client.get(f"/api/persons/{family[0]}").json()["household_id"]
    m = dispatched(client, exit_point, camp, family)
    client.post(f"/api/manifests/{m}/receive")
    clock.advance(hours=1)
    r = client.post(f"/api/manifests/{m}/household-check-ins", json={"household_id": hh})
    assert [x["late_arrival"] for x in r.json()["results"]] == [True, True]
    assert client.get(f"/api/manifests/{m}").json()["counts"]["late_arrivals"] == 2


# -- in transit until the expected arrival ------------------------------------------


def test_in_transit_until_the_expected_arrival_then_unaccounted(client, clock):
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    p = register(client, exit_point)
    clock.advance(hours=1)
    left = clock() - timedelta(minutes=30)  # the truck left half an hour ago
    due = left + timedelta(hours=5)
    m = dispatched(
        client,
        exit_point,
        camp,
        [p["id"]],
        departed_at=left.isoformat(),
        expected_arrival=due.isoformat(),
    )

    def seen():
        view = client.get(f"/api/manifests/{m}").json()
        [row] = client.get("/api/unaccounted").json()
        return (
            view["persons"][0]["status"],
            view["counts"]["in_transit"],
            view["counts"]["unaccounted"],
            view["overdue"],
            row["status"],
        )

    assert (
        client.get(f"/api/manifests/{m}")
        .json()["expected_arrival"]
        .startswith(due.isoformat()[:19])
    )
    assert seen() == ("in_transit", 1, 0, False, "in_transit")
    clock.now = due - timedelta(seconds=1)
    assert seen() == ("in_transit", 1, 0, False, "in_transit")
    clock.now = due
    assert seen() == ("unaccounted", 0, 1, True, "unaccounted")


def test_the_expected_arrival_defaults_to_the_policy_travel_hours(client, clock):
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    p = register(client, exit_point)
    m = dispatched(client, exit_point, camp, [p["id"]])
    view = client.get(f"/api/manifests/{m}").json()
    assert view["expected_arrival"].startswith((clock() + timedelta(hours=12)).isoformat()[:19])
    client.app.state.services.manifests.travel_hours = 3  # what create_app passed in
    q = register(client, exit_point, given_name="Second")
    m2 = dispatched(client, exit_point, camp, [q["id"]])
    view = client.get(f"/api/manifests/{m2}").json()
    assert view["expected_arrival"].startswith((clock() + timedelta(hours=3)).isoformat()[:19])


def test_an_expected_arrival_before_the_departure_is_refused(client, clock):
    exit_point, camp = site(client, "Exit"), site(client, "Camp")
    p = register(client, exit_point)
    m = manifest(client, exit_point, camp)
    client.post(f"/api/manifests/{m}/persons", json={"person_ids": [p["id"]]})
    r = client.post(f"/api/manifests/{m}/dispatch", json={"expected_arrival": clock().isoformat()})
    assert errors(r) == {"expected_arrival": "must be after the departure"}
    assert client.get(f"/api/manifests/{m}").json()["status"] == "draft"


def test_travel_hours_is_a_setting():
    assert Settings().travel_hours == 12.0
    assert Settings.from_env({"CORRIDOR_TRAVEL_HOURS": "3.5"}).travel_hours == 3.5
    for bad in ("0", "soon", "1000"):
        try:
            Settings.from_env({"CORRIDOR_TRAVEL_HOURS": bad})
        except ValueError:
            continue
        raise AssertionError(f"travel_hours {bad!r} accepted")
