"""A merge of two registrations of one person made at different sites (issue 15 across
sites), through the API on both databases.

The person kept (the survivor) belongs to its own site; what followed it from the other
record (its documents, the notes of its movements) belongs to that site too, sealed under
its key (PROTECTION.md 7): destroying the other site's keys (the evacuation drill) loses
nothing of the survivor's, and an unmerge gives the other record its data back, sealed
under its own site's key again, so that destroying the survivor's site's keys after an
unmerge loses nothing of the other's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from corridor.security.crypto import FieldCipher
from corridor.security.roles import Role
from corridor.security.tables import site_keys
from corridor.storage.tables import movements, person_documents
from tests.api.helpers import register, site, work_at
from tests.api.test_figures_add_up import assert_adds_up
from tests.conftest import make_client

NAME = {"given_name": "Hassan", "father_name": "Ali", "family_name": "Jabbouri", "sex": "m",
        "birth_date": "1980-03-02"}  # fmt: skip
PASSPORT = "N7723419"
NOTE = "came with his cousin's papers"


def _world(database: Any, clock: Any) -> dict[str, Any]:
    """Camp A (the survivor's), camp B (the other record's, with a passport and a
    movement whose note was typed there), and an officer of camp A only."""
    admin = make_client(database, clock)
    camp_a, camp_b = site(admin, "Camp A"), site(admin, "Camp B")
    hospital = site(admin, "Hospital H", "hospital")
    survivor = register(admin, camp_a, **NAME)["id"]
    other = register(
        admin, camp_b, **NAME,
        documents=[{"type": "passport", "number": PASSPORT, "issuing_country": "SYR"}],
    )["id"]  # fmt: skip
    r = admin.post(
        f"/api/persons/{other}/events",
        json={"kind": "hospitalised", "to_site_id": hospital, "note": NOTE},
    )
    assert r.status_code == 201, r.text
    officer = make_client(database, clock, roles=(Role.PROTECTION_OFFICER, Role.HEALTH))
    work_at(officer, camp_a, hospital, admin=admin)
    return {"admin": admin, "a": camp_a, "b": camp_b, "survivor": survivor, "other": other,
            "officer": officer}  # fmt: skip


def _merge(admin: TestClient, survivor: str, other: str) -> None:
    r = admin.post(
        f"/api/persons/{survivor}/merge",
        json={"other_person_id": other, "reason": "one man registered twice"},
        headers={"Idempotency-Key": f"merge-{other}"},
    )
    assert r.status_code == 201, r.text


def _unmerge(admin: TestClient, other: str) -> None:
    r = admin.post(
        f"/api/persons/{other}/unmerge", json={"reason": "two men"},
        headers={"Idempotency-Key": f"unmerge-{other}"},
    )  # fmt: skip
    assert r.status_code == 200, r.text


def _seen(client: TestClient, person_id: str) -> dict[str, Any]:
    """The passport number and the movement notes as ``client`` reads them."""
    person = client.get(f"/api/persons/{person_id}")
    assert person.status_code == 200, person.text
    moves = client.get(f"/api/persons/{person_id}/movements")
    assert moves.status_code == 200, moves.text
    return {
        "documents": [d["number"] for d in person.json()["documents"]],
        "notes": [e["note"] for e in moves.json() if e.get("note") or e.get("note_unavailable")],
    }


def _sealed_under(database: Any, person_id: str) -> set[str]:
    """The sites whose keys seal the person's document numbers and movement notes now."""
    with database.read() as conn:
        tokens = list(
            conn.execute(
                select(person_documents.c.number).where(person_documents.c.person_id == person_id)
            ).scalars()
        ) + list(
            conn.execute(
                select(movements.c.note).where(
                    movements.c.person_id == person_id, movements.c.note.is_not(None)
                )
            ).scalars()
        )
        key_ids = {FieldCipher.key_id_of(t) for t in tokens}
        return set(
            conn.execute(select(site_keys.c.site_id).where(site_keys.c.id.in_(key_ids))).scalars()
        )


def _destroy(client: TestClient, site_id: str) -> None:
    assert client.app.state.services.keys.destroy_site(site_id, "cli:test") >= 1  # type: ignore[attr-defined]


