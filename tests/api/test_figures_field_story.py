"""The daily figures through a few days in the field, checked after every step against
what a person counting the registry by hand would say (on both databases).

A site manager plans food, water and trucks from a site's figures; a coordinator reads
them for every site, as aggregates only. Here five persons come out at an exit point and
move between two camps and a hospital, and everything that happens to a registry in the
field happens to them: a household checked in off a truck, a departure recorded and
voided, someone checked in off the manifest at the wrong camp, the destination and then
the time of that arrival corrected (the time onto the next day), a night arrival at 01:30
local time (UTC+3), an arrival voided, a death, a hospitalisation, two persons each
registered twice (once at one site, once at two) merged and unmerged, an erasure on the
person's request and, five years on, a retention run.

After each step, for every site:

- the numbers present now, by sex, by age bracket and by state, agree with a count made
  person by person from their records (``GET /api/persons/{id}``);
- each day's numbers (present at its start, arrivals, departures, present at its end) are
  the ones written here by hand, and add up;
- the published daily figures (the HXL report's rows, before small counts are withheld,
  for the same days) say the same, cell by cell (sex and age bracket), and the same
  again when the report is asked for fewer days.

Days are UTC days (docs/api.md): an arrival at 01:30 local time (22:30 UTC) counts on the
UTC day before, on PostgreSQL too when its sessions are in another time zone.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from corridor.security.roles import Role
from corridor.storage import Database
from tests.api.helpers import BASIS, CONSENT, register, site
from tests.api.test_figures_add_up import assert_adds_up
from tests.support.route_world import token_client

FIRST, LAST = date(2019, 3, 10), date(2019, 3, 13)
WINDOW = {"from": FIRST.isoformat(), "to": LAST.isoformat()}
DAYS = [(FIRST + timedelta(days=i)).isoformat() for i in range((LAST - FIRST).days + 1)]
AT_SITE = ("present", "hospitalised", "detained")


def _post(client: TestClient, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = client.post(url, json=body or {})
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def _figures(client: TestClient, site_id: str) -> dict[str, Any]:
    r = client.get(f"/api/sites/{site_id}/figures", params=WINDOW)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _movement(client: TestClient, person_id: str, kind: str) -> dict[str, Any]:
    """The person's effective (latest recorded) event of ``kind``."""
    events = client.get(f"/api/persons/{person_id}/movements").json()
    replaced = {e["corrects_id"] for e in events if e.get("corrects_id")}
    [event] = [e for e in events if e["kind"] == kind and e["id"] not in replaced]
    return dict(event)


