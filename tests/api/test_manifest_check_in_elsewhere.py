"""A person ticked on a vehicle they are no longer on arrives from where they were last.

An old man is put on the ambulance to the hospital; he turns up at the camp instead and
is checked in there off the truck's manifest (a discrepancy), so the ambulance's list
shows him "elsewhere". The hospital later ticks him on the ambulance's list. Before, the
tick wrote "arrived from the exit point" (the ambulance's origin) after his arrival at
the camp: a history he never had, which the figures and the families list fold. Now he
arrives at the hospital from the camp, as someone not on the manifest (said so on it),
and a tick of someone still aboard is as it was. Run on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from corridor.storage.tables import manifest_discrepancies, movements
from tests.api.helpers import register, site


def _manifest(client, frm: str, to: str, vehicle: str, *person_ids: str) -> str:
    r = client.post(
        "/api/manifests", json={"vehicle": vehicle, "from_site_id": frm, "to_site_id": to}
    )
    assert r.status_code == 201, r.text
    m = r.json()["id"]
    r = client.post(f"/api/manifests/{m}/persons", json={"person_ids": list(person_ids)})
    assert r.status_code in (200, 201), r.text
    assert client.post(f"/api/manifests/{m}/dispatch").status_code == 200
    return str(m)


def _arrivals(database, person_id: str) -> list[tuple[str | None, str | None, str | None]]:
    with database.read() as conn:
        rows = conn.execute(
            select(movements.c.from_site_id, movements.c.to_site_id, movements.c.manifest_id)
            .where(movements.c.person_id == person_id, movements.c.kind == "arrived")
            .order_by(movements.c.occurred_at)
        ).all()
    return [tuple(r) for r in rows]


def test_a_tick_on_a_vehicle_left_for_another_arrives_from_where_they_were(
    client, database, clock
):
    exit_point, camp = site(client, "Exit point"), site(client, "Camp")
    hospital = site(client, "Hospital", "hospital")
    man = register(client, exit_point, given_name="Yousef", estimated_age=78)["id"]
    other = register(client, exit_point, given_name="Samir", estimated_age=30)["id"]
    ambulance = _manifest(client, exit_point, hospital, "Ambulance", man)
    truck = _manifest(client, exit_point, camp, "Truck", other)
    clock.advance(hours=2)
    r = client.post(f"/api/manifests/{truck}/check-ins", json={"person_id": man})
    assert r.json()["status"] == "discrepancy_recorded", r.text  # the camp: off its list
    clock.advance(hours=1)
    r = client.post(f"/api/manifests/{ambulance}/check-ins", json={"person_id": man})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "discrepancy_recorded"
    assert _arrivals(database, man) == [
        (None, camp, truck),  # on the road when he came to the camp
        (camp, hospital, ambulance),  # from the camp, where he was; not from the exit
    ]
    with database.read() as conn:
        kinds = conn.execute(
            select(manifest_discrepancies.c.manifest_id, manifest_discrepancies.c.note).where(
                manifest_discrepancies.c.person_id == man
            )
        ).all()
    assert sorted(kinds) == sorted([(truck, "was in_transit before arriving"),
                                    (ambulance, "was present before arriving")])  # fmt: skip
    # Ticked again: the same arrival, not a second one.
    again = client.post(f"/api/manifests/{ambulance}/check-ins", json={"person_id": man})
    assert again.json()["status"] == "already_recorded_as_discrepancy"
    assert len(_arrivals(database, man)) == 2
    # Someone still aboard is checked in as before.
    r = client.post(f"/api/manifests/{truck}/check-ins", json={"person_id": other})
    assert r.json()["status"] == "checked_in"
    assert _arrivals(database, other) == [(exit_point, camp, truck)]
    assert client.get(f"/api/persons/{man}").json()["location"]["site_id"] == hospital