def test_what_followed_the_survivor_is_sealed_under_its_site_and_survives_the_other_drill(
    database, clock
):
    w = _world(database, clock)
    admin, officer, s, o = w["admin"], w["officer"], w["survivor"], w["other"]
    before = _seen(admin, o)
    assert before == {"documents": [PASSPORT], "notes": [NOTE]}
    _merge(admin, s, o)
    assert _seen(officer, s) == before  # camp A's officer reads what followed
    assert _sealed_under(database, s) == {w["a"]}
    # Camp B is evacuated: its keys destroyed. The survivor (camp A's) loses nothing.
    _destroy(admin, w["b"])
    assert _seen(officer, s) == before
    assert _seen(admin, s) == before
    # The unmerge gives the other record its passport and note back, under camp B's
    # (new) key: they are camp B's again.
    _unmerge(admin, o)
    assert _seen(admin, o) == before
    assert _sealed_under(database, o) == {w["b"]}
    assert _seen(admin, s) == {"documents": [], "notes": []}


def test_an_unmerge_seals_the_other_records_data_under_its_own_site_again(database, clock):
    """While merged, camp A's officer corrects the hospital stay that followed the
    survivor, with a note (sealed under camp A's key: the survivor's); the unmerge gives
    the stay back with its correction, both notes camp B's."""
    w = _world(database, clock)
    admin, officer, s, o = w["admin"], w["officer"], w["survivor"], w["other"]
    _merge(admin, s, o)
    [stay] = [e for e in officer.get(f"/api/persons/{s}/movements").json() if e.get("note")]
    r = officer.post(
        f"/api/movements/{stay['id']}/corrections",
        json={"kind": "hospitalised", "to_site_id": stay["to_site_id"], "note": "left leg"},
    )
    assert r.status_code == 201, r.text
    before = {"documents": [PASSPORT], "notes": [NOTE, "left leg"]}
    assert _seen(officer, s) == before
    _unmerge(admin, o)
    assert _seen(admin, o) == before
    assert _sealed_under(database, o) == {w["b"]}
    # Camp A is evacuated after the unmerge: the other record (camp B's) loses nothing.
    _destroy(admin, w["a"])
    assert _seen(admin, o) == before


def _figures(client: TestClient, site_id: str) -> dict[str, Any]:
    r = client.get(f"/api/sites/{site_id}/figures")
    assert r.status_code == 200, r.text
    figures = r.json()
    assert_adds_up(figures)
    return dict(figures)


def test_a_merge_across_sites_is_no_transfer_in_the_daily_figures(database, clock):
    """Registered at camp A on the first day and again at camp B on the second, one man
    merged: no departure from camp A, no arrival at camp B but his registration there (as
    before the merge), the end of his count at camp A a duplicate resolved; one man
    present in all, at camp B (his latest registration); every day adds up."""
    admin = make_client(database, clock)
    camp_a, camp_b = site(admin, "Camp A"), site(admin, "Camp B")
    first = clock.now.date().isoformat()
    survivor = register(admin, camp_a, **NAME)["id"]
    clock.advance(days=1)
    today = clock.now.date().isoformat()
    other = register(admin, camp_b, **NAME)["id"]
    before = {s: _figures(admin, s) for s in (camp_a, camp_b)}
    assert [before[s]["present"]["total"] for s in (camp_a, camp_b)] == [1, 1]  # twice
    clock.advance(hours=2)
    _merge(admin, survivor, other)

    a, b = _figures(admin, camp_a), _figures(admin, camp_b)
    assert a["present"]["total"] + b["present"]["total"] == 1  # one man, not two
    assert b["present"]["total"] == 1
    day_a = {d["date"]: d for d in a["daily"]}
    day_b = {d["date"]: d for d in b["daily"]}
    assert day_a[first]["arrivals"]["total"] == 1
    assert [d["departures"]["total"] for d in a["daily"]] == [0] * len(a["daily"])
    assert day_a[today]["duplicates"]["total"] == 1
    assert day_a[today]["duplicates"]["by_sex"]["m"] == 1
    # Camp B's days are what they were: his registration there is its arrival.
    assert b["daily"] == before[camp_b]["daily"]
    assert day_b[today]["arrivals"]["total"] == 1
    # The site's dashboard says no one left camp A today.
    page = admin.get(f"/sites/{camp_a}")
    assert page.status_code == 200, page.text
    assert 'data-figure="departures-today">0<' in page.text
    assert 'data-figure="duplicates-today">1<' in page.text
    # The published daily report (HXL) counts it the same way.
    report = admin.app.state.services.reports.daily(  # type: ignore[attr-defined]
        clock.now.date() - timedelta(days=1), clock.now.date()
    )
    figures = {(r["site_id"], r["date"], r["figure"]) for r in report}
    assert (camp_a, today, "departures") not in figures
    assert (camp_a, today, "duplicates") in figures
    assert (camp_b, today, "arrivals") in figures
    # An unmerge gives both sites their days back as they were.
    _unmerge(admin, other)
    assert _figures(admin, camp_a)["daily"] == before[camp_a]["daily"]
    assert _figures(admin, camp_b)["daily"] == before[camp_b]["daily"]
