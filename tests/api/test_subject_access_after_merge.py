"""A data-subject access request after a merge (PROTECTION.md line 11, issue 15): the
person's answer holds the records merged into theirs, which keep their own details
(name, phone, number) and which an erasure of theirs erases too; and the person's old id
leads to it, as every read of an old id does. On the code before, the answer left the
merged record out, and the old id answered 404 while ``GET /api/persons/{old id}``
answered the survivor."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from corridor.security.roles import Role
from corridor.security.tables import audit_events
from tests.api.helpers import register, site, work_at
from tests.conftest import make_client
from tests.support.route_world import token_client

PURPOSE = "data-subject access request"


@pytest.fixture
def merged(database, clock) -> dict[str, Any]:
    admin = make_client(database, clock)
    camp, other = site(admin, "Camp A"), site(admin, "Camp B")
    man = {"family_name": "Haddouri", "birth_date": "1980", "sex": "m"}
    old = register(admin, camp, given_name="Kareem", phone="+963 944 555 111", **man)
    survivor = register(admin, camp, given_name="Karim", **man)
    officer = make_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
    work_at(officer, camp, admin=admin)
    r = officer.post(
        f"/api/persons/{survivor['id']}/merge",
        json={"other_person_id": old["id"], "reason": "the same man, registered twice"},
    )
    assert r.status_code == 201, r.text
    elsewhere, _ = token_client(database, clock, "po-b", (Role.PROTECTION_OFFICER,), [other])
    return {"officer": officer, "elsewhere": elsewhere, "old": old, "survivor": survivor}


def _events(database, person_id: str) -> list[tuple[str, str, str | None]]:
    with database.read() as conn:
        rows = conn.execute(
            select(audit_events.c.action, audit_events.c.outcome, audit_events.c.purpose)
            .where(audit_events.c.person_id == person_id, audit_events.c.action == "person.export")
            .order_by(audit_events.c.seq)
        ).all()
    return [tuple(r) for r in rows]


def test_the_answer_holds_the_records_merged_into_the_persons(merged, database):
    old, survivor = merged["old"], merged["survivor"]
    r = merged["officer"].get(f"/api/persons/{survivor['id']}/access-request")
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["person"]["id"] == survivor["id"]
    [record] = answer["merged_records"]
    assert record["id"] == old["id"]
    assert record["registration_number"] == old["registration_number"]
    assert record["names"]["given_name"] == "Kareem"
    assert record["phone"] == "+963944555111"
    assert "household_id" not in record
    assert _events(database, old["id"]) == [("person.export", "allowed", PURPOSE)]


def test_the_old_id_leads_to_the_survivors_answer(merged, database):
    old, survivor = merged["old"], merged["survivor"]
    r = merged["officer"].get(f"/api/persons/{old['id']}/access-request")
    assert r.status_code == 200, r.text
    assert r.json()["person"]["id"] == survivor["id"]
    assert [m["id"] for m in r.json()["merged_records"]] == [old["id"]]
    # Another site's officer: 404 through either id, as for nobody.
    for pid in (old["id"], survivor["id"]):
        far = merged["elsewhere"].get(f"/api/persons/{pid}/access-request")
        assert far.status_code == 404 and "Kar" not in far.text
