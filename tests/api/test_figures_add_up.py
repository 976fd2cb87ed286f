"""Issue 13: the daily figures add up, whatever moved a person.

At the exit point "present 203" while "arrivals 211 minus departures 5" was 206: a
hospitalisation, a detention and a check-in off the manifest (a discrepancy) were not
counted as departures. Here one of each (and a death) happens over three days, on both
databases, and for every site and day ``present_at_end = present_at_start + arrivals -
departures``, the next day starts where the last ended, and the last day ends at
"present now".
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import register, site


def _post(client: TestClient, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = client.post(url, json=body or {})
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def _truck(client: TestClient, frm: str, to: str, ids: list[str]) -> str:
    m = _post(client, "/api/manifests", {"vehicle": "Truck", "from_site_id": frm, "to_site_id": to})
    _post(client, f"/api/manifests/{m['id']}/persons", {"person_ids": ids})
    _post(client, f"/api/manifests/{m['id']}/dispatch")
    return str(m["id"])


def _check_in(client: TestClient, manifest_id: str, person_id: str) -> str:
    body = {"person_id": person_id}
    return str(_post(client, f"/api/manifests/{manifest_id}/check-ins", body)["status"])


def assert_adds_up(figures: dict[str, Any]) -> None:
    """The identity, for every day of one site's figures."""
    days = figures["daily"]
    for before, day in zip([None, *days], days, strict=False):
        if before is not None:
            assert day["present_at_start"] == before["present_at_end"], day["date"]
        assert (
            day["present_at_end"]
            == day["present_at_start"]
            + day["arrivals"]["total"]
            - day["departures"]["total"]
            - day["duplicates"]["total"]
        ), day["date"]
    assert days[-1]["present_at_end"] == figures["present"]["total"]
    present = figures["present"]
    assert sum(present["by_sex"].values()) == present["total"]
    assert sum(present["by_bracket"].values()) == present["total"]


def test_hospital_detention_discrepancy_and_death_are_departures(client, clock):
    exit_point = site(client, "Exit point", "exit_point", "SY09")
    camp_a = site(client, "Camp A", "camp")
    camp_b = site(client, "Camp B", "camp")
    hospital = site(client, "Field hospital", "hospital")
    detention = site(client, "Holding facility", "detention")
    sites = [exit_point, camp_a, camp_b, hospital, detention]

    # Day 1 (10 March): six registered at the exit point; one of unknown sex and age.
    people = [
        register(client, exit_point, given_name=n, sex=s, birth_date=b)["id"]
        for n, s, b in (
            ("Amina", "f", "1990"),
            ("Karim", "m", "1985"),
            ("Salma", "f", "2016"),
            ("Nour", "f", "1970"),
            ("Layla", "f", "2001"),
        )
    ]
    unknown = register(client, exit_point, given_name="Rami")["id"]
    amina, karim, salma, nour, layla = people

    # Day 2: Salma to hospital and Karim detained, straight from the exit point (status
    # events, no manifest); Nour and Layla trucked to camp B and camp A.
    clock.advance(days=1)
    _post(client, f"/api/persons/{salma}/events", {"kind": "hospitalised", "to_site_id": hospital})
    _post(client, f"/api/persons/{karim}/events", {"kind": "detained", "to_site_id": detention})
    to_b = _truck(client, exit_point, camp_b, [nour])
    to_a = _truck(client, exit_point, camp_a, [layla])
    clock.advance(hours=4)
    assert _check_in(client, to_b, nour) == "checked_in"
    assert _check_in(client, to_a, layla) == "checked_in"

    # Day 3: Nour, checked in at camp B by mistake, is checked in at camp A off the
    # manifest (a discrepancy arrival); the person of unknown sex dies at the exit point.
    clock.advance(days=1)
    assert _check_in(client, to_a, nour) == "discrepancy_recorded"
    _post(client, f"/api/persons/{unknown}/events", {"kind": "deceased"})

    figures = {s: client.get(f"/api/sites/{s}/figures").json() for s in sites}
    for f in figures.values():
        assert_adds_up(f)
    # Also from the fields the API had before (present_at_* are new): everything here
    # happened inside the 14 days shown, so what is present is what came minus what left.
    for f in figures.values():
        came = sum(d["arrivals"]["total"] for d in f["daily"])
        left = sum(d["departures"]["total"] for d in f["daily"])
        assert f["present"]["total"] == came - left

    exit_days = {d["date"]: d for d in figures[exit_point]["daily"]}
    assert exit_days["2019-03-10"]["arrivals"]["total"] == 6
    assert exit_days["2019-03-11"]["departures"]["total"] == 4  # hospital, detention, trucks
    assert exit_days["2019-03-12"]["departures"]["total"] == 1  # the death
    assert exit_days["2019-03-12"]["departures"]["by_sex"]["unknown"] == 1
    assert figures[exit_point]["present"]["total"] == 1  # Amina
    b_days = {d["date"]: d for d in figures[camp_b]["daily"]}
    assert b_days["2019-03-12"]["departures"]["total"] == 1  # Nour, off to camp A
    assert figures[camp_b]["present"]["total"] == 0
    assert figures[camp_a]["present"]["total"] == 2
    assert figures[hospital]["present"]["total"] == 1
    assert figures[detention]["present"]["total"] == 1
    assert amina  # stays at the exit point


def test_unknown_sex_and_age_are_counted(client):
    exit_point = site(client, "Exit point", "exit_point", "SY09")
    register(client, exit_point, given_name="Amina", sex="f", birth_date="1990")
    register(client, exit_point, given_name="Rami")
    present = client.get(f"/api/sites/{exit_point}/figures").json()["present"]
    assert present["total"] == 2
    assert present["by_sex"] == {"f": 1, "m": 0, "unknown": 1}
    assert present["by_bracket"]["unknown"] == 1
    assert present["by_sex_bracket"]["unknown"]["unknown"] == 1
