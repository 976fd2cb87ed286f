"""An import's report names the suspected duplicates the importer may open, never a
person of another site (PROTECTION.md line 3): on the code before, a registrar of camp A
who imported (or only dry-ran) a file with a name in it learnt the id and registration
number of a person registered at camp B under that name, and the read was audited as an
allowed search. The review queue still receives the pair: only ``person.merge`` at both
persons' sites sees it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from corridor.security.roles import Role
from corridor.security.tables import audit_events
from tests.api.helpers import register, site, work_at
from tests.conftest import make_client

HASSAN = {
    "given_name": "Hassan",
    "father_name": "Hamid",
    "grandfather_name": "Sarir",
    "given_name_original": "حسن",
    "father_name_original": "حميد",
    "grandfather_name_original": "سرير",
    "sex": "m",
    "birth_date": "1980",
    "nationality": "SYR",
    "mother_name": "Fatima",
}
ROW = (
    "record_id,full_name,name_original_script,sex,birth_year,nationality,mother_name\n"
    "NGO-101,Hassan Hamid Sarir,حسن حميد سرير,m,1980,SYR,Fatima\n"
).encode()


@pytest.fixture
def camps(database, clock) -> tuple[Any, str, str]:
    admin = make_client(database, clock)
    return admin, site(admin, "Camp A"), site(admin, "Camp B")


def _registrar_of(database, clock, admin, camp: str) -> tuple[Any, str]:
    registrar = make_client(database, clock, roles=(Role.REGISTRAR,))
    work_at(registrar, camp, admin=admin)
    return registrar, registrar.get("/api/auth/me").json()["user_id"]


def _import(client, camp: str, dry_run: bool) -> dict[str, Any]:
    r = client.post(
        "/api/imports/csv",
        params={"site_id": camp, "dry_run": str(dry_run).lower()},
        files={"file": ("persons.csv", ROW)},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def _events_about(database, user: str, person_id: str) -> list[tuple[str, str]]:
    with database.read() as conn:
        rows = conn.execute(
            select(audit_events.c.action, audit_events.c.outcome).where(
                audit_events.c.user_id == user, audit_events.c.person_id == person_id
            )
        ).all()
    return [tuple(r) for r in rows]


@pytest.mark.parametrize("dry_run", [True, False])
def test_an_import_names_no_suspected_duplicate_of_another_site(camps, database, clock, dry_run):
    admin, camp_a, camp_b = camps
    there = register(admin, camp_b, **HASSAN)
    registrar, user = _registrar_of(database, clock, admin, camp_a)
    assert registrar.get(f"/api/persons/{there['id']}").status_code == 404
    report = _import(registrar, camp_a, dry_run)
    assert report["suspected_duplicates"] == []
    text = str(report)
    assert there["id"] not in text and there["registration_number"] not in text
    # Nothing of them shown, so no read of them is audited (the 404 above is the one
    # read event about them; queueing the pair is audited as the import's write,
    # docs/security.md "Incremental linkage").
    queued = [] if dry_run else [("person.write", "allowed")]
    assert _events_about(database, user, there["id"]) == [("person.read", "denied"), *queued]
    if not dry_run:
        # The pair still reaches the review queue, for an officer of both sites.
        assert report["queued_pairs"] == 1
        [new] = report["person_ids"]
        reviewer = make_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
        work_at(reviewer, camp_a, camp_b, admin=admin)
        queue = reviewer.get("/api/duplicates").json()
        assert [{p["id"] for p in pair["persons"]} for pair in queue] == [{new, there["id"]}]


def test_an_import_names_a_suspected_duplicate_of_the_importers_sites(camps, database, clock):
    admin, camp_a, _ = camps
    here = register(admin, camp_a, **HASSAN)
    registrar, user = _registrar_of(database, clock, admin, camp_a)
    report = _import(registrar, camp_a, dry_run=True)
    assert [(d["person_id"], d["registration_number"]) for d in report["suspected_duplicates"]] == [
        (here["id"], here["registration_number"])
    ]
    assert _events_about(database, user, here["id"]) == [("person.search", "allowed")]
