"""Legal holds and erasure follow merges (issue 15): a hold placed by a merged person's
registration number holds the survivor it leads to; a merged record on hold keeps the
survivor from being erased; a data-subject erasure of a survivor erases the records
merged into it too and says so. Run on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from corridor.security.roles import Role
from corridor.security.tables import disposal_log
from corridor.storage.tables import persons
from tests.api.helpers import register, site
from tests.conftest import make_client
from tests.web.conftest import page_client

NAME = {"given_name": "Hassan", "father_name": "Ali", "family_name": "Jabbouri", "sex": "m",
        "birth_date": "1980-03-02"}  # fmt: skip
ERASE = {"ground": "consent_withdrawn", "confirm": True}


@pytest.fixture
def merged(database, clock) -> dict[str, Any]:
    """Hassan registered twice, the second record merged into the first."""
    admin = make_client(database, clock)
    camp = site(admin, "Camp A")
    survivor = register(admin, camp, **NAME)
    old = register(admin, camp, **NAME, phone="+963 944 123 456")
    r = admin.post(
        f"/api/persons/{survivor['id']}/merge",
        json={"other_person_id": old["id"], "reason": "same man"},
    )
    assert r.status_code == 201, r.text
    return {"admin": admin, "camp": camp, "survivor": survivor, "old": old}


def _row(database, person_id: str) -> Any:
    with database.read() as conn:
        return conn.execute(select(persons).where(persons.c.id == person_id)).one()


def test_a_hold_by_a_merged_persons_number_holds_the_survivor(database, clock, merged):
    dpo = page_client(database, clock, (Role.DATA_PROTECTION_OFFICER,), "dpo")
    dpo.page("/dpo/holds")
    number = merged["old"]["registration_number"]
    r = dpo.submit("/dpo/holds", {"kind": "person", "ref": number, "hold": "place"})
    assert r.status_code == 200 and "now on legal hold" in r.text, r.text[:500]
    assert merged["survivor"]["id"] in r.text  # the record held: the survivor
    assert _row(database, merged["survivor"]["id"]).legal_hold is True
    assert _row(database, merged["old"]["id"]).legal_hold is False
    # Held: the survivor cannot be erased, through either id.
    admin = merged["admin"]
    for pid in (merged["survivor"]["id"], merged["old"]["id"]):
        r = admin.post(f"/api/persons/{pid}/erasure", json=ERASE)
        assert r.status_code == 409, r.text
    assert _row(database, merged["survivor"]["id"]).anonymised_at is None


def test_a_merged_record_on_hold_keeps_the_survivor_from_being_erased(database, merged):
    admin, survivor, old = merged["admin"], merged["survivor"]["id"], merged["old"]["id"]
    # The hold was placed on the second record before the merge (its own id).
    admin.app.state.services.retention.set_hold(old, True, "test")
    r = admin.post(f"/api/persons/{survivor}/erasure", json=ERASE)
    assert r.status_code == 409, r.text
    assert "legal hold" in r.text
    assert _row(database, survivor).anonymised_at is None
    assert _row(database, old).anonymised_at is None
    assert _row(database, old).given_name == "Hassan"


def test_erasing_a_survivor_erases_the_records_merged_into_it(database, merged):
    admin, survivor, old = merged["admin"], merged["survivor"]["id"], merged["old"]["id"]
    r = admin.post(
        f"/api/persons/{survivor}/erasure", json=ERASE, headers={"Idempotency-Key": "erase-1"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["merged_person_ids"] == [old]
    for pid in (survivor, old):
        row = _row(database, pid)
        assert row.anonymised_at is not None and row.given_name != "Hassan", pid
    with database.read() as conn:
        logged = {
            r.record_id: r.reason
            for r in conn.execute(
                select(disposal_log).where(disposal_log.c.category == "erasure_request")
            )
        }
    assert set(logged) == {survivor, old}
    assert "merged into an erased person" in logged[old]
    # Sent again with its key: the same answer, naming the merged record.
    again = admin.post(
        f"/api/persons/{survivor}/erasure", json=ERASE, headers={"Idempotency-Key": "erase-1"}
    )
    assert again.status_code == 200, again.text
    assert again.json()["merged_person_ids"] == [old]
