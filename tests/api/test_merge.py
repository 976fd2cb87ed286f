"""Review and merge of duplicate persons (issue 15), through the API on both databases.

A person registered twice (once as the head of a household, once alone with a passport,
a phone, a sibling, a hospital stay and a tracing case that found them) is merged: the
survivor then holds the other's movements, links, documents and case; both ids answer
with the survivor; every search finds one person; the audit chain holds. An unmerge
gives both back exactly as they were. A merge across sites is a 404 (or 422 naming the
other), a double tap with one idempotency key merges once, and a pair kept apart never
comes back from ``corridor duplicates``.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from corridor.cli import main
from corridor.errors import Conflict
from corridor.security import audit
from corridor.security.roles import Role
from corridor.security.tables import audit_events
from corridor.services import Services
from corridor.settings import Settings
from corridor.storage import Database
from corridor.storage.merge_tables import duplicate_pairs, merged_persons, person_merges
from tests.api.helpers import BASIS, CONSENT, register, site, work_at
from tests.api.test_figures_add_up import assert_adds_up
from tests.conftest import MASTER_KEY, make_client

NAME = {"given_name": "Hassan", "father_name": "Ali", "family_name": "Jabbouri", "sex": "m"}
PASSPORT = "N7723419"
PHONE = "+963 944 123 456"


def _key(name: str) -> dict[str, str]:
    return {"Idempotency-Key": name}


@pytest.fixture
def world(database, clock) -> dict[str, Any]:
    """Camp A and a hospital; the survivor (head of a household with a child), the same
    man registered again alone (passport, phone, a brother, a hospital stay, a tracing
    case that found him) and the brother."""
    admin = make_client(database, clock)
    camp, hospital = site(admin, "Camp A"), site(admin, "Hospital H", "hospital")
    r = admin.post(
        "/api/households",
        json={
            "site_id": camp,
            "consent": CONSENT,
            **BASIS,
            "head": {**NAME, "birth_date": "1980-03-02"},
            "members": [
                {"relationship": "child", "given_name": "Rima", "family_name": "Jabbouri",
                 "sex": "f", "estimated_age": 6}
            ],
        },
    )  # fmt: skip
    assert r.status_code == 201, r.text
    survivor, child = (m["id"] for m in r.json()["members"])
    clock.now += timedelta(hours=1)
    merged = register(
        admin,
        camp,
        **NAME,
        birth_date="1980-03-02",
        phone=PHONE,
        documents=[{"type": "passport", "number": PASSPORT, "issuing_country": "SYR"}],
    )["id"]
    brother = register(admin, camp, given_name="Omar", father_name="Ali",
                       family_name="Jabbouri", sex="m", birth_date="1983")["id"]  # fmt: skip
    r = admin.post(
        "/api/relationships",
        json={"person_id": merged, "other_person_id": brother, "kind": "sibling"},
    )
    assert r.status_code == 201, r.text
    clock.now += timedelta(hours=1)
    r = admin.post(
        f"/api/persons/{merged}/events", json={"kind": "hospitalised", "to_site_id": hospital}
    )
    assert r.status_code == 201, r.text
    r = admin.post(
        "/api/tracing/enquiries",
        json={
            "enquirer": {"name": "Amira Haddad", "contact": "+49 151 2345 6789",
                         "relationship": "sibling", "location": "Berlin", "country": "DEU"},
            "sought": [{**NAME, "enquirer_is": "sibling", "birth_year": 1980}],
        },
    )  # fmt: skip
    assert r.status_code == 201, r.text
    [case] = r.json()["cases"]
    [match] = [m for m in case["matches"] if m["person"]["id"] == merged]
    r = admin.post(f"/api/tracing/matches/{match['id']}/confirm", json={"reason": "seen"})
    assert r.status_code == 200, r.text
    return {
        "admin": admin,
        "camp": camp,
        "hospital": hospital,
        "survivor": survivor,
        "child": child,
        "merged": merged,
        "brother": brother,
        "case": case["id"],
    }


def _state(client, person_id: str) -> dict[str, Any]:
    """A person as the API and pages show them: the record, movements, relatives, cases."""
    person = client.get(f"/api/persons/{person_id}")
    assert person.status_code == 200, person.text
    movements = client.get(f"/api/persons/{person_id}/movements")
    page = client.get(f"/persons/{person_id}.json")
    assert page.status_code == 200, page.text
    return {
        "person": person.json(),
        "movements": movements.json(),
        "relatives": sorted((r["id"], r["kind"]) for r in page.json()["relatives"]),
        "cases": sorted(c["case_id"] for c in page.json()["cases"] or []),
    }


def _found(client, **query: str) -> list[str]:
    r = client.post("/api/persons/search", json=query)
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()]


def _matched(client) -> list[str]:
    r = client.post(
        "/api/persons/match", json={**NAME, "birth_year": 1980, "purpose": "deduplication"}
    )
    assert r.status_code == 200, r.text
    # Two registrations of one person compete for it (each near 0.5, issue 14's
    # calibration); once merged, the survivor has it alone.
    return [c["person"]["id"] for c in r.json() if c["probability"] > 0.3]


def _present(client, *site_ids: str) -> list[int]:
    """Present now at each site, once the daily figures are checked to add up."""
    out = []
    for site_id in site_ids:
        figures = client.get(f"/api/sites/{site_id}/figures").json()
        assert_adds_up(figures)
        out.append(figures["present"]["total"])
    return out


def _chain_holds(database) -> bool:
    with database.read() as conn:
        return audit.verify(conn).ok


def _count(database, table, *where: Any) -> int:
    with database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar())


def test_a_merge_moves_everything_to_the_survivor_and_an_unmerge_gives_it_back(database, world):
    admin, s, m = world["admin"], world["survivor"], world["merged"]
    before = {s: _state(admin, s), m: _state(admin, m)}
    merged_number = before[m]["person"]["registration_number"]
    sites = (world["camp"], world["hospital"])
    assert _present(admin, *sites) == [3, 1]  # the head, his child, his brother; him again
    assert sorted(_matched(admin)) == sorted([s, m])

    r = admin.post(
        f"/api/persons/{s}/merge",
        json={"other_person_id": m, "reason": "one man registered twice"},
        headers=_key("merge-1"),
    )
    assert r.status_code == 201, r.text
    merge = r.json()
    assert (merge["survivor_id"], merge["merged_id"]) == (s, m)
    assert merge["followed"] == {
        "movements": 2,  # registered, hospitalised
        "links": 2,  # the brother's link and its inverse
        "documents": 1,
        # Both were proposed for the case: the survivor's match is the case's already,
        # so the other's stays where it is (its id leads to the survivor).
        "matches": 0,
        "cases": 1,
        "household": False,  # the survivor has a household of its own
    }

    # Both ids answer with the survivor, on the API and the pages.
    after = _state(admin, s)
    assert _state(admin, m) == after
    assert after["person"]["id"] == s
    assert [d["number"] for d in after["person"]["documents"]] == [PASSPORT]
    kinds = [e["kind"] for e in after["movements"]]
    assert kinds.count("registered") == 2 and "hospitalised" in kinds
    assert {e["id"] for e in after["movements"]} == {
        e["id"] for e in before[s]["movements"] + before[m]["movements"]
    }
    assert after["person"]["location"]["site_id"] == world["hospital"]
    assert _present(admin, *sites) == [2, 1]  # counted once, where his latest event puts him
    assert (world["brother"], "sibling") in after["relatives"]
    assert (world["child"], "child") in after["relatives"]
    assert world["case"] in after["cases"]
    case = admin.get(f"/api/tracing/cases/{world['case']}").json()
    assert case["found_person"]["id"] == s

    # Every search finds one person: the survivor.
    assert _found(admin, registration_number=merged_number) == [s]
    assert _found(admin, document_number=PASSPORT) == [s]
    assert _found(admin, phone=PHONE) == [s]
    assert _matched(admin) == [s]

    # Audited once per person, and the chain holds; the survivor's audit trail (the data
    # protection officer's "who opened this record") holds the other's history too.
    events = _count(database, audit_events, audit_events.c.action == "person.merge")
    assert events == 2
    assert _chain_holds(database)
    trail = admin.app.state.services.oversight.trail(s)
    assert len(trail.entries) == _count(
        database, audit_events, audit_events.c.person_id.in_([s, m])
    )

    r = admin.post(f"/api/persons/{m}/unmerge", json={"reason": "two men"}, headers=_key("un-1"))
    assert r.status_code == 200, r.text
    assert r.json()["unmerged_at"] is not None
    restored = {s: _state(admin, s), m: _state(admin, m)}
    for pid in (s, m):
        assert restored[pid] == before[pid], pid
    assert _present(admin, *sites) == [3, 1]
    assert _found(admin, document_number=PASSPORT) == [m]
    assert _found(admin, registration_number=merged_number) == [m]
    assert sorted(_matched(admin)) == sorted([s, m])
    assert admin.get(f"/api/tracing/cases/{world['case']}").json()["found_person"]["id"] == m
    # Nothing deleted: the merge stays on record, undone.
    assert _count(database, person_merges, person_merges.c.unmerged_at.is_not(None)) == 1
    assert _count(database, merged_persons) == 0
    assert _chain_holds(database)
    # An unmerge of a person not merged is a conflict, not a change.
    again = admin.post(f"/api/persons/{m}/unmerge", json={}, headers=_key("un-2"))
    assert again.status_code == 409, again.text


def test_the_survivor_joins_the_household_of_the_person_merged_into_it(database, world):
    """A survivor in no household takes the other's place in its household (as head), and
    an unmerge gives the place back."""
    admin, s, m = world["admin"], world["survivor"], world["merged"]
    before = {p: _state(admin, p) for p in (s, m)}
    # Merged the other way: the lone registration survives, the head is merged away.
    r = admin.post(f"/api/persons/{m}/merge", json={"other_person_id": s}, headers=_key("hh"))
    assert r.status_code == 201, r.text
    assert r.json()["followed"]["household"] is True
    household = before[s]["person"]["household_id"]
    hh = admin.get(f"/api/households/{household}").json()
    assert hh["head_person_id"] == m
    assert {p["id"] for p in hh["members"]} == {m, world["child"]}
    r = admin.post(f"/api/persons/{s}/unmerge", json={}, headers=_key("hh-un"))
    assert r.status_code == 200, r.text
    assert {p: _state(admin, p) for p in (s, m)} == before
    hh = admin.get(f"/api/households/{household}").json()
    assert hh["head_person_id"] == s


def test_a_double_tap_merges_once(database, world):
    admin, s, m = world["admin"], world["survivor"], world["merged"]
    body = {"other_person_id": m}
    first = admin.post(f"/api/persons/{s}/merge", json=body, headers=_key("tap"))
    second = admin.post(f"/api/persons/{s}/merge", json=body, headers=_key("tap"))
    assert first.status_code == second.status_code == 201, second.text
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert _count(database, person_merges) == 1
    assert _count(database, audit_events, audit_events.c.action == "person.merge") == 2
    # Without the key, a second merge of the same person is refused, not made twice.
    third = admin.post(f"/api/persons/{s}/merge", json=body, headers=_key("tap-2"))
    assert third.status_code in (404, 409), third.text
    assert _count(database, person_merges) == 1


def test_a_merge_across_sites_is_refused_and_changes_nothing(database, clock, world):
    admin = world["admin"]
    other_camp = site(admin, "Camp B")
    elsewhere = register(admin, other_camp, **NAME, birth_date="1980-03-02")["id"]
    officer = make_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
    work_at(officer, world["camp"], admin=admin)
    s = world["survivor"]
    # The registrations queued their pairs (incremental linkage); the refusals add none.
    queued = _count(database, duplicate_pairs)
    # The survivor in scope, the other not: "person not found", naming the field.
    r = officer.post(
        f"/api/persons/{s}/merge", json={"other_person_id": elsewhere}, headers=_key("x1")
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "other_person_id"
    # The path's person out of scope: 404, as for nobody.
    r = officer.post(
        f"/api/persons/{elsewhere}/merge", json={"other_person_id": s}, headers=_key("x2")
    )
    assert r.status_code == 404, r.text
    r = officer.post(
        f"/api/persons/{elsewhere}/not-duplicate", json={"other_person_id": s},
        headers=_key("x3"),
    )  # fmt: skip
    assert r.status_code == 404, r.text
    assert _count(database, person_merges) == 0
    assert _count(database, duplicate_pairs) == queued
    assert _count(database, duplicate_pairs, duplicate_pairs.c.status != "proposed") == 0
    denials = _count(
        database,
        audit_events,
        audit_events.c.action == "person.merge",
        audit_events.c.outcome == "denied",
    )
    assert denials == 3
    # A registrar may not merge at all (the role gate).
    registrar = make_client(database, clock, roles=(Role.REGISTRAR,))
    work_at(registrar, world["camp"], admin=admin)
    r = registrar.post(
        f"/api/persons/{s}/merge", json={"other_person_id": world["merged"]}, headers=_key("x4")
    )
    assert r.status_code == 403, r.text
    assert registrar.get("/api/duplicates").status_code == 403


def test_the_queue_comes_from_corridor_duplicates_and_a_rejected_pair_stays_out(
    database, clock, world, tmp_path
):
    admin, s, m = world["admin"], world["survivor"], world["merged"]
    # The second registration queued the pair at once (incremental linkage); a registry
    # registered before that existed has no such pair: ``corridor duplicates`` finds it.
    with database.transaction() as conn:
        [found_by] = conn.execute(select(duplicate_pairs.c.found_by)).scalars()
        assert found_by == "registration"
        conn.execute(duplicate_pairs.delete())
    key_file = tmp_path / "master.key"
    key_file.write_text(MASTER_KEY)
    url = database.url.render_as_string(hide_password=False)
    run = CliRunner().invoke(main, ["duplicates", "--db", url, "--master-key-file", str(key_file)])
    assert run.exit_code == 0, run.output
    assert "1 groups of probable duplicates" in run.output
    assert "1 new pairs queued for review" in run.output

    queue = admin.get("/api/duplicates")
    assert queue.status_code == 200, queue.text
    [pair] = queue.json()
    assert {p["id"] for p in pair["persons"]} == {s, m}
    assert pair["probability"] >= 0.9
    assert {"birth year", "sex"} <= {e["field"] for e in pair["explanation"]}
    assert all(e["text"] for e in pair["explanation"])
    # The same run again proposes nothing new.
    run = CliRunner().invoke(main, ["duplicates", "--db", url, "--master-key-file", str(key_file)])
    assert "0 new pairs queued for review" in run.output

    r = admin.post(
        f"/api/persons/{m}/not-duplicate",
        json={"other_person_id": s, "reason": "different mothers"},
        headers=_key("apart"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "rejected"
    assert admin.get("/api/duplicates").json() == []
    run = CliRunner().invoke(main, ["duplicates", "--db", url, "--master-key-file", str(key_file)])
    assert run.exit_code == 0, run.output
    assert "0 groups of probable duplicates" in run.output
    assert "0 new pairs queued for review" in run.output
    assert _count(database, duplicate_pairs) == 1
    assert _count(database, duplicate_pairs, duplicate_pairs.c.status == "rejected") == 1
    assert _chain_holds(database)


def test_two_officers_merging_the_pair_at_once_merge_it_once(database, clock, world):
    """Two officers (each with their own connection pool, as two server processes) merge
    the same two records at the same instant, crosswise: one merge, the other a 409."""
    s, m = world["survivor"], world["merged"]
    url = database.url.render_as_string(hide_password=False)
    master = Settings(database_url=url, master_key=MASTER_KEY).load_master_key()
    officers = [Services(Database(url), clock, master=master) for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def merge(officer: Services, keep: str, other: str) -> None:
        barrier.wait(timeout=30)
        try:
            officer.merges.merge(
                keep, other, None, "test", audit=officer.audit.operator_hook("t", "person.merge")
            )
            outcomes.append("merged")
        except Conflict:
            outcomes.append("conflict")

    threads = [
        threading.Thread(target=merge, args=(officers[0], s, m)),
        threading.Thread(target=merge, args=(officers[1], m, s)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for officer in officers:
        officer.db.dispose()
    assert sorted(outcomes) == ["conflict", "merged"]
    assert _count(database, person_merges) == 1
    assert _count(database, merged_persons) == 1
    assert _chain_holds(database)


def test_a_correction_made_while_merged_goes_back_with_the_movement_it_corrects(database, world):
    """While merged, an officer corrects the hospital stay that followed the survivor
    (the other hospital), then corrects the correction. The unmerge gives the stay back
    with both corrections: the man merged away is in the hospital the last correction
    named, the survivor is where his own log says (the corrections used to stay with
    the survivor, who was then shown in that hospital, and the other man's stay was
    uncorrected again)."""
    admin, s, m, camp = world["admin"], world["survivor"], world["merged"], world["camp"]
    second = site(admin, "Hospital 2", "hospital")
    third = site(admin, "Hospital 3", "hospital")
    own = {e["id"] for e in admin.get(f"/api/persons/{s}/movements").json()}
    r = admin.post(f"/api/persons/{s}/merge", json={"other_person_id": m}, headers=_key("m"))
    assert r.status_code == 201, r.text
    [stay] = [e for e in admin.get(f"/api/persons/{s}/movements").json() if e["id"] not in own
              and e["kind"] == "hospitalised"]  # fmt: skip
    r = admin.post(
        f"/api/movements/{stay['id']}/corrections",
        json={"kind": "hospitalised", "to_site_id": second, "note": "the other hospital"},
    )
    assert r.status_code == 201, r.text
    r = admin.post(
        f"/api/movements/{r.json()['id']}/corrections",
        json={"kind": "hospitalised", "to_site_id": third, "note": "the third, in fact"},
    )
    assert r.status_code == 201, r.text
    assert admin.get(f"/api/persons/{s}").json()["location"]["site_id"] == third
    r = admin.post(f"/api/persons/{m}/unmerge", json={"reason": "two men"}, headers=_key("u"))
    assert r.status_code == 200, r.text
    survivor = admin.get(f"/api/persons/{s}").json()["location"]
    assert (survivor["site_id"], survivor["state"]) == (camp, "present")
    assert {e["id"] for e in admin.get(f"/api/persons/{s}/movements").json()} == own
    merged = admin.get(f"/api/persons/{m}").json()["location"]
    assert (merged["site_id"], merged["state"]) == (third, "hospitalised")
    assert len(admin.get(f"/api/persons/{m}/movements").json()) == 4  # with both corrections
    assert _present(admin, camp, second, third) == [3, 0, 1]  # the head, child, brother
    assert _chain_holds(database)
