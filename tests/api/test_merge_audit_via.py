"""A write sent to a merged person's old id is audited on the survivor it landed on, with
the old id it was sent to (``audit_events.via_person_id``, issue 15). The column is in
the row's hash: the chain verifies, and editing, adding or removing the old id breaks it
at that row. Run on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from corridor.security import audit
from corridor.security.tables import audit_events
from tests.api.helpers import register, site
from tests.conftest import make_client
from tests.security.test_audit import tamper

NAME = {"given_name": "Hassan", "father_name": "Ali", "family_name": "Jabbouri", "sex": "m",
        "birth_date": "1980-03-02"}  # fmt: skip


def _events(svc: Any) -> list[Any]:
    with svc.db.read() as conn:
        return list(conn.execute(select(audit_events).order_by(audit_events.c.seq)).all())


def test_a_write_through_the_old_id_names_it_and_the_chain_covers_it(database, clock):
    client = make_client(database, clock)
    svc = client.app.state.services
    camp = site(client, "Camp A")
    survivor = register(client, camp, **NAME)["id"]
    old = register(client, camp, **NAME)["id"]
    r = client.post(
        f"/api/persons/{survivor}/merge", json={"other_person_id": old, "reason": "same man"}
    )
    assert r.status_code == 201, r.text
    r = client.patch(f"/api/persons/{old}", json={"phone": "+963 944 123 456"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == survivor
    [write] = [e for e in _events(svc) if e.action == "person.write" and e.via_person_id]
    assert (write.person_id, write.via_person_id) == (survivor, old)
    # A write to the survivor's own id names no old id.
    r = client.patch(f"/api/persons/{survivor}", json={"phone": "+963 944 123 457"})
    assert r.status_code == 200, r.text
    last = [e for e in _events(svc) if e.action == "person.write"][-1]
    assert (last.person_id, last.via_person_id) == (survivor, None)
    with svc.db.read() as conn:
        assert audit.verify(conn).ok
    # The old id changed, removed, or added to a row that had none: the chain breaks there.
    for seq, value in ((write.seq, "someone-else"), (write.seq, None), (last.seq, old)):
        with svc.db.transaction() as conn:
            tamper(
                conn,
                update(audit_events).where(audit_events.c.seq == seq).values(via_person_id=value),
            )
        with svc.db.read() as conn:
            result = audit.verify(conn)
        assert not result.ok and result.broken_seq == seq, (value, result)
        with svc.db.transaction() as conn:
            restored = write.via_person_id if seq == write.seq else None
            tamper(
                conn,
                update(audit_events)
                .where(audit_events.c.seq == seq)
                .values(via_person_id=restored),
            )
        with svc.db.read() as conn:
            assert audit.verify(conn).ok
