"""A merge never makes a refusal of tracing findable by itself (PROTECTION.md line 2).

One man registered twice: once refusing to be found by family tracing, once agreeing.
Merged, the person keeps one decision; the survivor's record alone would pick it by
chance (the officer keeps the record with the better details). So where the two differ,
the merge needs the decision that stands, asked of the person, and refuses without it
(422 naming ``consent_tracing``, nothing merged); an unmerge puts the survivor's own
decision back. Through the API, on both databases.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from corridor.storage.merge_tables import person_merges
from tests.api.helpers import errors, register, site
from tests.conftest import make_client

NAME = {"given_name": "Hassan", "father_name": "Ali", "family_name": "Jabbouri", "sex": "m"}


def _traced(client: Any, person_id: str) -> bool:
    """Whether a tracing search for the man offers ``person_id``."""
    r = client.post(
        "/api/persons/match", json={"full_name": "Hassan Ali Jabbouri", "purpose": "tracing"}
    )
    assert r.status_code == 200, r.text
    return person_id in {c["person"]["id"] for c in r.json()}


def _consent(client: Any, person_id: str) -> bool:
    r = client.get(f"/api/persons/{person_id}")
    assert r.status_code == 200, r.text
    return bool(r.json()["consent"]["tracing"])


def _pair(client: Any, camp: str) -> tuple[str, str]:
    refused = register(client, camp, **NAME, birth_date="1980-03-02",
                       consent={"tracing": False, "share_with": []})["id"]  # fmt: skip
    agreed = register(client, camp, **NAME, birth_date="1980-03-02")["id"]
    return refused, agreed


def test_a_merge_of_a_refusal_and_a_consent_needs_the_persons_decision(database, clock):
    admin = make_client(database, clock)
    camp = site(admin, "Camp A")
    refused, agreed = _pair(admin, camp)
    assert _traced(admin, agreed) and not _traced(admin, refused)

    # Keeping the record that agreed, with no word of the other's refusal: refused.
    r = admin.post(f"/api/persons/{agreed}/merge", json={"other_person_id": refused})
    assert r.status_code == 422, r.text
    assert "consent_tracing" in errors(r)
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(person_merges)).scalar() == 0
    assert _consent(admin, agreed) and _consent(admin, refused) is False

    # Asked again, he refuses: the survivor is no longer offered to tracing.
    r = admin.post(
        f"/api/persons/{agreed}/merge",
        json={"other_person_id": refused, "consent_tracing": False, "reason": "same man"},
    )
    assert r.status_code == 201, r.text
    assert _consent(admin, agreed) is False and not _traced(admin, agreed)

    # Undone: each record's own decision again.
    r = admin.post(f"/api/persons/{refused}/unmerge", json={"reason": "two men"})
    assert r.status_code == 200, r.text
    assert _consent(admin, agreed) and _consent(admin, refused) is False
    assert _traced(admin, agreed) and not _traced(admin, refused)


def test_the_decision_asked_again_may_be_to_agree(database, clock):
    admin = make_client(database, clock)
    camp = site(admin, "Camp A")
    refused, agreed = _pair(admin, camp)
    r = admin.post(
        f"/api/persons/{refused}/merge", json={"other_person_id": agreed, "consent_tracing": True}
    )
    assert r.status_code == 201, r.text
    assert _consent(admin, refused) and _traced(admin, refused)


def test_records_that_agree_merge_without_being_asked(database, clock):
    admin = make_client(database, clock)
    camp = site(admin, "Camp A")
    one = register(admin, camp, **NAME, birth_date="1980-03-02")["id"]
    two = register(admin, camp, **NAME, birth_date="1980-03-02")["id"]
    r = admin.post(f"/api/persons/{one}/merge", json={"other_person_id": two})
    assert r.status_code == 201, r.text
    assert _consent(admin, one) and _traced(admin, one)
