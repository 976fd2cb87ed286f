"""Migration 0035 lets a family link be removed and keep its row: three columns on
``relationships`` (who removed it, when, why) and a unique index on the live links only,
so that the link can be recorded again once removed. Downgrading deletes the removed
rows (the older schema would read them as recorded) and brings the unique key back."""

from __future__ import annotations

import pytest
from sqlalchemy import exc, inspect, text

from corridor.storage.migrate import current_revision, head_revision, upgrade
from tests.api.helpers import register, site
from tests.storage.steps import downgrade_to

NOW = "2026-12-01 08:00:00+00:00"


def _columns(database) -> set[str]:
    return {c["name"] for c in inspect(database.engine).get_columns("relationships")}


def test_0035_keeps_links_live_marks_removed_and_downgrades(client, database):
    camp = site(client, "Camp A")
    pa, pb = (register(client, camp, given_name=n)["id"] for n in ("Amal", "Bushra"))
    body = {"person_id": pa, "other_person_id": pb, "kind": "parent", "note": "as told"}
    assert client.post("/api/relationships", json=body).status_code == 201
    downgrade_to(database, "0034_keys")
    assert "removed_at" not in _columns(database)
    upgrade(database)
    assert current_revision(database) == head_revision()
    assert {"removed_at", "removed_by", "removed_reason"} <= _columns(database)
    with database.transaction() as conn:
        rows = conn.execute(text("SELECT kind, note, removed_at FROM relationships")).all()
        assert sorted(rows) == [("child", "as told", None), ("parent", "as told", None)]
        # Removed, then the same link recorded again: one removed row, one live.
        conn.execute(
            text(
                "UPDATE relationships SET removed_at = :now, removed_by = 'u1', "
                "removed_reason = 'aunt, not mother'"
            ),
            {"now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO relationships (id, person_id, other_person_id, kind, created_at) "
                "VALUES ('l3', :a, :b, 'parent', :now)"
            ),
            {"now": NOW, "a": pa, "b": pb},
        )
    # Two live rows for one (person, other, kind) are still refused.
    with pytest.raises(exc.IntegrityError), database.transaction() as conn:
        conn.execute(
            text(
                "INSERT INTO relationships (id, person_id, other_person_id, kind, created_at) "
                "VALUES ('l4', :a, :b, 'parent', :now)"
            ),
            {"now": NOW, "a": pa, "b": pb},
        )

    downgrade_to(database, "0034_keys")
    assert "removed_at" not in _columns(database)
    with database.read() as conn:
        ids = sorted(conn.execute(text("SELECT id FROM relationships")).scalars())
    assert ids == ["l3"]  # the removed rows go; the live one stays
    with pytest.raises(exc.IntegrityError), database.transaction() as conn:
        conn.execute(
            text(
                "INSERT INTO relationships (id, person_id, other_person_id, kind, created_at) "
                "VALUES ('l5', :a, :b, 'parent', :now)"
            ),
            {"now": NOW, "a": pa, "b": pb},
        )
    upgrade(database)
    assert current_revision(database) == head_revision()
