"""A write whose body names a person of another site: the answer is "person not found",
word for word the answer for a person who does not exist (no existence oracle), nothing
is written, and the refusal is audited: one denial for that person (PROTECTION.md lines
3 and 6)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from corridor.security.roles import Role
from corridor.security.tables import audit_events
from corridor.storage.tables import manifest_items, relationships
from tests.api.helpers import register, site, work_at
from tests.conftest import make_client

NOBODY = "01a00000-0000-7000-8000-000000000000"


@pytest.fixture
def story(database, clock):
    admin = make_client(database, clock)
    camp_a, camp_b = site(admin, "Camp A"), site(admin, "Camp B")
    here = register(admin, camp_a, given_name="Hana")["id"]
    there = register(admin, camp_b, given_name="Omar")["id"]
    officer = make_client(database, clock, roles=(Role.REGISTRAR, Role.MOVEMENT_OFFICER))
    work_at(officer, camp_a, admin=admin)
    user = officer.get("/api/auth/me").json()["user_id"]
    return officer, user, camp_a, camp_b, here, there


def _denials(database, user: str) -> list[tuple[str, str | None]]:
    with database.read() as conn:
        rows = conn.execute(
            select(audit_events.c.action, audit_events.c.person_id).where(
                audit_events.c.user_id == user, audit_events.c.outcome != "allowed"
            )
        ).all()
    return [tuple(r) for r in rows]


def _count(database, table) -> int:
    with database.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_link_to_a_person_of_another_site_is_refused_and_audited(story, database):
    officer, user, _, _, here, there = story
    link = {"person_id": here, "kind": "sibling"}
    hidden = officer.post("/api/relationships", json={**link, "other_person_id": there})
    absent = officer.post("/api/relationships", json={**link, "other_person_id": NOBODY})
    assert hidden.status_code == absent.status_code == 422
    assert hidden.json()["errors"] == absent.json()["errors"]
    assert _count(database, relationships) == 0
    assert _denials(database, user) == [("person.write", there), ("person.write", NOBODY)]


def test_a_manifest_refuses_a_person_of_another_site_as_one_who_does_not_exist(story, database):
    officer, user, camp_a, camp_b, here, there = story
    r = officer.post(
        "/api/manifests", json={"vehicle": "Truck", "from_site_id": camp_a, "to_site_id": camp_b}
    )
    assert r.status_code == 201, r.text
    m = r.json()["id"]
    hidden = officer.post(f"/api/manifests/{m}/persons", json={"person_ids": [there]})
    absent = officer.post(f"/api/manifests/{m}/persons", json={"person_ids": [NOBODY]})
    assert hidden.status_code == absent.status_code == 422
    assert hidden.json()["errors"] == absent.json()["errors"]
    assert _count(database, manifest_items) == 0
    denied = [pid for _, pid in _denials(database, user)]
    assert denied == [there, NOBODY]
    # A person of the caller's own site still goes on.
    ok = officer.post(f"/api/manifests/{m}/persons", json={"person_ids": [here]})
    assert ok.status_code in (200, 201), ok.text
