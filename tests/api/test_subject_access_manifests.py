"""PROTECTION.md line 11: the access request holds the manifests the person travelled on
(their own place: which truck, from and to where, when, their check-in, their own
separation reason), and nothing of the other passengers, their reasons or the staff who
made the manifest or checked anyone in; a truck to a detention facility is shown as the
movement log shows the facility (the person may learn where they were taken)."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from corridor.cli import main
from corridor.security.roles import Role
from corridor.storage.tables import manifest_items, manifests
from tests.api.helpers import register, site, work_at
from tests.conftest import MASTER_KEY, make_client

OWN_REASON = "Cnyownsep travels ahead for the hearing"
SON_REASON = "Cnysonsep the boy goes to his uncle"
STRANGER_REASON = "Cnystrangersep travels alone"
CONSENT = {"tracing": True, "share_with": []}
BASIS = {"purpose": "registration and family tracing", "legal_basis": "vital_interest"}


@pytest.fixture
def trip(client: TestClient, database: Any, clock: Any) -> dict[str, Any]:
    """A mother, her son and a stranger on one truck from a camp to a detention
    facility, each with a reason of their own; the mother checked in, the arrival closed."""
    camp = site(client, "Camp A")
    prison = site(client, "Facility D", "detention")
    users: dict[str, TestClient] = {}
    for name, role in (("protection", Role.PROTECTION_OFFICER), ("mover", Role.MOVEMENT_OFFICER)):
        users[name] = make_client(database, clock, roles=(role,))
        work_at(users[name], camp, prison, admin=client)
    r = client.post(
        "/api/households",
        json={
            "site_id": camp,
            "consent": CONSENT,
            **BASIS,
            "head": {"given_name": "Amal", "family_name": "Hariri", "estimated_age": 40},
            "members": [{"relationship": "child", "given_name": "Samir", "estimated_age": 15}],
        },
    )
    assert r.status_code == 201, r.text
    mother, son = (m["id"] for m in r.json()["members"])
    stranger = register(client, camp, given_name="Cnystranger", estimated_age=30)["id"]
    mover = users["mover"]
    truck = {"vehicle": "truck 9", "from_site_id": camp, "to_site_id": prison}
    m = mover.post("/api/manifests", json=truck)
    assert m.status_code == 201, m.text
    manifest = m.json()["id"]
    for pid, reason in ((mother, OWN_REASON), (son, SON_REASON), (stranger, STRANGER_REASON)):
        r = mover.post(
            f"/api/manifests/{manifest}/persons",
            json={"person_ids": [pid], "separation_reason": reason},
        )
        assert r.status_code in (200, 201), r.text
    assert mover.post(f"/api/manifests/{manifest}/dispatch").status_code == 200
    clock.advance(hours=13)  # past the expected arrival
    r = mover.post(f"/api/manifests/{manifest}/check-ins", json={"person_id": mother})
    assert r.status_code in (200, 201), r.text
    assert mover.post(f"/api/manifests/{manifest}/receive").status_code == 200
    return {
        "admin": client,
        "users": users,
        "camp": camp,
        "prison": prison,
        "mother": mother,
        "son": son,
        "stranger": stranger,
        "manifest": manifest,
    }


def _access(trip: dict[str, Any], person: str) -> Any:
    r = trip["users"]["protection"].get(f"/api/persons/{person}/access-request")
    assert r.status_code == 200, r.text
    return r


def test_the_access_request_holds_the_persons_own_manifest_and_reason(
    trip: dict[str, Any], database: Any
) -> None:
    r = _access(trip, trip["mother"])
    places = r.json()["manifests"]
    assert len(places) == 1, places
    place = places[0]
    truck = trip["admin"].get(f"/api/manifests/{trip['manifest']}").json()
    assert place["manifest_id"] == trip["manifest"]
    assert place["person_id"] == trip["mother"]
    assert place["vehicle"] == "truck 9"
    # The detention facility shown, as the movement log shows it (no "withheld").
    assert (place["from_site_id"], place["to_site_id"]) == (trip["camp"], trip["prison"])
    assert "withheld" not in r.text
    assert place["status"] == "received"
    for key in ("dispatched_at", "expected_arrival", "received_at"):
        assert place[key] is not None and place[key][:19] == truck[key][:19], key
    mine = next(p for p in truck["persons"] if p["id"] == trip["mother"])
    assert place["checked_in_at"][:19] == mine["checked_in_at"][:19]
    assert place["passenger_status"] == "checked_in" and place["listed"] is True
    assert place["separation_reason"] == OWN_REASON
    assert place["separation_reason_unavailable"] is False
    assert place["discrepancies"] == []


def test_the_access_request_names_no_other_passenger_reason_or_staff_member(
    trip: dict[str, Any], database: Any
) -> None:
    r = _access(trip, trip["mother"])
    for theirs in (SON_REASON, STRANGER_REASON, "Samir", "Cnystranger", trip["son"],
                   trip["stranger"]):  # fmt: skip
        assert theirs not in r.text, theirs
    with database.read() as conn:
        staff = {
            *conn.execute(select(manifests.c.created_by)).scalars(),
            *conn.execute(select(manifest_items.c.checked_in_by)).scalars(),
        } - {None}
    assert staff
    assert not [s for s in staff if s in r.text]
    # The son's answer holds his own reason, not his mother's or the stranger's.
    r = _access(trip, trip["son"])
    (place,) = r.json()["manifests"]
    assert place["separation_reason"] == SON_REASON
    assert place["passenger_status"] == "unaccounted"  # not checked in, the truck due
    for theirs in (OWN_REASON, STRANGER_REASON, trip["mother"], trip["stranger"]):
        assert theirs not in r.text, theirs


def test_an_erased_persons_answer_holds_no_reason(trip: dict[str, Any]) -> None:
    protection = trip["users"]["protection"]
    erase = {"ground": "consent_withdrawn", "confirm": True}
    r = protection.post(f"/api/persons/{trip['mother']}/erasure", json=erase)
    assert r.status_code == 200, r.text
    r = _access(trip, trip["mother"])
    (place,) = r.json()["manifests"]  # the trip stays, as the movements do
    assert place["separation_reason"] is None
    assert place["separation_reason_unavailable"] is False
    assert OWN_REASON not in r.text
    assert SON_REASON in _access(trip, trip["son"]).text


def test_a_reason_whose_key_is_gone_reads_null_and_is_said_so(
    trip: dict[str, Any], database: Any, tmp_path: Any
) -> None:
    key_file = tmp_path / "master.key"
    key_file.write_text(MASTER_KEY)
    url = database.engine.url.render_as_string(hide_password=False)
    env = {"CORRIDOR_DATABASE_URL": url, "CORRIDOR_MASTER_KEY_FILE": str(key_file)}
    r = CliRunner().invoke(main, ["keys", "destroy", "--site", trip["camp"], "--yes"], env=env)
    assert r.exit_code == 0, r.output
    r = _access(trip, trip["mother"])
    (place,) = r.json()["manifests"]
    assert place["separation_reason"] is None
    assert place["separation_reason_unavailable"] is True


def test_a_truck_arrived_by_off_its_list_is_the_persons_with_its_discrepancy(
    trip: dict[str, Any], client: TestClient
) -> None:
    """The stranger, still listed on the first truck, arrives by a second one: both are
    in their answer, the second as not listed with the discrepancy recorded; the other
    passenger of the second is not."""
    mover = trip["users"]["mover"]
    other = register(client, trip["camp"], given_name="Cnyfourth", estimated_age=50)["id"]
    truck = {"vehicle": "bus 4", "from_site_id": trip["camp"], "to_site_id": trip["prison"]}
    second = mover.post("/api/manifests", json=truck).json()["id"]
    r = mover.post(f"/api/manifests/{second}/persons", json={"person_ids": [other]})
    assert r.status_code in (200, 201), r.text
    assert mover.post(f"/api/manifests/{second}/dispatch").status_code == 200
    r = mover.post(f"/api/manifests/{second}/check-ins", json={"person_id": trip["stranger"]})
    assert r.status_code in (200, 201), r.text
    r = _access(trip, trip["stranger"])
    first, off_list = r.json()["manifests"]
    assert (first["manifest_id"], first["listed"]) == (trip["manifest"], True)
    assert first["separation_reason"] == STRANGER_REASON
    assert first["passenger_status"] == "elsewhere"
    assert (off_list["manifest_id"], off_list["listed"]) == (second, False)
    assert off_list["vehicle"] == "bus 4" and off_list["passenger_status"] is None
    assert [d["kind"] for d in off_list["discrepancies"]] == ["not_on_manifest"]
    assert "recorded_by" not in off_list["discrepancies"][0]
    assert other not in r.text and "Cnyfourth" not in r.text


def test_a_merged_records_trip_is_in_the_survivors_answer(
    trip: dict[str, Any], client: TestClient
) -> None:
    """The mother registered twice: her trip, recorded under the record merged away
    (manifest items stay with it), is in the survivor's answer, said to be that record's."""
    protection = trip["users"]["protection"]
    again = register(client, trip["prison"], given_name="Amal", family_name="Hariri",
                     estimated_age=40)["id"]  # fmt: skip
    r = protection.post(
        f"/api/persons/{again}/merge", json={"other_person_id": trip["mother"], "reason": "same"}
    )
    assert r.status_code == 201, r.text
    r = _access(trip, again)
    (place,) = r.json()["manifests"]
    assert (place["manifest_id"], place["person_id"]) == (trip["manifest"], trip["mother"])
    assert place["separation_reason"] == OWN_REASON
    assert SON_REASON not in r.text and STRANGER_REASON not in r.text
