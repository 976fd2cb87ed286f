"""Issue 16, catch-up in batches (corridor/sync/batch.py): the changes of new persons a
node receives are applied together, and the node ends exactly where applying them one by
one leaves it: the same persons, documents, households, family links, movement events,
locations, heads and change states; a person's later changes still wait for their base
and apply after it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from corridor.schemas import HouseholdIn, PersonPatch, StatusEventIn
from corridor.services import Services
from corridor.storage.sync_tables import sync_changes, sync_heads
from corridor.storage.tables import (
    households,
    movements,
    person_documents,
    person_locations,
    persons,
    relationships,
)
from corridor.sync import batch
from tests.conftest import Clock
from tests.sync.helpers import hook, register, sync
from tests.sync.test_bundles import _apply, _enrol, _node_services

TABLES = (persons, person_documents, households, relationships, movements, person_locations)


def _rows(s: Services) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with s.db.read() as conn:
        for t in TABLES:
            key = t.c.person_id if t is person_locations else t.c.id
            out[t.name] = [dict(r) for r in conn.execute(select(t).order_by(key)).mappings()]
        out["heads"] = conn.execute(select(sync_heads).order_by(sync_heads.c.person_id)).all()
        out["changes"] = conn.execute(
            select(sync_changes.c.id, sync_changes.c.state, sync_changes.c.conflict_fields)
            .order_by(sync_changes.c.id)
        ).all()  # fmt: skip
    for row in out["movements"]:
        row.pop("seq")  # a local autoincrement: the order of arrival here
    return out


def _household(site: str) -> HouseholdIn:
    return HouseholdIn.model_validate(
        {
            "site_id": site, "consent": {"tracing": True}, "purpose": "registration",
            "legal_basis": "vital_interest",
            "head": {"given_name": "Ahmad", "family_name": "Saleh", "sex": "m",
                     "birth_date": "1980-01-01"},
            "members": [
                {"given_name": "Lina", "family_name": "Saleh", "sex": "f",
                 "birth_date": "2012-05-01", "relationship": "child"},
                {"given_name": "Omar", "family_name": "Saleh", "sex": "m",
                 "birth_date": "2014-02-01", "relationship": "child"},
            ],
        }
    )  # fmt: skip


def test_new_persons_applied_together_end_as_one_by_one(
    pair, tmp_path: Path, sqlite_template: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    central, node, exit_point, camp = pair
    hh = central.registration.register_household(
        _household(exit_point), audit=hook(central, "person.write")
    )
    alone = [register(central, exit_point, f"P{i}", f"+96393310{i:04d}") for i in range(6)]
    moved = central.movements.record(
        alone[0], StatusEventIn(kind="transferred", to_site_id=camp),
        audit=hook(central, "movement.write"),
    )  # fmt: skip
    central.registration.update_person(
        alone[1], PersonPatch(given_name="Nour"), audit=hook(central, "person.write")
    )
    central.registration.update_person(
        alone[1], PersonPatch(given_name="Noura"), audit=hook(central, "person.write")
    )
    # The same site's second node, which applies every change one by one (the old way).
    slow = _node_services(tmp_path, sqlite_template, clock, "node-exit-slow")
    _enrol(central, slow, "Exit")
    slow_id = sync(slow).identity()["id"]

    together: list[int] = []
    real = batch.apply_new

    def spy(*args: Any, **kwargs: Any) -> set[str]:
        done = real(*args, **kwargs)
        together.append(len(done))
        return done

    monkeypatch.setattr(batch, "apply_new", spy)
    report = sync(node).import_bundle(sync(central).export(sync(node).identity()["id"]),
                                      audit=_apply(node))  # fmt: skip
    # Every person's first change went together; the later ones waited for their base.
    persons_sent = 3 + 6
    assert sum(together) == persons_sent
    assert report.applied == persons_sent + 3 and report.waiting == 0

    monkeypatch.setattr(batch, "apply_new", lambda *a, **k: set())
    report_slow = sync(slow).import_bundle(sync(central).export(slow_id), audit=_apply(slow))
    assert report_slow.applied == report.applied

    fast_rows, slow_rows = _rows(node), _rows(slow)
    assert fast_rows == slow_rows
    assert len(fast_rows["persons"]) == persons_sent
    assert len(fast_rows["relationships"]) >= 2  # the household's links, both ends here
    assert moved["id"] in {m["id"] for m in fast_rows["movements"]}
    names = {p["id"]: p["given_name"] for p in fast_rows["persons"]}
    assert names[alone[1]] == "Noura" and names[hh["head_person_id"]] == "Ahmad"
    where = {r["person_id"]: r["site_id"] for r in fast_rows["person_locations"]}
    assert where[alone[0]] == camp and where[alone[2]] == exit_point
    slow.db.dispose()


def test_a_bundle_imported_twice_after_a_batch_changes_nothing(pair) -> None:
    central, node, exit_point, _ = pair
    for i in range(4):
        register(central, exit_point, f"P{i}", f"+96393320{i:04d}")
    bundle = sync(central).export(sync(node).identity()["id"])
    first = sync(node).import_bundle(bundle, audit=_apply(node))
    before = _rows(node)
    again = sync(node).import_bundle(bundle, audit=_apply(node))
    assert first.applied == 4 and again.already_applied
    assert _rows(node) == before
