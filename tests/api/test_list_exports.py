"""Export of the lists (issue 13): the manifests list as a table, exactly as the list
stands for its filter and order; lists of persons (unaccounted, separated families,
search results) only through the two-key bulk export, whose selection is the list's
filter, so that the file holds exactly the list's persons. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from corridor.security import export_file
from corridor.security.roles import Role
from corridor.security.tables import audit_events
from tests.api.helpers import BASIS, CONSENT, errors, site, work_at
from tests.conftest import make_client
from tests.support.worlds import Worlds

PASSPHRASE = "sand storm over the river"
DAY = timedelta(days=1)


def _household(client: Any, at: str, i: int) -> list[str]:
    r = client.post(
        "/api/households",
        json={
            "site_id": at,
            "consent": CONSENT,
            **BASIS,
            "head": {"given_name": f"Head{i:02d}", "family_name": "Test", "sex": "f",
                     "estimated_age": 40},
            "members": [
                {"relationship": "spouse", "given_name": f"Spouse{i:02d}", "sex": "m",
                 "estimated_age": 38},
                {"relationship": "child", "given_name": f"Child{i:02d}a", "estimated_age": 15},
                {"relationship": "child", "given_name": f"Child{i:02d}b", "estimated_age": 9},
            ],
        },
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return [m["id"] for m in r.json()["members"]]


def _truck(client: Any, vehicle: str, src: str, dst: str, people: list[str]) -> str:
    r = client.post(
        "/api/manifests", json={"vehicle": vehicle, "from_site_id": src, "to_site_id": dst}
    )
    assert r.status_code == 201, r.text
    manifest = r.json()["id"]
    r = client.post(
        f"/api/manifests/{manifest}/persons",
        json={"person_ids": people, "separation_reason": "the others follow"},
    )
    assert r.status_code == 200, r.text
    return str(manifest)


def build_world(client: Any, clock: Any) -> dict[str, Any]:
    """Twelve households of four at an exit point, moved over three days: four trucks
    (received, two on the road, a draft) to two camps; households split with and
    without a child alone, and one that travels whole."""
    exit_point = site(client, "Exit")
    camp_a, camp_b = site(client, "Camp A"), site(client, "Camp B")
    hh = [_household(client, exit_point, i) for i in range(12)]
    # day 1: heads and their older child to Camp A (the younger stays with the spouse)
    t0 = _truck(client, "Truck 0", exit_point, camp_a, [p for h in hh[0:4] for p in (h[0], h[2])])
    assert client.post(f"/api/manifests/{t0}/dispatch").status_code == 200
    day1 = clock().date()
    clock.advance(hours=6)
    for h in hh[0:2]:
        for p in (h[0], h[2]):
            r = client.post(f"/api/manifests/{t0}/check-ins", json={"person_id": p})
            assert r.status_code == 200, r.text
    assert client.post(f"/api/manifests/{t0}/receive").status_code == 200
    clock.advance(days=1)
    # day 2: both parents to Camp B, the children left alone at the exit point
    t1 = _truck(client, "Truck 1", exit_point, camp_b, [p for h in hh[4:8] for p in h[0:2]])
    assert client.post(f"/api/manifests/{t1}/dispatch").status_code == 200
    day2 = clock().date()
    clock.advance(days=1)
    # day 3: two whole households to Camp A; a draft to Camp B
    t2 = _truck(client, "Bus 2", exit_point, camp_a, [p for h in hh[8:10] for p in h])
    assert client.post(f"/api/manifests/{t2}/dispatch").status_code == 200
    _truck(client, "Truck 3", exit_point, camp_b, [hh[10][0]])
    day3 = clock().date()
    clock.advance(hours=2)
    return {"sites": {"exit": exit_point, "a": camp_a, "b": camp_b}, "days": (day1, day2, day3)}


WORLDS = Worlds(build_world)  # built once a backend (tests/support/worlds.py)
opened, client, world = WORLDS.fixtures()


@pytest.fixture
def approver(database: Any, clock: Any, client: Any, world: dict[str, Any]) -> Any:
    """A site manager of the same sites: the second key."""
    with make_client(database, clock, roles=(Role.SITE_MANAGER,)) as other:
        work_at(other, *world["sites"].values(), admin=client)
        yield other


def _csv_ids(content: bytes) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    return [r["manifest_id"] for r in rows]


# -- the manifests list: no person in it, exported as it stands ----------------------------


def _manifest_filters(world: dict[str, Any]) -> list[dict[str, str]]:
    """A few filters and orders (every combination of some values of each)."""
    sites = [None, world["sites"]["exit"], world["sites"]["a"], world["sites"]["b"]]
    statuses = [None, "draft", "dispatched", "received"]
    sorts = [None, "vehicle", "-departed", "status", "-created"]
    day2 = world["days"][1].isoformat()
    days = [(None, None), (day2, None), (None, day2)]
    out = []
    combinations = itertools.product(sites, statuses, sorts, days)
    for n, (s, st, so, (since, until)) in enumerate(combinations):
        if n % 4:  # a quarter of the 240 combinations, spread over every value
            continue
        given = {"site_id": s, "status": st, "sort": so, "since": since, "until": until}
        out.append({k: v for k, v in given.items() if v})
    return out


def test_manifests_export_equals_the_list_for_each_filter_and_order(client, world):
    filters = _manifest_filters(world)
    assert len(filters) >= 50
    kinds = set()
    for given in filters:
        listed = client.get("/api/manifests", params=given)
        assert listed.status_code == 200, listed.text
        expected = [m["id"] for m in listed.json()]
        kinds.add(len(expected))
        r = client.get("/api/manifests/export/csv", params=given)
        assert r.status_code == 200, (given, r.text)
        assert r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        assert r.headers["cache-control"] == "no-store"
        assert _csv_ids(r.content) == expected, given
        assert r.headers["X-Total-Count"] == listed.headers["X-Total-Count"]
    assert len(kinds) >= 3  # the filters gave lists of several lengths (0 to 4)


def test_manifests_export_as_a_workbook_holds_the_same_rows(client, world):
    given = {"sort": "vehicle", "site_id": world["sites"]["exit"]}
    r = client.get("/api/manifests/export/xlsx", params=given)
    assert r.status_code == 200, r.text
    book = load_workbook(io.BytesIO(r.content), read_only=True)
    rows = [["" if v is None else v for v in row]  # an empty cell reads back as None
            for row in book.worksheets[0].iter_rows(values_only=True)]  # fmt: skip
    header, body = rows[0], rows[1:]
    csv_rows = list(
        csv.reader(
            io.StringIO(client.get("/api/manifests/export/csv", params=given).content.decode())
        )
    )
    assert [header, *body] == csv_rows  # fmt: skip
    assert [row[header.index("vehicle")] for row in body] == ["Bus 2", "Truck 0", "Truck 1",
                                                             "Truck 3"]  # fmt: skip
    assert [row[header.index("from_site")] for row in body] == ["Exit"] * 4


def test_manifests_export_is_audited_naming_nobody(client, database, world):
    r = client.get("/api/manifests/export/csv", params={"status": "dispatched"})
    assert r.status_code == 200
    with database.read() as conn:
        events = conn.execute(
            select(audit_events.c.person_id, audit_events.c.purpose).where(
                audit_events.c.purpose.like("manifest list exported%")
            )
        ).all()
    assert events == [(None, "manifest list exported (csv, 2 manifests)")]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2019-13-01"}, "since"),
        ({"until": "yesterday"}, "until"),
        ({"sort": "nationality"}, "sort"),
        ({"status": "lost"}, "status"),
    ],
)
def test_manifests_export_bad_filter_names_the_field(client, world, params, field):
    r = client.get("/api/manifests/export/csv", params=params)
    assert r.status_code == 422, r.text
    assert field in errors(r), r.text


def test_manifests_export_unknown_format_or_role_without_the_list(client, database, clock, world):
    assert client.get("/api/manifests/export/pdf").status_code in (404, 422)
    with make_client(database, clock, roles=(Role.HEALTH,)) as health:
        assert health.get("/api/manifests/export/csv").status_code == 403


# -- lists of persons: only through the two-key export --------------------------------------


def _export(client: Any, approver: Any, selection: dict[str, Any], fmt: str = "jsonl") -> Any:
    r = client.post(
        "/api/exports",
        json={"reason": "list for the camp committee", "format": fmt, "selection": selection},
    )
    assert r.status_code == 201, r.text
    export = r.json()
    assert export["state"] == "pending"
    r = approver.post(f"/api/exports/{export['id']}/approve")
    assert r.status_code == 200, r.text
    r = client.post(f"/api/exports/{export['id']}/download", json={"passphrase": PASSPHRASE})
    assert r.status_code == 200, r.text
    header, content = export_file.open_file(r.content, PASSPHRASE)
    assert header["selection"] == export["selection"]
    return header, content


def _jsonl_ids(content: bytes) -> list[str]:
    return [json.loads(line)["id"] for line in content.decode().splitlines() if line]


def _unaccounted_filters(world: dict[str, Any]) -> list[dict[str, str]]:
    d1, d2, d3 = (d.isoformat() for d in world["days"])
    sites = [None, world["sites"]["exit"], world["sites"]["a"], world["sites"]["b"]]
    days = [{}, {"since": d2}, {"until": d1}, {"since": d2, "until": d2}, {"since": d3}]
    out = []
    for s, d in itertools.product(sites, days):
        out.append({**({"site_id": s} if s else {}), **d})
    return out[::2] + [{"site_id": world["sites"]["a"], "since": d3}]


def test_unaccounted_export_holds_exactly_the_lists_persons(client, approver, world):
    sizes = set()
    for given in _unaccounted_filters(world):
        listed = client.get("/api/unaccounted", params=given)
        assert listed.status_code == 200, listed.text
        expected = sorted(u["person"]["id"] for u in listed.json())
        sizes.add(len(expected))
        _, content = _export(client, approver, {"list": "unaccounted", **given})
        assert sorted(_jsonl_ids(content)) == expected, given
    assert len(sizes) >= 3, sizes


def test_families_export_holds_exactly_the_lists_members(client, approver, world):
    sizes = set()
    for s, alone in itertools.product([None, *world["sites"].values()], [False, True]):
        given = {**({"site_id": s} if s else {}), **({"alone_only": True} if alone else {})}
        listed = client.get("/api/separated-families", params=given)
        assert listed.status_code == 200, listed.text
        expected = sorted(m["id"] for f in listed.json() for m in f["members"] if m["id"])
        sizes.add(len(expected))
        _, content = _export(client, approver, {"list": "families", **given})
        assert sorted(_jsonl_ids(content)) == expected, given
    assert len(sizes) >= 3, sizes


def test_families_export_as_a_table_holds_the_same_persons(client, approver, world):
    given = {"alone_only": True}
    listed = client.get("/api/separated-families", params=given).json()
    expected = sorted(m["id"] for f in listed for m in f["members"] if m["id"])
    header, content = _export(client, approver, {"list": "families", **given}, fmt="csv")
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert sorted(r["record_id"] for r in rows) == expected
    assert header["persons"] == len(expected)


def test_search_export_holds_the_persons_the_search_showed(client, approver, world):
    found = client.post("/api/persons/match", json={"given_name": "Head03", "family_name": "Test",
                                                    "purpose": "deduplication"})  # fmt: skip
    assert found.status_code == 200, found.text
    shown = [c["person"]["id"] for c in found.json()][:3]
    assert shown
    _, content = _export(
        client, approver, {"list": "search", "person_ids": shown, "searched_by": "name"}
    )
    assert sorted(_jsonl_ids(content)) == sorted(shown)


def test_a_list_of_persons_needs_the_second_key(client, approver, world):
    r = client.post("/api/exports", json={"reason": "for the committee",
                                          "selection": {"list": "unaccounted"}})  # fmt: skip
    assert r.status_code == 201, r.text
    export = r.json()
    assert export["selection"] == {"list": "unaccounted"}
    assert export["selection_text"] == "persons unaccounted for or in transit"
    body = {"passphrase": PASSPHRASE}
    r = client.post(f"/api/exports/{export['id']}/download", json=body)
    assert r.status_code == 409 and "approval" in r.json()["message"]
    assert client.post(f"/api/exports/{export['id']}/approve").status_code == 403  # the requester
    seen = approver.get(f"/api/exports/{export['id']}")
    assert seen.json()["selection_text"] == "persons unaccounted for or in transit"
    assert approver.post(f"/api/exports/{export['id']}/approve").status_code == 200
    assert approver.post(f"/api/exports/{export['id']}/download", json=body).status_code == 403


def test_the_approver_reads_the_selection_in_words(client, approver, world):
    given = {"list": "unaccounted", "site_id": world["sites"]["a"],
             "since": world["days"][1].isoformat()}  # fmt: skip
    r = client.post("/api/exports", json={"reason": "for the committee", "selection": given})
    assert r.status_code == 201, r.text
    seen = approver.get(f"/api/exports/{r.json()['id']}").json()
    assert seen["selection_text"] == (
        "persons unaccounted for or in transit from or to Camp A, departed on or after "
        + world["days"][1].isoformat()
    )


def test_a_role_without_export_rights_gets_403(database, clock, client, world):
    for role in (Role.REGISTRAR, Role.MOVEMENT_OFFICER, Role.TRACING_OFFICER):
        with make_client(database, clock, roles=(role,)) as other:
            r = other.post("/api/exports", json={"reason": "the list",
                                                 "selection": {"list": "unaccounted"}})  # fmt: skip
            assert r.status_code == 403, (role, r.text)


@pytest.mark.parametrize(
    ("selection", "field"),
    [
        ({"list": "unaccounted", "since": "2019-02-30"}, "selection.since"),
        ({"list": "unaccounted", "until": "soon"}, "selection.until"),
        ({"list": "unaccounted", "since": "2019-03-12", "until": "2019-03-11"}, "selection.until"),
        ({"list": "families", "alone_only": "perhaps"}, "selection.alone_only"),
        ({"list": "families", "since": "2019-03-11"}, "selection.since"),
        ({"list": "everyone"}, "selection.list"),
        ({"list": "search", "person_ids": []}, "selection.person_ids"),
        ({"list": "unaccounted", "nationality": "SYR"}, "selection.nationality"),
    ],
)
def test_a_bad_selection_names_the_field_and_asks_nothing(client, database, world, selection,
                                                         field):  # fmt: skip
    r = client.post("/api/exports", json={"reason": "the list", "selection": selection})
    assert r.status_code == 422, r.text
    assert field in errors(r), r.text
    with database.read() as conn:
        from corridor.security.tables import export_requests

        assert conn.execute(select(export_requests.c.id)).all() == []


def test_a_site_outside_ones_sites_is_not_found(client, database, clock, world):
    other = client.post("/api/sites", json={"name": "Far away", "kind": "camp", "pcode": "SY09"})
    far = other.json()["id"]  # the officer does not work there
    selection = {"list": "families", "site_id": far}
    r = client.post("/api/exports", json={"reason": "the list", "selection": selection})
    assert r.status_code == 404, r.text


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "pfif"])
def test_a_camps_unaccounted_export_holds_those_on_the_road_to_it_in_every_format(
    database, clock, client, world, fmt
):
    """An officer of Camp B alone: the persons on the road to Camp B were registered at
    the exit point, yet they are on Camp B's unaccounted list, and so in its export,
    whatever the file's format (PFIF: those who consented to tracing)."""
    camp_b = world["sites"]["b"]
    with (
        make_client(database, clock, roles=(Role.PROTECTION_OFFICER,)) as officer,
        make_client(database, clock, roles=(Role.SITE_MANAGER,)) as manager,
    ):
        work_at(officer, camp_b, admin=client)
        work_at(manager, camp_b, admin=client)
        listed = manager.get("/api/unaccounted", params={"site_id": camp_b})
        assert listed.status_code == 200, listed.text
        expected = sorted(u["person"]["id"] for u in listed.json())
        assert expected  # the parents of day 2, on the road to Camp B
        header, content = _export(officer, manager, {"list": "unaccounted", "site_id": camp_b}, fmt)
        if fmt == "jsonl":
            got = _jsonl_ids(content)
        elif fmt == "csv":
            got = [r["record_id"] for r in csv.DictReader(io.StringIO(content.decode()))]
        else:
            got = _pfif_corridor_ids(content)
        assert sorted(got) == expected, fmt
        assert header["persons"] == len(expected)


def _pfif_corridor_ids(content: bytes) -> list[str]:
    """The persons of a PFIF file, by the Corridor id in its record ids' local part
    (``<domain>/person.<id>``)."""
    root = ElementTree.fromstring(content)
    ids = []
    for el in root.iter():
        if el.tag.endswith("}person_record_id"):
            ids.append((el.text or "").rsplit("/person.", 1)[-1])
    return ids
