"""Bad input: a clear 4xx naming field and reason, every problem at once, nothing written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from corridor.storage.tables import manifest_items, metadata, movements, persons
from tests.api.helpers import BASIS, CONSENT, errors, person_body, register, site


def row_counts(database) -> dict[str, int]:
    with database.read() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
        }


def test_error_shape_lists_every_problem(client, database):
    camp = site(client, "Camp A")
    before = row_counts(database)
    body = person_body(
        camp,
        given_name="Omar",
        birth_date="2030-01-01",
        nationality="XXX",
        origin_pcode="SY99",
        vulnerabilities={"muac_mm": 20},
    )
    r = client.post("/api/persons", json=body)
    assert r.status_code == 422
    payload = r.json()
    assert set(payload) == {"status", "code", "message", "errors"}
    assert payload["status"] == 422 and payload["code"] == "invalid"
    problems = errors(r)
    assert problems["birth_date"].startswith("is in the future")
    assert "ISO 3166-1 alpha-3" in problems["nationality"]
    assert "SY99" in problems["origin_pcode"]
    assert "between 50 and 300" in problems["vulnerabilities.muac_mm"]
    assert row_counts(database) == before


def test_unknown_site(client, database):
    before = row_counts(database)
    r = client.post("/api/persons", json=person_body("no-such-site", given_name="Omar"))
    assert r.status_code == 422
    assert errors(r) == {"site_id": "unknown site 'no-such-site'"}
    assert row_counts(database) == before


@pytest.mark.parametrize(
    "fields, field, reason",
    [
        ({"estimated_age": 121}, "estimated_age", "over 120"),
        ({"birth_date": "1880"}, "birth_date", "over 120"),
        ({"birth_date": "1990-1-1"}, "birth_date", "YYYY"),
        ({"vulnerabilities": {"muac_mm": 301}}, "vulnerabilities.muac_mm", "between 50 and 300"),
        ({"vulnerabilities": {"muac_mm": 49}}, "vulnerabilities.muac_mm", "between 50 and 300"),
        ({"given_name": None}, "given_name", "at least one name"),
        ({"sex": "x"}, "sex", "Input should be"),
        ({"legal_basis": None}, "legal_basis", "Field required"),
        ({"legal_basis": "because"}, "legal_basis", "Input should be"),
        ({"phone": "call me"}, "phone", "digits"),
        ({"languages": ["Arabic"]}, "languages[0]", "ISO 639"),
        ({"site": "elsewhere"}, "site", "Extra inputs"),
    ],
)
def test_person_rules(client, database, fields, field, reason):
    camp = site(client, "Camp A")
    before = row_counts(database)
    body = person_body(camp, given_name="Omar")
    body.update(fields)
    body = {k: v for k, v in body.items() if v is not None}
    r = client.post("/api/persons", json=body)
    assert r.status_code == 422, r.text
    assert reason in errors(r)[field]
    assert row_counts(database) == before


def test_a_bad_member_writes_no_part_of_the_household(client, database):
    exit_point = site(client, "Exit", "exit_point")
    before = row_counts(database)
    r = client.post(
        "/api/households",
        json={
            "site_id": exit_point,
            "consent": CONSENT,
            **BASIS,
            "head": {"given_name": "Fatima", "sex": "f", "estimated_age": 30},
            "members": [
                {"relationship": "child", "given_name": "Omar", "estimated_age": 5},
                {"relationship": "child", "given_name": "Ali", "birth_date": "2099"},
                {"relationship": "child", "given_name": "Ali", "vulnerabilities": {"muac_mm": 999}},
            ],
        },
    )
    assert r.status_code == 422
    assert set(errors(r)) == {"members[1].birth_date", "members[2].vulnerabilities.muac_mm"}
    assert row_counts(database) == before


def test_relationship_to_oneself(client, database):
    camp = site(client, "Camp A")
    p = register(client, camp)
    before = row_counts(database)
    r = client.post(
        "/api/relationships",
        json={"person_id": p["id"], "other_person_id": p["id"], "kind": "cousin"},
    )
    assert r.status_code == 422
    assert errors(r) == {"other_person_id": "a person cannot be their own relative"}
    assert row_counts(database) == before


def _manifest(client, frm, to, vehicle="Truck 1"):
    r = client.post(
        "/api/manifests", json={"vehicle": vehicle, "from_site_id": frm, "to_site_id": to}
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_person_on_two_open_manifests(client, database):
    exit_point, camp_a, camp_b = (site(client, n) for n in ("Exit", "Camp A", "Camp B"))
    p = register(client, exit_point)
    first, second = _manifest(client, exit_point, camp_a), _manifest(client, exit_point, camp_b)
    assert (
        client.post(f"/api/manifests/{first}/persons", json={"person_ids": [p["id"]]}).status_code
        == 200
    )
    before = row_counts(database)
    r = client.post(f"/api/manifests/{second}/persons", json={"person_ids": [p["id"]]})
    assert r.status_code == 422
    assert errors(r) == {"person_ids[0]": f"the person is already on open manifest {first}"}
    assert row_counts(database) == before
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(manifest_items)).scalar_one() == 1


def test_manifest_received_twice_and_dispatched_twice(client, database):
    exit_point, camp = site(client, "Exit"), site(client, "Camp A")
    p = register(client, exit_point)
    m = _manifest(client, exit_point, camp)
    client.post(f"/api/manifests/{m}/persons", json={"person_ids": [p["id"]]})
    assert client.post(f"/api/manifests/{m}/dispatch").status_code == 200
    r = client.post(f"/api/manifests/{m}/dispatch")
    assert r.status_code == 409 and errors(r) == {"status": "the manifest was dispatched already"}
    assert client.post(f"/api/manifests/{m}/receive").status_code == 200
    before = row_counts(database)
    r = client.post(f"/api/manifests/{m}/receive")
    assert r.status_code == 409
    assert r.json()["code"] == "conflict"
    assert errors(r) == {"status": "the manifest was received already"}
    assert row_counts(database) == before


def test_empty_manifest_is_not_dispatched(client, database):
    exit_point, camp = site(client, "Exit"), site(client, "Camp A")
    m = _manifest(client, exit_point, camp)
    before = row_counts(database)
    r = client.post(f"/api/manifests/{m}/dispatch")
    assert r.status_code == 422
    assert errors(r) == {"person_ids": "an empty manifest cannot be dispatched"}
    assert row_counts(database) == before
    assert client.get(f"/api/manifests/{m}").json()["status"] == "draft"


def test_manifest_sites(client):
    camp = site(client, "Camp A")
    r = client.post(
        "/api/manifests", json={"vehicle": "T", "from_site_id": camp, "to_site_id": camp}
    )
    assert errors(r) == {"to_site_id": "must differ from the site it leaves from"}
    r = client.post(
        "/api/manifests", json={"vehicle": "T", "from_site_id": camp, "to_site_id": "x"}
    )
    assert errors(r) == {"to_site_id": "unknown site 'x'"}


def test_unknown_ids_are_404_in_the_same_shape(client):
    for path in (
        "/api/persons/nope",
        "/api/manifests/nope",
        "/api/sites/nope",
        "/api/households/nope",
        "/api/persons/nope/movements",
    ):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.json()["code"] == "not_found"


def test_no_movement_is_written_for_a_refused_event(client, database):
    camp, hospital = site(client, "Camp A"), site(client, "Hospital", "hospital")
    p = register(client, camp)
    with database.read() as conn:
        before = conn.execute(select(func.count()).select_from(movements)).scalar_one()
    r = client.post(
        f"/api/persons/{p['id']}/events", json={"kind": "detained", "to_site_id": hospital}
    )
    assert r.status_code == 422
    assert "detention" in errors(r)["to_site_id"]
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(movements)).scalar_one() == before
        assert conn.execute(select(func.count()).select_from(persons)).scalar_one() == 1


def test_times_without_a_zone_are_refused_not_guessed(client, database):
    camp = site(client, "Camp A")
    before = row_counts(database)
    body = person_body(camp, given_name="Omar", registered_at="2019-03-10T08:00:00")
    r = client.post("/api/persons", json=body)
    assert r.status_code == 422
    assert "timezone" in errors(r)["registered_at"]
    assert row_counts(database) == before


@pytest.mark.parametrize("field", ["from_site_id", "to_site_id"])
@pytest.mark.parametrize("site_id", ["no-such-site", None])
def test_a_void_takes_no_site(client, database, field, site_id):
    """A correction voiding an event records no move: a site given with it is refused on
    its field (an unknown one was stored unchecked: a 500 from the foreign key)."""
    camp = site(client, "Camp A")
    p = register(client, camp)
    [event] = client.get(f"/api/persons/{p['id']}/movements").json()
    before = row_counts(database)
    body = {"kind": "voided", "note": "entered twice", field: site_id or camp}
    r = client.post(f"/api/movements/{event['id']}/corrections", json=body)
    assert r.status_code == 422, r.text
    assert errors(r) == {field: "a void records no site: leave it out"}
    assert row_counts(database) == before