class Registry:
    """The story's sites and persons, and the checks made after each step."""

    def __init__(self, client: TestClient, services: Any) -> None:
        self.client = client
        self.services = services
        self.sites: dict[str, str] = {}
        self.persons: list[str] = []

    def by_hand(self) -> dict[str, dict[str, Counter[str]]]:
        """Per site: persons counted there now by state, sex and age bracket, read one
        record at a time (a merged id answers with its survivor: counted once)."""
        seen: dict[str, dict[str, Any]] = {}
        for pid in self.persons:
            r = self.client.get(f"/api/persons/{pid}")
            assert r.status_code == 200, r.text
            person = r.json()
            seen[person["id"]] = person
        out: dict[str, dict[str, Counter[str]]] = {
            s: {"state": Counter(), "sex": Counter(), "bracket": Counter()}
            for s in self.sites.values()
        }
        for person in seen.values():
            loc = person["location"]
            if loc["state"] in AT_SITE and loc["site_id"] in out:
                counted = out[loc["site_id"]]
                counted["state"][loc["state"]] += 1
                counted["sex"][person["sex"] or "unknown"] += 1
                counted["bracket"][person["age_bracket"] or "unknown"] += 1
        return out

    def check(self, expected: dict[str, dict[str, tuple[int, ...]]]) -> None:
        """``expected``: site name -> day -> (present at start, arrivals, departures,
        present at end), and duplicates resolved where there were any, for the days on
        which someone came or left; every other day carries the day before's end over."""
        hand = self.by_hand()
        published = self._published(FIRST, LAST)
        for name, site_id in self.sites.items():
            figures = _figures(self.client, site_id)
            assert figures["suppressed_below"] is None
            assert_adds_up(figures)
            present = figures["present"]
            counted = hand[site_id]
            assert present["total"] == sum(counted["state"].values()), name
            assert _nonzero(present["by_state"]) == dict(counted["state"]), name
            assert _nonzero(present["by_sex"]) == dict(counted["sex"]), name
            assert _nonzero(present["by_bracket"]) == dict(counted["bracket"]), name
            days = {
                d["date"]: (
                    d["present_at_start"],
                    d["arrivals"]["total"],
                    d["departures"]["total"],
                    d["present_at_end"],
                )
                + ((d["duplicates"]["total"],) if d["duplicates"]["total"] else ())
                for d in figures["daily"]
            }
            assert days == _timeline(expected.get(name, {})), name
            for d in figures["daily"]:
                day = d["date"]
                for what in ("arrivals", "departures", "duplicates"):
                    cells = _cells(d[what])
                    assert cells == published.get((day, site_id, what), {}), (name, day, what)
                end = published.get((day, site_id, "present"), {})
                assert d["present_at_end"] == sum(end.values()), (name, day)
        # The report of fewer days says the same of the days it has.
        for first in (FIRST, LAST - timedelta(days=1)):
            for last in (first, first + timedelta(days=1)):
                assert self._published(first, last) == {
                    k: v
                    for k, v in published.items()
                    if first.isoformat() <= k[0] <= last.isoformat()
                }, (first, last)

    def _published(self, first: date, last: date) -> dict[tuple[str, str, str], dict[str, int]]:
        """The HXL report's rows (``corridor report hxl``, ``GET /api/reports/hxl``)
        before small counts are withheld: (day, site, figure) -> counts by sex/bracket."""
        out: dict[tuple[str, str, str], dict[str, int]] = {}
        for row in self.services.reports.daily(first, last):
            if row["figure"] in ("arrivals", "departures", "duplicates", "present"):
                cells = {f"{s}/{b}": n for (s, b), n in row["counts"].items() if n}
                out[(row["date"], row["site_id"], row["figure"])] = cells
        return out


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}


def _cells(table: dict[str, Any]) -> dict[str, int]:
    return {
        f"{sex}/{bracket}": n
        for sex, row in table["by_sex_bracket"].items()
        for bracket, n in row.items()
        if n
    }


