"""The story of DOMAIN.md, played through the HTTP API on both databases.

A household of five registers at the exit point; four are trucked to camp A and the
youngest to the field hospital; three are checked in at camp A. One person is then
unaccounted for, the family is listed as separated with each member's place, and camp
A's figures by sex and age bracket are right.
"""

from __future__ import annotations

from tests.api.helpers import BASIS, CONSENT, site


def test_household_split_between_camp_and_hospital(client, clock):
    exit_point = site(client, "Baghouz exit point", "exit_point", "SY09")
    camp_a = site(client, "Camp A", "camp", "SY08")
    hospital = site(client, "Field hospital", "hospital", "SY08")

    household = {
        "site_id": exit_point,
        "consent": CONSENT,
        **BASIS,
        "head": {
            "given_name": "Fatima",
            "father_name": "Ahmed",
            "family_name": "Al-Hassan",
            "given_name_original": "فاطمة",
            "sex": "f",
            "birth_date": "1990",
            "nationality": "SYR",
            "origin_pcode": "SY09",
            "origin_locality": "Baghouz",
        },
        "members": [
            {"relationship": "parent", "given_name": "Khadija", "sex": "f", "estimated_age": 64},
            {"relationship": "child", "given_name": "Omar", "sex": "m", "birth_date": "2009-05"},
            {
                "relationship": "child",
                "given_name": "Aisha",
                "sex": "f",
                "birth_date": "2013-01-02",
            },
            {
                "relationship": "child",
                "given_name": "Yusuf",
                "sex": "m",
                "birth_date": "2018-09",
                "vulnerabilities": {"muac_mm": 109},
            },
        ],
    }
    r = client.post("/api/households", json=household)
    assert r.status_code == 201, r.text
    assert [m["relationship_to_head"] for m in r.json()["members"]] == [
        "head",
        "parent",
        "child",
        "child",
        "child",
    ]
    stored = client.get(f"/api/households/{r.json()['id']}").json()
    members = {m["names"]["given_name"]: m for m in stored["members"]}
    assert len(members) == 5
    assert members["Yusuf"]["vulnerabilities"]["muac_status"] == "SAM"
    ids = {name: m["id"] for name, m in members.items()}

    # Four to camp A: the youngest stays behind, so the officer records why.
    truck = client.post(
        "/api/manifests",
        json={"vehicle": "Truck 12", "from_site_id": exit_point, "to_site_id": camp_a},
    ).json()
    r = client.post(
        f"/api/manifests/{truck['id']}/persons",
        json={
            "person_ids": [ids[n] for n in ("Fatima", "Khadija", "Omar", "Aisha")],
            "separation_reason": "youngest child evacuated to hospital (SAM)",
        },
    )
    assert r.status_code == 200, r.text
    ambulance = client.post(
        "/api/manifests",
        json={"vehicle": "Ambulance 3", "from_site_id": exit_point, "to_site_id": hospital},
    ).json()
    r = client.post(
        f"/api/manifests/{ambulance['id']}/persons",
        json={"person_ids": [ids["Yusuf"]], "separation_reason": "medical evacuation"},
    )
    assert r.status_code == 200, r.text
    assert client.post(f"/api/manifests/{truck['id']}/dispatch").status_code == 200
    assert client.post(f"/api/manifests/{ambulance['id']}/dispatch").status_code == 200

    clock.advance(hours=5)
    for name in ("Fatima", "Omar", "Aisha"):
        r = client.post(f"/api/manifests/{truck['id']}/check-ins", json={"person_id": ids[name]})
        assert r.status_code == 200 and r.json()["status"] == "checked_in", r.text
    r = client.post(
        f"/api/manifests/{ambulance['id']}/check-ins",
        json={"registration_number": members["Yusuf"]["registration_number"]},
    )
    assert r.json()["status"] == "checked_in"
    assert client.post(f"/api/manifests/{truck['id']}/receive").status_code == 200

    # One person unaccounted for: the grandmother, five hours after departure.
    unaccounted = client.get("/api/unaccounted").json()
    assert [u["person"]["id"] for u in unaccounted] == [ids["Khadija"]]
    assert unaccounted[0]["hours_since_departure"] == 5.0
    assert unaccounted[0]["manifest_id"] == truck["id"]

    # The family is separated: camp A, the hospital, and in transit.
    families = client.get("/api/separated-families").json()
    assert len(families) == 1
    places = {m["id"]: (m["site_name"], m["state"]) for m in families[0]["members"]}
    assert places == {
        ids["Fatima"]: ("Camp A", "present"),
        ids["Omar"]: ("Camp A", "present"),
        ids["Aisha"]: ("Camp A", "present"),
        ids["Yusuf"]: ("Field hospital", "present"),
        ids["Khadija"]: (None, "in_transit"),
    }
    yusuf = next(m for m in families[0]["members"] if m["id"] == ids["Yusuf"])
    assert yusuf["minor_apart_from_adult_relatives"] is True
    assert families[0]["minors_apart_from_every_adult"] == 1

    # Camp A's figures: Fatima (f, 18-59), Omar (m, 5-11), Aisha (f, 5-11).
    figures = client.get(f"/api/sites/{camp_a}/figures").json()
    present = figures["present"]
    assert present["total"] == 3
    assert present["by_sex"] == {"f": 2, "m": 1, "unknown": 0}
    assert present["by_sex_bracket"]["f"]["18-59"] == 1
    assert present["by_sex_bracket"]["f"]["5-11"] == 1
    assert present["by_sex_bracket"]["m"]["5-11"] == 1
    assert sum(present["by_bracket"].values()) == 3
    today = [d for d in figures["daily"] if d["date"] == "2019-03-10"][0]
    assert today["arrivals"]["total"] == 3
    assert today["departures"]["total"] == 0
    exit_figures = client.get(f"/api/sites/{exit_point}/figures").json()
    exit_today = [d for d in exit_figures["daily"] if d["date"] == "2019-03-10"][0]
    assert exit_today["arrivals"]["total"] == 5  # registered there
    assert exit_today["departures"]["total"] == 5
    assert exit_today["departures"]["by_sex_bracket"]["f"]["60+"] == 1
    assert exit_figures["present"]["total"] == 0
    hospital_figures = client.get(f"/api/sites/{hospital}/figures").json()
    assert hospital_figures["vulnerabilities_present"]["sam"] == 1