def _timeline(moves: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    carried = 0
    for day in DAYS:
        out[day] = moves.get(day, (carried, 0, 0, carried))
        carried = out[day][3]
    return out


def _check_in(client: TestClient, manifest_id: str, person_id: str, **body: Any) -> str:
    path = f"/api/manifests/{manifest_id}/check-ins"
    return str(_post(client, path, {"person_id": person_id, **body})["status"])


def _truck(client: TestClient, frm: str, to: str, ids: list[str]) -> str:
    m = _post(client, "/api/manifests", {"vehicle": "Truck", "from_site_id": frm, "to_site_id": to})
    _post(client, f"/api/manifests/{m['id']}/persons", {"person_ids": ids})
    _post(client, f"/api/manifests/{m['id']}/dispatch")
    return str(m["id"])


@pytest.fixture
def far_from_utc(database: Database, backend: str) -> None:
    """On PostgreSQL, every session of the test in a time zone 14 hours ahead of UTC
    (a server set up with its own zone): the figures' days stay UTC days."""
    if backend != "postgresql":
        return

    def zone(dbapi_connection: Any, _: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        dbapi_connection.execute("SET TIME ZONE 'Pacific/Kiritimati'")
        dbapi_connection.autocommit = autocommit

    event.listen(database.engine, "connect", zone)
    database.engine.dispose()  # the connections opened before, without it
    with database.read() as conn:
        assert conn.exec_driver_sql("SHOW TimeZone").scalar() == "Pacific/Kiritimati"


def test_the_figures_agree_with_a_count_by_hand_through_a_week_in_the_field(
    far_from_utc, client, clock, database
):
    svc = client.app.state.services
    reg = Registry(client, svc)
    exit_point = site(client, "Exit point", "exit_point", "SY09")
    camp_a, camp_b = site(client, "Camp A"), site(client, "Camp B")
    hospital = site(client, "Hospital", "hospital")
    reg.sites = {"E": exit_point, "A": camp_a, "B": camp_b, "H": hospital}
    d1, d2, d3 = DAYS[:3]

    # 10 March, 08:00 UTC: a household of three, an old man alone and a boy alone are
    # registered at the exit point.
    household = _post(
        client,
        "/api/households",
        {
            "site_id": exit_point,
            "consent": CONSENT,
            **BASIS,
            "head": {"given_name": "Layla", "sex": "f", "birth_date": "1985"},
            "members": [
                {"relationship": "child", "given_name": "Omar", "sex": "m",
                 "birth_date": "2015-02-01"},
                {"relationship": "child", "given_name": "Huda", "sex": "f",
                 "birth_date": "2010"},
            ],
        },
    )  # fmt: skip
    family = [m["id"] for m in household["members"]]
    layla, omar, huda = family
    karim = register(
        client, exit_point, given_name="Karim", sex="m", birth_date="1950",
        vulnerabilities={"elderly_alone": True},
    )["id"]  # fmt: skip
    yusuf = register(
        client, exit_point, given_name="Yusuf", sex="m", estimated_age=16,
        vulnerabilities={"uasc": "unaccompanied"},
    )["id"]  # fmt: skip
    reg.persons = [layla, omar, huda, karim, yusuf]
    reg.check({"E": {d1: (0, 5, 0, 5)}})
    at_exit = _figures(client, exit_point)
    assert at_exit["present"]["by_sex_bracket"]["m"] == {
        "0-4": 1, "5-11": 0, "12-17": 1, "18-59": 0, "60+": 1, "unknown": 0,
    }  # fmt: skip
    assert _nonzero(at_exit["vulnerabilities_present"]) == {"unaccompanied": 1, "elderly_alone": 1}
    assert at_exit["children_alone"] == 1  # Yusuf, registered on his own

    # 10:00: the household leaves on a truck to camp A, and is checked in there at 13:00
    # in one go.
    clock.advance(hours=2)
    to_a = _truck(client, exit_point, camp_a, family)
    reg.check({"E": {d1: (0, 5, 3, 2)}})  # on the road: counted nowhere
    clock.advance(hours=3)
    checked = _post(client, f"/api/manifests/{to_a}/household-check-ins",
                    {"household_id": household["id"]})  # fmt: skip
    assert {r["status"] for r in checked["results"]} == {"checked_in"}
    reg.check({"E": {d1: (0, 5, 3, 2)}, "A": {d1: (0, 3, 0, 3)}})

    # 14:00: Karim is recorded as departed (gone from the corridor), by mistake: voided.
    clock.advance(hours=1)
    departed = _post(client, f"/api/persons/{karim}/events", {"kind": "departed"})
    reg.check({"E": {d1: (0, 5, 4, 1)}, "A": {d1: (0, 3, 0, 3)}})
    void = {"kind": "voided", "note": "another man's wristband"}
    _post(client, f"/api/movements/{departed['id']}/corrections", void)
    day1 = {"E": {d1: (0, 5, 3, 2)}, "A": {d1: (0, 3, 0, 3)}}
    reg.check(day1)

    # 11 March, 14:00: Karim on a truck to camp A, Yusuf on one to camp B.
    clock.advance(days=1)
    _truck(client, exit_point, camp_a, [karim])
    to_b = _truck(client, exit_point, camp_b, [yusuf])
    reg.check({**day1, "E": {d1: (0, 5, 3, 2), d2: (2, 0, 2, 0)}})
    # 16:00: Karim gets off at camp B and is checked in there, off its manifest.
    clock.advance(hours=2)
    assert _check_in(client, to_b, karim) == "discrepancy_recorded"
    day2 = {"E": {d1: (0, 5, 3, 2), d2: (2, 0, 2, 0)}, "A": {d1: (0, 3, 0, 3)}}
    reg.check({**day2, "B": {d2: (0, 1, 0, 1)}})
    # He was at camp A all along: the arrival's destination is corrected.
    arrival = _movement(client, karim, "arrived")
    corrected = {"kind": "arrived", "from_site_id": exit_point, "to_site_id": camp_a,
                 "note": "checked in at camp A, recorded at camp B"}  # fmt: skip
    _post(client, f"/api/movements/{arrival['id']}/corrections", corrected)
    reg.check({**day2, "A": {d1: (0, 3, 0, 3), d2: (3, 1, 0, 4)}})

    # 12 March, 02:00 UTC (05:00 in Syria): Yusuf's truck reached camp B at 01:30 local
    # time, 22:30 UTC on 11 March: a UTC day, the 11th.
    clock.advance(hours=10)
    assert _check_in(client, to_b, yusuf, arrived_at="2019-03-12T01:30:00+03:00") == "checked_in"
    reg.check({**day2, "A": {d1: (0, 3, 0, 3), d2: (3, 1, 0, 4)}, "B": {d2: (0, 1, 0, 1)}})
    # Karim's truck broke down: he reached camp A at 01:00 UTC on the 12th, not on the
    # 11th; the time is corrected onto the next day.
    arrival = _movement(client, karim, "arrived")
    later = {**corrected, "occurred_at": "2019-03-12T01:00:00Z", "note": "truck broke down"}
    _post(client, f"/api/movements/{arrival['id']}/corrections", later)
    day3 = {**day2, "A": {d1: (0, 3, 0, 3), d3: (3, 1, 0, 4)}, "B": {d2: (0, 1, 0, 1)}}
    reg.check(day3)
    # Yusuf's check-in was another boy's wristband: voided, he is on the road again; he
    # is checked in at 02:00.
    _post(client, f"/api/movements/{_movement(client, yusuf, 'arrived')['id']}/corrections",
          {"kind": "voided", "note": "another boy's wristband"})  # fmt: skip
    reg.check({**day3, "B": {}})
    assert _check_in(client, to_b, yusuf) == "checked_in"
    day3 = {**day3, "B": {d3: (0, 1, 0, 1)}}
    reg.check(day3)
    assert _nonzero(_figures(client, camp_b)["vulnerabilities_present"]) == {"unaccompanied": 1}
    assert _figures(client, camp_b)["children_alone"] == 1
    assert _figures(client, exit_point)["children_alone"] == 0

    # 03:00: Karim dies at camp A; Omar is taken to hospital.
    clock.advance(hours=1)
    _post(client, f"/api/persons/{karim}/events", {"kind": "deceased"})
    day3 = {**day3, "A": {d1: (0, 3, 0, 3), d3: (3, 1, 1, 3)}}
    reg.check(day3)
    _post(client, f"/api/persons/{omar}/events", {"kind": "hospitalised", "to_site_id": hospital})
    day3 = {**day3, "A": {d1: (0, 3, 0, 3), d3: (3, 1, 2, 2)}, "H": {d3: (0, 1, 0, 1)}}
    reg.check(day3)
    assert _figures(client, hospital)["present"]["by_state"] == {"hospitalised": 1}
    assert _figures(client, camp_a)["vulnerabilities_present"]["elderly_alone"] == 0

    # 04:00: Rami is registered at camp A twice (two desks); 05:00: Sara at camp B, and
    # again at the hospital at 05:30. Before the merges each counts twice.
    clock.advance(hours=1)
    rami = [register(client, camp_a, given_name="Rami", sex="m", birth_date="1990")["id"]]
    clock.advance(minutes=10)
    rami.append(register(client, camp_a, given_name="Rami", sex="m", birth_date="1990")["id"])
    clock.advance(minutes=50)
    sara = [register(client, camp_b, given_name="Sara", sex="f", birth_date="1999")["id"]]
    clock.advance(minutes=30)
    sara.append(register(client, hospital, given_name="Sara", sex="f", birth_date="1999")["id"])
    reg.persons += rami + sara
    twice = {
        **day3,
        "A": {d1: (0, 3, 0, 3), d3: (3, 3, 2, 4)},
        "B": {d3: (0, 2, 0, 2)},
        "H": {d3: (0, 2, 0, 2)},
    }
    reg.check(twice)
    unmerged = {name: _figures(client, s) for name, s in reg.sites.items()}

    # Rami's two records are merged: one man arrived at camp A that day, not two.
    _post(client, f"/api/persons/{rami[0]}/merge",
          {"other_person_id": rami[1], "reason": "registered at two desks"})  # fmt: skip
    reg.check({**twice, "A": {d1: (0, 3, 0, 3), d3: (3, 2, 2, 3)}})
    # Sara's too: one woman, counted where her latest record puts her (the hospital),
    # the camp's registration a stay there before it; her count there ends as a
    # duplicate resolved, not a departure (she did not move: she was registered twice).
    _post(client, f"/api/persons/{sara[0]}/merge",
          {"other_person_id": sara[1], "reason": "registered again at the hospital"})  # fmt: skip
    merged = {
        **twice,
        "A": {d1: (0, 3, 0, 3), d3: (3, 2, 2, 3)},
        "B": {d3: (0, 2, 0, 1, 1)},
    }
    reg.check(merged)
    everywhere = sum(_figures(client, s)["present"]["total"] for s in reg.sites.values())
    assert everywhere == 6  # Layla, Huda, Yusuf, Omar, Rami, Sara
    # Both merges were mistakes: undone, the figures are what they were.
    _post(client, f"/api/persons/{rami[1]}/unmerge", {"reason": "two cousins"})
    _post(client, f"/api/persons/{sara[1]}/unmerge", {"reason": "two women"})
    reg.check(twice)
    again = {name: _figures(client, s) for name, s in reg.sites.items()}
    assert again == unmerged
    _post(client, f"/api/persons/{rami[0]}/merge", {"other_person_id": rami[1]})
    _post(client, f"/api/persons/{sara[0]}/merge", {"other_person_id": sara[1]})
    reg.check(merged)

    # Layla asks that her data be erased: anonymised, she is still counted as she was.
    before = {name: _figures(client, s) for name, s in reg.sites.items()}
    _post(client, f"/api/persons/{layla}/erasure", {"ground": "objection", "confirm": True})
    reg.check(merged)
    assert {name: _figures(client, s) for name, s in reg.sites.items()} == before

    # Five years and a day on, the retention run anonymises every record: those days'
    # figures are the same, and so are the numbers present (older now).
    clock.advance(days=5 * 366)
    present = {name: before[name]["present"] for name in reg.sites}
    report = svc.retention.run("test")
    assert sorted(report.disposed["person"]) == sorted(set(reg.persons) - {layla})
    reg.check(merged)
    for name, s in reg.sites.items():
        after = _figures(client, s)
        assert after["daily"] == before[name]["daily"], name
        assert after["present"]["total"] == present[name]["total"], name
        assert after["present"]["by_sex"] == present[name]["by_sex"], name
        assert after["present"]["by_state"] == present[name]["by_state"], name

    # A coordinator reads the same figures as aggregates only: every count shown is 0 or
    # a multiple of the threshold, and none withheld can be worked out by subtracting
    # the others from a total shown (a withheld cell never stands alone in its group).
    coordinator, _ = token_client(
        database, clock, "coordinator", (Role.COORDINATOR,), list(reg.sites.values())
    )
    for name, s in reg.sites.items():
        shown = coordinator.get(f"/api/sites/{s}/figures", params=WINDOW).json()
        below = shown["suppressed_below"]
        assert below == 5
        exact = _figures(client, s)
        for table, truth in _tables(shown, exact):
            _assert_withheld(table, truth, below, name)


def _tables(shown: dict[str, Any], exact: dict[str, Any]) -> list[tuple[Any, Any]]:
    out = [(shown["present"], exact["present"])]
    for d, e in zip(shown["daily"], exact["daily"], strict=True):
        out += [(d["arrivals"], e["arrivals"]), (d["departures"], e["departures"])]
    return out


def _assert_withheld(table: dict[str, Any], truth: dict[str, Any], below: int, name: str) -> None:
    groups = [(table["total"], table["by_sex"], truth["by_sex"]),
              (table["total"], table["by_bracket"], truth["by_bracket"])]  # fmt: skip
    groups += [
        (table["by_sex"][sex], table["by_sex_bracket"][sex], truth["by_sex_bracket"][sex])
        for sex in table["by_sex"]
    ]
    for total, cells, true_cells in groups:
        values = [v for v in cells.values() if v is not None]
        assert all(v % below == 0 for v in values), (name, cells)
        withheld = [k for k, v in cells.items() if v is None]
        if total is None:
            assert not values, (name, cells)  # a withheld sum shows no breakdown
            continue
        assert total % below == 0
        # One cell withheld alone would be the total minus the others.
        assert len(withheld) != 1, (name, cells)
        # And every small count is withheld.
        assert all(cells[k] is None for k, n in true_cells.items() if 0 < n < below), name


def test_the_report_of_a_day_leaves_out_a_movement_corrected_onto_a_later_day(client, clock):
    """The published daily figures (HXL) folded only the events timed inside the days
    asked for: a correction timed after them (a movement time corrected onto a later day,
    a void given a later time) was left out, and with it the fact that the old event no
    longer counts. Asked for the 10th alone, the report had a transfer on the 10th that
    the site's figures (and the report of the 10th and 11th) had on the 11th, and a
    departure voided the next day."""
    camp_a, camp_b = site(client, "Camp A"), site(client, "Camp B")
    karim = register(client, camp_a, given_name="Karim", sex="m", birth_date="1950")["id"]
    amina = register(client, camp_a, given_name="Amina", sex="f", birth_date="1990")["id"]
    clock.advance(hours=2)
    moved = _post(client, f"/api/persons/{karim}/events",
                  {"kind": "transferred", "to_site_id": camp_b})  # fmt: skip
    left = _post(client, f"/api/persons/{amina}/events", {"kind": "departed"})
    clock.advance(days=2)
    _post(client, f"/api/movements/{moved['id']}/corrections",
          {"kind": "transferred", "from_site_id": camp_a, "to_site_id": camp_b,
           "occurred_at": "2019-03-11T09:00:00Z", "note": "moved the next morning"})  # fmt: skip
    void = {"kind": "voided", "occurred_at": "2019-03-11T10:00:00Z", "note": "she stayed"}
    _post(client, f"/api/movements/{left['id']}/corrections", void)

    def report(first: date, last: date) -> dict[tuple[str, str, str], int]:
        rows = client.app.state.services.reports.daily(first, last)
        return {(r["date"], r["site_id"], r["figure"]): sum(r["counts"].values()) for r in rows}

    tenth = date(2019, 3, 10)
    both = report(tenth, tenth + timedelta(days=1))
    assert report(tenth, tenth) == {k: v for k, v in both.items() if k[0] == "2019-03-10"}
    assert report(tenth, tenth) == {
        ("2019-03-10", camp_a, "arrivals"): 2,
        ("2019-03-10", camp_a, "present"): 2,
    }
    figures = client.get(f"/api/sites/{camp_a}/figures",
                         params={"from": "2019-03-10", "to": "2019-03-10"}).json()  # fmt: skip
    [day] = figures["daily"]
    assert (day["arrivals"]["total"], day["departures"]["total"], day["present_at_end"]) == (
        2, 0, 2,
    )  # fmt: skip


def test_a_child_registered_on_their_own_is_a_child_apart_from_every_adult_relative(client):
    """A child registered alone at a desk (no household: ``POST /api/persons``) is the
    child "apart from every adult relative" the site's figures count, unless an adult
    relative linked to them is at the same site. On the code before, only children of a
    household were counted: an unaccompanied boy registered on his own was counted as
    unaccompanied and not as a child alone."""
    camp, other = site(client, "Camp A"), site(client, "Camp B")
    yusuf = register(client, camp, given_name="Yusuf", sex="m", estimated_age=15,
                     vulnerabilities={"uasc": "unaccompanied"})["id"]  # fmt: skip
    register(client, camp, given_name="Adil", sex="m", birth_date="1980")  # an adult alone
    mona = register(client, camp, given_name="Mona", sex="f", estimated_age=9)["id"]
    nader = register(client, other, given_name="Nader", sex="m", estimated_age=10)["id"]

    def alone(site_id: str) -> int:
        return int(_figures(client, site_id)["children_alone"])

    assert (alone(camp), alone(other)) == (2, 1)
    # Mona's uncle is at the camp, Yusuf's at the other camp: Mona is not alone there.
    uncle = register(client, camp, given_name="Hamid", sex="m", birth_date="1975")["id"]
    other_uncle = register(client, other, given_name="Samir", sex="m", birth_date="1970")["id"]
    for child, adult in ((mona, uncle), (yusuf, other_uncle)):
        _post(client, "/api/relationships",
              {"person_id": child, "other_person_id": adult, "kind": "uncle_aunt"})  # fmt: skip
    assert (alone(camp), alone(other)) == (1, 1)
    # Nader dies: no child alone is counted at the other camp.
    _post(client, f"/api/persons/{nader}/events", {"kind": "deceased"})
    assert (alone(camp), alone(other)) == (1, 0)
